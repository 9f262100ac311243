//! `agent-console --join-invites`: a clerk working as a third party (三方通话). Signs in and stays
//! away (`paperwork`: back-office work, offered no tickets) — or available with
//! `--wait-available`, declining offers, as an invitation by service item needs — waits for a
//! `call_invitation`, joins
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

use media::client::{drive, start_call, CallStart, Client, Flow, RoleHandler};
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
    let session =
        Session::connect_for_cli(&args.server, Role::Clerk, &args.clerk, &args.secret, args.connect_wait).await?;
    emit(&session.welcome);
    let waiting = if args.wait_available {
        ClientMessage::SetState { state: ClerkTargetState::Available, reason: None }
    } else {
        ClientMessage::SetState { state: ClerkTargetState::Away, reason: Some(protocol::AwayReason::Paperwork) }
    };
    session.send(waiting).await?;
    let mut guest = Guest {
        args,
        emit,
        s: GuestSummary {
            kind: "summary",
            outcome: "timeout".into(),
            call: None,
            by_party: BTreeMap::new(),
            after_transfer: BTreeMap::new(),
            media_path: None,
            case_recorded: None,
            error: None,
        },
        peer_config: PeerConfig { bind_ip: args.bind_ip, relay_only: args.relay_only, ..PeerConfig::default() },
        act_at: None,
        part: Part::Waiting,
    };
    let mut client = Client { session, link: None };
    drive(&mut client, Instant::now() + Duration::from_secs_f64(args.timeout), &mut guest).await?;
    let (mut s, part) = (guest.s, guest.part);
    if let Some(l) = client.link.take() {
        let report = l.close().await;
        let counts = if part == Part::Clerk { &mut s.after_transfer } else { &mut s.by_party };
        (*counts, s.media_path) = (report.by_party, Some(report.media_path));
    }
    client.session.close().await;
    Ok(s)
}

/// A third party's run between the loop's steps.
struct Guest<'a, E> {
    args: &'a AgentArgs,
    emit: E,
    s: GuestSummary,
    peer_config: PeerConfig,
    /// When to leave (or, as the clerk, hang up / end wrap-up / stop).
    act_at: Option<Instant>,
    part: Part,
}

impl<E: FnMut(&ServerMessage)> RoleHandler for Guest<'_, E> {
    fn next_timer(&self) -> Option<Instant> {
        self.act_at
    }

    /// Only as the call's clerk (after a transfer); a guest's media state is not the call's.
    fn reports_media_state(&self) -> bool {
        self.part == Part::Clerk
    }

    async fn on_timer(&mut self, client: &mut Client) -> Result<Flow, SessionError> {
        self.act_at = None;
        let session = &client.session;
        match (&self.part, self.s.call) {
            (Part::Guest, Some(call)) => {
                session.send(ClientMessage::LeaveCall { call: CallId(call) }).await?;
                self.s.outcome = "joined".into();
                return Ok(Flow::Stop);
            }
            (Part::Clerk, Some(call)) => session.send(ClientMessage::HangUp { call: CallId(call) }).await?,
            (Part::Ended, _) if self.s.outcome == "transferred" && self.s.case_recorded.is_none() => {
                session.send(ClientMessage::EndWrapUp { outcome: Some(self.args.outcome), note: None }).await?;
            }
            _ => return Ok(Flow::Stop),
        }
        Ok(Flow::Continue)
    }

    async fn on_media(&mut self, _: &mut Client, event: &media::PeerEvent) -> Result<Flow, SessionError> {
        // As the call's clerk: hang up `--hold` seconds after the media came up.
        if let (Part::Clerk, media::PeerEvent::Connected, Some(h), None) =
            (&self.part, event, self.args.hold, self.act_at)
        {
            self.act_at = Some(Instant::now() + Duration::from_secs_f64(h));
        }
        Ok(Flow::Continue)
    }

    async fn on_connection_lost(&mut self, _: &mut Client, e: SessionError) -> Result<Flow, SessionError> {
        Err(e)
    }

    async fn on_message(&mut self, client: &mut Client, msg: &ServerMessage) -> Result<Flow, SessionError> {
        (self.emit)(msg);
        let s = &mut self.s;
        match msg {
            ServerMessage::CallInvitation { call, .. } if s.call.is_none() => {
                s.call = Some(call.0);
                client.session.send(ClientMessage::JoinCall { call: *call }).await?;
            }
            // Waiting available (`--wait-available`): a citizen is not this run's to serve.
            ServerMessage::Offer { offer, .. } if self.part == Part::Waiting => {
                client.session.send(ClientMessage::DeclineOffer { offer: *offer }).await?;
            }
            ServerMessage::CallJoined { call, ice_servers, .. } => {
                let config = &self.peer_config;
                match CallLink::start(*call, false, MediaMode::Relay, ice_servers, config, Instant::now(), None).await {
                    Ok((l, _)) => client.link = Some(l),
                    Err(e) => {
                        s.error = Some(e.to_string());
                        return Ok(Flow::Stop);
                    }
                }
                self.part = Part::Guest;
                self.act_at = self.args.hold.map(|h| Instant::now() + Duration::from_secs_f64(h));
            }
            ServerMessage::CallStarted { call, ice_servers, media, .. } if Some(call.0) == s.call => {
                // Transferred to this clerk: the guest connection gives way to the call's.
                (s.by_party, s.media_path) = crate::relay_link::finish(client.link.take()).await;
                let start = CallStart {
                    call: *call,
                    initiator: false,
                    media: *media,
                    ice_servers,
                    t0: Instant::now(),
                    say: None,
                };
                client.link = start_call(&client.session, start, &self.peer_config).await?;
                if client.link.is_none() {
                    s.error = Some("media set-up failed".into());
                }
                self.part = Part::Clerk;
                self.act_at = None;
            }
            ServerMessage::CallEnded { call, .. } if Some(call.0) == s.call => {
                if self.part == Part::Clerk {
                    s.outcome = "transferred".into();
                    if let Some(l) = client.link.take() {
                        let report = l.close().await;
                        (s.after_transfer, s.media_path) = (report.by_party, Some(report.media_path));
                    }
                    self.act_at = Some(Instant::now() + Duration::from_secs_f64(self.args.wrap_up));
                } else {
                    // The server makes the guest available again: wait (briefly) to see it.
                    s.outcome = "joined".into();
                    self.act_at = Some(Instant::now() + Duration::from_secs(3));
                }
                self.part = Part::Ended;
            }
            ServerMessage::CaseRecorded { call, .. } if Some(call.0) == s.call => {
                s.case_recorded = Some(call.0);
                return Ok(Flow::Stop);
            }
            ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. }
                if self.part == Part::Ended && s.outcome == "joined" =>
            {
                return Ok(Flow::Stop);
            }
            ServerMessage::Error { code, .. } if self.part != Part::Clerk => {
                s.outcome = "refused".into();
                s.error = crate::relay_link::code_word(code);
                return Ok(Flow::Stop);
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }
}
