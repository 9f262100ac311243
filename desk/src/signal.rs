//! Signaling payloads (SDP and ICE candidates) checked before they reach the call's other party
//! or the relay: shape checks only; the peers' WebRTC stacks do the real parsing.

use protocol::{CallId, ClientMessage, ServerMessage};

/// Largest ICE candidate line accepted.
pub const MAX_CANDIDATE_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("SDP does not start with `v=0`")]
    NotSdp,
    #[error("ICE candidate is malformed")]
    BadCandidate,
}

pub fn call_of(msg: &ClientMessage) -> Option<CallId> {
    match msg {
        ClientMessage::Sdp { call, .. } | ClientMessage::IceCandidate { call, .. } => Some(*call),
        _ => None,
    }
}

/// Checks a relayed payload and builds the message for the other party.
pub fn validate(msg: &ClientMessage) -> Result<ServerMessage, SignalError> {
    match msg {
        ClientMessage::Sdp { call, kind, sdp } => {
            if !sdp.starts_with("v=0") {
                return Err(SignalError::NotSdp);
            }
            Ok(ServerMessage::Sdp { call: *call, kind: *kind, sdp: sdp.clone(), fresh: false })
        }
        ClientMessage::IceCandidate { call, candidate, sdp_mid, sdp_mline_index } => {
            // An empty candidate is the standard end-of-candidates marker.
            let well_formed = candidate.is_empty()
                || (candidate.len() <= MAX_CANDIDATE_BYTES
                    && candidate.starts_with("candidate:")
                    && candidate.split_ascii_whitespace().count() >= 8
                    && !candidate.chars().any(char::is_control));
            let mid_ok = sdp_mid.as_ref().is_none_or(|m| m.len() <= 64 && !m.chars().any(char::is_control));
            if !well_formed || !mid_ok {
                return Err(SignalError::BadCandidate);
            }
            Ok(ServerMessage::IceCandidate {
                call: *call,
                candidate: candidate.clone(),
                sdp_mid: sdp_mid.clone(),
                sdp_mline_index: *sdp_mline_index,
            })
        }
        _ => unreachable!("only sdp and ice_candidate are relayed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(c: &str) -> ClientMessage {
        ClientMessage::IceCandidate {
            call: CallId(1),
            candidate: c.into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
        }
    }

    #[test]
    fn accepts_real_candidates_and_refuses_garbage() {
        assert!(validate(&cand("candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host")).is_ok());
        assert!(validate(&cand("")).is_ok());
        assert!(validate(&cand("hello")).is_err());
        assert!(validate(&cand("candidate:1 1 udp\n2130706431 127.0.0.1 50000 typ host")).is_err());
        let sdp = |s: &str| ClientMessage::Sdp { call: CallId(1), kind: protocol::SdpKind::Offer, sdp: s.into() };
        assert!(validate(&sdp("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n")).is_ok());
        assert!(validate(&sdp("garbage")).is_err());
    }
}
