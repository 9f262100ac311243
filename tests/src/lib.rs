//! Helpers for the end-to-end tests: start the real server on port 0 with the demo directory and
//! test timings, connect real sessions, and wait for specific messages.
#![forbid(unsafe_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::{ClientMessage, Role, ServerMessage, PROTOCOL_VERSION};
use session::Session;
use signaling_server::config::Settings;
use signaling_server::RunningServer;
use tokio_tungstenite::tungstenite::Message;

pub use signaling_server;

pub mod bench;

/// How long a test waits for an expected message before failing (a hang guard, not a timing check).
pub const WAIT: Duration = Duration::from_secs(10);

/// The demo configuration with every timer set through `tune`.
pub fn settings(tune: impl FnOnce(&mut Settings)) -> Settings {
    let mut s = Settings::demo();
    tune(&mut s);
    s
}

/// Sets every service's widening thresholds.
pub fn widen_after(s: &mut Settings, secs: &[f64]) {
    for service in &mut s.directory.services {
        service.widen_after = secs.iter().map(|x| Duration::from_secs_f64(*x)).collect();
    }
}

pub async fn start(settings: Settings) -> RunningServer {
    // Every server of every test keeps its documents and cases in a folder of its own.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("xiaowu-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    start_at(settings, dir).await
}

/// Starts a server on an existing data directory (a restart keeps documents and cases).
pub async fn start_at(mut settings: Settings, data_dir: std::path::PathBuf) -> RunningServer {
    settings.file.documents.data_dir = data_dir;
    // webrtc-rs warns about normal ICE progress; keep test output to our own warnings.
    signaling_server::telemetry::init_with_default("warn,rtc=error,rtc_ice=error,rtc_dtls=error,webrtc=error");
    signaling_server::start(settings, "127.0.0.1:0").await.expect("binding a free loopback port")
}

pub fn base_url(server: &RunningServer) -> String {
    format!("http://{}", server.addr)
}

/// Logs in with the demo secret and connects.
pub async fn connect(server: &RunningServer, role: Role, id: &str) -> Session {
    Session::login_and_connect(&base_url(server), role, id, "demo").await.expect("demo account connects")
}

pub async fn token(server: &RunningServer, role: Role, id: &str) -> String {
    session::login(&base_url(server), role, id, "demo").await.expect("demo login").token
}

/// Waits for the first message that `pick` maps to `Some`, skipping others.
pub async fn expect<T>(s: &mut Session, what: &str, mut pick: impl FnMut(&ServerMessage) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match s.recv_timeout(left).await {
            Ok(msg) => {
                if let Some(v) = pick(&msg) {
                    return v;
                }
            }
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

/// Waits until the supervisor feed shows at least `n` available `teacher-cert` clerks in `hall`.
pub async fn clerks_available(server: &RunningServer, hall: &str, n: u32) {
    let mut sup = connect(server, Role::Supervisor, "sup-shandong").await;
    expect(&mut sup, "clerks available", |m| match m {
        ServerMessage::QueueLoad { rows } => rows
            .iter()
            .any(|r| r.region.as_str() == hall && r.service.as_str() == "teacher-cert" && r.clerks_available >= n)
            .then_some(()),
        _ => None,
    })
    .await;
}

/// clerk-hekou-1 and booth-gudao-1 in a call (signaling only): returns (booth, clerk, call).
pub async fn live_call(server: &RunningServer) -> (Session, Session, u64) {
    let mut clerk = connect(server, Role::Clerk, "clerk-hekou-1").await;
    clerk.send(ClientMessage::SetState { state: protocol::ClerkTargetState::Available, reason: None }).await.unwrap();
    let (booth, call) = call_from(server, &mut clerk, "booth-gudao-1").await;
    (booth, clerk, call)
}

/// `booth` asks for teacher-cert and `clerk` (available) accepts: the booth's session and the call.
pub async fn call_from(server: &RunningServer, clerk: &mut Session, booth: &str) -> (Session, u64) {
    let mut booth = connect(server, Role::Booth, booth).await;
    let service = protocol::ServiceCode::new("teacher-cert");
    booth.send(ClientMessage::RequestService { service, priority: protocol::Priority::Normal }).await.unwrap();
    let offer = expect(clerk, "offer", |m| match m {
        ServerMessage::Offer { offer, .. } => Some(*offer),
        _ => None,
    })
    .await;
    clerk.send(ClientMessage::AcceptOffer { offer }).await.unwrap();
    let call = expect(&mut booth, "call", |m| match m {
        ServerMessage::CallStarted { call, .. } => Some(call.0),
        _ => None,
    })
    .await;
    (booth, call)
}

/// Asserts that nothing matching `pick` arrives within `window`.
pub async fn expect_none(s: &mut Session, what: &str, window: Duration, mut pick: impl FnMut(&ServerMessage) -> bool) {
    let deadline = tokio::time::Instant::now() + window;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return;
        }
        if let Ok(msg) = s.recv_timeout(left).await {
            assert!(!pick(&msg), "unexpected {what}: {msg:?}");
        }
    }
}

