//! The supervisors' side of the driver: the live load grid and clerk list (sent on change and
//! at least every 5 s), the waiting history sampled for the last-hour chart, and forcing a
//! clerk's state within the supervisor's scope. Samples and the day's answered counts are saved
//! as they are taken, and put back after a restart.

use protocol::{QueueLoadRow, ServerMessage};
use routing::{ClerkIdx, LoadRow, RegionIdx};

use super::{ConnId, Driver, Principal};
use crate::records::Record;

impl Driver {
    /// On a supervisor's connect: the last hour, then the current grid and clerk list.
    pub(super) fn greet_supervisor(&mut self, conn: ConnId, scope: RegionIdx) {
        let points = self.history.points(&self.shared.directory, scope);
        let interval_secs = self.history.interval_secs() as u32;
        self.send(conn, ServerMessage::QueueHistory { interval_secs, points });
        let rows = self.current_load_rows(scope);
        self.send(conn, ServerMessage::QueueLoad { rows });
        let clerks = self.clerk_rows(scope);
        self.send(conn, ServerMessage::ClerkList { clerks });
        let booths = self.booth_rows(scope);
        self.send(conn, ServerMessage::BoothList { booths });
        self.send_alerts(conn, scope);
    }

    /// The booths of `scope` (see [`desk::Desk::booth_rows`]).
    fn booth_rows(&self, scope: RegionIdx) -> Vec<protocol::BoothRow> {
        let online = |b| self.booth_conn.contains_key(&b);
        self.desk.booth_rows(scope, &online, self.turn_now())
    }

    fn clerk_rows(&self, scope: RegionIdx) -> Vec<protocol::ClerkRow> {
        self.desk.clerk_rows(scope, self.turn_now())
    }

    /// One engine snapshot per tick serves the history sample, the day's baseline and every
    /// supervisor's grid.
    pub fn on_tick(&mut self) {
        self.begin_turn();
        self.ticks += 1;
        let unix = super::clock::unix_now();
        let sample = self.history.due(unix);
        let new_day = self.answered_today.is_new_day(unix);
        self.desk.clerk_day.roll(china_time::date_string(unix as i64 * 1000));
        self.desk.clerk_time.cut_hours(self.timeline_ms(), &self.shared.directory);
        // Longest-wait figures age every second; send at least every 5 s, at once after changes.
        let send = self.load_dirty || self.ticks.is_multiple_of(5);
        if !(sample || new_day || send) {
            return;
        }
        let mut snapshot = self.desk.engine().load_snapshot(self.now);
        if sample {
            self.history.record(unix, self.shared.directory.regions.len(), &snapshot);
            if let Some((at, by_region)) = self.history.latest() {
                let counts = crate::history::sample_json(&self.shared.directory, by_region);
                self.write_record(Record::WaitingSample { at_ms: at as i64 * 1000, counts }, None);
            }
        }
        if new_day {
            self.answered_today.roll(unix, &snapshot);
        }
        self.save_answered(unix, &snapshot);
        self.set_gauges(&snapshot);
        self.check_alerts(&snapshot);
        self.answered_today.add_carried_rows(&mut snapshot);
        if !send {
            return;
        }
        self.load_dirty = false;
        let booths_changed = std::mem::take(&mut self.desk.alerts.booths_changed);
        let sups = self.supervisor_conns();
        for (conn, scope) in sups {
            let rows = self.load_rows(&snapshot, scope);
            self.send(conn, ServerMessage::QueueLoad { rows });
            let clerks = self.clerk_rows(scope);
            self.send(conn, ServerMessage::ClerkList { clerks });
            if booths_changed {
                let booths = self.booth_rows(scope);
                self.send(conn, ServerMessage::BoothList { booths });
            }
        }
    }

