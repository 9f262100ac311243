//! The last hour of waiting-ticket counts, for the supervisors' chart: the driver takes a sample
//! of the engine's load snapshot every `history_sample_secs`, per home hall, and keeps an hour of
//! them in a ring. A supervisor gets the sums over the halls of their scope when they connect.
//!
//! Memory is bounded: samples × regions counters (an hour at 10 s with 30 regions is 43 KB).

use std::collections::VecDeque;

use protocol::WaitingPoint;
use routing::{Directory, LoadRow, RegionIdx};

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
