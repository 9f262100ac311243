//! The real binary under a descriptor limit of 256 (`prlimit`), so its connection cap is the
//! limit less 128: 270 sockets that connect and send nothing do not lock anybody out. Each new
//! connection sheds the oldest silent one, and `/healthz` and a clerk's login still answer.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn get(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn silent_sockets_at_a_low_descriptor_limit_do_not_lock_staff_out() {
    let dir = common::temp_dir("low-nofile");
    let addr = common::free_addr();
    let mut child = Command::new("prlimit")
        .args(["--nofile=256:256", "--"])
        .arg(env!("CARGO_BIN_EXE_signaling-server"))
        .args(["--listen", &addr.to_string()])
        .env("RUST_LOG", "warn")
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prlimit (util-linux) runs the server");
    let deadline = Instant::now() + common::WAIT;
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let silent: Vec<TcpStream> = (0..270).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let health = get(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let body = r#"{"role":"clerk","id":"clerk-hekou-1","secret":"demo"}"#;
    let login = get(
        addr,
        &format!(
            "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let _ = child.kill();
    let _ = child.wait();
    drop(silent);
    assert!(health.starts_with("HTTP/1.1 200"), "healthz: {health:.80}");
    assert!(login.starts_with("HTTP/1.1 200") && login.contains("\"token\""), "login: {login:.80}");
}
