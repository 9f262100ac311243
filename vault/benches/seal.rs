//! Sealing throughput, one core: a 64 MiB object (about nine minutes of a call's recording at the
//! relay's 1.5 Mb/s per party, two parties) sealed, opened, and sealed as a recording is (as it
//! grows, then read back and sealed again once for the header's patches), with AES-256-GCM and
//! SM4-GCM; and a plain copy of the same bytes for scale.
//!
//! `cargo bench -p xiaowu-vault --bench seal [-- --mib N]`

use std::time::Instant;

use vault::{Cipher, MasterKey, Vault};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mib: usize = args.iter().position(|a| a == "--mib").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(64);
    let data: Vec<u8> = (0..mib << 20).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1]).collect();
    let rate = |secs: f64| format!("{:.0} MB/s", (mib << 20) as f64 / 1e6 / secs);
    let started = Instant::now();
    let copy = data.clone();
    println!("copy (memcpy) of {mib} MiB: {}", rate(started.elapsed().as_secs_f64()));
    drop(copy);
    for cipher in [Cipher::Aes256Gcm, Cipher::Sm4Gcm] {
        let vault = Vault::new(MasterKey::generate(), cipher);
        let started = Instant::now();
        let (envelope, sealed) = vault.seal(&data);
        let seal = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let opened = vault.open(&envelope, &sealed).unwrap();
        let open = started.elapsed().as_secs_f64();
        assert_eq!(opened.len(), data.len());
        // A recording: sealed in 4 KiB writes as it grows, then opened and sealed again.
        let started = Instant::now();
        let (envelope, mut sealer) = vault.sealer();
        let mut growing = Vec::with_capacity(sealed.len());
        for piece in data.chunks(4096) {
            growing.extend(sealer.push(piece));
        }
        growing.extend(sealer.finish());
        let mut again = vault.sealer_under(&envelope).unwrap();
        let mut last = Vec::with_capacity(sealed.len());
        last.extend(again.push(&vault.open(&envelope, &growing).unwrap()));
        last.extend(again.finish());
        let recording = started.elapsed().as_secs_f64();
        println!(
            "{}: seal {}, open {}, a recording's whole path (seal as it grows, open, seal again) {}",
            cipher.name(),
            rate(seal),
            rate(open),
            rate(recording)
        );
    }
}
