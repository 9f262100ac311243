//! The vault from the outside: objects of every length through both ciphers, ranges, objects
//! written as they grow, what a crash leaves, tampering, and a master key's rotation.

use proptest::prelude::*;
use vault::{Cipher, Envelope, MasterKey, Vault, VaultError};

fn vault(cipher: Cipher, chunk: usize) -> Vault {
    Vault::new(MasterKey::generate(), cipher).with_chunk(chunk)
}

fn plain(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn every_length_round_trips_and_grows_by_a_header_and_a_tag_per_chunk() {
    for cipher in [Cipher::Aes256Gcm, Cipher::Sm4Gcm] {
        let v = vault(cipher, 16);
        for len in [0, 1, 15, 16, 17, 32, 33, 100] {
            let data = plain(len);
            let (env, sealed) = v.seal(&data);
            let chunks = len.div_ceil(16).max(1);
            assert_eq!(sealed.len(), vault::HEADER_LEN + len + 16 * chunks, "{cipher:?} {len}");
            assert_eq!(v.open(&env, &sealed).unwrap(), data);
            let env = Envelope::parse(&env.to_text()).unwrap();
            assert_eq!(v.open(&env, &sealed).unwrap(), data);
        }
    }
}

#[test]
fn the_plaintext_is_not_in_the_sealed_bytes() {
    let v = Vault::new(MasterKey::generate(), Cipher::Aes256Gcm);
    let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], "居民身份证 公民身份号码".as_bytes()].concat();
    let (_, sealed) = v.seal(&jpeg);
    assert!(!sealed.windows(3).any(|w| w == [0xFF, 0xD8, 0xFF]));
    assert!(!sealed.windows(6).any(|w| w == "身份".as_bytes()));
}

#[test]
fn a_cut_a_swap_or_a_changed_byte_is_refused() {
    let v = vault(Cipher::Aes256Gcm, 16);
    let (env, sealed) = v.seal(&plain(64));
    // Cut after whole chunks: the last chunk's flag is missing.
    assert!(v.open(&env, &sealed[..vault::HEADER_LEN + 32 * 2]).is_err());
    // Two chunks swapped.
    let mut swapped = sealed.clone();
    let (a, b) = (vault::HEADER_LEN, vault::HEADER_LEN + 32);
    let first: Vec<u8> = swapped[a..b].to_vec();
    swapped.copy_within(b..b + 32, a);
    swapped[b..b + 32].copy_from_slice(&first);
    assert_eq!(v.open(&env, &swapped), Err(VaultError::Tampered));
    // Any byte changed, header included.
    for at in [0, 5, 9, vault::HEADER_LEN, sealed.len() - 1] {
        let mut bad = sealed.clone();
        bad[at] ^= 0x40;
        assert!(v.open(&env, &bad).is_err(), "byte {at}");
    }
    // Another object's key.
    let (other, _) = v.seal(b"x");
    assert_eq!(v.open(&other, &sealed), Err(VaultError::Tampered));
}

#[test]
fn an_object_written_as_it_grows_opens_like_a_whole_one_and_a_crash_keeps_the_whole_chunks() {
    for cipher in [Cipher::Aes256Gcm, Cipher::Sm4Gcm] {
        let v = vault(cipher, 16);
        let data = plain(70);
        let (env, mut sealer) = v.sealer();
        let mut sealed = Vec::new();
        for piece in data.chunks(7) {
            sealed.extend(sealer.push(piece));
        }
        // Before `finish`: the four full chunks sealed so far; the last 6 bytes wait in memory.
        let crashed = v.open_complete_chunks(&env, &sealed).unwrap();
        assert_eq!(crashed, data[..64]);
        assert!(v.open(&env, &sealed).is_err());
        sealed.extend(sealer.finish());
        assert_eq!(v.open(&env, &sealed).unwrap(), data);
        assert_eq!(v.open_complete_chunks(&env, &sealed).unwrap(), data);
    }
}

