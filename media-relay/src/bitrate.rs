//! How fast each publisher may send: the bitrate limit the relay asks of it (REMB), from what its
//! receivers' links carry.
//!
//! A publisher's own link to the relay is covered by its own bandwidth estimate: the relay sends
//! it transport-wide congestion feedback (TWCC) on what arrived. What that estimate cannot see is
//! the other side: a clerk on a thin hall line, or a supervisor watching from a phone, receives
//! through the relay, which forwards without transcoding. So the relay estimates each receiver's
//! path too — Google congestion control (the `gcc` estimator of webrtc-rs) over the TWCC feedback
//! the receiver sends about what the relay forwarded — and once a second tells each publisher
//! the tightest of its receivers' shares:
//!
//! ```text
//! limit(P) = clamp( min over receivers R of P's video: estimate(R) / videos(R),  floor, cap )
//! ```
//!
//! where `videos(R)` is the number of publishers R receives (a third party receives two), `cap`
//! is `[media] max_bitrate_kbps` (so a booth never sends more than a clerk needs, however good its
//! uplink) and `floor` keeps a picture worth sending. A receiver with no estimate yet does not
//! limit anyone; with none at all the limit is the cap.

/// Below this a VP8 picture of a face and a document is no longer worth sending (bits per second).
pub const FLOOR_BPS: f64 = 100_000.0;

/// What the relay knows of one receiver of a publisher.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReceiverPath {
    /// Its path's estimate, bits per second (None: no feedback yet).
    pub estimate_bps: Option<f64>,
    /// How many publishers' media it receives (they share its path).
    pub publishers: usize,
}

/// The limit for one publisher, given its receivers and the configured cap (bits per second).
pub fn publisher_limit(receivers: impl IntoIterator<Item = ReceiverPath>, cap_bps: f64) -> f64 {
    let cap = cap_bps.max(FLOOR_BPS);
    receivers
        .into_iter()
        .filter_map(|r| r.estimate_bps.map(|e| e / r.publishers.max(1) as f64))
        .fold(cap, f64::min)
        .clamp(FLOOR_BPS, cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(estimate: Option<f64>, publishers: usize) -> ReceiverPath {
        ReceiverPath { estimate_bps: estimate, publishers }
    }

    #[test]
    fn the_tightest_receiver_share_within_floor_and_cap() {
        // No receivers, or none with an estimate yet: the cap.
        assert_eq!(publisher_limit([], 1_500_000.0), 1_500_000.0);
        assert_eq!(publisher_limit([path(None, 1)], 1_500_000.0), 1_500_000.0);
        // A clerk whose line carries 800 kb/s.
        assert_eq!(publisher_limit([path(Some(800_000.0), 1)], 1_500_000.0), 800_000.0);
        // A third party receiving two publishers on 1 Mb/s gives each half; the clerk's 2 Mb/s
        // would allow more, but the limit is the tightest.
        assert_eq!(publisher_limit([path(Some(2_000_000.0), 1), path(Some(1_000_000.0), 2)], 1_500_000.0), 500_000.0);
        // A good path never lifts the limit above the cap; a collapsed one not below the floor.
        assert_eq!(publisher_limit([path(Some(9_000_000.0), 1)], 1_500_000.0), 1_500_000.0);
        assert_eq!(publisher_limit([path(Some(20_000.0), 1)], 1_500_000.0), FLOOR_BPS);
        // A cap set below the floor is raised to it.
        assert_eq!(publisher_limit([], 50_000.0), FLOOR_BPS);
    }
}
