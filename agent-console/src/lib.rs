//! Headless clerk console: signs in, goes available, accepts (or declines) offers, holds each
//! call with real media (webrtc-rs; the clerk's side makes the SDP offer and restarts ICE when
//! the path is lost), hangs up, ends wrap-up, and reports a summary. Used from the command line
//! (`agent-console`) and in-process by tests.
#![forbid(unsafe_code)]

pub mod guest;
pub mod monitor;
mod relay_link;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use media::client::{drive, start_call, CallStart, Client, Flow, RoleHandler};
use media::{CallReport, PeerConfig, PeerEvent};
use protocol::{CallId, ClerkTargetState, ClientMessage, Role, ServerMessage};
use serde::Serialize;
use session::{Session, SessionError};

#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// Server base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    pub server: String,
    /// The clerk to work as (not with `--monitor`).
    #[arg(long, required_unless_present = "monitor", default_value = "")]
    pub clerk: String,
    #[arg(long)]
    pub secret: String,
    /// Watch this live call as a supervisor (`--supervisor ID`; relay mode), instead of working
    /// as a clerk: both parties' video and audio are received, nothing is sent.
    #[arg(long, requires = "supervisor")]
    pub monitor: Option<u64>,
    /// Once a call's media is up, invite this signed-in clerk to join it as a third party (三方通话;
    /// relay mode).
    #[arg(long, conflicts_with = "invite_service")]
    pub invite: Option<String>,
    /// Once a call's media is up, invite a clerk of this service item (the server picks one who
    /// handles it and is available, from this clerk's hall first; `assist` for a helper). Whom is
    /// printed (`invitation_sent`).
    #[arg(long)]
    pub invite_service: Option<String>,
    /// Hand the call to this clerk (转接; relay mode) `--transfer-after` seconds after it joined
    /// as the third party (with `--invite` naming the same clerk: a warm transfer) or, without
    /// `--invite`, after the media came up (the clerk must be available).
    #[arg(long, conflicts_with = "requeue")]
    pub transfer: Option<String>,
    /// Send the citizen to the head of this service item's queue (a service code)
    /// `--transfer-after` seconds after the media came up.
    #[arg(long)]
    pub requeue: Option<String>,
    /// Seconds before `--transfer` or `--requeue`.
    #[arg(long, default_value_t = 2.0)]
    pub transfer_after: f64,
    /// Work as a third party: wait for a `call_invitation`, join the call, stay until it ends (or
    /// `--hold` seconds, then leave it).
    #[arg(long, conflicts_with_all = ["monitor", "auto_accept"])]
    pub join_invites: bool,
    /// With `--join-invites`: wait `available` instead of away at the desk — an invitation by
    /// service item goes only to an available clerk. Offers that come meanwhile are declined.
    #[arg(long, requires = "join_invites")]
    pub wait_available: bool,
    /// The supervisor account for `--monitor`.
    #[arg(long)]
    pub supervisor: Option<String>,
    /// With `--monitor`: how long to watch, in seconds, once the relay's offer came.
    #[arg(long, default_value_t = 10.0)]
    pub watch: f64,
    /// Accept every offer (without it offers are declined, to exercise re-offering).
    #[arg(long)]
    pub auto_accept: bool,
    /// Leave offers unanswered (they time out), for testing.
    #[arg(long, conflicts_with = "auto_accept")]
    pub ignore_offers: bool,
    /// Stop after this many calls (0: run until --timeout).
    #[arg(long, default_value_t = 1)]
    pub calls: u32,
    /// Hang up this many seconds after the call's media flows both ways — from when this console
    /// first receives the other party's video and audio (on a loaded machine a relay path can
    /// take seconds to carry media after it connects); given up waiting for media 15 s after the
    /// connection. With `--no-media`, from the call's start. Default: wait for the booth.
    #[arg(long)]
    pub hold: Option<f64>,
    /// Seconds of wrap-up before going available again.
    #[arg(long, default_value_t = 0.0)]
    pub wrap_up: f64,
    /// The outcome recorded for each call at the end of wrap-up (completed, accepted,
    /// missing_documents, needs_visit, referred, consultation, not_eligible).
    #[arg(long, default_value = "completed", value_parser = parse_outcome)]
    pub outcome: protocol::CaseOutcome,
    /// Send this chat message once a call's media is up.
    #[arg(long)]
    pub say: Option<String>,
    /// Signaling only: do not set up WebRTC.
    #[arg(long)]
    pub no_media: bool,
    /// Use only TURN relay candidates.
    #[arg(long)]
    pub relay_only: bool,
    /// Drop every Nth received video packet, as a lossy link would (at least 2): exercises the
    /// repair by retransmission (the summary's `media.stats` counts NACKs sent and
    /// retransmissions received).
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..))]
    pub simulate_loss: Option<u32>,
    /// Local address for media sockets.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_ip: IpAddr,
    /// Ask the booth for this document once the media connects (id_front, id_back, hukou_cover,
    /// hukou_self, diploma, other).
    #[arg(long)]
    pub request_doc: Option<String>,
    /// Download every received document (and its thumbnail) into this folder.
    #[arg(long)]
    pub save_docs: Option<std::path::PathBuf>,
    /// Reject the first document received (asking for a re-shoot) and accept the rest.
    #[arg(long)]
    pub reject_first: bool,
    /// Give up after this many seconds in total.
    #[arg(long, default_value_t = 600.0)]
    pub timeout: f64,
    /// While nothing answers at --server (still starting), keep trying this many seconds.
    #[arg(long, default_value_t = 30.0)]
    pub connect_wait: f64,
    #[arg(long)]
    pub json: bool,
}

