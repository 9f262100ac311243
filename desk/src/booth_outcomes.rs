//! Outcomes kept for away booths: a call's end (`call_ended`) or its ticket's end
//! (`ticket_closed`) that finds the booth without a connection is kept, and sent first when the
//! booth comes back — so a citizen whose kiosk blinked still learns how the visit ended.
//!
//! A booth on another node's gateway is a special case: if that gateway was already dead when an
//! outcome was sent to it, the message went to a stream nobody reads. So outcomes sent to a
//! remote gateway are remembered for [`BoothOutcomes::lost_gateway_window`]; when the gateway is
//! declared lost, the recent ones become kept outcomes too.
//!
//! At most [`MAX_KEPT`] per booth (the oldest goes first); kept outcomes are forgotten after twice
//! the booth grace period (the booth is not coming back for them; its next ticket starts fresh).
//! Time comes in as an argument.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use protocol::ServerMessage;
use routing::BoothIdx;

/// Outcomes kept per away booth at most (a call's end and its ticket's end, twice).
pub const MAX_KEPT: usize = 4;

/// Where a booth's connection is, as far as the shell knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoothReach {
    /// No connection: the booth is away.
    Away,
    /// On this node's gateway.
    Local,
    /// On another node's gateway (which might already be dead).
    Remote,
}

/// Whether a message is an outcome a booth must not miss.
pub fn is_outcome(msg: &ServerMessage) -> bool {
    matches!(msg, ServerMessage::CallEnded { .. } | ServerMessage::TicketClosed { .. })
}

/// The kept and recently sent outcomes of every booth.
#[derive(Debug, Clone)]
pub struct BoothOutcomes {
    kept: BTreeMap<BoothIdx, Vec<(Instant, ServerMessage)>>,
    sent_remote: BTreeMap<BoothIdx, Vec<(Instant, ServerMessage)>>,
    /// How long a lost gateway may have been dead before it was noticed.
    lost_gateway_window: Duration,
}

impl BoothOutcomes {
    pub fn new(lost_gateway_window: Duration) -> Self {
        BoothOutcomes { kept: BTreeMap::new(), sent_remote: BTreeMap::new(), lost_gateway_window }
    }

    pub fn lost_gateway_window(&self) -> Duration {
        self.lost_gateway_window
    }

    /// `msg` is for `booth`, which is `reach`: `true` if it is to be sent now. An outcome for an
    /// away booth is kept instead; one sent to a remote gateway is remembered a while.
    pub fn to_booth(&mut self, booth: BoothIdx, reach: BoothReach, msg: &ServerMessage, now: Instant) -> bool {
        let outcome = is_outcome(msg);
        match reach {
            BoothReach::Away => {
                if outcome {
                    push_bounded(self.kept.entry(booth).or_default(), now, msg.clone());
                }
                false
            }
            BoothReach::Local => true,
            BoothReach::Remote => {
                if outcome {
                    push_bounded(self.sent_remote.entry(booth).or_default(), now, msg.clone());
                }
                true
            }
        }
    }

    /// The gateway holding `booth`'s connection is lost: what was sent there within the window
    /// may have gone to nobody, so it is kept for the booth's return.
    pub fn gateway_lost(&mut self, booth: BoothIdx, now: Instant) {
        let window = self.lost_gateway_window;
        for (at, msg) in self.sent_remote.remove(&booth).unwrap_or_default() {
            if now.saturating_duration_since(at) <= window {
                push_bounded(self.kept.entry(booth).or_default(), at, msg);
            }
        }
    }

    /// The booth is back: what it missed, oldest first, to send before its current state.
    pub fn returned(&mut self, booth: BoothIdx) -> Vec<ServerMessage> {
        self.kept.remove(&booth).unwrap_or_default().into_iter().map(|(_, msg)| msg).collect()
    }

    /// Forgets kept outcomes older than `keep_for` and remembered sends older than the window.
    pub fn expire(&mut self, now: Instant, keep_for: Duration) {
        self.kept.retain(|_, kept| {
            kept.retain(|(at, _)| now.saturating_duration_since(*at) < keep_for);
            !kept.is_empty()
        });
        let window = self.lost_gateway_window;
        self.sent_remote.retain(|_, sent| {
            sent.retain(|(at, _)| now.saturating_duration_since(*at) <= window);
            !sent.is_empty()
        });
    }

    /// The kept outcomes for the snapshot: booth index → (nanoseconds after `base`, message), in
    /// order. (Remembered sends are not carried: a new router starts with live gateways.)
    pub fn snapshot(&self, base: Instant) -> Vec<(u32, Vec<(u64, ServerMessage)>)> {
        let nanos = |at: &Instant| at.saturating_duration_since(base).as_nanos() as u64;
        self.kept.iter().map(|(b, kept)| (b.0, kept.iter().map(|(at, m)| (nanos(at), m.clone())).collect())).collect()
    }

    /// Back from a snapshot taken with the same `base`.
    pub fn restore(&mut self, base: Instant, kept: &[(u32, Vec<(u64, ServerMessage)>)]) {
        self.sent_remote.clear();
        self.kept = kept
            .iter()
            .map(|(b, kept)| {
                (BoothIdx(*b), kept.iter().map(|(n, m)| (base + Duration::from_nanos(*n), m.clone())).collect())
            })
            .collect();
    }
}

fn push_bounded(list: &mut Vec<(Instant, ServerMessage)>, at: Instant, msg: ServerMessage) {
    if list.len() == MAX_KEPT {
        list.remove(0);
    }
    list.push((at, msg));
}
