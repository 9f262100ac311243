//! Helpers for the bench binaries: the release server as a separate process, CPU and memory of a
//! process from `/proc`, percentiles, a seeded RNG, and a raw protocol connection.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::{ClientMessage, Role, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

/// A release binary of the workspace (`cargo build --release --bins` first).
pub fn release_bin(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release").join(name);
    assert!(p.exists(), "{} missing: run `cargo build --release --bins` first", p.display());
    p
}

/// CPU ticks (user + system, 100 per second) and current / peak RSS in KiB of a process.
pub fn sample(pid: u32) -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib =
        |key: &str| status.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok());
    Some((ticks, kib("VmRSS:")?, kib("VmHWM:")?))
}

/// Child processes killed when dropped.
pub struct Procs(pub Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The release `signaling-server` on a free loopback port with `config` (TOML text), its data in a
/// fresh temporary folder; returns the process and its address once it accepts connections.
pub fn server_process(config: &str, tag: &str) -> (Procs, std::net::SocketAddr) {
    let dir = std::env::temp_dir().join(format!("xiaowu-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(&file, config).unwrap();
    let addr = test_kit::ports::free_addr();
    let child = Command::new(release_bin("signaling-server"))
        .args(["--listen", &addr.to_string(), "--config", file.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let procs = Procs(vec![child]);
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return (procs, addr);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not start on {addr}");
}

/// The `p`-quantile (0–1) of sorted values.
pub fn pct<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A small seeded xorshift generator: benches stay repeatable without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() % 1_000_000) as f64 / 1_000_000.0 < p
    }
    /// Uniform in `lo..hi` milliseconds.
    pub fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next_u64() % (hi - lo).max(1))
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A protocol connection without the session's pump (one task drives it), for thousands at once.
pub struct Conn {
    ws: Ws,
}

impl Conn {
    /// Opens `/ws/<role>` (with `TCP_NODELAY`) and authenticates with `token`.
    pub async fn open(addr: std::net::SocketAddr, role: Role, token: &str) -> Result<Self, String> {
        let url = format!("ws://{addr}/ws/{}", role.as_str());
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await.map_err(|e| e.to_string())?;
        let mut c = Self { ws };
        c.send(&ClientMessage::Hello { protocol_version: protocol::PROTOCOL_VERSION, token: token.to_owned() }).await?;
        match c.recv().await {
            Some(ServerMessage::Welcome { .. }) => Ok(c),
            other => Err(format!("no welcome: {other:?}")),
        }
    }

    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), String> {
        self.ws.send(Message::text(msg.encode())).await.map_err(|e| e.to_string())
    }

    /// Next server message; `None` once the connection is gone.
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(t)) => return ServerMessage::decode(&t).ok(),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// The demo configuration with `booths` extra booths in 孤岛镇 (`booth-load-N`) and `clerks` extra
/// `teacher-cert` clerks in 河口区 (`clerk-load-N`), secret `demo`, a fixed token key (the bench
/// signs its own tokens instead of running thousands of PBKDF2 logins), and `extra` TOML appended
/// to the `[server]` section's neighbours (e.g. a `[limits]` table).
pub fn load_config(booths: usize, clerks: usize, token_key: &str, extra: &str) -> String {
    let demo = signaling_server::config::DEMO_CONFIG;
    let hash_line = demo.lines().find(|l| l.starts_with("secret_hash = ")).expect("the demo has hashed secrets");
    let mut text = demo.replacen("[server]\n", &format!("[server]\ntoken_secret = \"{token_key}\"\n"), 1);
    text = text.replacen("[routing]\n", &format!("{extra}\n[routing]\n"), 1);
    for i in 0..booths {
        text.push_str(&format!(
            "\n[[booths]]\nid = \"booth-load-{i}\"\nname = \"负载测试晓屋{i}\"\nregion = \"gudao\"\nkind = \"town_centre\"\n{hash_line}\n"
        ));
    }
    for i in 0..clerks {
        text.push_str(&format!(
            "\n[[clerks]]\nid = \"clerk-load-{i}\"\nname = \"负载{i}\"\nhall = \"hekou\"\nskills = [\"teacher-cert\"]\n{hash_line}\n"
        ));
    }
    text
}

/// A token for `id` signed with the config's `token_key`, valid for a day.
pub fn mint_token(token_key: &str, role: Role, id: &str) -> String {
    let signer = gateway::auth::TokenSigner::new(token_key.as_bytes());
    let exp = gateway::auth::unix_now() + 86_400;
    signer.issue(&gateway::auth::Claims { role, id: id.to_owned(), exp })
}
