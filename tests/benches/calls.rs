//! Call benchmarks, peer to peer and through the media relay side by side.
//!
//! 1. Setup time over 30 calls, one after another, in-process: the real server, agent-console and
//!    booth-client libraries, webrtc-rs on loopback. For each call: clerk accept → first remote video
//!    packet / first complete frame at the clerk, and booth `call_started` → the same at the booth.
//!    Once with `[media] mode = "p2p"`, once through the relay.
//! 2. Resources with concurrent calls: the release binaries as separate processes (one server, N
//!    agent-console, N booth-client), sampling CPU time and RSS from /proc during the calls: 20 calls
//!    peer to peer, 20 and 50 through the relay with recording on. Through the relay, the server's
//!    `/healthz` counts the RTP packets it forwarded and the recording directory's growth gives the
//!    bytes recorded per second.
//!
//! Run: `cargo build --release --bins && cargo bench -p xiaowu-tests --bench calls`
//! (`XIAOWU_BENCH_SETUP_ONLY=1`: the setup times only).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xiaowu_tests::bench::{pct, release_bin, sample, Procs};
use xiaowu_tests::*;

fn summarize(name: &str, mut v: Vec<u64>) {
    v.sort();
    println!(
        "  {name:<44} n={:>2}  p50 {:>4} ms  p95 {:>4} ms  min {:>4} ms  max {:>4} ms",
        v.len(),
        pct(&v, 0.5),
        pct(&v, 0.95),
        v[0],
        v[v.len() - 1]
    );
}

