//! Fuzzing the photo entry points (proptest over bytes, bounded case counts): `sniff` and the
//! whole pipeline on arbitrary bytes and on valid JPEG/PNG photos with bytes flipped, inserted or
//! cut. Every input ends in a processed photo or a typed refusal; nothing panics, and nothing
//! accepted is larger than the limits allow.

use proptest::prelude::*;
use test_kit::photos;
use xiaowu_photo::{process, sniff, PipelineLimits, Watermark};

fn watermark() -> Watermark {
    Watermark::for_service("教师资格认定确认", "2026-12-02")
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encoding a small PNG");
    out.into_inner()
}

fn run(bytes: &[u8]) {
    let _ = sniff(bytes);
    let limits = PipelineLimits::default();
    if let Ok(p) = process(bytes, &watermark(), &limits) {
        assert!(p.width.max(p.height) <= limits.max_edge, "{}x{}", p.width, p.height);
        assert!(!p.jpeg.is_empty() && !p.thumbnail.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048), magic in 0..3u8) {
        // Give a third of the cases a real signature so the decoders, not just the sniffer, run.
        let signature: &[u8] = match magic {
            0 => &[0xff, 0xd8, 0xff, 0xe0],
            1 => b"\x89PNG\r\n\x1a\n",
            _ => &[],
        };
        bytes.splice(0..0, signature.iter().copied());
        run(&bytes);
    }

    #[test]
    fn mutated_photos_never_panic(
        jpeg in any::<bool>(),
        ops in proptest::collection::vec((any::<usize>(), 0..3u8, any::<u8>()), 1..8),
    ) {
        let mut bytes = if jpeg { photos::jpeg(96, 64) } else { png(96, 64) };
        for (at, op, byte) in ops {
            let at = at % bytes.len().max(1);
            match op {
                0 => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => bytes.truncate(at.max(1)),
            }
        }
        run(&bytes);
    }
}
