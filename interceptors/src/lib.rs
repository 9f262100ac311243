//! What the media relay and the clients share on a webrtc-rs connection, so that the clients link
//! neither the relay nor its recorder: the read-side interceptor shape ([`intercept`]), keyframe
//! requests and bitrate limits handed to the application ([`feedback`]), retransmissions turned
//! back into the packets they repair ([`rtx`]), and the codecs every party sends ([`codecs`]).
#![forbid(unsafe_code)]

pub mod codecs;
pub mod feedback;
pub mod intercept;
pub mod rtx;
