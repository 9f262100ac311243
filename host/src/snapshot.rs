//! The driver's state as one applied-log entry (the types only; the driver takes and restores
//! it in `driver/snapshot.rs`), so that a replay starts from the last snapshot instead of from the
//! first input: the engine's snapshot plus what the driver keeps beside it (who is on which
//! connection and gateway, what each booth was last told, what each booth may rate, the wrap-ups
//! awaiting an outcome, outcomes kept for away booths, three-way calls' guests and open
//! invitations, open tickets' event logs and facts, clerks' open state stretches, the input
//! stream's position). It also carries the log's header, so a log may begin with it. Its own
//! module, so that the log (`routing_log.rs`) does not depend on the driver.

use protocol::rest::CaseRecord;
use protocol::{Role, ServerMessage};
use serde::{Deserialize, Serialize};

use crate::hub::ConnId;

/// One connection as the snapshot keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnSnap {
    pub conn: ConnId,
    pub role: Role,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverSnapshot {
    /// The log's header: ids of the first ticket and call, wall time at `t = 0`.
    pub first_ticket: u64,
    pub first_call: u64,
    pub started_unix_ms: u64,
    /// The engine's snapshot as numbers ([`EngineSnapshot::to_words`]).
    pub engine: Vec<u64>,
    pub conns: Vec<ConnSnap>,
    /// By ticket id: state, position, estimate.
    pub last_status: Vec<(u64, protocol::TicketState, Option<u32>, Option<u32>)>,
    /// By booth index: its last served ticket's id.
    pub rateable: Vec<(u32, u64)>,
    /// By clerk index.
    pub pending_cases: Vec<(u32, CaseRecord)>,
    /// Outcomes kept for away booths (by booth index), each with nanoseconds after the timeline's
    /// base.
    pub missed: Vec<(u32, Vec<(u64, ServerMessage)>)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_src: Option<String>,
    /// Three-way calls: (call, guest clerk index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guests: Vec<(u64, u32)>,
    /// Open invitations: (clerk index, call, nanoseconds after the timeline's base until which
    /// it may be taken up).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invitations: Vec<(u32, u64, u64)>,
    /// Open tickets' event logs and facts so far, so that what happens to them after a restart
    /// from this snapshot is logged and reported too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ticket_logs: Vec<OpenTicketLog>,
    /// Clerks' open state stretches: (clerk index, activity, since Unix ms).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clerk_stretches: Vec<(u32, desk::clerk_time::ClerkActivity, i64)>,
    /// Items whose waiting tickets' statuses are due, and the last refresh (nanoseconds after the
    /// timeline's base).
    #[serde(default, skip_serializing_if = "is_default")]
    pub status_pace: desk::status_pace::StatusPaceSnapshot,
    /// Booths' last reported camera and microphone, by booth index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub booth_devices: Vec<(u32, protocol::DeviceState, protocol::DeviceState)>,
}

impl DriverSnapshot {
    /// A short line for the `replay` trace (the whole snapshot is not printed).
    pub fn summary(&self) -> String {
        format!("snapshot: {} connections, {} awaiting wrap-up", self.conns.len(), self.pending_cases.len())
    }
}

/// An open ticket's log as a snapshot keeps it (the desk's type).
pub use desk::ticket_log::OpenTicketLog;

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
