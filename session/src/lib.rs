//! Client side of the Xiaowu protocol, shared by `booth-client`, `agent-console` and the tests:
//! log in over REST, open the role's WebSocket, say `hello`, keep the connection alive with
//! pings, and expose plain `send` / `recv` of protocol messages.
#![forbid(unsafe_code)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::rest::{LoginRequest, LoginResponse};
use protocol::{ClientMessage, CloseReason, Role, ServerMessage, PROTOCOL_VERSION};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("login failed: {0}")]
    Login(String),
    #[error("WebSocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the server refused hello: {0:?}")]
    Refused(Box<ServerMessage>),
    #[error("the connection closed")]
    Closed,
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("服务器地址有误 / bad server URL `{0}`: expected http://host:port or https://host:port")]
    BadUrl(String),
    /// Nothing answers at the address (not started yet, wrong port, firewall).
    #[error("无法连接服务器 / server not reachable at {0}")]
    Unreachable(String),
    /// The server answered the login with an error: its bilingual message.
    #[error("{message_zh} / {message_en} ({code})")]
    Rejected { code: String, message_zh: String, message_en: String },
}

impl SessionError {
    /// Whether trying again later may help (the server is not up yet, or restarting).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, SessionError::Unreachable(_))
    }
}

/// Checks `server` is an `http://` or `https://` base URL and returns it without a trailing slash.
pub fn base_url(server: &str) -> Result<&str, SessionError> {
    let base = server.trim_end_matches('/');
    let rest = base.strip_prefix("http://").or_else(|| base.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains('/') => Ok(base),
        _ => Err(SessionError::BadUrl(server.to_owned())),
    }
}

/// The server's error body (`{"code", "message_zh", "message_en"}`), or the status when the body
/// is not one.
fn rejected(status: u16, body: &[u8]) -> SessionError {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    match (field("code"), field("message_zh"), field("message_en")) {
        (Some(code), Some(message_zh), Some(message_en)) => SessionError::Rejected { code, message_zh, message_en },
        _ => SessionError::Login(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(body).chars().take(200).collect::<String>()
        )),
    }
}

/// Logs in and returns the token. `server` is the base URL, e.g. `http://127.0.0.1:8080`.
/// A refusal comes back as [`SessionError::Rejected`] with the server's bilingual message; no
/// answer at all as [`SessionError::Unreachable`].
pub async fn login(server: &str, role: Role, id: &str, secret: &str) -> Result<LoginResponse, SessionError> {
    let base = base_url(server)?.to_owned();
    let url = format!("{base}/api/login");
    let body = LoginRequest { role, id: id.to_owned(), secret: secret.to_owned(), device_token: None };
    tokio::task::spawn_blocking(move || {
        let sent = ureq::post(&url).config().http_status_as_error(false).build().send_json(&body);
        let mut resp = match sent {
            Ok(r) => r,
            Err(ureq::Error::Io(_)) | Err(ureq::Error::ConnectionFailed) | Err(ureq::Error::HostNotFound) => {
                return Err(SessionError::Unreachable(base));
            }
            Err(e) => return Err(SessionError::Login(e.to_string())),
        };
        let status = resp.status().as_u16();
        if status != 200 {
            let body = resp.body_mut().with_config().limit(64 * 1024).read_to_vec().unwrap_or_default();
            return Err(rejected(status, &body));
        }
        resp.body_mut().read_json::<LoginResponse>().map_err(|e| SessionError::Login(e.to_string()))
    })
    .await
    .map_err(|e| SessionError::Login(e.to_string()))?
}