async fn setup_times(mode: protocol::MediaMode) {
    const CALLS: u32 = 30;
    let server = start(settings(|s| s.file.media.mode = mode)).await;
    let url = base_url(&server);
    let agent = tokio::spawn({
        let args = agent_console::AgentArgs {
            calls: CALLS,
            hold: Some(0.3),
            timeout: 300.0,
            ..agent_console::AgentArgs::new(&url, "clerk-hekou-1")
        };
        async move { agent_console::run(&args, |_| {}).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut booth_first_packet = vec![];
    let mut booth_first_frame = vec![];
    for _ in 0..CALLS {
        let args = booth_client::BoothArgs {
            timeout: 60.0,
            ..booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert")
        };
        let b = booth_client::run(&args, |_| {}).await.expect("booth visit");
        assert_eq!(b.outcome, "served");
        let m = b.media.expect("media report");
        booth_first_packet.push(m.setup_ms.expect("booth received video"));
        booth_first_frame.push(m.first_frame_ms.expect("booth received a frame"));
    }
    let a = agent.await.unwrap().expect("agent");
    assert_eq!(a.calls, CALLS);
    let clerk_first_packet: Vec<u64> = a.media.iter().map(|m| m.setup_ms.expect("clerk received video")).collect();
    let clerk_first_frame: Vec<u64> =
        a.media.iter().map(|m| m.first_frame_ms.expect("clerk received a frame")).collect();
    println!("call setup, {CALLS} calls one after another (loopback, host candidates), media {mode:?}:");
    summarize("clerk: accept → first remote video packet", clerk_first_packet);
    summarize("clerk: accept → first complete remote frame", clerk_first_frame);
    summarize("booth: call_started → first video packet", booth_first_packet);
    summarize("booth: call_started → first complete frame", booth_first_frame);
    server.shutdown().await;
}

/// Bytes in the files of `dir` (the recordings written so far).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map(|d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

/// RTP packets the server's relay forwarded so far (`/healthz`).
fn forwarded(url: &str) -> u64 {
    let body: serde_json::Value = ureq::get(&format!("{url}/healthz"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_json().ok())
        .unwrap_or_default();
    body["media"]["packets_forwarded"].as_u64().unwrap_or(0)
}

fn concurrent_resources(n: usize, relayed: bool) {
    let bin = release_bin;
    let dir = std::env::temp_dir().join(format!("xiaowu-bench-{}-{n}-{relayed}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    let media = if relayed { "\n[media]\nmode = \"relay\"\nrecord = true\n" } else { "\n[media]\nmode = \"p2p\"\n" };
    std::fs::write(&config, config_with_extra(n) + media).unwrap();
    let port = test_kit::ports::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let quiet = || Stdio::null();
    let mut procs = Procs(vec![]);
    procs.0.push(
        Command::new(bin("signaling-server"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--config", config.to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .current_dir(&dir)
            .stdout(quiet())
            .stderr(quiet())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let hold = "12";
    for i in 0..n {
        procs.0.push(
            Command::new(bin("agent-console"))
                .args([
                    "--server",
                    &url,
                    "--clerk",
                    &format!("clerk-extra-{i}"),
                    "--secret",
                    "demo",
                    "--auto-accept",
                    "--hold",
                    hold,
                    "--timeout",
                    "60",
                ])
                .stdout(quiet())
                .stderr(quiet())
                .spawn()
                .unwrap(),
        );
    }
    std::thread::sleep(Duration::from_millis(1500));
    for i in 0..n {
        procs.0.push(
            Command::new(bin("booth-client"))
                .args([
                    "--server",
                    &url,
                    "--booth",
                    &format!("booth-extra-{i}"),
                    "--service",
                    "teacher-cert",
                    "--secret",
                    "demo",
                    "--timeout",
                    "60",
                    "--json",
                ])
                .stdout(if i == 0 { Stdio::piped() } else { quiet() })
                .stderr(quiet())
                .spawn()
                .unwrap(),
        );
    }
    let server_pid = procs.0[0].id();
    let booth_pid = procs.0[1 + n].id();
    let agent_pid = procs.0[1].id();
    // Measure over 8 s in the middle of the 12 s calls.
    std::thread::sleep(Duration::from_secs(3));
    let recordings = dir.join("xiaowu-data/recordings");
    let t0 = Instant::now();
    let (f0, r0) = (forwarded(&url), dir_bytes(&recordings));
    let s0: Vec<_> = [server_pid, booth_pid, agent_pid].iter().map(|p| sample(*p).expect("process alive")).collect();
    std::thread::sleep(Duration::from_secs(8));
    let secs = t0.elapsed().as_secs_f64();
    let s1: Vec<_> = [server_pid, booth_pid, agent_pid].iter().map(|p| sample(*p).expect("process alive")).collect();
    let (f1, r1) = (forwarded(&url), dir_bytes(&recordings));
    let hz = 100.0; // USER_HZ on Linux
    let how = if relayed { "through the relay, recorded" } else { "peer to peer" };
    println!(
        "resources with {n} concurrent calls {how} (release binaries, 2 cores, measured over {secs:.1} s mid-call):"
    );
    for (i, name) in ["signaling-server", "one booth-client", "one agent-console"].iter().enumerate() {
        let cpu = (s1[i].0 - s0[i].0) as f64 / hz / secs * 100.0;
        println!(
            "  {name:<18} CPU {cpu:5.1} % of one core   RSS {:>6.1} MiB (peak {:.1} MiB)",
            s1[i].1 as f64 / 1024.0,
            s1[i].2 as f64 / 1024.0
        );
    }
    if relayed {
        let server_cpu = (s1[0].0 - s0[0].0) as f64 / hz / secs;
        let pps = (f1 - f0) as f64 / secs;
        println!(
            "  relay: {pps:.0} RTP packets forwarded/s = {:.0} per core-second of server CPU; recording {:.0} KiB/s",
            pps / server_cpu.max(0.001),
            (r1.saturating_sub(r0)) as f64 / 1024.0 / secs
        );
    }
    // The first booth's summary proves the calls really carried media.
    let booth = procs.0.remove(1 + n);
    let out = booth.wait_with_output().unwrap();
    let last = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_owned();
    println!("  first booth's summary: {}", &last[..last.len().min(220)]);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(setup_times(protocol::MediaMode::P2p));
    rt.block_on(setup_times(protocol::MediaMode::Relay));
    if std::env::var_os("XIAOWU_BENCH_SETUP_ONLY").is_some() {
        return;
    }
    concurrent_resources(20, false);
    concurrent_resources(20, true);
    concurrent_resources(50, true);
}
