//! The last hour of waiting-ticket counts, for the supervisors' chart: the driver takes a sample
//! of the engine's load snapshot every `history_sample_secs`, per home hall, and keeps an hour of
//! them in a ring. A supervisor gets the sums over the halls of their scope when they connect.
//!
//! Memory is bounded: samples × regions counters (an hour at 10 s with 30 regions is 43 KB).
//!
//! [`AnsweredToday`] turns the engine's answered counts (since it started) into today's, for the
//! service level: at each change of the China date it takes the counts as the day's baseline.
//!
//! Both survive a restart: samples and this start's counts are saved to the records store as they
//! are taken, and at start the last hour's samples and today's counts of earlier starts are loaded
//! back ([`WaitingHistory::restore`], [`AnsweredToday::carry`]).

use std::collections::{HashMap, VecDeque};

use protocol::WaitingPoint;
use routing::{Directory, LoadRow, RegionIdx, ServiceIdx};

const WINDOW_SECS: u64 = 3600;

struct Sample {
    at: u64,
    /// Waiting tickets by home hall, indexed by region.
    by_region: Vec<u32>,
}

pub struct WaitingHistory {
    interval_secs: u64,
    samples: VecDeque<Sample>,
    last_at: Option<u64>,
}

impl WaitingHistory {
    pub fn new(interval_secs: u64) -> Self {
        let interval_secs = interval_secs.max(1);
        Self { interval_secs, samples: VecDeque::new(), last_at: None }
    }

    pub fn interval_secs(&self) -> u64 {
        self.interval_secs
    }

    /// Whether a sample is due at `now_unix`.
    pub fn due(&self, now_unix: u64) -> bool {
        self.last_at.is_none_or(|last| now_unix >= last + self.interval_secs)
    }

    /// Records the waiting counts of `rows` at `now_unix` and drops samples older than an hour.
    pub fn record(&mut self, now_unix: u64, regions: usize, rows: &[LoadRow]) {
        let mut by_region = vec![0u32; regions];
        for row in rows {
            if let (Some(hall), Some(_)) = (row.hall, row.service) {
                by_region[hall.0 as usize] += row.waiting;
            }
        }
        self.samples.push_back(Sample { at: now_unix, by_region });
        self.last_at = Some(now_unix);
        while self.samples.front().is_some_and(|s| s.at + WINDOW_SECS < now_unix) {
            self.samples.pop_front();
        }
    }

    /// Puts back samples saved before a restart (`(unix time, waiting by region)`, oldest first),
    /// keeping the last hour before `now_unix`.
    pub fn restore(&mut self, now_unix: u64, samples: Vec<(u64, Vec<u32>)>) {
        for (at, by_region) in samples {
            if at + WINDOW_SECS >= now_unix && self.samples.back().is_none_or(|s| s.at < at) {
                self.samples.push_back(Sample { at, by_region });
            }
        }
    }

    /// The newest sample: (unix time, waiting by region), to be saved.
    pub fn latest(&self) -> Option<(u64, &[u32])> {
        self.samples.back().map(|s| (s.at, s.by_region.as_slice()))
    }

    /// Waiting tickets whose home hall is within `scope`, oldest sample first.
    pub fn points(&self, dir: &Directory, scope: RegionIdx) -> Vec<WaitingPoint> {
        let in_scope: Vec<bool> = (0..dir.regions.len() as u32).map(|r| dir.is_within(RegionIdx(r), scope)).collect();
        self.samples
            .iter()
            .map(|s| WaitingPoint {
                at: s.at,
                waiting: s.by_region.iter().zip(&in_scope).filter(|(_, keep)| **keep).map(|(n, _)| n).sum(),
            })
            .collect()
    }
}

/// Answered counts at the start of the current day (China time), per (hall, service).
#[derive(Default)]
pub struct AnsweredToday {
    /// Days since the epoch in China time (UTC+8); `None` before the first tick.
    day: Option<u64>,
    baseline: HashMap<(RegionIdx, ServiceIdx), (u32, u32)>,
    /// Today's counts of earlier server starts (loaded at start), and their day.
    carried: HashMap<(RegionIdx, ServiceIdx), (u32, u32)>,
    carried_day: Option<u64>,
}

