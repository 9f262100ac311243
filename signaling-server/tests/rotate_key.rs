//! `signaling-server rotate-key` as the README gives it: with the server stopped, in the
//! directory it runs in, a new master key takes the key file's place; run again, again; a key in
//! `XIAOWU_MASTER_KEY` needs the new one in `XIAOWU_NEW_MASTER_KEY`, and is refused without it.

mod common;

use std::process::Command;

fn rotate(dir: &std::path::Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signaling-server"));
    cmd.arg("rotate-key").env("RUST_LOG", "warn").current_dir(dir);
    for var in ["XIAOWU_MASTER_KEY", "XIAOWU_NEW_MASTER_KEY", "XIAOWU_DATABASE", "XIAOWU_CONFIG"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn rotate_key_puts_a_new_key_in_the_key_files_place_and_asks_for_one_given_in_the_environment() {
    let dir = common::temp_dir("rotate-key");
    let key_file = dir.join("xiaowu-data/master.key");
    let mut keys = vec![];
    for _ in 0..2 {
        let out = rotate(&dir, &[]);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{said} {}", String::from_utf8_lossy(&out.stderr));
        assert!(said.contains("主密钥已轮换 / master key rotated"), "{said}");
        keys.push(std::fs::read_to_string(&key_file).unwrap());
        let leftovers: Vec<_> = std::fs::read_dir(key_file.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("master.key."))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    assert_ne!(keys[0], keys[1], "a new key each time");

    let env_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let refused = rotate(&dir, &[("XIAOWU_MASTER_KEY", env_key)]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("XIAOWU_NEW_MASTER_KEY"));
    let new_key = "HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";
    let out = rotate(&dir, &[("XIAOWU_MASTER_KEY", env_key), ("XIAOWU_NEW_MASTER_KEY", new_key)]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("XIAOWU_MASTER_KEY"), "{said}");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), keys[1], "the key file is not touched");
}