/// A raw WebSocket, for sending frames the typed session never would.
pub struct RawSocket {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    /// The close frame's reason word, once the server closed the socket.
    pub closed_with: Option<String>,
}

impl RawSocket {
    pub async fn open(server: &RunningServer, role: Role) -> Self {
        let url = format!("ws://{}/ws/{}", server.addr, role.as_str());
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket opens");
        Self { ws, closed_with: None }
    }

    /// Opens over a TCP socket with a tiny receive buffer, so that a client that stops reading
    /// backs the server up quickly (as a stalled mobile link would).
    pub async fn open_small_window(server: &RunningServer, role: Role) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("tcp socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = socket.connect(server.addr).await.expect("tcp connect");
        let url = format!("ws://{}/ws/{}", server.addr, role.as_str());
        let (ws, _) = tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .expect("websocket opens");
        Self { ws, closed_with: None }
    }

    /// Authenticates an open socket; returns after `welcome`.
    pub async fn hello(&mut self, token: String) {
        self.send(&ClientMessage::Hello { protocol_version: PROTOCOL_VERSION, token }).await;
        let welcome = self.recv().await.expect("welcome");
        assert!(matches!(welcome, ServerMessage::Welcome { .. }), "{welcome:?}");
    }

    /// Reads until the server closes the socket; returns the close reason word (hang-guarded).
    pub async fn close_reason(&mut self) -> Option<String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.closed_with.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => {
                    self.closed_with = Some(frame.map(|f| f.reason.to_string()).unwrap_or_default());
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) | Ok(None) | Err(_) => break,
            }
        }
        self.closed_with.clone()
    }

    /// Opens and authenticates; returns after `welcome`.
    pub async fn authenticated(server: &RunningServer, role: Role, id: &str) -> Self {
        let token = token(server, role, id).await;
        let mut raw = Self::open(server, role).await;
        raw.hello(token).await;
        raw
    }

    pub async fn send(&mut self, msg: &ClientMessage) {
        self.send_text(&msg.encode()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("frame sent");
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::binary(bytes)).await.expect("frame sent");
    }

    /// Next server message; `None` when the socket closed (or nothing came within `WAIT`).
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next()).await.ok()??.ok()?;
            match frame {
                Message::Text(t) => return Some(ServerMessage::decode(&t).expect("server sends protocol messages")),
                Message::Close(frame) => {
                    self.closed_with = Some(frame.map(|f| f.reason.to_string()).unwrap_or_default());
                    return None;
                }
                _ => continue,
            }
        }
    }

    /// Next message that is not a clerk state or ticket status (those come unasked).
    pub async fn recv_reply(&mut self) -> Option<ServerMessage> {
        loop {
            match self.recv().await? {
                ServerMessage::ClerkState { .. } | ServerMessage::TicketStatus { .. } => continue,
                other => return Some(other),
            }
        }
    }
}

/// The demo configuration plus `n` extra booths in 孤岛镇 (`booth-extra-0`…) and `n` extra
/// `teacher-cert` clerks in the 河口区 hall (`clerk-extra-0`…), all with the secret `demo`.
pub fn settings_with_extra(n: usize) -> Settings {
    Settings::parse(&config_with_extra(n), "<demo + extra accounts>").expect("the extended demo config is valid")
}