/// The China day of a Unix time in seconds ([`china_time::day_number`]).
pub fn china_day(unix: u64) -> u64 {
    china_time::day_number(unix as i64 * 1000) as u64
}

impl AnsweredToday {
    /// Whether `now_unix` falls on another day than the current baseline's (or none is set).
    pub fn is_new_day(&self, now_unix: u64) -> bool {
        self.day != Some(china_day(now_unix))
    }

    /// Starts the day of `now_unix`, taking the snapshot's counts as its baseline. The first day
    /// starts with the server (the engine's counts are zero then).
    pub fn roll(&mut self, now_unix: u64, rows: &[LoadRow]) {
        if self.day.is_some() {
            self.baseline = rows
                .iter()
                .filter_map(|r| Some(((r.hall?, r.service?), (r.answered, r.answered_within_target))))
                .collect();
        }
        self.day = Some(china_day(now_unix));
    }

    /// Adds the counts of earlier server starts on the day of `now_unix` (loaded at start).
    pub fn carry(&mut self, now_unix: u64, counts: HashMap<(RegionIdx, ServiceIdx), (u32, u32)>) {
        self.carried = counts;
        self.carried_day = Some(china_day(now_unix));
    }

    /// Adds an empty row for each (hall, service) with counts carried from an earlier start that
    /// the engine's snapshot has no row for (nobody signed in or waiting there since the restart),
    /// so the grid still shows its service level. Keeps the snapshot's (hall, service) order.
    pub fn add_carried_rows(&self, rows: &mut Vec<LoadRow>) {
        if self.carried_day != self.day {
            return;
        }
        let before = rows.len();
        for &(hall, service) in self.carried.keys() {
            if !rows.iter().any(|r| r.hall == Some(hall) && r.service == Some(service)) {
                rows.push(LoadRow { hall: Some(hall), service: Some(service), ..LoadRow::default() });
            }
        }
        if rows.len() > before {
            rows.sort_by_key(|r| (r.hall, r.service));
        }
    }

    /// This start's (answered, within target) today for the snapshot row of (`hall`, `service`).
    pub fn own_today(&self, hall: RegionIdx, service: ServiceIdx, row: &LoadRow) -> (u32, u32) {
        let (a, w) = self.baseline.get(&(hall, service)).copied().unwrap_or((0, 0));
        (row.answered.saturating_sub(a), row.answered_within_target.saturating_sub(w))
    }

    /// Today's (answered, within target) for the snapshot row of (`hall`, `service`), with the
    /// counts of earlier starts today.
    pub fn today(&self, hall: RegionIdx, service: ServiceIdx, row: &LoadRow) -> (u32, u32) {
        let (a, w) = self.own_today(hall, service, row);
        let (ca, cw) = match self.carried_day == self.day {
            true => self.carried.get(&(hall, service)).copied().unwrap_or((0, 0)),
            false => (0, 0),
        };
        (a + ca, w + cw)
    }
}

/// What the grid had before a restart, as saved in the records store.
#[derive(Default)]
pub struct SavedGrid {
    /// The last hour's samples: (unix time, waiting by region index), oldest first.
    pub samples: Vec<(u64, Vec<u32>)>,
    /// Today's answered counts of earlier server starts.
    pub answered: HashMap<(RegionIdx, ServiceIdx), (u32, u32)>,
}

