//! WebSocket connections: `GET /ws/{role}`. A connection first authenticates with `hello`
//! (protocol version + token of that role), then its frames are decoded, rate-limited and handed
//! to the driver. Malformed frames get an error reply and the connection goes on; silence longer
//! than the heartbeat timeout, a persistent flood, or a driver that dropped the connection close
//! it with a close frame whose reason word is a [`CloseReason`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use protocol::{ClientMessage, CloseReason, ErrorCode, Role, ServerMessage, PROTOCOL_VERSION};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::time::Instant;
use tracing::{debug, info};

use crate::api_error::ApiError;
use crate::auth::unix_now;
use crate::edge::Edge;
use crate::limits::TokenBucket;
use host::bus::GatewayInput;
use host::commands::Principal;
use host::hub::{CloseSignal, ConnHandle, Outbound};

/// Frames above this are refused by the WebSocket layer itself (connection closed); frames
/// between `protocol::MAX_MESSAGE_BYTES` and this get an error reply and the session goes on.
const HARD_FRAME_LIMIT: usize = 1024 * 1024;
/// Bytes read from the socket at a time. Messages are small; tungstenite's default (128 KiB per
/// connection) would cost 1.3 GB for 10,000 idle booths.
const READ_BUFFER: usize = 4 * 1024;
/// Bytes the writer may buffer when the client does not read (the outbound queue bounds the rest).
const MAX_WRITE_BUFFER: usize = 2 * 1024 * 1024;
/// How long a close frame may take to go out before the socket is dropped anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Over-limit messages are counted over windows of this length.
const STRIKE_WINDOW: Duration = Duration::from_secs(10);

/// The WebSocket route, `GET /ws/{role}`, with the gateway's state, for the server's router.
pub fn routes<S: Clone + Send + Sync + 'static>(edge: Arc<Edge>) -> axum::Router<S> {
    axum::Router::new().route("/ws/{role}", axum::routing::get(upgrade)).with_state(edge)
}

pub async fn upgrade(Path(role): Path<String>, State(state): State<Arc<Edge>>, ws: WebSocketUpgrade) -> Response {
    let role = match role.as_str() {
        "booth" => Role::Booth,
        "clerk" => Role::Clerk,
        "supervisor" => Role::Supervisor,
        _ => return ApiError::from(ErrorCode::NotFound).into_response(),
    };
    // Sockets that have not said hello yet cost memory and prove nothing: bound them.
    let Ok(permit) = state.unauthenticated.clone().try_acquire_owned() else {
        return ApiError::retry_after(ErrorCode::ServerBusy, Duration::from_secs(2)).into_response();
    };
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| connection(socket, state, role, permit))
}

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

async fn send_now(sink: &mut Sink, msg: &ServerMessage) -> bool {
    sink.send(Message::Text(msg.encode().into())).await.is_ok()
}

async fn close(sink: &mut Sink, reason: CloseReason) {
    let frame = CloseFrame { code: reason.code(), reason: reason.as_str().into() };
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame)))).await;
}

/// After our close frame, reads (and drops, undecoded) what the client still sends until its
/// close reply, at most [`CLOSE_GRACE`]: a socket dropped with unread incoming data is reset, and
/// the reset discards what the client had not read yet (its last replies and our close frame). So
/// however many frames a flood still has in flight, they are all read (bounded in time, not in
/// frames: a client that keeps sending for two more seconds after our close is cut off then).
async fn drain_until_close(stream: &mut Stream) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
}

/// Per-connection message budget: a token bucket, and a count of refusals per window.
struct RateLimit {
    bucket: TokenBucket,
    strikes: u32,
    max_strikes: u32,
    window_start: Instant,
    last_notice: Option<Instant>,
}

enum Verdict {
    Pass,
    /// Refused; answer `rate_limited` (at most once a second).
    Refuse {
        notify: bool,
    },
    /// Too many refusals: close the connection.
    Close,
}

impl RateLimit {
    fn new(state: &Edge, now: Instant) -> Self {
        let l = &state.limits;
        Self {
            bucket: TokenBucket::new(l.messages_per_sec, l.message_burst, now),
            strikes: 0,
            max_strikes: l.rate_limit_strikes.max(1),
            window_start: now,
            last_notice: None,
        }
    }

    fn check(&mut self, now: Instant) -> Verdict {
        if self.bucket.take(now) {
            return Verdict::Pass;
        }
        if now.saturating_duration_since(self.window_start) >= STRIKE_WINDOW {
            self.window_start = now;
            self.strikes = 0;
        }
        self.strikes += 1;
        if self.strikes >= self.max_strikes {
            return Verdict::Close;
        }
        let notify = self.last_notice.is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1));
        if notify {
            self.last_notice = Some(now);
        }
        Verdict::Refuse { notify }
    }
}

