//! Headless booth client: takes a ticket for a service item, follows the queue, joins the call
//! with real media (webrtc-rs: VP8 + Opus from the bundled samples, chat on a data channel), and
//! reports a summary. Used from the command line (`booth-client`) and in-process by tests.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use media::client::{drive, start_call, CallStart, Client, Flow, RoleHandler};
use media::{CallReport, PeerConfig};
use protocol::{CallId, ClientMessage, Priority, Role, ServerMessage, ServiceCode, TicketId};
use serde::Serialize;
use session::{Session, SessionError};

#[derive(Debug, Clone, clap::Args)]
pub struct BoothArgs {
    /// Server base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    pub server: String,
    #[arg(long)]
    pub booth: String,
    /// Service item code, e.g. teacher-cert
    #[arg(long)]
    pub service: String,
    #[arg(long)]
    pub secret: String,
    #[arg(long, value_enum, default_value = "normal")]
    pub priority: PriorityArg,
    /// Hang up this many seconds after the media connects (default: wait for the clerk).
    #[arg(long)]
    pub hold: Option<f64>,
    /// Cancel the ticket after waiting this many seconds without a call.
    #[arg(long)]
    pub cancel_after: Option<f64>,
    /// Send this chat message once the call's media is up.
    #[arg(long)]
    pub say: Option<String>,
    /// Signaling only: do not set up WebRTC.
    #[arg(long)]
    pub no_media: bool,
    /// Use only TURN relay candidates.
    #[arg(long)]
    pub relay_only: bool,
    /// Local address for media sockets.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_ip: IpAddr,
    /// Photo (JPEG or PNG) to send when the clerk asks for a document; sent again if rejected.
    #[arg(long)]
    pub photo: Option<std::path::PathBuf>,
    /// Send the photo as this document type right after the media connects, without waiting for
    /// a request (id_front, id_back, hukou_cover, hukou_self, diploma, other).
    #[arg(long)]
    pub doc_type: Option<String>,
    /// Give up after this many seconds in total.
    #[arg(long, default_value_t = 600.0)]
    pub timeout: f64,
    /// When no clerk is signed in for the service yet, wait up to this many seconds for one
    /// before taking the ticket (the catalog says, `GET /api/catalog?booth=`; no ticket is
    /// opened meanwhile, so none closes `no_clerk`). 0: take the ticket at once.
    #[arg(long, default_value_t = 30.0)]
    pub wait_for_clerk: f64,
    /// While nothing answers at --server (still starting), keep trying this many seconds.
    #[arg(long, default_value_t = 30.0)]
    pub connect_wait: f64,
    /// For tests: cut the signaling connection abruptly once, this many seconds after the media
    /// connects, and reconnect (the call must go on).
    #[arg(long, hide = true)]
    pub drop_signaling_after: Option<f64>,
    /// Print one JSON object per line (server messages, then a summary).
    #[arg(long)]
    pub json: bool,
}

impl BoothArgs {
    /// Defaults for scripted use: normal priority, media on, 60 s limit.
    pub fn new(server: &str, booth: &str, service: &str) -> Self {
        Self {
            server: server.into(),
            booth: booth.into(),
            service: service.into(),
            secret: "demo".into(),
            priority: PriorityArg::Normal,
            hold: None,
            cancel_after: None,
            say: None,
            no_media: false,
            relay_only: false,
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            photo: None,
            doc_type: None,
            timeout: 60.0,
            wait_for_clerk: 0.0,
            connect_wait: 0.0,
            drop_signaling_after: None,
            json: true,
        }
    }
}

/// The booth's device report: this client's camera and microphone are synthetic sources, which
/// always work.
fn devices_working() -> ClientMessage {
    ClientMessage::DeviceStatus { camera: protocol::DeviceState::Ok, microphone: protocol::DeviceState::Ok }
}

