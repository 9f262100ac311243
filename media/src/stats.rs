//! Call quality figures from the peer connection's stats report.

use std::time::Instant;

use rtc::peer_connection::transport::RTCIceCandidatePair;
use rtc::statistics::report::RTCStatsReportEntry;
use webrtc::peer_connection::PeerConnection;

/// RTT, loss and throughput of a call as seen from one side.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CallStats {
    /// Current round-trip time of the nominated candidate pair, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Packets lost across inbound RTP streams (as the RTCP receiver reports count them).
    pub packets_lost: i64,
    pub packets_received: u64,
    pub bytes_received: u64,
    /// Retransmitted packets received (on an RTX stream), and NACKs this side sent for lost ones.
    pub retransmitted_packets_received: u64,
    pub nacks_sent: u64,
    /// Retransmitted packets this side sent (on its RTX streams) when the other side asked.
    pub retransmitted_packets_sent: u64,
    /// Average receive bitrate since the previous sample, in kbit/s.
    pub receive_kbps: Option<f64>,
    /// The selected candidate pair: this side's candidate type (`host`, `srflx`, `prflx`,
    /// `relay`) and both addresses (`ip:port`).
    pub local_candidate_type: Option<String>,
    pub local_address: Option<String>,
    pub remote_address: Option<String>,
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
        if pair.nominated {
            // A candidate's stats id is `RTC{Local,Remote}IceCandidate_<id>`; the pair names `<id>`.
            let names = |stats_id: &str, id: &str| {
                stats_id == id || stats_id.strip_suffix(id).is_some_and(|p| p.ends_with('_'))
            };
            for entry in report.iter() {
                match entry {
                    RTCStatsReportEntry::LocalCandidate(c) if names(&c.stats.id, &pair.local_candidate_id) => {
                        s.local_candidate_type = Some(c.candidate_type.to_string());
                        s.local_address = c.address.as_ref().map(|a| format!("{a}:{}", c.port));
                    }
                    RTCStatsReportEntry::RemoteCandidate(c) if names(&c.stats.id, &pair.remote_candidate_id) => {
                        s.remote_address = c.address.as_ref().map(|a| format!("{a}:{}", c.port));
                    }
                    _ => {}
                }
            }
        }
    }
    // The ICE agent's own selected pair (`getSelectedCandidatePair()`) is the authority on the
    // path: the report's candidate entries can miss one (a peer-reflexive candidate learnt from a
    // check has no entry), and a loaded machine showed a report naming no local address.
    if let Some(pair) = selected_pair(pc).await {
        let (local, remote) = (pair.local(), pair.remote());
        s.local_candidate_type = Some(local.typ.to_string());
        s.local_address = Some(format!("{}:{}", local.address, local.port));
        s.remote_address = Some(format!("{}:{}", remote.address, remote.port));
    }
    for inbound in report.inbound_rtp_streams() {
        let r = &inbound.received_rtp_stream_stats;
        s.packets_lost += r.packets_lost;
        s.packets_received += r.packets_received;
        s.bytes_received += inbound.bytes_received;
        s.retransmitted_packets_received += inbound.retransmitted_packets_received;
        s.nacks_sent += u64::from(inbound.nack_count);
    }
    for outbound in report.outbound_rtp_streams() {
        s.retransmitted_packets_sent += outbound.retransmitted_packets_sent;
    }
    if let Some((bytes, at)) = previous {
        let secs = now.duration_since(at).as_secs_f64();
        if secs > 0.0 {
            s.receive_kbps = Some(s.bytes_received.saturating_sub(bytes) as f64 * 8.0 / 1000.0 / secs);
        }
    }
    s
}

/// The candidate pair ICE selected, read from the transport the media senders use.
async fn selected_pair(pc: &dyn PeerConnection) -> Option<RTCIceCandidatePair> {
    for transceiver in pc.get_transceivers().await {
        let Ok(Some(sender)) = transceiver.sender().await else { continue };
        let Ok(Some(dtls)) = sender.transport().await else { continue };
        if let Ok(Some(pair)) = dtls.ice_transport().get_selected_candidate_pair().await {
            return Some(pair);
        }
    }
    None
}
