//! Call quality figures from the peer connection's stats report.

use std::time::Instant;

use webrtc::peer_connection::PeerConnection;

/// RTT, loss and throughput of a call as seen from one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct CallStats {
    /// Current round-trip time of the nominated candidate pair, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Packets lost across inbound RTP streams (as the RTCP receiver reports count them).
    pub packets_lost: i64,
    pub packets_received: u64,
    pub bytes_received: u64,
    /// Average receive bitrate since the previous sample, in kbit/s.
    pub receive_kbps: Option<f64>,
}

/// Reads the stats report; `previous` (bytes, when) gives the bitrate since then.
pub async fn collect(pc: &dyn PeerConnection, previous: Option<(u64, Instant)>) -> CallStats {
    let now = Instant::now();
    let report = pc.get_stats(now, webrtc::peer_connection::StatsSelector::None).await;
    let mut s = CallStats::default();
    for pair in report.candidate_pairs() {
        if pair.nominated && pair.current_round_trip_time > 0.0 {
            s.rtt_ms = Some(pair.current_round_trip_time * 1000.0);
        }
    }
    for inbound in report.inbound_rtp_streams() {
        let r = &inbound.received_rtp_stream_stats;
        s.packets_lost += r.packets_lost;
        s.packets_received += r.packets_received;
        s.bytes_received += inbound.bytes_received;
    }
    if let Some((bytes, at)) = previous {
        let secs = now.duration_since(at).as_secs_f64();
        if secs > 0.0 {
            s.receive_kbps = Some(s.bytes_received.saturating_sub(bytes) as f64 * 8.0 / 1000.0 / secs);
        }
    }
    s
}
