//! The clerks' side of matching, per (service, hall): who is available (idle longest first), how
//! many are signed in and how many are taking calls. Kept by `set_clerk_state` alone
//! (`matching.rs`); the tickets' side is `tickets.rs`.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::directory::ClerkIdx;
use crate::fxhash::FxMap;
use crate::model::ClerkState;
use crate::tickets::HallKey;

#[derive(Debug, Default)]
pub(crate) struct ClerkIndex {
    /// Available clerks of the hall with the skill, idle longest first.
    pub available: FxMap<HallKey, BTreeSet<(Instant, u64, ClerkIdx)>>,
    /// Clerks of the hall with the skill who are signed in (any state but offline).
    pub signed_in: FxMap<HallKey, u32>,
    /// Clerks of the hall with the skill who are taking calls (available, offered, in call, wrap-up).
    pub working: FxMap<HallKey, u32>,
}

impl ClerkIndex {
    pub fn count(map: &FxMap<HallKey, u32>, key: HallKey) -> u32 {
        map.get(&key).copied().unwrap_or(0)
    }

    /// One more (`up`) or one fewer under `key`.
    pub fn bump(map: &mut FxMap<HallKey, u32>, key: HallKey, up: bool) {
        let n = map.entry(key).or_default();
        if up {
            *n += 1;
        } else {
            *n = n.checked_sub(1).expect("a count only goes down after it went up");
        }
    }
}

/// Whether a clerk in `state` is taking calls.
pub(crate) fn is_working(state: ClerkState) -> bool {
    matches!(state, ClerkState::Available | ClerkState::Offered | ClerkState::InCall | ClerkState::WrapUp)
}