/// Counts a running WebSocket task while it lives (see `Shared::websockets`).
struct Running(Arc<tokio::sync::watch::Sender<usize>>);

impl Running {
    fn new(count: &Arc<tokio::sync::watch::Sender<usize>>) -> Self {
        count.send_modify(|n| *n += 1);
        Self(count.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

async fn connection(socket: WebSocket, state: Arc<Edge>, role: Role, permit: OwnedSemaphorePermit) {
    let _running = Running::new(&state.websockets);
    let (mut sink, mut stream) = socket.split();
    let mut limit = RateLimit::new(&state, Instant::now());
    let hello = authenticate(&mut sink, &mut stream, &state, role, &mut limit);
    let who = match tokio::time::timeout(state.limits.hello_timeout(), hello).await {
        Ok(Ok(who)) => who,
        Ok(Err(reason)) => {
            close(&mut sink, reason).await;
            drain_until_close(&mut stream).await;
            return;
        }
        Err(_) => {
            let _ = send_now(&mut sink, &ServerMessage::error(ErrorCode::NotAuthenticated, None)).await;
            close(&mut sink, CloseReason::HelloTimeout).await;
            drain_until_close(&mut stream).await;
            return;
        }
    };
    drop(permit);
    let conn = state.next_conn_id();
    let (tx, rx) = mpsc::channel(state.limits.outbound_queue.max(8));
    let signal = Arc::new(CloseSignal::default());
    // Registered before the connect is sent: the welcome may come back at once.
    state.hub.register(conn, ConnHandle { tx: tx.clone(), close: signal.clone() });
    let (role, id) = state.account_of(who);
    let gateway = state.clustered.then(|| state.gateway.clone());
    if state.inputs.send(GatewayInput::Connect { conn, role, id, gateway }).await.is_err() {
        state.hub.unregister(conn);
        let _ = send_now(&mut sink, &ServerMessage::error(ErrorCode::ShuttingDown, None)).await;
        close(&mut sink, CloseReason::ServerShutdown).await;
        return;
    }
    let writer = tokio::spawn(write_loop(sink, rx, signal.clone()));
    let ended = tokio::select! {
        reason = read_loop(&mut stream, &state, conn, &tx, limit) => reason,
        reason = signal.closed() => Some(reason),
    };
    if let Some(reason) = ended {
        info!(conn, reason = reason.as_str(), "closing connection");
        // After what is already queued (the replies before a flood was cut off), unless the
        // queue is full: then at once.
        if tx.try_send(Outbound::Close(reason)).is_err() {
            signal.close(reason);
        }
    }
    state.hub.unregister(conn);
    let _ = state.inputs.send(GatewayInput::Disconnect { conn }).await;
    drop(tx);
    if ended.is_some() {
        drain_until_close(&mut stream).await;
    }
    // With the hub's sender and ours gone, the writer ends after what is queued; do not wait
    // forever.
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

/// Waits for a valid `hello`. Anything else first gets `not_authenticated` (the connection
/// waits on); a refused or malformed `hello` ends it with the reason to close with.
async fn authenticate(
    sink: &mut Sink,
    stream: &mut Stream,
    state: &Edge,
    role: Role,
    limit: &mut RateLimit,
) -> Result<Principal, CloseReason> {
    let refuse = |code| ServerMessage::error(code, Some("hello"));
    while let Some(Ok(frame)) = stream.next().await {
        let text = match frame {
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Text(t) => Some(t),
            Message::Binary(_) => None,
        };
        match limit.check(Instant::now()) {
            Verdict::Pass => {}
            Verdict::Refuse { .. } => continue,
            Verdict::Close => return Err(CloseReason::RateLimited),
        }
        let Some(text) = text else {
            send_now(sink, &ServerMessage::error(ErrorCode::NotAuthenticated, None)).await;
            continue;
        };
        let (protocol_version, token) = match ClientMessage::decode(&text) {
            Ok(ClientMessage::Hello { protocol_version, token }) => (protocol_version, token),
            Ok(other) => {
                send_now(sink, &ServerMessage::error(ErrorCode::NotAuthenticated, Some(other.kind()))).await;
                continue;
            }
            Err(_) if claims_to_be_hello(&text) => {
                info!("malformed hello");
                send_now(sink, &refuse(ErrorCode::BadMessage)).await;
                return Err(CloseReason::AuthenticationFailed);
            }
            Err(_) => {
                send_now(sink, &ServerMessage::error(ErrorCode::NotAuthenticated, None)).await;
                continue;
            }
        };
        if protocol_version != PROTOCOL_VERSION {
            info!(protocol_version, "hello with unsupported protocol version");
            send_now(sink, &refuse(ErrorCode::UnsupportedVersion)).await;
            return Err(CloseReason::AuthenticationFailed);
        }
        let claims = match state.signer.verify(&token, unix_now()) {
            Ok(c) => c,
            Err(e) => {
                info!(error = %e, "hello with invalid token");
                send_now(sink, &refuse(ErrorCode::InvalidToken)).await;
                return Err(CloseReason::AuthenticationFailed);
            }
        };
        let dir = &state.directory;
        let who = match (claims.role, role) {
            (Role::Booth, Role::Booth) => dir.booth_idx(&claims.id).map(Principal::Booth),
            (Role::Clerk, Role::Clerk) => dir.clerk_idx(&claims.id).map(Principal::Clerk),
            (Role::Supervisor, Role::Supervisor) => state.supervisor_idx(&claims.id).map(Principal::Supervisor),
            _ => None,
        };
        match who {
            Some(who) => return Ok(who),
            None => {
                info!(token_role = claims.role.as_str(), endpoint = role.as_str(), "token not valid for this endpoint");
                send_now(sink, &refuse(ErrorCode::Forbidden)).await;
                return Err(CloseReason::AuthenticationFailed);
            }
        }
    }
    Err(CloseReason::AuthenticationFailed)
}

/// Whether an undecodable frame is a `hello` with wrong fields (a JSON object tagged `hello`).
fn claims_to_be_hello(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Tag<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
    }
    text.len() <= protocol::MAX_MESSAGE_BYTES && serde_json::from_str::<Tag>(text).is_ok_and(|t| t.kind == "hello")
}

/// Reads frames until the client leaves (`None`) or the server must close (`Some(reason)`).
async fn read_loop(
    stream: &mut Stream,
    state: &Edge,
    conn: u64,
    tx: &mpsc::Sender<Outbound>,
    mut limit: RateLimit,
) -> Option<CloseReason> {
    let reply = |msg: ServerMessage| {
        // A full queue means the driver will drop this connection anyway.
        let _ = tx.try_send(Outbound::Msg(msg));
    };
    loop {
        let frame = match tokio::time::timeout(state.heartbeat_timeout, stream.next()).await {
            Err(_) => {
                info!(conn, "heartbeat timeout");
                return Some(CloseReason::HeartbeatTimeout);
            }
            Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(frame))) => frame,
        };
        let text = match frame {
            Message::Text(t) => Some(t),
            Message::Binary(_) => None,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return None,
        };
        match limit.check(Instant::now()) {
            Verdict::Pass => {}
            Verdict::Refuse { notify } => {
                if notify {
                    reply(ServerMessage::error(ErrorCode::RateLimited, None));
                }
                continue;
            }
            Verdict::Close => {
                info!(conn, "message flood");
                return Some(CloseReason::RateLimited);
            }
        }
        let Some(text) = text else {
            reply(ServerMessage::error(ErrorCode::BadMessage, None));
            continue;
        };
        match ClientMessage::decode(&text) {
            Err(e) => {
                debug!(conn, error = %e, "undecodable frame");
                reply(ServerMessage::error(e.code(), None));
            }
            Ok(ClientMessage::Ping { seq }) => reply(ServerMessage::Pong { seq }),
            Ok(ClientMessage::Hello { .. }) => reply(ServerMessage::error(ErrorCode::WrongState, Some("hello"))),
            Ok(msg) => {
                if state.inputs.send(GatewayInput::Message { conn, msg }).await.is_err() {
                    return None;
                }
            }
        }
    }
}

/// Writes queued messages; on the close signal (even while blocked on a client that does not
/// read) it sends the close frame, waiting at most [`CLOSE_GRACE`], and ends.
async fn write_loop(mut sink: Sink, mut rx: mpsc::Receiver<Outbound>, signal: Arc<CloseSignal>) {
    loop {
        let out = tokio::select! {
            biased;
            reason = signal.closed() => {
                close(&mut sink, reason).await;
                return;
            }
            out = rx.recv() => out,
        };
        match out {
            Some(Outbound::Msg(msg)) => {
                let sent = tokio::select! {
                    sent = send_now(&mut sink, &msg) => sent,
                    reason = signal.closed() => {
                        close(&mut sink, reason).await;
                        return;
                    }
                };
                if !sent {
                    return;
                }
            }
            Some(Outbound::Close(reason)) => {
                close(&mut sink, reason).await;
                return;
            }
            None => {
                let _ = sink.close().await;
                return;
            }
        }
    }
}
