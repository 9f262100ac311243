//! What decoding received video costs a Rust client: the bundled 320×240 test pattern decoded by
//! libvpx, directly and through RTP depacketizing, per frame (median and p99 over 20 passes).
//!
//! `cargo bench -p xiaowu-vp8 --bench decode`

use std::time::{Duration, Instant};

use xiaowu_vp8::{Decoder, Receiver};

const PATTERN: &[u8] = include_bytes!("../../media/assets/test-pattern.ivf");

fn frames() -> Vec<&'static [u8]> {
    let mut out = Vec::new();
    let mut at = 32;
    while at + 12 <= PATTERN.len() {
        let len = u32::from_le_bytes(PATTERN[at..at + 4].try_into().unwrap()) as usize;
        out.push(&PATTERN[at + 12..at + 12 + len]);
        at += 12 + len;
    }
    out
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
    println!("{name:<32} {:>8.1} µs median {:>8.1} µs p99  ({} frames)", pct(0.5), pct(0.99), samples.len());
}

fn main() {
    let frames = frames();
    let mut direct = Vec::new();
    let mut via_rtp = Vec::new();
    for _ in 0..20 {
        let mut d = Decoder::new().unwrap();
        for f in &frames {
            let t = Instant::now();
            std::hint::black_box(d.decode(f).unwrap());
            direct.push(t.elapsed());
        }
        let mut rx = Receiver::new().unwrap();
        let mut seq = 0u16;
        for (i, f) in frames.iter().enumerate() {
            let packets: Vec<Vec<u8>> =
                f.chunks(1200).enumerate().map(|(j, c)| [&[if j == 0 { 0x10 } else { 0 }][..], c].concat()).collect();
            let t = Instant::now();
            for (j, p) in packets.iter().enumerate() {
                std::hint::black_box(rx.push(seq, i as u32 * 6000, j + 1 == packets.len(), p, t));
                seq = seq.wrapping_add(1);
            }
            via_rtp.push(t.elapsed());
        }
    }
    report("libvpx decode (320×240)", direct);
    report("depacketize + decode (320×240)", via_rtp);
}
