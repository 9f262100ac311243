//! `agent-console --monitor CALL --supervisor ID`: a supervisor silently watching a live call
//! through the media relay, headless. Signs in as the supervisor, sends `monitor_call`, answers
//! the relay's offers, receives both parties' video (decoded) and audio for `--watch` seconds,
//! then `stop_monitoring`. The summary counts what came from each party.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use media::client::{drive, Client, Flow, RoleHandler};
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
    let session =
        Session::connect_for_cli(&args.server, Role::Supervisor, supervisor, &args.secret, args.connect_wait).await?;
    emit(&session.welcome);
    let call = CallId(call);
    session.send(ClientMessage::MonitorCall { call }).await?;
    let mut watch = Watch {
        args,
        emit,
        call,
        s: MonitorSummary {
            kind: "summary",
            outcome: "timeout".into(),
            call: call.0,
            by_party: BTreeMap::new(),
            media_path: None,
            call_ended: false,
            error: None,
        },
        peer_config: PeerConfig { bind_ip: args.bind_ip, ..PeerConfig::default() },
        watch_until: None,
        stopping_until: None,
    };
    let mut client = Client { session, link: None };
    drive(&mut client, Instant::now() + Duration::from_secs_f64(args.timeout), &mut watch).await?;
    let mut s = watch.s;
    (s.by_party, s.media_path) = crate::relay_link::finish(client.link.take()).await;
    client.session.close().await;
    Ok(s)
}

/// A monitoring run between the loop's steps.
struct Watch<'a, E> {
    args: &'a AgentArgs,
    emit: E,
    call: CallId,
    s: MonitorSummary,
    peer_config: PeerConfig,
    /// Watching until then.
    watch_until: Option<Instant>,
    /// `stop_monitoring` sent: waiting until then for the server to confirm.
    stopping_until: Option<Instant>,
}

impl<E: FnMut(&ServerMessage)> RoleHandler for Watch<'_, E> {
    fn next_timer(&self) -> Option<Instant> {
        self.watch_until.or(self.stopping_until)
    }

    /// A supervisor's view is not a party's: its media state is nobody's business.
    fn reports_media_state(&self) -> bool {
        false
    }

    async fn on_timer(&mut self, client: &mut Client) -> Result<Flow, SessionError> {
        if self.watch_until.take().is_some() {
            // Watched long enough: stop, and wait a little for the server to confirm.
            self.s.outcome = "watched".into();
            self.stopping_until = Some(Instant::now() + Duration::from_secs(5));
            client.session.send(ClientMessage::StopMonitoring { call: self.call }).await?;
            return Ok(Flow::Continue);
        }
        Ok(Flow::Stop)
    }

    async fn on_media(&mut self, _: &mut Client, _: &media::PeerEvent) -> Result<Flow, SessionError> {
        Ok(Flow::Continue)
    }

    async fn on_connection_lost(&mut self, _: &mut Client, e: SessionError) -> Result<Flow, SessionError> {
        Err(e)
    }

    async fn on_message(&mut self, client: &mut Client, msg: &ServerMessage) -> Result<Flow, SessionError> {
        (self.emit)(msg);
        match msg {
            ServerMessage::MonitorStarted { ice_servers, .. } => {
                let (call, config) = (self.call, &self.peer_config);
                match CallLink::start(call, false, MediaMode::Relay, ice_servers, config, Instant::now(), None).await {
                    Ok((l, _)) => client.link = Some(l),
                    Err(e) => {
                        self.s.outcome = "error".into();
                        self.s.error = Some(e.to_string());
                        return Ok(Flow::Stop);
                    }
                }
                self.watch_until = Some(Instant::now() + Duration::from_secs_f64(self.args.watch));
            }
            ServerMessage::MonitorEnded { .. } => {
                self.s.call_ended = self.stopping_until.is_none();
                self.s.outcome = "watched".into();
                return Ok(Flow::Stop);
            }
            ServerMessage::Error { code, .. } => {
                self.s.outcome = "refused".into();
                self.s.error = crate::relay_link::code_word(code);
                return Ok(Flow::Stop);
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }
}