/// A document the console received.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReceivedDocument {
    pub document: String,
    pub doc_type: String,
    pub width: u32,
    pub height: u32,
    pub sha256_result: String,
    /// The downloaded bytes hash to `sha256_result`.
    pub verified: bool,
    pub path: Option<std::path::PathBuf>,
    pub accepted: bool,
    /// `document_ready` arrived this long after the request was sent (None: not requested).
    pub since_request_ms: Option<u64>,
}

impl AgentArgs {
    /// Defaults for scripted use: auto-accept, one call, media on, 60 s limit.
    pub fn new(server: &str, clerk: &str) -> Self {
        Self {
            server: server.into(),
            clerk: clerk.into(),
            secret: "demo".into(),
            auto_accept: true,
            ignore_offers: false,
            calls: 1,
            hold: None,
            wrap_up: 0.0,
            outcome: protocol::CaseOutcome::Completed,
            say: None,
            no_media: false,
            relay_only: false,
            simulate_loss: None,
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            request_doc: None,
            save_docs: None,
            reject_first: false,
            timeout: 60.0,
            connect_wait: 0.0,
            json: true,
            monitor: None,
            invite: None,
            invite_service: None,
            transfer: None,
            requeue: None,
            transfer_after: 2.0,
            join_invites: false,
            wait_available: false,
            supervisor: None,
            watch: 10.0,
        }
    }
}

fn parse_outcome(s: &str) -> Result<protocol::CaseOutcome, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| format!("unknown outcome `{s}`"))
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AgentSummary {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `done` when the requested number of calls completed, else `timeout` / `error`.
    pub outcome: String,
    pub clerk: String,
    /// The last ticket served.
    pub ticket: Option<u64>,
    pub tickets: Vec<u64>,
    pub calls: u32,
    pub offers_received: u32,
    pub offers_declined: u32,
    /// Going available → first offer.
    pub waited_ms: u64,
    /// Of the last call:
    pub video_packets_received: u64,
    pub audio_packets_received: u64,
    pub frames_received: u64,
    /// Received video frames decoded by libvpx (VP8), with the last picture's size and content in
    /// `media[..].decoded`.
    pub frames_decoded: u64,
    /// Accept sent → first remote video packet.
    pub setup_ms: Option<u64>,
    pub chat_received: u64,
    /// How the last call's media travelled, from its selected candidate pair: `relay` (through
    /// the server's media relay), `turn`, or `p2p`; absent without a call.
    pub media_path: Option<String>,
    /// Every call's media report, in order.
    pub media: Vec<CallReport>,
    pub documents: Vec<ReceivedDocument>,
    /// Calls whose case record the server confirmed (`case_recorded`).
    pub cases_recorded: Vec<u64>,
    pub error: Option<String>,
}

