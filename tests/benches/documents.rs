//! Document pipeline benchmarks, side by side in one run.
//!
//! 1. A 12 MP (4000×3000, EXIF orientation 6) and a 2 MP (1632×1224, orientation 6) photo-like
//!    JPEG, each processed 15 times by: our pipeline (read file → upright, stripped, ≤ 2048 px,
//!    q85 4:2:0 JPEG + 320 px thumbnail + watermark + two SHA-256), `vipsthumbnail` (2048 px, q85,
//!    auto-rotate, strip) and ImageMagick `convert -auto-orient -strip -resize 2048x2048> -quality
//!    85`, interleaved so that all three see the same machine state. Wall time; the external tools'
//!    figures include starting their process, as a server calling them would pay.
//! 2. Upload → clerk notified, end to end for a 12 MP photo: HTTP upload to the real server until the
//!    clerk's WebSocket receives `document_ready` (10 uploads, each a different picture so every
//!    upload writes its bytes), with the records store on SQLite and on PostgreSQL (a throwaway
//!    local cluster), side by side.
//!
//! Run: `apt-get install -y libvips-tools imagemagick && cargo bench -p xiaowu-tests --bench documents`
//! (`-- --upload-only` runs part 2 alone, without the other tools).

use std::process::Command;
use std::time::{Duration, Instant};

use media::document::{process, PipelineLimits, Watermark};
use protocol::ServerMessage;
use test_kit::photos;
use xiaowu_tests::*;

const RUNS: usize = 15;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn run_tool(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let out = cmd.output().expect("tool runs");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    t.elapsed().as_secs_f64() * 1000.0
}

fn compare(label: &str, w: u32, h: u32) {
    let dir = std::env::temp_dir().join(format!("xiaowu-docbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join(format!("{label}.jpg"));
    std::fs::write(&input, photos::camera_photo(w, h, 6, true)).unwrap();
    let size = std::fs::metadata(&input).unwrap().len();
    let wm = Watermark::for_service("教师资格认定确认", "2026-11-22");
    let limits = PipelineLimits::default();
    let (mut ours, mut vips, mut magick) = (vec![], vec![], vec![]);
    for _ in 0..RUNS {
        let t = Instant::now();
        let bytes = std::fs::read(&input).unwrap();
        let out = process(&bytes, &wm, &limits).unwrap();
        std::fs::write(dir.join("ours.jpg"), &out.jpeg).unwrap();
        ours.push(t.elapsed().as_secs_f64() * 1000.0);
        vips.push(run_tool(
            Command::new("vipsthumbnail")
                .arg(&input)
                .args(["--size", "2048x2048", "-o"])
                .arg(format!("{}[Q=85,strip]", dir.join("vips.jpg").display())),
        ));
        magick.push(run_tool(
            Command::new("/usr/bin/convert")
                .arg(&input)
                .args(["-auto-orient", "-strip", "-resize", "2048x2048>", "-quality", "85"])
                .arg(dir.join("magick.jpg")),
        ));
    }
    let (o, v, m) = (median(&mut ours), median(&mut vips), median(&mut magick));
    println!("{label} ({w}×{h}, EXIF orientation 6, {:.1} MB), median of {RUNS}:", size as f64 / 1e6);
    println!("  xiaowu pipeline   {o:7.1} ms   (ratio to vips {:.2}×, to ImageMagick {:.2}×)", o / v, o / m);
    println!("  vipsthumbnail     {v:7.1} ms");
    println!("  ImageMagick       {m:7.1} ms");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Ten different 12 MP camera photos (a white square moves), so no upload finds its processed
/// bytes already stored.
fn distinct_photos() -> Vec<Vec<u8>> {
    let (w, h) = (4000u32, 3000u32);
    (0..10u32)
        .map(|i| {
            let mut rgb = photos::pattern(w, h);
            for y in 100..300 {
                for x in (200 + i * 300)..(400 + i * 300) {
                    let p = ((y * w + x) * 3) as usize;
                    rgb[p..p + 3].copy_from_slice(&[255, 255, 255]);
                }
            }
            let mut jpeg = vec![];
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
                .encode(&rgb, w, h, image::ExtendedColorType::Rgb8)
                .unwrap();
            let mut out = jpeg[..2].to_vec();
            out.extend(photos::exif_segment(6, true));
            out.extend_from_slice(&jpeg[2..]);
            out
        })
        .collect()
}

async fn upload_to_notified(label: &str, database: Option<String>, photos: &[Vec<u8>]) {
    let server = start(settings(move |s| {
        s.engine.media_timeout = Duration::from_secs(600);
        s.file.database.url = database;
    }))
    .await;
    let url = base_url(&server);
    let (booth, mut clerk, call) = live_call(&server).await;
    let mut times = vec![];
    for photo in photos {
        let t = Instant::now();
        let r = booth_client::upload_document(&url, &booth.token, call, "id_front", photo.clone()).await.unwrap();
        assert_eq!(r.status, 200);
        expect(&mut clerk, "document ready", |m| matches!(m, ServerMessage::DocumentReady { .. }).then_some(())).await;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let max = times.iter().cloned().fold(0.0, f64::max);
    println!(
        "upload → clerk notified, bytes in {label} (12 MP, {:.1} MB, loopback HTTP + pipeline + commit + WebSocket), {} uploads: median {:.0} ms, max {:.0} ms",
        photos[0].len() as f64 / 1e6,
        photos.len(),
        median(&mut times),
        max
    );
    server.shutdown().await;
}

fn main() {
    // `-- --upload-only`: only part 2 (no comparison with the other tools).
    if !std::env::args().any(|a| a == "--upload-only") {
        for tool in ["vipsthumbnail", "/usr/bin/convert"] {
            if Command::new(tool).arg("--version").output().is_err() {
                eprintln!("{tool} missing: apt-get install -y libvips-tools imagemagick");
                std::process::exit(1);
            }
        }
        compare("12 MP", 4000, 3000);
        compare("2 MP", 1632, 1224);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let photos = distinct_photos();
    rt.block_on(upload_to_notified("SQLite", None, &photos));
    // The PostgreSQL client runs its own runtime: start the cluster outside tokio's.
    let pg = test_kit::postgres::postgres_url();
    rt.block_on(upload_to_notified("PostgreSQL", Some(pg), &photos));
}
