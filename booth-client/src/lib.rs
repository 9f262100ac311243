//! Headless booth client: takes a ticket for a service item, follows the queue, joins the call
//! and reports a summary. Used from the command line (`booth-client`) and in-process by tests.

use std::time::{Duration, Instant};

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
    /// Hang up this many seconds after the call starts (default: wait for the clerk to end it).
    #[arg(long)]
    pub hold: Option<f64>,
    /// Cancel the ticket after waiting this many seconds without a call.
    #[arg(long)]
    pub cancel_after: Option<f64>,
    /// Give up after this many seconds in total.
    #[arg(long, default_value_t = 600.0)]
    pub timeout: f64,
    /// Print one JSON object per line (server messages, then a summary).
    #[arg(long)]
    pub json: bool,
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
    pub ticket: Option<u64>,
    pub clerk: Option<String>,
    /// Request sent → call started (or → ticket closed when there was no call).
    pub waited_ms: u64,
    pub call: Option<u64>,
    /// First position reported for the ticket.
    pub first_position: Option<u32>,
    pub error: Option<String>,
}

/// Runs one booth visit; `emit` receives every server message as it arrives.
pub async fn run(args: &BoothArgs, mut emit: impl FnMut(&ServerMessage)) -> Result<BoothSummary, SessionError> {
    let mut session = Session::login_and_connect(&args.server, Role::Booth, &args.booth, &args.secret).await?;
    emit(&session.welcome);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.timeout);
    session
        .send(ClientMessage::RequestService {
            service: ServiceCode::new(&*args.service),
            priority: args.priority.into(),
        })
        .await?;
    let mut summary = BoothSummary {
        kind: "summary",
        outcome: "timeout".into(),
        ticket: None,
        clerk: None,
        waited_ms: 0,
        call: None,
        first_position: None,
        error: None,
    };
    let mut hang_up_at: Option<(Instant, CallId)> = None;
    let cancel_at = args.cancel_after.map(|s| started + Duration::from_secs_f64(s));
    loop {
        let now = Instant::now();
        let mut wake = deadline;
        if let Some((at, _)) = hang_up_at {
            wake = wake.min(at);
        }
        if let (Some(at), None) = (cancel_at, summary.call) {
            wake = wake.min(at);
        }
        let msg = match session.recv_timeout(wake.saturating_duration_since(now)).await {
            Ok(m) => m,
            Err(SessionError::Timeout(_)) => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                if let Some((at, call)) = hang_up_at {
                    if now >= at {
                        session.send(ClientMessage::HangUp { call }).await?;
                        hang_up_at = None;
                    }
                }
                if let (Some(at), None, Some(t)) = (cancel_at, summary.call, summary.ticket) {
                    if now >= at {
                        session.send(ClientMessage::CancelTicket { ticket: TicketId(t) }).await?;
                    }
                }
                continue;
            }
            Err(e) => {
                summary.outcome = "error".into();
                summary.error = Some(e.to_string());
                break;
            }
        };
        emit(&msg);
        match &msg {
            ServerMessage::TicketStatus { ticket, position, .. } => {
                summary.ticket = Some(ticket.0);
                if summary.first_position.is_none() {
                    summary.first_position = *position;
                }
            }
            ServerMessage::CallStarted { call, ticket, peer, .. } => {
                summary.ticket = Some(ticket.0);
                summary.call = Some(call.0);
                summary.clerk = Some(peer.id.clone());
                summary.waited_ms = started.elapsed().as_millis() as u64;
                if let Some(hold) = args.hold {
                    hang_up_at = Some((Instant::now() + Duration::from_secs_f64(hold), *call));
                }
            }
            ServerMessage::TicketClosed { ticket, reason, .. } => {
                summary.ticket = Some(ticket.0);
                if summary.call.is_none() {
                    summary.waited_ms = started.elapsed().as_millis() as u64;
                }
                summary.outcome = serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "closed".into());
                break;
            }
            ServerMessage::Error { code, message_en, .. } => {
                summary.outcome = "error".into();
                summary.error = Some(format!("{code:?}: {message_en}"));
                break;
            }
            ServerMessage::ServerShutdown { .. } => {}
            _ => {}
        }
    }
    session.close().await;
    Ok(summary)
}