#[test]
fn rotation_rewraps_keys_and_the_old_master_key_is_no_longer_needed() {
    let old = MasterKey::generate();
    let new = MasterKey::generate();
    let before = Vault::new(old.clone(), Cipher::Sm4Gcm);
    let (env, sealed) = before.seal(b"recording");
    let rotating = Vault::new(new.clone(), Cipher::Aes256Gcm).with_older(old);
    let rewrapped = rotating.rewrap(&env).unwrap().expect("wrapped by the old key");
    assert_eq!(rewrapped.master_id, new.id());
    assert_eq!(rewrapped.cipher, Cipher::Sm4Gcm, "the object keeps its cipher");
    assert_eq!(rotating.rewrap(&rewrapped).unwrap(), None);
    let after = Vault::new(new, Cipher::Aes256Gcm);
    assert_eq!(after.open(&rewrapped, &sealed).unwrap(), b"recording");
    assert!(matches!(after.open(&env, &sealed), Err(VaultError::UnknownMasterKey(_))));
}

#[test]
fn a_master_key_file_is_created_once_with_mode_0600() {
    let dir = std::env::temp_dir().join(format!("xiaowu-vault-{}", std::process::id()));
    let path = dir.join("master.key");
    let _ = std::fs::remove_dir_all(&dir);
    let (first, created) = MasterKey::read_or_create(&path).unwrap();
    assert!(created);
    let (again, created) = MasterKey::read_or_create(&path).unwrap();
    assert!(!created);
    assert_eq!(first.id(), again.id());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    std::fs::write(&path, "not a key").unwrap();
    assert_eq!(MasterKey::read_or_create(&path).unwrap_err(), VaultError::BadMasterKey);
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    #[test]
    fn any_range_opens_to_the_same_bytes_as_the_plaintext(
        len in 0usize..200, chunk in 1usize..40, a in 0u64..220, b in 0u64..220, sm4 in any::<bool>(),
    ) {
        let v = vault(if sm4 { Cipher::Sm4Gcm } else { Cipher::Aes256Gcm }, chunk);
        let data = plain(len);
        let (env, sealed) = v.seal(&data);
        let (start, end) = (a.min(b), a.max(b));
        let got = v.open_range(&env, &sealed, start..end).unwrap();
        let (s, e) = ((start as usize).min(len), (end as usize).min(len));
        prop_assert_eq!(got, data[s..e.max(s)].to_vec());
    }
}

#[test]
fn a_reader_opens_chunk_by_chunk_and_refuses_a_cut_unless_asked_for_whole_chunks() {
    use std::io::Read;
    for len in [0usize, 5, 16, 17, 64, 70] {
        let v = vault(Cipher::Aes256Gcm, 16);
        let data = plain(len);
        let (env, sealed) = v.seal(&data);
        let mut out = Vec::new();
        v.reader(&env, &sealed[..], false).unwrap().read_to_end(&mut out).unwrap();
        assert_eq!(out, data, "{len}");
        // Views share the recording's key: another object under the same envelope.
        let mut again = v.sealer_under(&env).unwrap();
        let mut other = again.push(&data);
        other.extend(again.finish());
        assert_ne!(other, sealed, "a fresh nonce prefix");
        assert_eq!(v.open(&env, &other).unwrap(), data);
    }
    let v = vault(Cipher::Sm4Gcm, 16);
    let (env, mut sealer) = v.sealer();
    let mut cut = sealer.push(&plain(50));
    cut.truncate(vault::HEADER_LEN + 2 * 32 + 5); // two whole chunks and a piece of the third
    let mut out = Vec::new();
    assert!(v.reader(&env, &cut[..], false).unwrap().read_to_end(&mut out).is_err());
    let mut out = Vec::new();
    v.reader(&env, &cut[..], true).unwrap().read_to_end(&mut out).unwrap();
    assert_eq!(out, plain(50)[..32]);
}
