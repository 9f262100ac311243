//! The real binary refuses to start with a token secret anybody could guess: an empty one (the
//! README's cluster command with `XIAOWU_TOKEN_SECRET` unset, before it used `${…:?}`) or any
//! shorter than 32 bytes, from the flag, the environment or the config file alike. It says why in
//! Chinese and English, how to make one, and exits 78 (EX_CONFIG) without listening.

mod common;

use std::process::Command;

fn start_with(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let dir = common::temp_dir(&format!("refusal-{}", args.len() + env.len()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signaling-server"));
    cmd.args(["--listen", &common::free_addr().to_string()]).args(args).env("RUST_LOG", "warn").current_dir(&dir);
    cmd.env_remove("XIAOWU_TOKEN_SECRET");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn assert_refused(out: &std::process::Output, what: &str) {
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{what}: {said}");
    assert!(said.contains("令牌密钥太短") && said.contains("at least 32"), "{what}: {said}");
    assert!(said.contains("openssl rand -base64 48"), "{what}: says how to make one: {said}");
}

#[test]
fn a_short_or_empty_token_secret_is_refused_wherever_it_comes_from() {
    assert_refused(&start_with(&["--token-secret", ""], &[]), "an empty flag");
    assert_refused(&start_with(&["--token-secret", "secret"], &[]), "a short flag");
    assert_refused(&start_with(&[], &[("XIAOWU_TOKEN_SECRET", "0123456789abcdef0123456789abcde")]), "31 bytes");
    // In a cluster too: a node never starts with a key anybody could guess.
    let redis = "redis://127.0.0.1:1/";
    let cluster = start_with(
        &["--redis", redis, "--node-id", "a", "--database", "postgres://x@127.0.0.1:1/x"],
        &[("XIAOWU_TOKEN_SECRET", "")],
    );
    assert_refused(&cluster, "a cluster node with an empty environment variable");
    // From the config file.
    let dir = common::temp_dir("refusal-config");
    let demo = signaling_server::config::DEMO_CONFIG.replacen("[server]\n", "[server]\ntoken_secret = \"short\"\n", 1);
    let path = dir.join("xiaowu.toml");
    std::fs::write(&path, demo).unwrap();
    assert_refused(&start_with(&["--config", path.to_str().unwrap()], &[]), "a short key in the config");
}
