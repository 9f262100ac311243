//! `agent-console --join-invites`: a clerk working as a third party (三方通话). Signs in and stays
//! away (`paperwork`: back-office work, offered no tickets), waits for a `call_invitation`, joins
//! the call (`join_call`), answers the relay's offers, sends its own sample video and audio and
//! receives both other parties', until the call ends — or `--hold` seconds, then `leave_call`.
//!
//! If the call's clerk hands the call over (`transfer_call`), `call_started` comes for the same
//! call: the guest becomes its clerk — a new connection to the relay, its media state reported —
//! hangs up after `--hold` seconds (or waits for the booth), and ends its wrap-up with
//! `--outcome` once `--wrap-up` seconds passed, waiting for `case_recorded`. The summary counts what came from each
//! party, as a guest and, after a transfer, as the clerk.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use media::client::{apply_peer_event, next_step, start_call, CallStart, Step};
use media::counters::StreamCounts;
use media::{CallLink, PeerConfig};
use protocol::{CallId, ClerkTargetState, ClientMessage, MediaMode, Role, ServerMessage};
use serde::Serialize;
use session::{Session, SessionError};

use crate::AgentArgs;

/// What a third party's run saw.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GuestSummary {
    pub kind: &'static str,
    /// `joined` (was in a call and left it or saw it end), `transferred` (took the call over and
    /// its case was recorded), `refused` (`join_call` refused: the code is in `error`), `timeout`
    /// (no invitation within `--timeout`).
    pub outcome: String,
    pub call: Option<u64>,
    /// Per party (`booth`, `clerk`): video frames decoded, audio packets received, as a guest.
    pub by_party: BTreeMap<String, StreamCounts>,
    /// After a transfer, as the call's clerk (`booth`).
    pub after_transfer: BTreeMap<String, StreamCounts>,
    pub media_path: Option<String>,
    /// The call whose case this clerk's wrap-up recorded (after a transfer).
    pub case_recorded: Option<u64>,
    pub error: Option<String>,
}

/// Where the run is.
#[derive(PartialEq)]
enum Part {
    Waiting,
    Guest,
    /// The call was transferred to this clerk.
    Clerk,
    /// Its call ended; leaving once the server says what comes next.
    Ended,
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
        after_transfer: BTreeMap::new(),
        media_path: None,
        case_recorded: None,
        error: None,
    };
    let peer_config = PeerConfig { bind_ip: args.bind_ip, relay_only: args.relay_only, ..PeerConfig::default() };
    let deadline = Instant::now() + Duration::from_secs_f64(args.timeout);
    // When to leave (or, as the clerk, hang up / end wrap-up / stop).
    let mut act_at: Option<Instant> = None;
    let mut link: Option<CallLink> = None;
    let mut part = Part::Waiting;
    loop {
        let until = act_at.map_or(deadline, |l| l.min(deadline));
        let msg = match next_step(&mut session, &mut link, until).await {
            Step::Peer(event) => {
                if part == Part::Clerk {
                    // The call's clerk now: its media state is the server's to know.
                    if let (media::PeerEvent::Connected, Some(h), None) = (&event, args.hold, act_at) {
                        act_at = Some(Instant::now() + Duration::from_secs_f64(h));
                    }
                    apply_peer_event(&session, &mut link, &event).await?;
                } else {
                    crate::relay_link::on_peer_event(&mut link, &event, &session).await?;
                }
                continue;
            }
            Step::Server(Ok(m)) => m,
            Step::Server(Err(e)) => return Err(e),
            Step::Timer if Instant::now() >= deadline => break,
            Step::Timer => {
                act_at = None;
                match (&part, s.call) {
                    (Part::Guest, Some(call)) => {
                        session.send(ClientMessage::LeaveCall { call: CallId(call) }).await?;
                        s.outcome = "joined".into();
                        break;
                    }
                    (Part::Clerk, Some(call)) => session.send(ClientMessage::HangUp { call: CallId(call) }).await?,
                    (Part::Ended, _) if s.outcome == "transferred" && s.case_recorded.is_none() => {
                        let end = ClientMessage::EndWrapUp { outcome: Some(args.outcome), note: None };
                        session.send(end).await?;
                    }
                    _ => break,
                }
                continue;
            }
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
                part = Part::Guest;
                act_at = args.hold.map(|h| Instant::now() + Duration::from_secs_f64(h));
            }
            ServerMessage::CallStarted { call, ice_servers, media, .. } if Some(call.0) == s.call => {
                // Transferred to this clerk: the guest connection gives way to the call's.
                (s.by_party, s.media_path) = crate::relay_link::finish(link.take()).await;
                let start = CallStart {
                    call: *call,
                    initiator: false,
                    media: *media,
                    ice_servers,
                    t0: Instant::now(),
                    say: None,
                };
                link = start_call(&session, start, &peer_config).await?;
                if link.is_none() {
                    s.error = Some("media set-up failed".into());
                }
                part = Part::Clerk;
                act_at = None;
            }
            ServerMessage::Sdp { .. } | ServerMessage::IceCandidate { .. } => {
                crate::relay_link::on_signal(&mut link, &msg, &session).await?;
            }
            ServerMessage::CallEnded { call, .. } if Some(call.0) == s.call => {
                if part == Part::Clerk {
                    s.outcome = "transferred".into();
                    if let Some(l) = link.take() {
                        let report = l.close().await;
                        (s.after_transfer, s.media_path) = (report.by_party, Some(report.media_path));
                    }
                    act_at = Some(Instant::now() + Duration::from_secs_f64(args.wrap_up));
                } else {
                    // The server makes the guest available again: wait (briefly) to see it.
                    s.outcome = "joined".into();
                    act_at = Some(Instant::now() + Duration::from_secs(3));
                }
                part = Part::Ended;
            }
            ServerMessage::CaseRecorded { call, .. } if Some(call.0) == s.call => {
                s.case_recorded = Some(call.0);
                break;
            }
            ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. }
                if part == Part::Ended && s.outcome == "joined" =>
            {
                break
            }
            ServerMessage::Error { code, .. } if part != Part::Clerk => {
                s.outcome = "refused".into();
                s.error = crate::relay_link::code_word(code);
                break;
            }
            _ => {}
        }
    }
    if let Some(l) = link.take() {
        let report = l.close().await;
        let counts = if part == Part::Clerk { &mut s.after_transfer } else { &mut s.by_party };
        (*counts, s.media_path) = (report.by_party, Some(report.media_path));
    }
    session.close().await;
    Ok(s)
}
