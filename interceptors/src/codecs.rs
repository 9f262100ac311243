//! The codecs every party of a relayed call sends and receives: VP8 (with RTX) and Opus. The relay
//! forwards without transcoding and records VP8 + Opus, so the relay's connections and the
//! clients' register exactly these.

use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8};
use rtc::rtp_transceiver::rtp_sender::{RTCPFeedback, RTCRtpCodec, RtpCodecKind};

/// The codec offered for a kind.
pub fn codec(kind: RtpCodecKind) -> RTCRtpCodec {
    match kind {
        RtpCodecKind::Video => RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: ["goog-remb:", "ccm:fir", "nack:", "nack:pli"]
                .iter()
                .map(|f| {
                    let (typ, parameter) = f.split_once(':').expect("every entry has a colon");
                    RTCPFeedback { typ: typ.into(), parameter: parameter.into() }
                })
                .collect(),
        },
        _ => RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
    }
}

/// Retransmissions of VP8 (RFC 4588 RTX, payload type 97 for VP8's 96): a resent packet travels on
/// a stream of its own, so a receiver's statistics and jitter estimate are not disturbed by it.
/// webrtc-rs unwraps what arrives on it back into the primary stream, and its NACK responder
/// resends on it for every receiver that negotiated it.
pub fn rtx_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_RTX.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: "apt=96".to_owned(),
        rtcp_feedback: vec![],
    }
}