    /// The queue and clerk gauges of `/metrics`, from the load snapshot and the engine.
    fn set_gauges(&self, snapshot: &[LoadRow]) {
        use crate::metrics::{labels, METRICS};
        if !self.reach().drives() {
            return;
        }
        let dir = &self.shared.directory;
        for row in snapshot {
            let (Some(hall), Some(service)) = (row.hall, row.service) else { continue };
            let key = labels(&[("hall", &dir.region(hall).id), ("service", &dir.service(service).code)]);
            METRICS.queue_depth.get_or_create(&key).set(i64::from(row.waiting));
            METRICS.longest_wait.get_or_create(&key).set(row.longest_wait.as_secs_f64());
        }
        let mut by_state: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
        for i in 0..dir.clerks.len() as u32 {
            let word = match self.desk.engine().clerk_state(ClerkIdx(i)) {
                routing::ClerkState::Offline => continue,
                routing::ClerkState::Available => "available",
                routing::ClerkState::Offered => "offered",
                routing::ClerkState::InCall => "in_call",
                routing::ClerkState::WrapUp => "wrap_up",
                routing::ClerkState::Away(_) => "away",
            };
            *by_state.entry(word).or_default() += 1;
        }
        for state in ["available", "offered", "in_call", "wrap_up", "away"] {
            let n = by_state.get(state).copied().unwrap_or(0);
            METRICS.clerks.get_or_create(&labels(&[("state", state)])).set(n);
        }
    }

    /// Every supervisor's connection, with the supervisor's scope.
    pub(super) fn supervisor_conns(&self) -> Vec<(ConnId, RegionIdx)> {
        self.conns
            .iter()
            .filter_map(|(id, c)| match c.who {
                Principal::Supervisor(s) => Some((*id, self.shared.supervisors[s].scope)),
                _ => None,
            })
            .collect()
    }

    /// Saves this start's answered counts of today where they changed, so that a restart keeps
    /// the day's service level.
    fn save_answered(&mut self, unix: u64, snapshot: &[LoadRow]) {
        let dir = self.shared.directory.clone();
        let day = china_time::date_string(unix as i64 * 1000);
        let mut changed = Vec::new();
        for row in snapshot {
            let (Some(hall), Some(service)) = (row.hall, row.service) else { continue };
            let counts = self.answered_today.own_today(hall, service, row);
            let key = (day.clone(), hall, service);
            if counts != (0, 0) && self.saved_answered.get(&key) != Some(&counts) {
                self.saved_answered.insert(key, counts);
                changed.push(store::AnsweredRow {
                    day: day.clone(),
                    boot: self.lineage,
                    hall: dir.region(hall).id.clone(),
                    service: dir.service(service).code.clone(),
                    answered: i64::from(counts.0),
                    within_target: i64::from(counts.1),
                });
            }
        }
        if !changed.is_empty() {
            self.saved_answered.retain(|(d, _, _), _| *d == day);
            self.write_record(Record::Answered(changed), None);
        }
    }

    /// Puts back what the grid had before a restart.
    pub fn restore_grid(&mut self, saved: crate::history::SavedGrid) {
        let unix = super::clock::unix_now();
        self.history.restore(unix, saved.samples);
        self.answered_today.carry(unix, saved.answered);
    }

    /// The grid of `scope` as of now.
    pub(super) fn current_load_rows(&self, scope: RegionIdx) -> Vec<QueueLoadRow> {
        let mut snapshot = self.desk.engine().load_snapshot(self.now);
        self.answered_today.add_carried_rows(&mut snapshot);
        self.load_rows(&snapshot, scope)
    }

    /// The rows of `snapshot` within `scope`, in wire form.
    fn load_rows(&self, snapshot: &[LoadRow], scope: RegionIdx) -> Vec<QueueLoadRow> {
        let dir = &self.shared.directory;
        snapshot
            .iter()
            .filter_map(|row| {
                let (hall, service) = (row.hall?, row.service?);
                if !dir.is_within(hall, scope) {
                    return None;
                }
                let (answered, within) = self.answered_today.today(hall, service, row);
                let city = dir.ancestry(hall).find(|r| dir.region(*r).level == routing::Level::City);
                Some(QueueLoadRow {
                    city: city.map(|c| protocol::RegionId::new(dir.region(c).id.clone())),
                    city_name: city.map(|c| dir.region(c).name.clone()),
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
