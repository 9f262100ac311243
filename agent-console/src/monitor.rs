//! `agent-console --monitor CALL --supervisor ID`: a supervisor silently watching a live call
//! through the media relay, headless. Signs in as the supervisor, sends `monitor_call`, answers
//! the relay's offers, receives both parties' video (decoded) and audio for `--watch` seconds,
//! then `stop_monitoring`. The summary counts what came from each party.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use media::{CallLink, PeerConfig};
use protocol::{CallId, ClientMessage, MediaMode, Role, ServerMessage};
use serde::Serialize;
use session::{Session, SessionError};

use crate::AgentArgs;

/// What a monitoring run saw.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonitorSummary {
    pub kind: &'static str,
    /// `watched` (watched for `--watch` seconds or until the call ended), `refused` (the
    /// server's error code is in `error`), `error` (media could not be set up), `timeout`.
    pub outcome: String,
    pub call: u64,
    /// Per party (`booth`, `clerk`): video frames decoded, audio packets received.
    pub by_party: BTreeMap<String, media::counters::StreamCounts>,
    pub media_path: Option<String>,
    /// The call ended while watched.
    pub call_ended: bool,
    pub error: Option<String>,
}

/// Watches `call`; `emit` receives every server message.
pub async fn run(
    args: &AgentArgs,
    call: u64,
    mut emit: impl FnMut(&ServerMessage),
) -> Result<MonitorSummary, SessionError> {
    let supervisor = args.supervisor.as_deref().unwrap_or_default();
    let mut session =
        Session::connect_for_cli(&args.server, Role::Supervisor, supervisor, &args.secret, args.connect_wait).await?;
    emit(&session.welcome);
    let call = CallId(call);
    session.send(ClientMessage::MonitorCall { call }).await?;
    let mut s = MonitorSummary {
        kind: "summary",
        outcome: "timeout".into(),
        call: call.0,
        by_party: BTreeMap::new(),
        media_path: None,
        call_ended: false,
        error: None,
    };
    let peer_config = PeerConfig { bind_ip: args.bind_ip, ..PeerConfig::default() };
    let mut deadline = Instant::now() + Duration::from_secs_f64(args.timeout);
    let mut stopping = false;
    let mut watch_until: Option<Instant> = None;
    let mut link: Option<CallLink> = None;
    loop {
        let until = watch_until.map_or(deadline, |w| w.min(deadline));
        let msg = match media::client::next_step(&mut session, &mut link, until).await {
            media::client::Step::Peer(event) => {
                crate::relay_link::on_peer_event(&mut link, &event, &session).await?;
                continue;
            }
            media::client::Step::Server(Ok(m)) => m,
            media::client::Step::Server(Err(e)) => return Err(e),
            media::client::Step::Timer => {
                if watch_until.is_some_and(|w| Instant::now() >= w) && !stopping {
                    // Watched long enough: stop, and wait a little for the server to confirm.
                    s.outcome = "watched".into();
                    stopping = true;
                    watch_until = None;
                    deadline = Instant::now() + Duration::from_secs(5);
                    session.send(ClientMessage::StopMonitoring { call }).await?;
                    continue;
                }
                break;
            }
        };
        emit(&msg);
        match &msg {
            ServerMessage::MonitorStarted { ice_servers, .. } => {
                match CallLink::start(call, false, MediaMode::Relay, ice_servers, &peer_config, Instant::now(), None)
                    .await
                {
                    Ok((l, _)) => link = Some(l),
                    Err(e) => {
                        s.outcome = "error".into();
                        s.error = Some(e.to_string());
                        break;
                    }
                }
                watch_until = Some(Instant::now() + Duration::from_secs_f64(args.watch));
            }
            ServerMessage::Sdp { .. } | ServerMessage::IceCandidate { .. } => {
                crate::relay_link::on_signal(&mut link, &msg, &session).await?;
            }
            ServerMessage::MonitorEnded { .. } => {
                s.call_ended = !stopping;
                s.outcome = "watched".into();
                break;
            }
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
