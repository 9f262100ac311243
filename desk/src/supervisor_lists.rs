//! What a supervisor's screen lists of the floor in their scope: the clerks signed in, with their
//! state, how long they have been in it and their day so far; the booths, offline ones first
//! (longest first) with their devices. Read from the engine, the clerks' day and the alerts;
//! whether a booth is online, and the time, come in as arguments.

use protocol::{BoothRow, ClerkRow, RegionId};
use routing::{BoothIdx, ClerkIdx, ClerkState, RegionIdx};

use crate::convert::clerk_state_out;
use crate::turns::{Desk, Now};

impl Desk {
    /// The clerks of `scope` who are signed in, in the directory's order.
    pub fn clerk_rows(&self, scope: RegionIdx, now: Now) -> Vec<ClerkRow> {
        let dir = self.engine.directory();
        (0..dir.clerks.len() as u32)
            .map(ClerkIdx)
            .filter(|c| dir.is_within(dir.clerk(*c).hall, scope))
            .filter(|c| self.engine.clerk_state(*c) != ClerkState::Offline)
            .map(|c| {
                let info = dir.clerk(c);
                let (state, reason) = clerk_state_out(self.engine.clerk_state(c));
                let day = self.clerk_day.get(c);
                ClerkRow {
                    calls_today: day.calls,
                    avg_handle_secs: day.avg_handle_secs(),
                    missed_offers_today: day.missed,
                    ratings_today: day.ratings,
                    bad_ratings_today: day.bad_ratings,
                    clerk: info.id.clone(),
                    name: info.name.clone(),
                    hall: RegionId::new(dir.region(info.hall).id.clone()),
                    hall_name: dir.region(info.hall).name.clone(),
                    state,
                    reason,
                    secs_in_state: now.at.saturating_duration_since(self.engine.clerk_state_since(c)).as_secs() as u32,
                }
            })
            .collect()
    }

    /// The booths of `scope`: offline ones first (longest first), then online ones. `online`:
    /// whether a booth has a connection now.
    pub fn booth_rows(&self, scope: RegionIdx, online: &dyn Fn(BoothIdx) -> bool, now: Now) -> Vec<BoothRow> {
        let dir = self.engine.directory();
        let mut rows: Vec<BoothRow> = (0..dir.booths.len() as u32)
            .map(BoothIdx)
            .filter(|b| dir.is_within(dir.booth(*b).region, scope))
            .map(|b| {
                let info = dir.booth(b);
                let online = online(b);
                let since = self.alerts.offline_since(b).filter(|_| !online);
                let devices = self.alerts.devices.get(&b);
                BoothRow {
                    camera: devices.map(|d| d.0),
                    microphone: devices.map(|d| d.1),
                    booth: info.id.clone(),
                    name: info.name.clone(),
                    region: RegionId::new(dir.region(info.region).id.clone()),
                    online,
                    offline_since_unix: since
                        .map(|at| now.unix().saturating_sub(now.at.saturating_duration_since(at).as_secs())),
                }
            })
            .collect();
        rows.sort_by_key(|r| (r.online, r.offline_since_unix.unwrap_or(u64::MAX)));
        rows
    }
}
