//! What the headless clients' event loops share (`booth-client`, `agent-console` and its
//! monitor and third-party runners): waiting for the next step — a server message, an event of
//! the call's media, or the role's own next deadline — and the call plumbing every role does the
//! same way: starting the call's link on `call_started` (or reporting `media_state: failed` at
//! once when it cannot be built, so the server puts the citizen back at the head), applying
//! relayed SDP and ICE, and sending what the link's events call for. Each role keeps its own
//! handlers for everything else.

use std::time::Instant;

use protocol::{CallId, ClientMessage, IceServer, MediaMode, ServerMessage};
use session::{Session, SessionError};

use crate::{CallLink, PeerConfig, PeerEvent};

/// What woke a client's loop.
pub enum Step {
    Server(Result<ServerMessage, SessionError>),
    Peer(PeerEvent),
    /// The role's deadline passed (nothing arrived before it).
    Timer,
}

/// Waits for the next step, at the latest until `wake`.
pub async fn next_step(session: &mut Session, link: &mut Option<CallLink>, wake: Instant) -> Step {
    tokio::select! {
        msg = session.recv_timeout(wake.saturating_duration_since(Instant::now())) => match msg {
            Err(SessionError::Timeout(_)) => Step::Timer,
            other => Step::Server(other),
        },
        ev = async { match link.as_mut() { Some(l) => l.next_event().await, None => std::future::pending().await } } => Step::Peer(ev),
    }
}

/// A call to set up, from `call_started`.
pub struct CallStart<'a> {
    pub call: CallId,
    pub initiator: bool,
    pub media: MediaMode,
    pub ice_servers: &'a [IceServer],
    /// When the user acted (accepted, asked): the report's set-up time counts from it.
    pub t0: Instant,
    pub say: Option<String>,
}

/// Builds the call's link and sends its first messages; `None` (after telling the server the
/// media failed) when it cannot be built.
pub async fn start_call(
    session: &Session,
    start: CallStart<'_>,
    config: &PeerConfig,
) -> Result<Option<CallLink>, SessionError> {
    let started =
        CallLink::start(start.call, start.initiator, start.media, start.ice_servers, config, start.t0, start.say).await;
    match started {
        Ok((link, out)) => {
            session.send_all(out).await?;
            Ok(Some(link))
        }
        Err(e) => {
            // Tell the server at once: it ends the call and puts the citizen back at the head.
            tracing::warn!(error = %e, "media set-up failed");
            let state = protocol::MediaState::Failed;
            session.send(ClientMessage::MediaState { call: start.call, state }).await?;
            Ok(None)
        }
    }
}

/// Applies relayed signaling (`sdp`, `ice_candidate`) to the call's link and sends its answers.
pub async fn apply_signal(
    session: &Session,
    link: &mut Option<CallLink>,
    msg: &ServerMessage,
) -> Result<(), SessionError> {
    if let Some(l) = link.as_mut() {
        match l.on_signal(msg).await {
            Ok(out) => session.send_all(out).await?,
            Err(e) => tracing::warn!(error = %e, "signaling could not be applied"),
        }
    }
    Ok(())
}

/// Hands a media event to the call's link and sends what it calls for (candidates, offers, the
/// media state).
pub async fn apply_peer_event(
    session: &Session,
    link: &mut Option<CallLink>,
    ev: &PeerEvent,
) -> Result<(), SessionError> {
    if let Some(l) = link.as_mut() {
        match l.on_event(ev).await {
            Ok(out) => session.send_all(out).await?,
            Err(e) => tracing::warn!(error = %e, "media event handling failed"),
        }
    }
    Ok(())
}
