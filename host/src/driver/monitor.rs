//! Silent monitoring (relay mode): a supervisor's connection joins a live call's room as a party
//! that only receives — both parties' video and audio — and that the parties never hear about.
//! Scope-checked (the booth's region must be within the supervisor's scope) and audited: every
//! attempt, allowed or not, is a `recording_views` row (range `live`) with its audit-chain link.

use media_relay::JoinSpec;
use protocol::{CallId, ClientMessage, ErrorCode, ServerMessage};
use tracing::info;

use super::{ConnId, Driver};

/// The relay's name for a monitoring connection.
pub(super) fn monitor_party(conn: ConnId) -> String {
    format!("monitor:{conn}")
}

impl Driver {
    pub(super) fn monitor_call(&mut self, conn: ConnId, sup: usize, call: CallId) -> Result<(), ErrorCode> {
        let relay = self.shared.relay.clone().filter(|_| self.reach().drives());
        let Some(relay) = relay else { return Err(ErrorCode::WrongState) };
        let view = self.desk.engine().call(routing::CallId(call.0)).ok_or(ErrorCode::NotFound)?;
        let dir = self.shared.directory.clone();
        let supervisor = &self.shared.supervisors[sup];
        let booth = dir.booth(view.booth);
        let allowed = dir.is_within(booth.region, supervisor.scope);
        self.shared.records.append(crate::records::Record::View(store::RecordingViewRow {
            id: crate::documents::new_id(),
            call_id: crate::records::store_id(call.0),
            who: format!("supervisor:{}", supervisor.id),
            range: "live".into(),
            allowed,
            from_addr: String::new(),
            at_ms: self.timeline_ms(),
        }));
        if !allowed {
            return Err(ErrorCode::Forbidden);
        }
        if let Some(previous) = self.monitors.insert(conn, call.0) {
            let _ = relay.leave(previous, monitor_party(conn));
        }
        info!(call = call.0, supervisor = %supervisor.id, "monitoring a call");
        let clerk = dir.clerk(view.clerk);
        self.send(
            conn,
            ServerMessage::MonitorStarted {
                call,
                booth: protocol::BoothId::new(booth.id.clone()),
                booth_name: booth.name.clone(),
                clerk: clerk.id.clone(),
                clerk_name: clerk.name.clone(),
                service: protocol::ServiceCode::new(dir.service(view.service).code.clone()),
                ice_servers: self.shared.ice_servers.clone(),
            },
        );
        relay.join(call.0, JoinSpec { party: monitor_party(conn), publish: false }).map_err(|_| ErrorCode::NotFound)
    }

    pub(super) fn stop_monitoring(&mut self, conn: ConnId, call: CallId) -> Result<(), ErrorCode> {
        if self.monitors.get(&conn) != Some(&call.0) {
            return Err(ErrorCode::NotFound);
        }
        self.monitor_gone(conn);
        self.send(conn, ServerMessage::MonitorEnded { call });
        Ok(())
    }

    /// A monitoring connection's answer or candidate, for the relay.
    pub(super) fn monitor_signal(&mut self, conn: ConnId, msg: &ClientMessage) -> Result<(), ErrorCode> {
        let call = desk::signal::call_of(msg).expect("only sdp and ice_candidate reach here");
        if self.monitors.get(&conn) != Some(&call.0) {
            return Err(ErrorCode::Forbidden);
        }
        self.forward_to_relay(call.0, &monitor_party(conn), msg)
    }

    /// The relay's signaling for a monitoring connection (`party` is `monitor:<conn>`).
    pub(super) fn send_to_monitor(&mut self, party: &str, msg: ServerMessage) -> bool {
        let Some(conn) = party.strip_prefix("monitor:").and_then(|c| c.parse::<ConnId>().ok()) else { return false };
        if self.monitors.contains_key(&conn) {
            self.send(conn, msg);
        }
        true
    }

    /// The connection stopped monitoring (or went away): it leaves the room.
    pub(super) fn monitor_gone(&mut self, conn: ConnId) {
        if let Some(call) = self.monitors.remove(&conn) {
            if let Some(relay) = self.shared.relay.clone().filter(|_| self.reach().sends()) {
                let _ = relay.leave(call, monitor_party(conn));
            }
        }
    }

    /// The call ended: whoever monitored it is told.
    pub(super) fn monitors_end(&mut self, call: u64) {
        let watching: Vec<ConnId> = self.monitors.iter().filter(|(_, c)| **c == call).map(|(conn, _)| *conn).collect();
        for conn in watching {
            self.monitors.remove(&conn);
            self.send(conn, ServerMessage::MonitorEnded { call: CallId(call) });
        }
    }
}
