//! The headless clients' one event loop (`booth-client`, `agent-console` and its monitor and
//! third-party runners): [`drive`] waits for the next step — a server message, an event of the
//! call's media, the role's own next timer or the run's deadline — does the call plumbing every
//! role does the same way (relayed SDP and ICE applied to the call's link, what the link's events
//! call for sent), and hands the rest to the role's [`RoleHandler`]. [`start_call`] is what a
//! party does on `call_started`: build the call's link, or report `media_state: failed` at once
//! when it cannot be built, so the server puts the citizen back at the head.

use std::time::Instant;

use protocol::{CallId, ClientMessage, IceServer, MediaMode, ServerMessage};
use session::{Session, SessionError};

use crate::{CallLink, PeerConfig, PeerEvent};

/// What a role's loop holds: its signaling session and the call's media link, if any.
pub struct Client {
    pub session: Session,
    pub link: Option<CallLink>,
}

impl Client {
    /// Ends the run: closes the call's link if one is still up (its report) and the session.
    pub async fn finish(mut self) -> Option<crate::CallReport> {
        let report = match self.link.take() {
            Some(l) => Some(l.close().await),
            None => None,
        };
        self.session.close().await;
        report
    }
}

/// Whether the loop goes on after a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// How [`drive`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// A handler said [`Flow::Stop`].
    Stopped,
    /// The run's deadline passed first.
    Deadline,
}

/// A role's part in the loop: its timers and what it does with each step. Relayed `sdp` and
/// `ice_candidate` are applied to the link before [`RoleHandler::on_message`] sees them, and a
/// media event after [`RoleHandler::on_media`] has.
pub trait RoleHandler {
    /// The role's next timer, if it has one.
    fn next_timer(&self) -> Option<Instant>;
    /// Whether the link's `media_state` goes to the server: a call's parties report it; a
    /// supervisor watching or a third party does not (the server would take it for a party's).
    fn reports_media_state(&self) -> bool {
        true
    }
    /// The role's timer passed.
    fn on_timer(&mut self, client: &mut Client) -> impl std::future::Future<Output = Result<Flow, SessionError>>;
    /// An event of the call's media.
    fn on_media(
        &mut self,
        client: &mut Client,
        event: &PeerEvent,
    ) -> impl std::future::Future<Output = Result<Flow, SessionError>>;
    /// A server message.
    fn on_message(
        &mut self,
        client: &mut Client,
        msg: &ServerMessage,
    ) -> impl std::future::Future<Output = Result<Flow, SessionError>>;
    /// The signaling connection failed: reconnect (replacing `client.session`) and go on, or stop.
    fn on_connection_lost(
        &mut self,
        client: &mut Client,
        error: SessionError,
    ) -> impl std::future::Future<Output = Result<Flow, SessionError>>;
}

/// Runs the loop until a handler stops it or `deadline` passes.
pub async fn drive(client: &mut Client, deadline: Instant, role: &mut impl RoleHandler) -> Result<Ended, SessionError> {
    loop {
        let wake = role.next_timer().map_or(deadline, |at| at.min(deadline));
        let flow = match next_step(&mut client.session, &mut client.link, wake).await {
            Step::Timer if Instant::now() >= deadline => return Ok(Ended::Deadline),
            Step::Timer => role.on_timer(client).await?,
            Step::Peer(event) => {
                let flow = role.on_media(client, &event).await?;
                if role.reports_media_state() {
                    apply_peer_event(&client.session, &mut client.link, &event).await?;
                } else if let Some(l) = client.link.as_mut() {
                    for out in l.on_event(&event).await.unwrap_or_default() {
                        if !matches!(out, ClientMessage::MediaState { .. }) {
                            client.session.send(out).await?;
                        }
                    }
                }
                flow
            }
            Step::Server(Ok(msg)) => {
                if matches!(msg, ServerMessage::Sdp { .. } | ServerMessage::IceCandidate { .. }) {
                    apply_signal(&client.session, &mut client.link, &msg).await?;
                }
                role.on_message(client, &msg).await?
            }
            Step::Server(Err(e)) => role.on_connection_lost(client, e).await?,
        };
        if flow == Flow::Stop {
            return Ok(Ended::Stopped);
        }
    }
}

/// What woke a client's loop.
enum Step {
    Server(Result<ServerMessage, SessionError>),
    Peer(PeerEvent),
    /// The role's deadline passed (nothing arrived before it).
    Timer,
}

/// Waits for the next step, at the latest until `wake`.
async fn next_step(session: &mut Session, link: &mut Option<CallLink>, wake: Instant) -> Step {
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
async fn apply_signal(session: &Session, link: &mut Option<CallLink>, msg: &ServerMessage) -> Result<(), SessionError> {
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
async fn apply_peer_event(session: &Session, link: &mut Option<CallLink>, ev: &PeerEvent) -> Result<(), SessionError> {
    if let Some(l) = link.as_mut() {
        match l.on_event(ev).await {
            Ok(out) => session.send_all(out).await?,
            Err(e) => tracing::warn!(error = %e, "media event handling failed"),
        }
    }
    Ok(())
}
