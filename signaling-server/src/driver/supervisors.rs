//! The supervisors' side of the driver: the live load grid and clerk list (sent on change and
//! at least every 5 s), the waiting history sampled for the last-hour chart, and forcing a
//! clerk's state within the supervisor's scope.

use protocol::{ErrorCode, QueueLoadRow, ServerMessage};
use routing::{ClerkIdx, Input, RegionIdx};
use tracing::info;

use super::{now, ConnId, Driver, Principal};
use crate::convert::{clerk_state_out, reject_code};

impl Driver {
    /// On a supervisor's connect: the last hour, then the current grid and clerk list.
    pub(super) fn greet_supervisor(&mut self, conn: ConnId, scope: RegionIdx) {
        let points = self.history.points(&self.shared.directory, scope);
        let interval_secs = self.history.interval_secs() as u32;
        self.send(conn, ServerMessage::QueueHistory { interval_secs, points });
        let rows = self.load_rows(scope);
        self.send(conn, ServerMessage::QueueLoad { rows });
        let clerks = self.clerk_rows(scope);
        self.send(conn, ServerMessage::ClerkList { clerks });
    }

    /// A supervisor sets a clerk of their scope available or away(supervisor); who and why are
    /// written to the log (the reason is free text from staff, not citizens' data).
    pub(super) fn force_clerk_state(
        &mut self,
        sup: usize,
        clerk: &str,
        state: protocol::ClerkTargetState,
        why: &str,
    ) -> Result<(), ErrorCode> {
        let dir = self.shared.directory.clone();
        let supervisor = self.shared.supervisors[sup].clone();
        let idx = dir.clerk_idx(clerk).ok_or(ErrorCode::NotFound)?;
        if !dir.is_within(dir.clerk(idx).hall, supervisor.scope) {
            return Err(ErrorCode::Forbidden);
        }
        if why.trim().is_empty() || why.chars().count() > 200 {
            return Err(ErrorCode::InvalidField);
        }
        let input = match state {
            protocol::ClerkTargetState::Available => Input::ClerkSetAvailable { clerk: idx },
            protocol::ClerkTargetState::Away => {
                Input::ClerkSetAway { clerk: idx, reason: routing::AwayReason::Supervisor }
            }
        };
        self.input(input).map_err(reject_code)?;
        info!(supervisor = %supervisor.id, clerk, ?state, why, "clerk state forced by supervisor");
        self.shared.cases.append(&crate::cases::CaseLine::ForcedState(crate::cases::ForcedStateRecord {
            supervisor: supervisor.id.clone(),
            clerk: clerk.to_owned(),
            state,
            why: why.trim().to_owned(),
            at_unix: crate::auth::unix_now(),
        }));
        self.load_dirty = true;
        Ok(())
    }

    fn clerk_rows(&self, scope: RegionIdx) -> Vec<protocol::ClerkRow> {
        let dir = &self.shared.directory;
        let now = now();
        (0..dir.clerks.len() as u32)
            .map(ClerkIdx)
            .filter(|c| dir.is_within(dir.clerk(*c).hall, scope))
            .filter(|c| self.engine.clerk_state(*c) != routing::ClerkState::Offline)
            .map(|c| {
                let info = dir.clerk(c);
                let (state, reason) = clerk_state_out(self.engine.clerk_state(c));
                protocol::ClerkRow {
                    clerk: info.id.clone(),
                    name: info.name.clone(),
                    hall: protocol::RegionId::new(dir.region(info.hall).id.clone()),
                    hall_name: dir.region(info.hall).name.clone(),
                    state,
                    reason,
                    secs_in_state: now.saturating_duration_since(self.engine.clerk_state_since(c)).as_secs() as u32,
                }
            })
            .collect()
    }

    pub(super) fn on_tick(&mut self) {
        self.ticks += 1;
        let unix = crate::auth::unix_now();
        if self.history.due(unix) {
            let rows = self.engine.load_snapshot(now());
            self.history.record(unix, self.shared.directory.regions.len(), &rows);
        }
        let engine = &self.engine;
        self.answered_today.roll(unix, || engine.load_snapshot(now()));
        // Longest-wait figures age every second; send at least every 5 s, at once after changes.
        if !(self.load_dirty || self.ticks.is_multiple_of(5)) {
            return;
        }
        self.load_dirty = false;
        let sups: Vec<(ConnId, RegionIdx)> = self
            .conns
            .iter()
            .filter_map(|(id, c)| match c.who {
                Principal::Supervisor(s) => Some((*id, self.shared.supervisors[s].scope)),
                _ => None,
            })
            .collect();
        for (conn, scope) in sups {
            let rows = self.load_rows(scope);
            self.send(conn, ServerMessage::QueueLoad { rows });
            let clerks = self.clerk_rows(scope);
            self.send(conn, ServerMessage::ClerkList { clerks });
        }
    }

    pub(super) fn load_rows(&self, scope: RegionIdx) -> Vec<QueueLoadRow> {
        let dir = &self.shared.directory;
        self.engine
            .load_snapshot(now())
            .into_iter()
            .filter_map(|row| {
                let (hall, service) = (row.hall?, row.service?);
                if !dir.is_within(hall, scope) {
                    return None;
                }
                let (answered, within) = self.answered_today.today(&row);
                Some(QueueLoadRow {
                    region: protocol::RegionId::new(dir.region(hall).id.clone()),
                    region_name: dir.region(hall).name.clone(),
                    service: protocol::ServiceCode::new(dir.service(service).code.clone()),
                    service_name: dir.service(service).name.clone(),
                    waiting: row.waiting,
                    longest_wait_secs: row.longest_wait.as_secs() as u32,
                    clerks_eligible: row.clerks_signed_in,
                    clerks_available: row.available,
                    clerks_offered: row.offered,
                    clerks_in_call: row.in_call,
                    clerks_wrap_up: row.wrap_up,
                    clerks_away: row.away,
                    overflowing: row.overflowing,
                    answered_today: answered,
                    answered_within_target_today: within,
                    service_level: (answered > 0).then(|| within as f64 / answered as f64),
                })
            })
            .collect()
    }
}