impl AgentSummary {
    fn record(&mut self, r: CallReport) {
        self.video_packets_received = r.video_packets_received;
        self.audio_packets_received = r.audio_packets_received;
        self.frames_received = r.frames_received;
        self.frames_decoded = r.decoded.frames;
        self.setup_ms = r.setup_ms;
        self.chat_received = r.chat_received;
        self.media_path = Some(r.media_path.clone());
        self.media.push(r);
    }
}

enum Timer {
    HangUp(CallId),
    /// The media is connected: look again whether the other party's media has arrived (then the
    /// `--hold` starts), until this instant.
    AwaitMedia(CallId, Instant),
    /// `--transfer` or `--requeue` now.
    HandOn(CallId),
    EndWrapUp,
    /// Stop waiting for the last `case_recorded`.
    Finish,
}

pub async fn run(args: &AgentArgs, emit: impl FnMut(&ServerMessage)) -> Result<AgentSummary, SessionError> {
    run_with(args, emit, |_| {}).await
}

/// [`run`], and `on_chat` receives each chat message from the booth.
pub async fn run_with(
    args: &AgentArgs,
    mut emit: impl FnMut(&ServerMessage),
    on_chat: impl FnMut(&str),
) -> Result<AgentSummary, SessionError> {
    let session =
        Session::connect_for_cli(&args.server, Role::Clerk, &args.clerk, &args.secret, args.connect_wait).await?;
    emit(&session.welcome);
    let started = Instant::now();
    session.send(ClientMessage::SetState { state: ClerkTargetState::Available, reason: None }).await?;
    if let Some(dir) = &args.save_docs {
        std::fs::create_dir_all(dir).map_err(|e| SessionError::Login(format!("creating {}: {e}", dir.display())))?;
    }
    let mut shift = Shift {
        args,
        emit,
        on_chat,
        s: AgentSummary {
            kind: "summary",
            outcome: "timeout".into(),
            clerk: args.clerk.clone(),
            ticket: None,
            tickets: vec![],
            calls: 0,
            offers_received: 0,
            offers_declined: 0,
            waited_ms: 0,
            video_packets_received: 0,
            audio_packets_received: 0,
            frames_received: 0,
            frames_decoded: 0,
            setup_ms: None,
            chat_received: 0,
            media_path: None,
            media: vec![],
            documents: vec![],
            cases_recorded: vec![],
            error: None,
        },
        started,
        peer_config: PeerConfig {
            relay_only: args.relay_only,
            bind_ip: args.bind_ip,
            simulated_loss: args.simulate_loss,
            ..PeerConfig::default()
        },
        requested_at: None,
        accepted_at: Instant::now(),
        timer: None,
    };
    let mut client = Client { session, link: None };
    drive(&mut client, started + Duration::from_secs_f64(args.timeout), &mut shift).await?;
    let mut s = shift.s;
    if let Some(last) = client.finish().await {
        s.record(last);
    }
    Ok(s)
}

/// A clerk's run between the loop's steps.
struct Shift<'a, E, C> {
    args: &'a AgentArgs,
    emit: E,
    on_chat: C,
    s: AgentSummary,
    started: Instant,
    peer_config: PeerConfig,
    /// When the last document was asked for.
    requested_at: Option<Instant>,
    /// When the last offer was accepted (the call's set-up time counts from it).
    accepted_at: Instant,
    timer: Option<(Instant, Timer)>,
}

