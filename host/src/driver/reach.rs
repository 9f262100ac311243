//! What of the world the driver reaches. The desk decides the same whatever the driver is doing;
//! what its decisions and the driver's own work may touch depends on two facts, and is read here
//! alone:
//! - `rebuilding`: the driver is replaying the applied log (at start after a crash, or a cluster
//!   standby following the router's log). Nothing is sent, closed or counted and the relay is
//!   left alone: the connections of the logged run have no handle here. Records are written
//!   again (found there unless the old run died before committing them) but their answers go to
//!   nobody, and a wrap-up's note stays out (the log holds only its mask).
//! - `routing`: this node routes (a single node, or the cluster's router) rather than standing by.
//!   A standby answers queries and may deliver to its own gateway's connections, but drives
//!   neither the relay nor the alerts and gauges, and holds its records back for a takeover (the
//!   router writes them, with what the log does not hold).

/// The two facts; see the module summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Reach {
    pub rebuilding: bool,
    pub routing: bool,
}

impl Reach {
    /// Messages to sockets, and closing them.
    pub fn sends(self) -> bool {
        !self.rebuilding
    }

    /// Counting in the Prometheus metrics what the driver handles.
    pub fn counts(self) -> bool {
        !self.rebuilding
    }

    /// The media relay, the alerts and the load gauges: the live router's.
    pub fn drives(self) -> bool {
        !self.rebuilding && self.routing
    }

    /// Records are held back for a takeover instead of written.
    pub fn holds_records(self) -> bool {
        !self.routing
    }

    /// A record's answer (sent once it is committed) has someone to go to.
    pub fn answers(self) -> bool {
        !self.rebuilding
    }

    /// Staff text that the log does not hold (a wrap-up's note) is there to write.
    pub fn has_staff_text(self) -> bool {
        !self.rebuilding
    }
}
