//! Interceptors that act on the read side only, written as one small trait ([`ReadStep`]) and one
//! wrapper ([`OnRead`]) that holds the queues, passes the write side through untouched and forwards
//! the remote-stream binds: the keyframe/REMB delivery ([`crate::feedback`]), the RTX unwrapping
//! ([`crate::rtx`]) and the clients' simulated loss are each only their own step.

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Interceptor, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;

/// What a read-side interceptor does with each packet on its way to the application.
pub trait ReadStep: Send + Sync {
    /// The packet to pass on (possibly changed), or None to drop it here.
    fn read(&mut self, msg: TaggedPacket) -> Option<TaggedPacket>;
    /// A remote stream was bound (its SSRC, codec, repair stream).
    fn bind_remote(&mut self, _info: &StreamInfo) {}
    fn unbind_remote(&mut self, _info: &StreamInfo) {}
}

/// An interceptor made of a [`ReadStep`].
pub struct OnRead<S> {
    step: S,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl<S: ReadStep> OnRead<S> {
    pub fn new(step: S) -> Self {
        Self { step, read: VecDeque::new(), write: VecDeque::new() }
    }
}

impl<S: ReadStep> Protocol<TaggedPacket, TaggedPacket, ()> for OnRead<S> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.read.extend(self.step.read(msg));
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl<S: ReadStep> Interceptor for OnRead<S> {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}

    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        self.step.bind_remote(info);
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.step.unbind_remote(info);
    }
}