/// A sample as saved: region id → waiting tickets (regions with none are left out).
pub fn sample_json(dir: &Directory, by_region: &[u32]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = by_region
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| (dir.region(RegionIdx(r as u32)).id.clone(), (*n).into()))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Reads the last hour's samples and today's answered counts saved under other engine histories
/// than `lineage` (see the driver: a replayed log brings its own counts back).
/// Regions or services no longer configured are skipped. Blocking.
pub fn load_saved(store: &store::Store, dir: &Directory, lineage: i64, now_unix: u64) -> store::Result<SavedGrid> {
    let since = now_unix.saturating_sub(WINDOW_SECS) as i64 * 1000;
    let samples = store
        .waiting_samples(since)?
        .into_iter()
        .map(|(at_ms, counts)| {
            let mut by_region = vec![0u32; dir.regions.len()];
            let map: HashMap<String, u32> = serde_json::from_str(&counts).unwrap_or_default();
            for (id, n) in map {
                if let Some(r) = dir.region_idx(&id) {
                    by_region[r.0 as usize] += n;
                }
            }
            ((at_ms / 1000) as u64, by_region)
        })
        .collect();
    let mut answered = HashMap::new();
    for row in store.answered_on(&china_time::date_string(now_unix as i64 * 1000), lineage)? {
        let service = dir.services.iter().position(|s| s.code == row.service).map(|i| ServiceIdx(i as u32));
        if let (Some(hall), Some(service)) = (dir.region_idx(&row.hall), service) {
            let e: &mut (u32, u32) = answered.entry((hall, service)).or_default();
            e.0 += row.answered as u32;
            e.1 += row.within_target as u32;
        }
    }
    Ok(SavedGrid { samples, answered })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(answered: u32, within: u32) -> LoadRow {
        LoadRow {
            hall: Some(RegionIdx(3)),
            service: Some(ServiceIdx(1)),
            answered,
            answered_within_target: within,
            ..LoadRow::default()
        }
    }

    #[test]
    fn counts_restart_at_china_midnight() {
        let mut day = AnsweredToday::default();
        // 2026-11-22 23:59 in Beijing is 15:59 UTC.
        let before_midnight = 1_795_363_140;
        let today = |day: &AnsweredToday, r: LoadRow| day.today(RegionIdx(3), ServiceIdx(1), &r);
        assert!(day.is_new_day(before_midnight));
        day.roll(before_midnight, &[row(0, 0)]);
        assert_eq!(today(&day, row(10, 8)), (10, 8));
        assert!(!day.is_new_day(before_midnight + 30), "same day: no snapshot needed");
        assert_eq!(today(&day, row(10, 8)), (10, 8), "same day");
        assert!(day.is_new_day(before_midnight + 120));
        day.roll(before_midnight + 120, &[row(10, 8)]);
        assert_eq!(today(&day, row(12, 9)), (2, 1), "the new day starts from the counts at midnight");
    }

    #[test]
    fn counts_of_an_earlier_start_today_are_added_until_midnight() {
        let mut day = AnsweredToday::default();
        let before_midnight = 1_795_363_140;
        day.carry(before_midnight, HashMap::from([((RegionIdx(3), ServiceIdx(1)), (5, 4))]));
        day.roll(before_midnight, &[row(0, 0)]);
        assert_eq!(day.today(RegionIdx(3), ServiceIdx(1), &row(2, 1)), (7, 5));
        assert_eq!(day.own_today(RegionIdx(3), ServiceIdx(1), &row(2, 1)), (2, 1));
        day.roll(before_midnight + 120, &[row(2, 1)]);
        assert_eq!(day.today(RegionIdx(3), ServiceIdx(1), &row(3, 2)), (1, 1), "a new day carries nothing");
    }

    #[test]
    fn restored_samples_older_than_an_hour_are_left_out() {
        let mut h = WaitingHistory::new(10);
        h.restore(10_000, vec![(5_000, vec![9]), (7_000, vec![1]), (9_990, vec![2])]);
        assert_eq!(h.samples.iter().map(|s| s.at).collect::<Vec<_>>(), [7_000, 9_990]);
        assert!(h.due(10_000), "the first sample after a restart is taken at once");
    }

    #[test]
    fn history_keeps_an_hour_summed_over_the_scope() {
        let mut h = WaitingHistory::new(10);
        let waiting = |hall: u32, n: u32| LoadRow {
            hall: Some(RegionIdx(hall)),
            service: Some(ServiceIdx(0)),
            waiting: n,
            ..LoadRow::default()
        };
        for i in 0..400u64 {
            assert!(h.due(1000 + i * 10));
            h.record(1000 + i * 10, 4, &[waiting(1, 2), waiting(2, 3)]);
            assert!(!h.due(1000 + i * 10 + 9));
        }
        assert_eq!(h.samples.len(), 361, "an hour of 10 s samples, both ends included");
        assert!(h.samples.iter().all(|s| s.by_region == vec![0, 2, 3, 0]));
    }
}
