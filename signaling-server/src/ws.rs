//! WebSocket connections: `GET /ws/{role}`. A connection first authenticates with `hello`
//! (protocol version + token of that role), then its frames are decoded and handed to the
//! driver. Malformed frames get an error reply and the connection goes on; silence longer than
//! the heartbeat timeout closes it.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use protocol::{ClientMessage, ErrorCode, Role, ServerMessage, PROTOCOL_VERSION};
use tokio::sync::mpsc;
use tracing::{debug, info};

use crate::auth::unix_now;
use crate::driver::{Command, Outbound, Principal};
use crate::http::ApiError;
use crate::AppState;

/// Frames above this are refused by the WebSocket layer itself (connection closed); frames
/// between `protocol::MAX_MESSAGE_BYTES` and this get an error reply and the session goes on.
const HARD_FRAME_LIMIT: usize = 1024 * 1024;
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
const OUTBOUND_QUEUE: usize = 256;

pub async fn upgrade(Path(role): Path<String>, State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let role = match role.as_str() {
        "booth" => Role::Booth,
        "clerk" => Role::Clerk,
        "supervisor" => Role::Supervisor,
        _ => return ApiError(StatusCode::NOT_FOUND, ErrorCode::NotFound).into_response(),
    };
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .on_upgrade(move |socket| connection(socket, state, role))
}

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

async fn send_now(sink: &mut Sink, msg: &ServerMessage) -> bool {
    sink.send(Message::Text(msg.encode().into())).await.is_ok()
}

async fn close(sink: &mut Sink, reason: &'static str) {
    let frame = CloseFrame { code: 1000, reason: reason.into() };
    let _ = sink.send(Message::Close(Some(frame))).await;
}

async fn connection(socket: WebSocket, state: AppState, role: Role) {
    let (mut sink, mut stream) = socket.split();
    let who = match tokio::time::timeout(HELLO_TIMEOUT, authenticate(&mut sink, &mut stream, &state, role)).await {
        Ok(Some(who)) => who,
        Ok(None) => {
            close(&mut sink, "authentication failed").await;
            return;
        }
        Err(_) => {
            let _ = send_now(&mut sink, &ServerMessage::error(ErrorCode::NotAuthenticated, None)).await;
            close(&mut sink, "no hello in time").await;
            return;
        }
    };
    let conn = state.next_conn_id();
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    if state.commands.send(Command::Connect { conn, who, tx: tx.clone() }).await.is_err() {
        let _ = send_now(&mut sink, &ServerMessage::error(ErrorCode::ShuttingDown, None)).await;
        close(&mut sink, "server shutting down").await;
        return;
    }
    let writer = tokio::spawn(write_loop(sink, rx));
    read_loop(&mut stream, &state, conn, &tx).await;
    let _ = state.commands.send(Command::Disconnect { conn }).await;
    drop(tx);
    // The driver drops its sender on disconnect, which ends the writer; do not wait forever.
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

/// Waits for a valid `hello`; anything else before it gets `not_authenticated`.
async fn authenticate(sink: &mut Sink, stream: &mut Stream, state: &AppState, role: Role) -> Option<Principal> {
    while let Some(Ok(frame)) = stream.next().await {
        let text = match frame {
            Message::Text(t) => t,
            Message::Close(_) => return None,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Binary(_) => {
                send_now(sink, &ServerMessage::error(ErrorCode::BadMessage, None)).await;
                continue;
            }
        };
        let msg = match ClientMessage::decode(&text) {
            Ok(m) => m,
            Err(e) => {
                send_now(sink, &ServerMessage::error(e.code(), None)).await;
                continue;
            }
        };
        let ClientMessage::Hello { protocol_version, token } = msg else {
            send_now(sink, &ServerMessage::error(ErrorCode::NotAuthenticated, Some(msg.kind()))).await;
            continue;
        };
        let refuse = |code| ServerMessage::error(code, Some("hello"));
        if protocol_version != PROTOCOL_VERSION {
            info!(protocol_version, "hello with unsupported protocol version");
            send_now(sink, &refuse(ErrorCode::UnsupportedVersion)).await;
            return None;
        }
        let claims = match state.signer.verify(&token, unix_now()) {
            Ok(c) => c,
            Err(e) => {
                info!(error = %e, "hello with invalid token");
                send_now(sink, &refuse(ErrorCode::InvalidToken)).await;
                return None;
            }
        };
        let dir = &state.directory;
        let who = match (claims.role, role) {
            (Role::Booth, Role::Booth) => dir.booth_idx(&claims.id).map(Principal::Booth),
            (Role::Clerk, Role::Clerk) => dir.clerk_idx(&claims.id).map(Principal::Clerk),
            (Role::Supervisor, Role::Supervisor) => state.supervisor_idx(&claims.id).map(Principal::Supervisor),
            _ => None,
        };
        if who.is_none() {
            info!(token_role = claims.role.as_str(), endpoint = role.as_str(), "token not valid for this endpoint");
            send_now(sink, &refuse(ErrorCode::Forbidden)).await;
        }
        return who;
    }
    None
}

async fn read_loop(stream: &mut Stream, state: &AppState, conn: u64, tx: &mpsc::Sender<Outbound>) {
    let reply = |msg: ServerMessage| {
        // A full queue means the driver will drop this connection anyway.
        let _ = tx.try_send(Outbound::Msg(msg));
    };
    loop {
        let frame = match tokio::time::timeout(state.heartbeat_timeout, stream.next()).await {
            Err(_) => {
                info!(conn, "heartbeat timeout");
                let _ = tx.try_send(Outbound::Close { reason: "heartbeat timeout" });
                return;
            }
            Ok(None) | Ok(Some(Err(_))) => return,
            Ok(Some(Ok(frame))) => frame,
        };
        let text = match frame {
            Message::Text(t) => t,
            Message::Binary(_) => {
                reply(ServerMessage::error(ErrorCode::BadMessage, None));
                continue;
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return,
        };
        match ClientMessage::decode(&text) {
            Err(e) => {
                debug!(conn, error = %e, "undecodable frame");
                reply(ServerMessage::error(e.code(), None));
            }
            Ok(ClientMessage::Ping { seq }) => reply(ServerMessage::Pong { seq }),
            Ok(ClientMessage::Hello { .. }) => reply(ServerMessage::error(ErrorCode::WrongState, Some("hello"))),
            Ok(msg) => {
                if state.commands.send(Command::Message { conn, msg }).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn write_loop(mut sink: Sink, mut rx: mpsc::Receiver<Outbound>) {
    while let Some(out) = rx.recv().await {
        match out {
            Outbound::Msg(msg) => {
                if !send_now(&mut sink, &msg).await {
                    return;
                }
            }
            Outbound::Close { reason } => {
                close(&mut sink, reason).await;
                return;
            }
        }
    }
    let _ = sink.close().await;
}
