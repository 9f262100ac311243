//! Headless clerk console: signs in, goes available, accepts (or declines) offers, holds each
//! call, hangs up, ends wrap-up, and reports a summary. Used from the command line
//! (`agent-console`) and in-process by tests.

use std::time::{Duration, Instant};

use protocol::{CallId, ClerkTargetState, ClientMessage, Role, ServerMessage};
use serde::Serialize;
use session::{Session, SessionError};

#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// Server base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    pub server: String,
    #[arg(long)]
    pub clerk: String,
    #[arg(long)]
    pub secret: String,
    /// Accept every offer (without it offers are declined, to exercise re-offering).
    #[arg(long)]
    pub auto_accept: bool,
    /// Leave offers unanswered (they time out), for testing.
    #[arg(long, conflicts_with = "auto_accept")]
    pub ignore_offers: bool,
    /// Stop after this many calls (0: run until --timeout).
    #[arg(long, default_value_t = 1)]
    pub calls: u32,
    /// Hang up this many seconds after a call starts (default: wait for the booth).
    #[arg(long)]
    pub hold: Option<f64>,
    /// Seconds of wrap-up before going available again.
    #[arg(long, default_value_t = 0.0)]
    pub wrap_up: f64,
    /// Give up after this many seconds in total.
    #[arg(long, default_value_t = 600.0)]
    pub timeout: f64,
    #[arg(long)]
    pub json: bool,
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
    pub error: Option<String>,
}

enum Timer {
    HangUp(CallId),
    EndWrapUp,
}

pub async fn run(args: &AgentArgs, mut emit: impl FnMut(&ServerMessage)) -> Result<AgentSummary, SessionError> {
    let mut session = Session::login_and_connect(&args.server, Role::Clerk, &args.clerk, &args.secret).await?;
    emit(&session.welcome);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.timeout);
    session.send(ClientMessage::SetState { state: ClerkTargetState::Available, reason: None }).await?;
    let mut s = AgentSummary {
        kind: "summary",
        outcome: "timeout".into(),
        clerk: args.clerk.clone(),
        ticket: None,
        tickets: vec![],
        calls: 0,
        offers_received: 0,
        offers_declined: 0,
        waited_ms: 0,
        error: None,
    };
    let mut timer: Option<(Instant, Timer)> = None;
    loop {
        let wake = timer.as_ref().map_or(deadline, |(at, _)| (*at).min(deadline));
        let msg = match session.recv_timeout(wake.saturating_duration_since(Instant::now())).await {
            Ok(m) => m,
            Err(SessionError::Timeout(_)) => {
                if Instant::now() >= deadline {
                    break;
                }
                match timer.take() {
                    Some((_, Timer::HangUp(call))) => session.send(ClientMessage::HangUp { call }).await?,
                    Some((_, Timer::EndWrapUp)) => session.send(ClientMessage::EndWrapUp {}).await?,
                    None => {}
                }
                continue;
            }
            Err(e) => {
                s.outcome = "error".into();
                s.error = Some(e.to_string());
                break;
            }
        };
        emit(&msg);
        match msg {
            ServerMessage::Offer { offer, .. } => {
                s.offers_received += 1;
                if s.offers_received == 1 {
                    s.waited_ms = started.elapsed().as_millis() as u64;
                }
                if args.auto_accept {
                    session.send(ClientMessage::AcceptOffer { offer }).await?;
                } else if !args.ignore_offers {
                    s.offers_declined += 1;
                    session.send(ClientMessage::DeclineOffer { offer }).await?;
                }
            }
            ServerMessage::CallStarted { call, ticket, .. } => {
                s.ticket = Some(ticket.0);
                s.tickets.push(ticket.0);
                if let Some(hold) = args.hold {
                    timer = Some((Instant::now() + Duration::from_secs_f64(hold), Timer::HangUp(call)));
                }
            }
            ServerMessage::CallEnded { .. } => {
                s.calls += 1;
                timer = Some((Instant::now() + Duration::from_secs_f64(args.wrap_up), Timer::EndWrapUp));
            }
            ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. }
                if args.calls > 0 && s.calls >= args.calls =>
            {
                s.outcome = "done".into();
                break;
            }
            ServerMessage::ClerkState {
                state: protocol::ClerkState::Away,
                reason: Some(protocol::AwayReason::MissedOffers),
            } if args.calls > 0 && s.calls >= args.calls => {
                s.outcome = "done".into();
                break;
            }
            ServerMessage::Error { code, message_en, .. } => {
                tracing::warn!(?code, message_en, "server refused a request");
            }
            _ => {}
        }
    }
    session.close().await;
    Ok(s)
}
