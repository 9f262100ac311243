//! The real `signaling-server` binary as a child process, and the client helpers the process
//! tests share (the tests kill, stop and restart servers, so they cannot run them in-process).
#![allow(dead_code)]

pub mod cluster;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use protocol::{ClientMessage, Role, ServerMessage};
use session::Session;

pub const WAIT: Duration = Duration::from_secs(20);

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// The server's `server.log` (its warnings and errors).
    pub log: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what the server said, since CI keeps only the test's output.
        if std::thread::panicking() {
            let said = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = said.lines().rev().take(40).collect();
            eprintln!("--- last lines of {} ---", self.log.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

impl Server {
    /// Starts the binary in `dir` on `addr` with `args` and `env`, and waits until it listens.
    pub fn start(dir: &Path, addr: SocketAddr, args: &[&str], env: &[(&str, String)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_signaling-server"));
        cmd.args(["--listen", &addr.to_string()])
            .args(args)
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .current_dir(dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        // Its warnings and errors stay in its folder (`server.log`), for a failure's post-mortem.
        let log_path = dir.join("server.log");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).unwrap();
        let child = cmd.stdout(Stdio::null()).stderr(log).spawn().unwrap();
        let server = Server { child, addr, log: log_path };
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends a signal (`-STOP`, `-CONT`) to the process.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill {sig}");
    }

    /// `GET /healthz` as JSON (any status).
    pub fn health(&self) -> serde_json::Value {
        let reply = ureq_get(&format!("{}/healthz", self.url()));
        serde_json::from_str(&reply).unwrap_or(serde_json::Value::Null)
    }
}

fn ureq_get(url: &str) -> String {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let path = format!("/{}", url.trim_start_matches("http://").split_once('/').map_or("", |(_, p)| p));
    let Ok(mut s) = std::net::TcpStream::connect(&addr) else { return String::new() };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()
}

/// A free loopback address (below the ephemeral range: see [`test_kit::ports`]).
pub fn free_addr() -> SocketAddr {
    test_kit::ports::free_addr()
}

pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xiaowu-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn expect<T>(s: &mut Session, what: &str, pick: impl FnMut(&ServerMessage) -> Option<T>) -> T {
    expect_within(s, what, WAIT, pick).await
}

/// [`expect`] with a limit of its own (a Redis failover on a loaded machine takes longer).
pub async fn expect_within<T>(
    s: &mut Session,
    what: &str,
    limit: Duration,
    mut pick: impl FnMut(&ServerMessage) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match s.recv_timeout(left).await {
            Ok(m) => {
                if let Some(v) = pick(&m) {
                    return v;
                }
            }
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

pub async fn connect(server: &Server, role: Role, id: &str) -> Session {
    Session::login_and_connect(&server.url(), role, id, "demo").await.unwrap()
}

pub async fn token(server: &Server, role: Role, id: &str) -> String {
    session::login(&server.url(), role, id, "demo").await.unwrap().token
}

pub async fn get_json<T: serde::de::DeserializeOwned>(server: &Server, path: &str, token: String) -> T {
    let reply = session::get_bytes(format!("{}{path}", server.url()), token).await.unwrap();
    assert_eq!(reply.status, 200, "GET {path}: {}", String::from_utf8_lossy(&reply.body));
    serde_json::from_slice(&reply.body).unwrap()
}

/// `signaling-server replay SOURCE` run twice: the two outputs must be the same; returns the
/// second. A live router may append to its log between the two reads (a timer's run, the paced
/// refresh of waiting citizens' statuses): the first replay must then be the start of the second,
/// line for line.
pub fn replay_twice(source: &str) -> String {
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_signaling-server"))
            .args(["replay", source])
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let (first, second) = (run(), run());
    if first != second {
        assert!(
            first.ends_with('\n') && second.starts_with(&first),
            "the same log replays the same (the second read may only add entries at the end):\n{first}\n---\n{second}"
        );
    }
    second
}

/// A booth's request for the demo's `teacher-cert` item, normal priority.
pub fn teacher_cert() -> ClientMessage {
    ClientMessage::RequestService {
        service: protocol::ServiceCode::new("teacher-cert"),
        priority: protocol::Priority::Normal,
    }
}

/// `booth` asks, `clerk` (available) accepts, both report their media up: the call and the ticket.
pub async fn call_between(booth: &mut Session, clerk: &mut Session) -> (protocol::CallId, protocol::TicketId) {
    booth.send(teacher_cert()).await.unwrap();
    let offer = expect(clerk, "offer", |m| match m {
        ServerMessage::Offer { offer, .. } => Some(*offer),
        _ => None,
    })
    .await;
    clerk.send(ClientMessage::AcceptOffer { offer }).await.unwrap();
    let (call, ticket) = expect(booth, "call", |m| match m {
        ServerMessage::CallStarted { call, ticket, .. } => Some((*call, *ticket)),
        _ => None,
    })
    .await;
    expect(clerk, "call", |m| matches!(m, ServerMessage::CallStarted { .. }).then_some(())).await;
    for s in [&*booth, &*clerk] {
        s.send(ClientMessage::MediaState { call, state: protocol::MediaState::Connected }).await.unwrap();
    }
    (call, ticket)
}