/// A REST answer: status and body.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// `POST` raw bytes with the session's token (used for document uploads).
pub async fn post_bytes(
    url: String,
    token: String,
    content_type: &'static str,
    body: Vec<u8>,
) -> Result<Reply, SessionError> {
    tokio::task::spawn_blocking(move || {
        let resp = ureq::post(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", content_type)
            .send(&body[..])
            .map_err(|e| SessionError::Login(e.to_string()))?;
        read_reply(resp)
    })
    .await
    .map_err(|e| SessionError::Login(e.to_string()))?
}

/// `GET` with the session's token (used for document downloads).
pub async fn get_bytes(url: String, token: String) -> Result<Reply, SessionError> {
    tokio::task::spawn_blocking(move || {
        let resp = ureq::get(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .map_err(|e| SessionError::Login(e.to_string()))?;
        read_reply(resp)
    })
    .await
    .map_err(|e| SessionError::Login(e.to_string()))?
}

/// Status and body (at most 64 MiB) of an answer.
fn read_reply(mut resp: ureq::http::Response<ureq::Body>) -> Result<Reply, SessionError> {
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .map_err(|e| SessionError::Login(e.to_string()))?;
    Ok(Reply { status, body })
}

/// `http://host:port` → `ws://host:port/ws/<role>`.
pub fn ws_url(server: &str, role: Role) -> Result<String, SessionError> {
    let base = server.trim_end_matches('/');
    let rest = base
        .strip_prefix("http://")
        .map(|r| format!("ws://{r}"))
        .or_else(|| base.strip_prefix("https://").map(|r| format!("wss://{r}")))
        .ok_or_else(|| SessionError::BadUrl(server.to_owned()))?;
    Ok(format!("{rest}/ws/{}", role.as_str()))
}

/// An authenticated connection.
pub struct Session {
    /// The server's `welcome`.
    pub welcome: ServerMessage,
    /// The bearer token this session authenticated with (also for REST calls).
    pub token: String,
    tx: mpsc::Sender<ClientMessage>,
    rx: mpsc::Receiver<ServerMessage>,
    task: JoinHandle<()>,
    closed_with: Arc<OnceLock<CloseReason>>,
}

impl Session {
    /// Opens the role's socket and authenticates with `token`.
    pub async fn connect(server: &str, role: Role, token: &str) -> Result<Self, SessionError> {
        // TCP_NODELAY: a message right after another must not wait for the server's delayed ACK.
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(ws_url(server, role)?, None, true).await?;
        let hello = ClientMessage::Hello { protocol_version: PROTOCOL_VERSION, token: token.to_owned() };
        ws.send(Message::text(hello.encode())).await?;
        let welcome = loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .map_err(|_| SessionError::Timeout("welcome"))?
                .ok_or(SessionError::Closed)??;
            if let Message::Text(t) = frame {
                let msg = ServerMessage::decode(&t).map_err(|_| SessionError::Closed)?;
                match msg {
                    ServerMessage::Welcome { .. } => break msg,
                    other => return Err(SessionError::Refused(Box::new(other))),
                }
            }
        };
        let ServerMessage::Welcome { heartbeat_interval_ms, .. } = welcome else { unreachable!("matched above") };
        let (out_tx, out_rx) = mpsc::channel(256);
        let (in_tx, in_rx) = mpsc::channel(1024);
        let closed_with = Arc::new(OnceLock::new());
        let beat = Duration::from_millis(heartbeat_interval_ms.max(100));
        let task = tokio::spawn(pump(ws, out_rx, in_tx, beat, closed_with.clone()));
        Ok(Self { welcome, token: token.to_owned(), tx: out_tx, rx: in_rx, task, closed_with })
    }

    /// For the command-line clients: [`Session::login_and_connect_waiting`] for up to
    /// `wait_secs` seconds, each retry said on standard error.
    pub async fn connect_for_cli(
        server: &str,
        role: Role,
        id: &str,
        secret: &str,
        wait_secs: f64,
    ) -> Result<Self, SessionError> {
        let wait = Duration::from_secs_f64(wait_secs.max(0.0));
        Self::login_and_connect_waiting(server, role, id, secret, wait, |e| eprintln!("{e}; 重试中 / retrying")).await
    }

    /// Logs in and connects in one step.
    pub async fn login_and_connect(server: &str, role: Role, id: &str, secret: &str) -> Result<Self, SessionError> {
        let login = login(server, role, id, secret).await?;
        Self::connect(server, role, &login.token).await
    }

    /// [`Session::login_and_connect`], trying again every second for up to `wait` while nothing
    /// answers at `server` (it is still starting, or restarting); `on_retry` hears each failure.
    pub async fn login_and_connect_waiting(
        server: &str,
        role: Role,
        id: &str,
        secret: &str,
        wait: Duration,
        mut on_retry: impl FnMut(&SessionError),
    ) -> Result<Self, SessionError> {
        let give_up = tokio::time::Instant::now() + wait;
        loop {
            match Self::login_and_connect(server, role, id, secret).await {
                Err(e) if e.is_unreachable() && tokio::time::Instant::now() < give_up => {
                    on_retry(&e);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                other => return other,
            }
        }
    }

    pub async fn send(&self, msg: ClientMessage) -> Result<(), SessionError> {
        self.tx.send(msg).await.map_err(|_| SessionError::Closed)
    }

    /// Sends several messages in order.
    pub async fn send_all(&self, msgs: Vec<ClientMessage>) -> Result<(), SessionError> {
        for m in msgs {
            self.send(m).await?;
        }
        Ok(())
    }

    /// Next message from the server (`pong`s are swallowed); `None` once the connection is gone.
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        self.rx.recv().await
    }

    /// Like `recv` with a time limit.
    pub async fn recv_timeout(&mut self, limit: Duration) -> Result<ServerMessage, SessionError> {
        tokio::time::timeout(limit, self.rx.recv())
            .await
            .map_err(|_| SessionError::Timeout("a message"))?
            .ok_or(SessionError::Closed)
    }

    /// The server's reason for closing the connection, once it did (see `CloseReason`).
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.closed_with.get().copied()
    }

    /// Whether reconnecting makes sense after the connection ended: not when a newer connection
    /// of the same account replaced this one, nor when the server refused the token.
    pub fn may_reconnect(&self) -> bool {
        self.close_reason().is_none_or(CloseReason::should_reconnect)
    }

    /// Drops the connection at once, without a goodbye (as a network failure would).
    pub fn abort(self) {
        self.task.abort();
    }

    /// [`Session::abort`] in place: the connection is gone, the session only answers `Closed`
    /// (for a loop that holds it and reconnects right after).
    pub fn cut(&mut self) {
        self.task.abort();
    }

    /// Closes the connection cleanly.
    pub async fn close(self) {
        drop(self.tx);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.task).await;
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn pump(
    mut ws: Ws,
    mut out: mpsc::Receiver<ClientMessage>,
    inbox: mpsc::Sender<ServerMessage>,
    beat: Duration,
    closed_with: Arc<OnceLock<CloseReason>>,
) {
    let mut ping = tokio::time::interval(beat);
    ping.tick().await;
    let mut seq = 0;
    loop {
        tokio::select! {
            msg = out.recv() => match msg {
                Some(m) => if ws.send(Message::text(m.encode())).await.is_err() { return },
                None => { let _ = ws.close(None).await; return }
            },
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(t))) => match ServerMessage::decode(&t) {
                    Ok(ServerMessage::Pong { .. }) => {}
                    Ok(m) => if inbox.send(m).await.is_err() { return },
                    Err(e) => tracing::warn!(error = %e, "undecodable server message"),
                },
                Some(Ok(Message::Close(frame))) => {
                    if let Some(reason) = frame.and_then(|f| CloseReason::parse(&f.reason)) {
                        tracing::info!(reason = reason.as_str(), "the server closed the connection");
                        let _ = closed_with.set(reason);
                    }
                    return;
                }
                None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                seq += 1;
                if ws.send(Message::text(ClientMessage::Ping { seq }.encode())).await.is_err() { return }
            }
        }
    }
}

/// How the command-line clients print what they receive: one JSON object a line with `--json`,
/// else a short human line.
pub mod print {
    use protocol::ServerMessage;

    /// A server message.
    pub fn message(json: bool, msg: &ServerMessage) {
        if json {
            println!("{}", msg.encode());
        } else {
            println!("<- {msg:?}");
        }
    }

    /// A chat message from the other party (`from`: `booth` or `clerk`).
    pub fn chat(json: bool, from: &str, text: &str) {
        if json {
            println!("{}", serde_json::json!({"type": "chat", "from": from, "text": text}));
        } else {
            println!("<- chat from {from}: {text}");
        }
    }
}
