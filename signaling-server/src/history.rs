//! The last hour of waiting-ticket counts, for the supervisors' chart: the driver takes a sample
//! of the engine's load snapshot every `history_sample_secs`, per home hall, and keeps an hour of
//! them in a ring. A supervisor gets the sums over the halls of their scope when they connect.
//!
//! Memory is bounded: samples × regions counters (an hour at 10 s with 30 regions is 43 KB).
//!
//! [`AnsweredToday`] turns the engine's answered counts (since it started) into today's, for the
//! service level: at each change of the China date it takes the counts as the day's baseline.

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
}

fn china_day(unix: u64) -> u64 {
    (unix + 8 * 3600) / 86_400
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

    /// Today's (answered, within target) for the snapshot row of (`hall`, `service`).
    pub fn today(&self, hall: RegionIdx, service: ServiceIdx, row: &LoadRow) -> (u32, u32) {
        let (a, w) = self.baseline.get(&(hall, service)).copied().unwrap_or((0, 0));
        (row.answered.saturating_sub(a), row.answered_within_target.saturating_sub(w))
    }
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
