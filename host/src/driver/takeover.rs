//! The driver's cluster duties: taking over as router from a warm replica, and noticing gateways
//! that died. Which gateway died is a decision made from heartbeats outside the log, so it is
//! logged as an input of its own ([`Entry::GatewayLost`]): a replay repeats the decision without
//! the heartbeats.

use super::Driver;
use crate::bus::RemoteBus;
use crate::role::GATEWAY_TIMEOUT_MS;
use crate::routing_log::{AppliedLog, Entry};

/// The router drops the inputs it no longer needs from the input stream this often (ticks).
const TRIM_EVERY_TICKS: u64 = 30;

impl Driver {
    /// The replica becomes the router: the timeline goes on from the log's last time (plus the
    /// time nobody routed), the log and the bus are this router's, and the gateways' inputs are
    /// read from after the last one logged. The connections of the replayed run stay: their
    /// gateways are alive unless their heartbeats say otherwise (checked every tick).
    pub fn take_over(&mut self, epoch: u64, log: Box<dyn AppliedLog>, bus: Box<dyn RemoteBus>) {
        let (last_t, wall_base) = self.timeline();
        let down_t = (store::now_ms() as u64).saturating_sub(wall_base) * 1000;
        self.clock.resume_at(last_t.max(down_t).max(self.t));
        self.log = Some(log);
        self.bus = Some(bus);
        let role = self.shared.cluster.clone().expect("a cluster node");
        role.became_router(epoch);
        // What the old router may not have committed when it died.
        self.write_deferred();
        let after = self.last_src.clone().unwrap_or_else(|| "0".into());
        tracing::info!(
            epoch,
            open_tickets = self.open_tickets(),
            connections = self.conns.len(),
            inputs_after = %after,
            "took over as router"
        );
        if let Some(bus) = self.bus.as_mut() {
            bus.read_inputs_after(after);
        }
        self.check_gateways();
        self.end_batch();
    }

    /// Every tick of a cluster's router: a gateway holding connections that has not beaten for
    /// [`GATEWAY_TIMEOUT_MS`] (or was never seen beating that long after it first showed up) is
    /// logged as lost; now and then the input stream is trimmed to what a new router could need.
    pub(super) fn check_gateways(&mut self) {
        let Some(role) = self.shared.cluster.clone().filter(|r| r.is_router()) else { return };
        let now_ms = store::now_ms() as u64;
        for gateway in self.remote_gateways() {
            let Some(seen) = role.gateway_seen(&gateway, now_ms) else { return };
            let first = *self.gateway_first_seen.entry(gateway.clone()).or_insert(now_ms);
            if now_ms.saturating_sub(seen.unwrap_or(first)) > GATEWAY_TIMEOUT_MS {
                tracing::warn!(gateway, "a gateway stopped beating: its connections are gone");
                self.gateway_first_seen.remove(&gateway);
                self.record(Entry::GatewayLost { gateway });
            }
        }
        if self.ticks.is_multiple_of(TRIM_EVERY_TICKS) {
            if let (Some(bus), Some(upto)) = (self.bus.as_mut(), self.last_src.as_deref()) {
                bus.trim_inputs(upto);
            }
        }
    }
}
