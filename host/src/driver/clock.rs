//! The driver's clock: one timeline in whole microseconds (`t`) that the applied log records and
//! a replay reproduces exactly. The engine is given `base + t`, never the raw clock, so a replay
//! hands it the very same instants and takes the very same decisions.
//!
//! `t` rounds up, so an instant given to the engine is never before the tokio deadline the driver
//! slept until (a timer due at that deadline always fires). After a restart the timeline goes on
//! from where the log ended, plus the wall time the server was down.

use std::time::{Duration, Instant};

pub struct Clock {
    /// The tokio instant at which `t` was `offset_us`.
    tokio_base: tokio::time::Instant,
    /// The engine's instant for `t = 0`.
    engine_base: Instant,
    offset_us: u64,
}

fn ceil_us(d: Duration) -> u64 {
    d.as_nanos().div_ceil(1000) as u64
}

impl Default for Clock {
    /// A clock at `t = 0` now.
    fn default() -> Self {
        let tokio_base = tokio::time::Instant::now();
        Self { tokio_base, engine_base: tokio_base.into_std(), offset_us: 0 }
    }
}

impl Clock {
    /// The engine's instant for `t = 0`.
    pub fn engine_base(&self) -> Instant {
        self.engine_base
    }

    /// Now, on the log's timeline.
    pub fn t_now(&self) -> u64 {
        self.offset_us + ceil_us(tokio::time::Instant::now().saturating_duration_since(self.tokio_base))
    }

    /// The engine's instant for `t`.
    pub fn instant(&self, t: u64) -> Instant {
        self.engine_base + Duration::from_micros(t)
    }

    /// The tokio instant at which the engine's `deadline` falls due.
    pub fn tokio_deadline(&self, deadline: Instant) -> tokio::time::Instant {
        let t = ceil_us(deadline.saturating_duration_since(self.engine_base));
        self.tokio_base + Duration::from_micros(t.saturating_sub(self.offset_us))
    }

    /// Goes on from `t` (after a replay): the timeline continues at `t` from now.
    pub fn resume_at(&mut self, t: u64) {
        self.tokio_base = tokio::time::Instant::now();
        self.offset_us = t;
    }
}

/// The wall clock, Unix seconds: what the supervisors' feed and the grid's history are dated by
/// (the tick's, never an applied input's: those take their time from the timeline).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn deadlines_map_back_to_instants_that_are_not_early() {
        let mut c = Clock::default();
        tokio::time::advance(Duration::from_nanos(1_500)).await;
        assert_eq!(c.t_now(), 2, "rounded up");
        let deadline = c.instant(0) + Duration::from_nanos(20_000_300);
        let wake = c.tokio_deadline(deadline);
        tokio::time::advance(wake - tokio::time::Instant::now()).await;
        assert!(c.instant(c.t_now()) >= deadline);
        c.resume_at(1_000_000);
        assert_eq!(c.t_now(), 1_000_000);
        assert!(c.tokio_deadline(c.instant(500)) <= tokio::time::Instant::now(), "a past deadline is due now");
    }
}