impl<E: FnMut(&ServerMessage), C: FnMut(&str)> Shift<'_, E, C> {
    /// `document_ready`: fetches the document, checks its hash, saves it if asked to, and
    /// reviews it.
    async fn review(&mut self, client: &Client, msg: &ServerMessage) -> Result<(), SessionError> {
        let ServerMessage::DocumentReady { document, doc_type, width, height, sha256_result, url, .. } = msg else {
            return Ok(());
        };
        let (args, session) = (self.args, &client.session);
        let since_request_ms = self.requested_at.map(|t| t.elapsed().as_millis() as u64);
        let full =
            session::get_bytes(format!("{}{url}", args.server.trim_end_matches('/')), session.token.clone()).await?;
        let verified = full.status == 200 && media::document::sha256_hex(&full.body) == *sha256_result;
        let mut path = None;
        if let (Some(dir), true) = (&args.save_docs, verified) {
            let p = dir.join(format!("{document}.jpg"));
            std::fs::write(&p, &full.body).map_err(|e| SessionError::Login(format!("saving {}: {e}", p.display())))?;
            let thumb = session::get_bytes(
                format!("{}{url}/thumbnail", args.server.trim_end_matches('/')),
                session.token.clone(),
            )
            .await?;
            let tp = dir.join(format!("{document}.thumb.jpg"));
            std::fs::write(&tp, &thumb.body)
                .map_err(|e| SessionError::Login(format!("saving {}: {e}", tp.display())))?;
            path = Some(p);
        }
        let accepted = verified && !(args.reject_first && self.s.documents.is_empty());
        let reason = (!accepted).then(|| {
            if verified { "照片不清晰，请重新拍摄" } else { "照片无法打开，请重新拍摄" }.to_owned()
        });
        session.send(ClientMessage::ReviewDocument { document: document.clone(), accepted, reason }).await?;
        self.s.documents.push(ReceivedDocument {
            document: document.to_string(),
            doc_type: doc_type.as_str().to_owned(),
            width: *width,
            height: *height,
            sha256_result: sha256_result.clone(),
            verified,
            path,
            accepted,
            since_request_ms,
        });
        Ok(())
    }
}

