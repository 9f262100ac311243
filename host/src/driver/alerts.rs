//! The shell around the desk's alerts ([`desk::alerts`]): once a second the driver asks the desk
//! to work them out from the routing state; what was raised or cleared is logged (ids only) and
//! kept in the records store (`alert_events`); when the set changed, each supervisor gets the
//! alerts of its scope (`alerts`). A replay or a standby works none out.

use protocol::ServerMessage;
use routing::{LoadRow, RegionIdx};
use tracing::{info, warn};

use super::{ConnId, Driver};

impl Driver {
    /// Works the alerts out; on a change, logs it and tells the supervisors.
    pub(super) fn check_alerts(&mut self, load: &[LoadRow]) {
        if !self.reach().drives() {
            return;
        }
        let now = self.turn_now();
        let booth_conn = &self.booth_conn;
        let online = |booth| booth_conn.contains_key(&booth);
        let found = self.desk.evaluate_alerts(&self.shared.alerts, load, &online, now);
        for e in &found.events {
            let a = &e.alert;
            if e.raised {
                warn!(kind = ?a.kind, region = %a.region, service = ?a.service, clerk = ?a.clerk, booth = ?a.booth, "alert raised");
            } else {
                info!(kind = ?a.kind, region = %a.region, "alert cleared");
            }
        }
        if !found.events.is_empty() {
            let history = found.events.iter().map(alert_event).collect();
            self.write_record(crate::records::Record::Alerts(history), None);
        }
        if found.changed {
            for (conn, scope) in self.supervisor_conns() {
                self.send_alerts(conn, scope);
            }
        }
    }

    /// The alerts of `scope` to one supervisor, most urgent first.
    pub(super) fn send_alerts(&mut self, conn: ConnId, scope: RegionIdx) {
        let alerts = self.desk.alerts.for_scope(&self.shared.directory, scope);
        self.send(conn, ServerMessage::Alerts { alerts });
    }
}

/// An alert's history row.
fn alert_event(e: &desk::alerts::AlertEvent) -> store::AlertEventRow {
    let a = &e.alert;
    let word = serde_json::to_value(a.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    store::AlertEventRow {
        at_ms: e.at_ms,
        event: if e.raised { "raised" } else { "cleared" }.to_owned(),
        kind: word,
        region: a.region.to_string(),
        service: a.service.as_ref().map(|s| s.to_string()),
        clerk: a.clerk.clone(),
        booth: a.booth.clone(),
        since_ms: a.since_unix as i64 * 1000,
        value_milli: (a.value * 1000.0).round() as i64,
        message_zh: a.message_zh.clone(),
        message_en: a.message_en.clone(),
    }
}