/// How long the booth keeps trying to get its signaling connection back (the server's default
/// grace period is 30 s; within it the ticket and the call are kept).
const RECONNECT_FOR: Duration = Duration::from_secs(25);

/// Reconnects after the signaling connection was lost, retrying every half second.
async fn reconnect(args: &BoothArgs) -> Result<Session, SessionError> {
    let give_up = Instant::now() + RECONNECT_FOR;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        match Session::login_and_connect(&args.server, Role::Booth, &args.booth, &args.secret).await {
            Ok(s) => {
                s.send(devices_working()).await?;
                return Ok(s);
            }
            Err(e) if Instant::now() >= give_up => return Err(e),
            Err(e) => tracing::info!(error = %e, "reconnecting"),
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PriorityArg {
    Normal,
    Elderly,
    Appointment,
}

impl From<PriorityArg> for Priority {
    fn from(p: PriorityArg) -> Self {
        match p {
            PriorityArg::Normal => Priority::Normal,
            PriorityArg::Elderly => Priority::Elderly,
            PriorityArg::Appointment => Priority::Appointment,
        }
    }
}

/// The last line of `--json` output.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BoothSummary {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `served`, `cancelled`, `no_clerk`, … (the ticket's end reason), or `error` / `timeout`.
    pub outcome: String,
    /// Tickets requested (more than one when no clerk was signed in at first).
    pub requests: u32,
    pub ticket: Option<u64>,
    /// The clerk of the call (after a transfer: the one it was handed to).
    pub clerk: Option<String>,
    /// Request sent → call started (or → ticket closed when there was no call).
    pub waited_ms: u64,
    pub call: Option<u64>,
    /// First position reported for the ticket.
    pub first_position: Option<u32>,
    pub video_packets_received: u64,
    pub audio_packets_received: u64,
    pub frames_received: u64,
    /// Received video frames decoded by libvpx (VP8), with the last picture's size and content in
    /// `media[..].decoded`.
    pub frames_decoded: u64,
    /// `call_started` received → first remote video packet.
    pub setup_ms: Option<u64>,
    pub chat_received: u64,
    /// How the last call's media travelled, from its selected candidate pair: `relay` (through
    /// the server's media relay), `turn`, or `p2p`; absent without a call.
    pub media_path: Option<String>,
    pub media: Option<CallReport>,
    /// Every upload attempt, in order.
    pub uploads: Vec<UploadResult>,
    pub documents_accepted: u32,
    pub documents_rejected: u32,
    pub error: Option<String>,
}

/// One document upload and the server's answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UploadResult {
    pub doc_type: String,
    pub status: u16,
    pub document: Option<String>,
    pub sha256_original: Option<String>,
    pub sha256_result: Option<String>,
    /// The error code when refused.
    pub error: Option<String>,
    pub message_zh: Option<String>,
    pub elapsed_ms: u64,
}

