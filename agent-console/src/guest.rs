//! `agent-console --join-invites`: a clerk working as a third party (三方通话). Signs in and stays
//! away (`paperwork`: back-office work, offered no tickets), waits for a `call_invitation`, joins the call (`join_call`), answers the relay's
//! offers, sends its own sample video and audio and receives both other parties', until the call
//! ends — or `--hold` seconds, then `leave_call`. The summary counts what came from each party.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use media::{CallLink, PeerConfig};
use protocol::{CallId, ClerkTargetState, ClientMessage, MediaMode, Role, ServerMessage};
use serde::Serialize;
use session::{Session, SessionError};

use crate::AgentArgs;

/// What a third party's run saw.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GuestSummary {
    pub kind: &'static str,
    /// `joined` (was in a call and left it or saw it end), `refused` (`join_call` refused: the
    /// code is in `error`), `timeout` (no invitation within `--timeout`).
    pub outcome: String,
    pub call: Option<u64>,
    /// Per party (`booth`, `clerk`): video frames decoded, audio packets received.
    pub by_party: BTreeMap<String, media::counters::StreamCounts>,
    pub media_path: Option<String>,
    pub error: Option<String>,
}

pub async fn run(args: &AgentArgs, mut emit: impl FnMut(&ServerMessage)) -> Result<GuestSummary, SessionError> {
    let mut session =
        Session::connect_for_cli(&args.server, Role::Clerk, &args.clerk, &args.secret, args.connect_wait).await?;
    emit(&session.welcome);
    let paperwork = Some(protocol::AwayReason::Paperwork);
    session.send(ClientMessage::SetState { state: ClerkTargetState::Away, reason: paperwork }).await?;
    let mut s = GuestSummary {
        kind: "summary",
        outcome: "timeout".into(),
        call: None,
        by_party: BTreeMap::new(),
        media_path: None,
        error: None,
    };
    let peer_config = PeerConfig { bind_ip: args.bind_ip, relay_only: args.relay_only, ..PeerConfig::default() };
    let deadline = Instant::now() + Duration::from_secs_f64(args.timeout);
    let mut leave_at: Option<Instant> = None;
    let mut link: Option<CallLink> = None;
    let mut ended = false;
    loop {
        let until = leave_at.map_or(deadline, |l| l.min(deadline));
        let left = until.saturating_duration_since(Instant::now());
        let msg = tokio::select! {
            msg = session.recv_timeout(left) => msg,
            event = async { match link.as_mut() { Some(l) => l.next_event().await, None => std::future::pending().await } } => {
                crate::relay_link::on_peer_event(&mut link, &event, &session).await?;
                continue;
            }
        };
        let msg = match msg {
            Ok(m) => m,
            Err(SessionError::Timeout(_)) => {
                if let (Some(at), Some(call), false) = (leave_at, s.call, ended) {
                    if Instant::now() >= at {
                        session.send(ClientMessage::LeaveCall { call: CallId(call) }).await?;
                        s.outcome = "joined".into();
                    }
                }
                break;
            }
            Err(e) => return Err(e),
        };
        emit(&msg);
        match &msg {
            ServerMessage::CallInvitation { call, .. } if s.call.is_none() => {
                s.call = Some(call.0);
                session.send(ClientMessage::JoinCall { call: *call }).await?;
            }
            ServerMessage::CallJoined { call, ice_servers, .. } => {
                match CallLink::start(*call, false, MediaMode::Relay, ice_servers, &peer_config, Instant::now(), None)
                    .await
                {
                    Ok((l, _)) => link = Some(l),
                    Err(e) => {
                        s.error = Some(e.to_string());
                        break;
                    }
                }
                leave_at = args.hold.map(|h| Instant::now() + Duration::from_secs_f64(h));
            }
            ServerMessage::Sdp { .. } | ServerMessage::IceCandidate { .. } => {
                crate::relay_link::on_signal(&mut link, &msg, &session).await?;
            }
            ServerMessage::CallEnded { call, .. } if Some(call.0) == s.call => {
                // The server makes the guest available again: wait (briefly) to see it.
                s.outcome = "joined".into();
                ended = true;
                leave_at = Some(Instant::now() + Duration::from_secs(3));
            }
            ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. } if ended => break,
            ServerMessage::Error { code, .. } => {
                s.outcome = "refused".into();
                s.error = crate::relay_link::code_word(code);
                break;
            }
            _ => {}
        }
    }
    (s.by_party, s.media_path) = crate::relay_link::finish(link).await;
    session.close().await;
    Ok(s)
}