impl<E: FnMut(&ServerMessage), C: FnMut(&str)> RoleHandler for Shift<'_, E, C> {
    fn next_timer(&self) -> Option<Instant> {
        self.timer.as_ref().map(|(at, _)| *at)
    }

    async fn on_timer(&mut self, client: &mut Client) -> Result<Flow, SessionError> {
        let (args, session) = (self.args, &client.session);
        match self.timer.take() {
            Some((_, Timer::HangUp(call))) => session.send(ClientMessage::HangUp { call }).await?,
            Some((_, Timer::AwaitMedia(call, until))) => {
                let flowing = client.link.as_ref().is_some_and(|l| l.call == call && l.media_received());
                let hold = Duration::from_secs_f64(args.hold.unwrap_or(0.0));
                self.timer = Some(if flowing || Instant::now() >= until {
                    (Instant::now() + hold, Timer::HangUp(call))
                } else {
                    (Instant::now() + Duration::from_millis(100), Timer::AwaitMedia(call, until))
                });
            }
            Some((_, Timer::HandOn(call))) => {
                if let Some(clerk) = &args.transfer {
                    session.send(ClientMessage::TransferCall { call, clerk: clerk.clone() }).await?;
                } else if let Some(service) = &args.requeue {
                    let service = protocol::ServiceCode::new(service.clone());
                    session.send(ClientMessage::RequeueCall { call, service }).await?;
                }
            }
            Some((_, Timer::EndWrapUp)) => {
                session.send(ClientMessage::EndWrapUp { outcome: Some(args.outcome), note: None }).await?
            }
            Some((_, Timer::Finish)) => {
                self.s.outcome = "done".into();
                return Ok(Flow::Stop);
            }
            None => {}
        }
        Ok(Flow::Continue)
    }

    async fn on_media(&mut self, client: &mut Client, ev: &PeerEvent) -> Result<Flow, SessionError> {
        if let PeerEvent::Chat(text) = ev {
            (self.on_chat)(text);
        }
        let (Some(l), PeerEvent::Connected) = (client.link.as_ref(), ev) else { return Ok(Flow::Continue) };
        let (args, call) = (self.args, l.call);
        let hands_on = args.requeue.is_some() || (args.transfer.is_some() && args.invite.is_none());
        if let (true, None) = (hands_on, &self.timer) {
            let at = Instant::now() + Duration::from_secs_f64(args.transfer_after);
            self.timer = Some((at, Timer::HandOn(call)));
        } else if let (Some(_), None) = (args.hold, &self.timer) {
            // The hold counts from when the other party's media arrives.
            let until = Instant::now() + Duration::from_secs(15);
            self.timer = Some((Instant::now(), Timer::AwaitMedia(call, until)));
        }
        if args.invite.is_some() || args.invite_service.is_some() {
            let service = args.invite_service.as_deref().map(protocol::ServiceCode::new);
            client.session.send(ClientMessage::InviteToCall { call, clerk: args.invite.clone(), service }).await?;
        }
        if let (Some(t), None) = (&args.request_doc, self.requested_at) {
            let doc_type = protocol::DocType::parse(t)
                .ok_or_else(|| SessionError::Login(format!("unknown document type `{t}`")))?;
            self.requested_at = Some(Instant::now());
            client.session.send(ClientMessage::RequestDocument { call, doc_type }).await?;
        }
        Ok(Flow::Continue)
    }

    async fn on_connection_lost(&mut self, client: &mut Client, e: SessionError) -> Result<Flow, SessionError> {
        self.s.outcome = "error".into();
        self.s.error = Some(match client.session.close_reason() {
            Some(reason) => format!("{e} (the server closed it: {})", reason.as_str()),
            None => e.to_string(),
        });
        Ok(Flow::Stop)
    }

    async fn on_message(&mut self, client: &mut Client, msg: &ServerMessage) -> Result<Flow, SessionError> {
        (self.emit)(msg);
        let args = self.args;
        match msg {
            ServerMessage::Offer { offer, .. } => {
                self.s.offers_received += 1;
                if self.s.offers_received == 1 {
                    self.s.waited_ms = self.started.elapsed().as_millis() as u64;
                }
                if args.auto_accept {
                    self.accepted_at = Instant::now();
                    client.session.send(ClientMessage::AcceptOffer { offer: *offer }).await?;
                } else if !args.ignore_offers {
                    self.s.offers_declined += 1;
                    client.session.send(ClientMessage::DeclineOffer { offer: *offer }).await?;
                }
            }
            ServerMessage::CallStarted { call, ticket, ice_servers, initiator, media, .. } => {
                let resumed = client.link.as_ref().is_some_and(|l| l.call == *call);
                if !resumed {
                    self.s.ticket = Some(ticket.0);
                    self.s.tickets.push(ticket.0);
                }
                if !args.no_media && !resumed {
                    let (initiator, media, say) = (*initiator, *media, args.say.clone());
                    let start = CallStart { call: *call, initiator, media, ice_servers, t0: self.accepted_at, say };
                    client.link = start_call(&client.session, start, &self.peer_config).await?;
                } else if args.no_media {
                    if let Some(hold) = args.hold {
                        self.timer = Some((Instant::now() + Duration::from_secs_f64(hold), Timer::HangUp(*call)));
                    }
                }
            }
            ServerMessage::DocumentReady { .. } => self.review(client, msg).await?,
            ServerMessage::PartyJoined { call, id, .. } if args.transfer.as_ref() == Some(id) => {
                // The warm transfer: all three talk for `--transfer-after` seconds first.
                let at = Instant::now() + Duration::from_secs_f64(args.transfer_after);
                self.timer = Some((at, Timer::HandOn(*call)));
            }
            ServerMessage::CallEnded { .. } => {
                self.s.calls += 1;
                self.requested_at = None;
                if let Some(l) = client.link.take() {
                    self.s.record(l.close().await);
                }
                self.timer = Some((Instant::now() + Duration::from_secs_f64(args.wrap_up), Timer::EndWrapUp));
            }
            ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. }
                if args.calls > 0 && self.s.calls >= args.calls =>
            {
                // `case_recorded` comes once the case is committed, which may be just after the
                // clerk is available again: wait a little for it.
                if self.s.cases_recorded.len() as u32 >= self.s.calls {
                    self.s.outcome = "done".into();
                    return Ok(Flow::Stop);
                }
                self.timer = Some((Instant::now() + Duration::from_secs(5), Timer::Finish));
            }
            ServerMessage::ClerkState {
                state: protocol::ClerkState::Away,
                reason: Some(protocol::AwayReason::MissedOffers),
                ..
            } if args.calls > 0 && self.s.calls >= args.calls => {
                self.s.outcome = "done".into();
                return Ok(Flow::Stop);
            }
            ServerMessage::CaseRecorded { call, .. } => {
                self.s.cases_recorded.push(call.0);
                if matches!(self.timer, Some((_, Timer::Finish))) && self.s.cases_recorded.len() as u32 >= self.s.calls
                {
                    self.s.outcome = "done".into();
                    return Ok(Flow::Stop);
                }
            }
            ServerMessage::Error { code, message_en, .. } => {
                tracing::warn!(?code, message_en, "server refused a request");
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }
}