/// Uploads a photo for a live call (`POST /api/calls/{call}/documents`).
pub async fn upload_document(
    server: &str,
    token: &str,
    call: u64,
    doc_type: &str,
    photo: Vec<u8>,
) -> Result<UploadResult, SessionError> {
    let started = Instant::now();
    let url = format!("{}/api/calls/{call}/documents?doc_type={doc_type}", server.trim_end_matches('/'));
    let content_type = if photo.starts_with(&[0x89, b'P']) { "image/png" } else { "image/jpeg" };
    let reply = session::post_bytes(url, token.to_owned(), content_type, photo).await?;
    let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    let field = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let ok = reply.status == 200;
    Ok(UploadResult {
        doc_type: doc_type.to_owned(),
        status: reply.status,
        document: if ok { field("document") } else { None },
        sha256_original: field("sha256_original"),
        sha256_result: field("sha256_result"),
        error: if ok { None } else { field("code") },
        message_zh: field("message_zh"),
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

impl BoothSummary {
    fn record(&mut self, r: CallReport) {
        self.video_packets_received = r.video_packets_received;
        self.audio_packets_received = r.audio_packets_received;
        self.frames_received = r.frames_received;
        self.frames_decoded = r.decoded.frames;
        self.setup_ms = r.setup_ms;
        self.chat_received = r.chat_received;
        self.media_path = Some(r.media_path.clone());
        self.media = Some(r);
    }
}

/// Runs one booth visit; `emit` receives every server message as it arrives.
pub async fn run(args: &BoothArgs, emit: impl FnMut(&ServerMessage)) -> Result<BoothSummary, SessionError> {
    run_with(args, emit, |_| {}).await
}

/// [`run`], and `on_chat` receives each chat message from the clerk.
pub async fn run_with(
    args: &BoothArgs,
    emit: impl FnMut(&ServerMessage),
    on_chat: impl FnMut(&str),
) -> Result<BoothSummary, SessionError> {
    let session =
        Session::connect_for_cli(&args.server, Role::Booth, &args.booth, &args.secret, args.connect_wait).await?;
    let started = Instant::now();
    let photo = match &args.photo {
        Some(p) => Some(std::fs::read(p).map_err(|e| SessionError::Login(format!("reading {}: {e}", p.display())))?),
        None => None,
    };
    let mut visit = Visit {
        args,
        emit,
        on_chat,
        s: BoothSummary {
            kind: "summary",
            outcome: "timeout".into(),
            requests: 1,
            ticket: None,
            clerk: None,
            waited_ms: 0,
            call: None,
            first_position: None,
            video_packets_received: 0,
            audio_packets_received: 0,
            frames_received: 0,
            frames_decoded: 0,
            setup_ms: None,
            chat_received: 0,
            media_path: None,
            media: None,
            uploads: vec![],
            documents_accepted: 0,
            documents_rejected: 0,
            error: None,
        },
        started,
        wait_for_clerk_until: started + Duration::from_secs_f64(args.wait_for_clerk.max(0.0)),
        request: ClientMessage::RequestService {
            service: ServiceCode::new(&*args.service),
            priority: args.priority.into(),
        },
        photo,
        peer_config: PeerConfig { relay_only: args.relay_only, bind_ip: args.bind_ip, ..PeerConfig::default() },
        upload: None,
        hang_up_at: None,
        cancel_at: args.cancel_after.map(|secs| started + Duration::from_secs_f64(secs)),
        drop_at: None,
        drop_done: false,
    };
    (visit.emit)(&session.welcome);
    session.send(devices_working()).await?;
    wait_for_a_clerk(args, visit.wait_for_clerk_until).await;
    session.send(visit.request.clone()).await?;
    let mut client = Client { session, link: None };
    drive(&mut client, started + Duration::from_secs_f64(args.timeout), &mut visit).await?;
    let mut s = visit.s;
    if let Some(last) = client.finish().await {
        s.record(last);
    }
    Ok(s)
}

/// Until `until`: asks the catalog every half second whether a clerk who could serve the item for
/// this booth is signed in, and returns as soon as one is (or the server cannot say).
async fn wait_for_a_clerk(args: &BoothArgs, until: Instant) {
    let url = format!("{}/api/catalog?booth={}", args.server.trim_end_matches('/'), args.booth);
    while Instant::now() < until {
        let Ok(reply) = session::get_bytes(url.clone(), String::new()).await else { return };
        let Ok(catalog) = serde_json::from_slice::<protocol::rest::Catalog>(&reply.body) else { return };
        let staffed = catalog
            .services
            .iter()
            .find(|s| s.code.as_str() == args.service)
            .is_none_or(|s| s.clerks_signed_in.is_none_or(|n| n > 0));
        if staffed {
            return;
        }
        tracing::info!("no clerk signed in for the item yet; waiting before taking a ticket");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One booth visit's state between the loop's steps.
struct Visit<'a, E, C> {
    args: &'a BoothArgs,
    emit: E,
    on_chat: C,
    s: BoothSummary,
    started: Instant,
    wait_for_clerk_until: Instant,
    request: ClientMessage,
    photo: Option<Vec<u8>>,
    peer_config: PeerConfig,
    /// A document to send now: (call, document type).
    upload: Option<(u64, String)>,
    hang_up_at: Option<(Instant, CallId)>,
    cancel_at: Option<Instant>,
    /// The test switch `--drop-signaling-after`: cut the connection then.
    drop_at: Option<Instant>,
    drop_done: bool,
}

impl<E: FnMut(&ServerMessage), C: FnMut(&str)> Visit<'_, E, C> {
    fn upload_now(&mut self, call: u64, doc_type: String) {
        if self.photo.is_some() {
            self.upload = Some((call, doc_type));
        }
    }
}

impl<E: FnMut(&ServerMessage), C: FnMut(&str)> RoleHandler for Visit<'_, E, C> {
    fn next_timer(&self) -> Option<Instant> {
        let cancel = self.cancel_at.filter(|_| self.s.call.is_none());
        let upload = self.upload.as_ref().map(|_| Instant::now());
        [self.drop_at, self.hang_up_at.map(|(at, _)| at), cancel, upload].into_iter().flatten().min()
    }

    async fn on_timer(&mut self, client: &mut Client) -> Result<Flow, SessionError> {
        let now = Instant::now();
        if let (Some((call, doc_type)), Some(bytes)) = (self.upload.take(), self.photo.as_ref()) {
            let r = send_photo(self.args, &client.session.token, bytes, call, &doc_type).await;
            self.s.uploads.push(r);
        }
        if self.drop_at.is_some_and(|at| now >= at) {
            self.drop_at = None;
            tracing::info!("test switch: cutting the signaling connection");
            client.session.cut();
            client.session = reconnect(self.args).await?;
            (self.emit)(&client.session.welcome);
            return Ok(Flow::Continue);
        }
        if let Some((_, call)) = self.hang_up_at.filter(|(at, _)| now >= *at) {
            client.session.send(ClientMessage::HangUp { call }).await?;
            self.hang_up_at = None;
        }
        if let (Some(at), None) = (self.cancel_at, self.s.call) {
            if now >= at {
                match self.s.ticket {
                    Some(t) => {
                        self.cancel_at = None;
                        client.session.send(ClientMessage::CancelTicket { ticket: TicketId(t) }).await?;
                    }
                    // No ticket number yet: cancel as soon as it comes.
                    None => self.cancel_at = Some(now + Duration::from_millis(100)),
                }
            }
        }
        Ok(Flow::Continue)
    }

    async fn on_media(&mut self, client: &mut Client, event: &media::PeerEvent) -> Result<Flow, SessionError> {
        if let media::PeerEvent::Chat(text) = event {
            (self.on_chat)(text);
        }
        let (Some(l), media::PeerEvent::Connected) = (client.link.as_ref(), event) else { return Ok(Flow::Continue) };
        let call = l.call;
        if let (Some(hold), None) = (self.args.hold, self.hang_up_at) {
            self.hang_up_at = Some((Instant::now() + Duration::from_secs_f64(hold), call));
        }
        if let (Some(t), true) = (&self.args.doc_type, self.s.uploads.is_empty()) {
            self.upload_now(call.0, t.clone());
        }
        if let (Some(after), false) = (self.args.drop_signaling_after, self.drop_done) {
            self.drop_done = true;
            self.drop_at = Some(Instant::now() + Duration::from_secs_f64(after));
        }
        Ok(Flow::Continue)
    }

    async fn on_connection_lost(&mut self, client: &mut Client, e: SessionError) -> Result<Flow, SessionError> {
        if matches!(e, SessionError::Closed) && self.s.ticket.is_some() && client.session.may_reconnect() {
            // The network dropped: the server keeps the ticket (and the call) for the grace
            // period, so get the connection back and carry on.
            tracing::info!("signaling connection lost; reconnecting");
            client.session = reconnect(self.args).await?;
            (self.emit)(&client.session.welcome);
            return Ok(Flow::Continue);
        }
        self.s.outcome = "error".into();
        self.s.error = Some(match client.session.close_reason() {
            Some(reason) => format!("{e} (the server closed it: {})", reason.as_str()),
            None => e.to_string(),
        });
        Ok(Flow::Stop)
    }

    async fn on_message(&mut self, client: &mut Client, msg: &ServerMessage) -> Result<Flow, SessionError> {
        (self.emit)(msg);
        let (args, s) = (self.args, &mut self.s);
        match msg {
            ServerMessage::TicketStatus { ticket, position, .. } => {
                s.ticket = Some(ticket.0);
                if s.first_position.is_none() {
                    s.first_position = *position;
                }
            }
            ServerMessage::CallStarted { call, ticket, peer, ice_servers, initiator, media, .. } => {
                s.ticket = Some(ticket.0);
                s.call = Some(call.0);
                s.clerk = Some(peer.id.clone());
                s.waited_ms = self.started.elapsed().as_millis() as u64;
                let resumed = client.link.as_ref().is_some_and(|l| l.call == *call);
                if !args.no_media && !resumed {
                    let (initiator, media, t0, say) = (*initiator, *media, Instant::now(), args.say.clone());
                    let start = CallStart { call: *call, initiator, media, ice_servers, t0, say };
                    client.link = start_call(&client.session, start, &self.peer_config).await?;
                } else if args.no_media && self.hang_up_at.is_none() {
                    if let Some(hold) = args.hold {
                        self.hang_up_at = Some((Instant::now() + Duration::from_secs_f64(hold), *call));
                    }
                }
            }
            // The clerk handed the call on: the media keeps flowing through the relay.
            ServerMessage::CallTransferred { peer, .. } => s.clerk = Some(peer.id.clone()),
            ServerMessage::CallEnded { .. } => {
                if let Some(l) = client.link.take() {
                    s.record(l.close().await);
                }
                self.hang_up_at = None;
            }
            ServerMessage::DocumentRequested { call, doc_type, .. } => {
                self.upload_now(call.0, doc_type.as_str().to_owned());
            }
            ServerMessage::DocumentReviewed { call, doc_type, accepted, .. } => {
                if *accepted {
                    s.documents_accepted += 1;
                } else {
                    // The clerk wants it again: take it again (here: send the same file again).
                    s.documents_rejected += 1;
                    self.upload_now(call.0, doc_type.as_str().to_owned());
                }
            }
            ServerMessage::TicketClosed { ticket, reason, .. } => {
                s.ticket = Some(ticket.0);
                if s.call.is_none() {
                    s.waited_ms = self.started.elapsed().as_millis() as u64;
                }
                s.outcome = serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "closed".into());
                return Ok(Flow::Stop);
            }
            // Only a refused request ends the visit; other refusals are logged and the call goes on.
            ServerMessage::Error { code, message_en, in_reply_to, .. } => {
                if in_reply_to.as_deref() == Some("request_service") {
                    s.outcome = "error".into();
                    s.error = Some(format!("{code:?}: {message_en}"));
                    return Ok(Flow::Stop);
                }
                tracing::warn!(?code, message_en, ?in_reply_to, "server refused a message");
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }
}

/// Sends the photo for a pending document request.
async fn send_photo(args: &BoothArgs, token: &str, photo: &[u8], call: u64, doc_type: &str) -> UploadResult {
    match upload_document(&args.server, token, call, doc_type, photo.to_vec()).await {
        Ok(r) => r,
        Err(e) => UploadResult {
            doc_type: doc_type.to_owned(),
            status: 0,
            document: None,
            sha256_original: None,
            sha256_result: None,
            error: Some(e.to_string()),
            message_zh: None,
            elapsed_ms: 0,
        },
    }
}