/// The TOML text behind [`settings_with_extra`] (for a server started as a separate process).
pub fn config_with_extra(n: usize) -> String {
    let demo = signaling_server::config::DEMO_CONFIG;
    let hash_line = demo.lines().find(|l| l.starts_with("secret_hash = ")).expect("the demo has hashed secrets");
    let mut text = demo.to_owned();
    for i in 0..n {
        text.push_str(&format!(
            "\n[[booths]]\nid = \"booth-extra-{i}\"\nname = \"孤岛镇测试晓屋{i}\"\nregion = \"gudao\"\nkind = \"town_centre\"\n{hash_line}\n"
        ));
        text.push_str(&format!(
            "\n[[clerks]]\nid = \"clerk-extra-{i}\"\nname = \"测试{i}\"\nhall = \"hekou\"\nskills = [\"teacher-cert\"]\n{hash_line}\n"
        ));
    }
    text
}

/// A real coturn (`turnserver` from Debian's `coturn`) on loopback with `use-auth-secret`,
/// killed when dropped. `scripts/test.sh` installs the package when it is missing.
pub struct Coturn {
    pub port: u16,
    pub secret: String,
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Coturn {
    pub fn start() -> Self {
        let port = test_kit::ports::free_port();
        let secret = format!("xiaowu-test-{port}");
        let log = std::env::temp_dir().join(format!("xiaowu-coturn-{port}.log"));
        let mut child = std::process::Command::new("turnserver")
            .args([
                "-n",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                &format!("--listening-port={port}"),
                "--min-port=40000",
                "--max-port=45000",
                "--use-auth-secret",
                &format!("--static-auth-secret={secret}"),
                "--realm=xiaowu.test",
                "--no-tls",
                "--no-dtls",
                "--no-cli",
                "--allow-loopback-peers",
                "--fingerprint",
                "--simple-log",
                "--verbose",
                &format!("--log-file={}", log.display()),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("turnserver runs (Debian package coturn; scripts/test.sh installs it)");
        // coturn is ready once it answers a STUN binding request on its port.
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("probe socket");
        probe.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout settable");
        let binding = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        for _ in 0..50 {
            let _ = probe.send_to(&binding, ("127.0.0.1", port));
            let mut buf = [0u8; 512];
            if probe.recv_from(&mut buf).is_ok() {
                return Self { port, secret, child, log };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("coturn did not answer on 127.0.0.1:{port}");
    }

    pub fn config(&self) -> signaling_server::turn::TurnConfig {
        signaling_server::turn::TurnConfig {
            urls: vec![format!("turn:127.0.0.1:{}?transport=udp", self.port)],
            secret: self.secret.clone(),
            ttl_secs: 600,
        }
    }

    /// Freezes the relay (SIGSTOP): every relayed packet stops, as on a broken network path.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets the relay run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill").args([sig, &self.child.id().to_string()]).status();
        assert!(ok.is_ok_and(|s| s.success()), "kill {sig} coturn");
    }

    /// coturn's log so far (to check that allocations were made).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A REST answer read with ureq: status, `Retry-After`/`Allow` headers and the JSON body.
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub allow: Option<String>,
    pub body: serde_json::Value,
}

impl Answer {
    /// The bilingual error body's `code`, after checking the shape.
    pub fn code(&self) -> &str {
        for field in ["message_zh", "message_en"] {
            assert!(self.body[field].as_str().is_some_and(|m| !m.is_empty()), "no {field} in {}", self.body);
        }
        self.body["code"].as_str().unwrap_or_else(|| panic!("no code in {}", self.body))
    }
}

/// Sends a request with an optional bearer token and body; never fails on an HTTP status.
pub async fn http(method: &str, url: String, token: Option<String>, body: Option<Vec<u8>>) -> Answer {
    let method = method.to_owned();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut req = ureq::http::Request::builder().method(method.as_str()).uri(&url);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let req = req.body(body.unwrap_or_default()).expect("a well-formed request");
        let mut resp = agent.run(req).expect("the server answers");
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (retry_after, allow) = (header("retry-after").and_then(|v| v.parse().ok()), header("allow"));
        let content_type = header("content-type").unwrap_or_default();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body = if content_type.starts_with("application/json") {
            serde_json::from_str(&text).expect("a JSON body")
        } else {
            serde_json::Value::String(format!("<{content_type}> {text}"))
        };
        Answer { status, retry_after, allow, body }
    })
    .await
    .expect("the request thread")
}

/// A `xiaowu-relay` process (the media relay on a machine of its own) on a free loopback port,
/// recording into `record_dir`, sealed with the master key in `master_key_file` (the server's).
/// Killed when dropped.
pub struct RelayProcess {
    child: std::process::Child,
    pub addr: String,
    pub secret: String,
    pub record_dir: std::path::PathBuf,
}

impl RelayProcess {
    /// Starts the relay on `listen` (`127.0.0.1:0` for any free port) and waits until it listens.
    pub fn start(listen: &str, record_dir: &std::path::Path, master_key_file: &std::path::Path) -> Self {
        use std::io::BufRead;
        let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/xiaowu-relay");
        if !bin.exists() {
            // `cargo test --workspace` builds it; a run of this crate alone may not have.
            let built = std::process::Command::new(env!("CARGO"))
                .args(["build", "--quiet", "-p", "xiaowu-media-relay", "--bin", "xiaowu-relay"])
                .status();
            assert!(built.is_ok_and(|s| s.success()), "building xiaowu-relay");
        }
        let secret = "a-relay-secret-for-tests".to_owned();
        let mut child = std::process::Command::new(bin)
            .args(["--listen", listen, "--secret", &secret, "--record-dir"])
            .arg(record_dir)
            .arg("--master-key-file")
            .arg(master_key_file)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("xiaowu-relay starts");
        let mut line = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
        out.read_line(&mut line).expect("xiaowu-relay says where it listens");
        let addr = line.trim().rsplit(' ').next().expect("an address").to_owned();
        assert!(addr.contains(':'), "xiaowu-relay said `{line}`");
        Self { child, addr, secret, record_dir: record_dir.to_owned() }
    }

    /// `kill -9`: the relay and every room in it are gone at once.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One teacher-certificate call, served: `clerk` (of the hekou hall) takes it and hangs up after a
/// second; panics unless both sides say so.
pub async fn served_call(server: &RunningServer, booth: &str, clerk: &str) {
    let url = base_url(server);
    let agent = tokio::spawn({
        let args = agent_console::AgentArgs { hold: Some(1.0), ..agent_console::AgentArgs::new(&url, clerk) };
        async move { agent_console::run(&args, |_| {}).await }
    });
    clerks_available(server, "hekou", 1).await;
    let b = booth_client::run(&booth_client::BoothArgs::new(&url, booth, "teacher-cert"), |_| {}).await.unwrap();
    assert_eq!(b.outcome, "served", "{b:?}");
    assert_eq!(agent.await.unwrap().unwrap().outcome, "done");
}

/// A third party's run and every message it saw.
pub type GuestRun = (Result<agent_console::guest::GuestSummary, session::SessionError>, Vec<ServerMessage>);

/// `clerk` as a three-way call's third party (`agent-console --join-invites`, `--hold` seconds),
/// signed in and away at its desk (`paperwork`) before this returns, so it can be invited.
pub async fn guest_at_desk(
    server: &RunningServer,
    clerk: &str,
    hold: Option<f64>,
) -> tokio::task::JoinHandle<GuestRun> {
    let url = base_url(server);
    let args = agent_console::AgentArgs {
        auto_accept: false,
        join_invites: true,
        hold,
        ..agent_console::AgentArgs::new(&url, clerk)
    };
    let guest = tokio::spawn(async move {
        let mut seen = vec![];
        let s = agent_console::guest::run(&args, |m| seen.push(m.clone())).await;
        (s, seen)
    });
    let mut sup = connect(server, Role::Supervisor, "sup-dongying").await;
    expect(&mut sup, "the third party signed in, away at its desk", |m| match m {
        ServerMessage::ClerkList { clerks } => {
            clerks.iter().any(|c| c.clerk == clerk && c.reason == Some(protocol::AwayReason::Paperwork)).then_some(())
        }
        _ => None,
    })
    .await;
    guest
}
