//! The handle the signaling server drives the relay with: open a room per call, pass the
//! parties' answers and candidates on, let parties join and leave, close the room. Every method
//! returns at once (the room's task does the work), so the server's routing loop never waits on
//! media. [`Relay`] is the in-process [`LocalRelay`] or a pool of remote relays
//! ([`crate::pool::RelayPool`]) behind the same methods.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use webrtc::peer_connection::RTCIceCandidateInit;

use crate::forward::ForwardCounters;
use crate::participant::ConnectionSettings;
use crate::room::{Room, RoomCommand, RoomSetup};
use crate::{JoinSpec, PartyId, RelayError, RelayEvent};

/// Where the relay listens and records.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The address the relay's UDP sockets bind to; parties must reach it (or `public_ip`).
    pub bind_ip: IpAddr,
    /// Advertised instead of `bind_ip` when the relay sits behind a 1:1 NAT.
    pub public_ip: Option<IpAddr>,
    /// Directory for call recordings (`call-<id>.webm`); `None` records nothing.
    pub record_dir: Option<PathBuf>,
    /// The most a publisher is asked to send, in kb/s (REMB; see [`crate::bitrate`]).
    pub max_bitrate_kbps: u32,
    /// Seals recordings (and their views) at rest; `None` writes them in clear.
    pub vault: Option<Arc<vault::Vault>>,
}

/// The default of [`RelayConfig::max_bitrate_kbps`]: enough for a sharp 640×480 picture of a face
/// or a held-up document, and a fifth of a typical 8 Mb/s village uplink.
pub const DEFAULT_MAX_BITRATE_KBPS: u32 = 1_500;

/// A relay in this process.
#[derive(Clone)]
pub struct LocalRelay {
    config: RelayConfig,
    rooms: Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<RoomCommand>>>>,
    events: mpsc::UnboundedSender<RelayEvent>,
    runtime: tokio::runtime::Handle,
    counters: Arc<ForwardCounters>,
}

impl LocalRelay {
    /// Starts a relay on the current tokio runtime; its events come out of the receiver.
    pub fn start(config: RelayConfig) -> (Self, mpsc::UnboundedReceiver<RelayEvent>) {
        let (events, rx) = mpsc::unbounded_channel();
        let relay = Self {
            config,
            rooms: Arc::default(),
            events,
            runtime: tokio::runtime::Handle::current(),
            counters: Arc::default(),
        };
        (relay, rx)
    }

    /// Opens the call's room with its first parties (a room already open is left as it is).
    /// Recorded when the relay records: the publishing parties, in the order given. `fresh`: the
    /// parties may hold connections to an earlier room of the call (the server restarted), so
    /// their first offers say so.
    pub fn open(&self, call: u64, parties: Vec<JoinSpec>, fresh: bool) {
        let mut rooms = self.rooms.lock().expect("rooms lock is never poisoned");
        if rooms.contains_key(&call) {
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        rooms.insert(call, tx);
        let record_to = self.config.record_dir.as_ref().map(|dir| recording_path(dir, call));
        let settings = ConnectionSettings {
            bind_ip: self.config.bind_ip,
            public_ip: self.config.public_ip,
            max_bitrate_bps: f64::from(self.config.max_bitrate_kbps) * 1000.0,
        };
        let room = Room::run(
            RoomSetup { call, settings, parties, fresh, record_to, seal_with: self.config.vault.clone() },
            self.events.clone(),
            self.counters.clone(),
            rx,
        );
        let rooms = self.rooms.clone();
        self.runtime.spawn(async move {
            room.await;
            rooms.lock().expect("rooms lock is never poisoned").remove(&call);
        });
    }

    /// A party joins the open room, or joins again with a fresh connection.
    pub fn join(&self, call: u64, spec: JoinSpec) -> Result<(), RelayError> {
        self.send(call, RoomCommand::Join(spec))
    }

    /// A party that may have lost its side of the connection (it reconnected to the server):
    /// joins again with a fresh connection unless the relay's side is up.
    pub fn rejoin(&self, call: u64, spec: JoinSpec) -> Result<(), RelayError> {
        self.send(call, RoomCommand::Rejoin(spec))
    }

    pub fn answer(&self, call: u64, party: PartyId, sdp: String) -> Result<(), RelayError> {
        self.send(call, RoomCommand::Answer { party, sdp })
    }

    /// A party's ICE candidate (an empty one, the end marker, is ignored).
    pub fn candidate(
        &self,
        call: u64,
        party: PartyId,
        candidate: String,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u16>,
    ) -> Result<(), RelayError> {
        if candidate.is_empty() {
            return Ok(());
        }
        let init = RTCIceCandidateInit { candidate, sdp_mid, sdp_mline_index, ..Default::default() };
        self.send(call, RoomCommand::Candidate { party, init })
    }

    pub fn leave(&self, call: u64, party: PartyId) -> Result<(), RelayError> {
        self.send(call, RoomCommand::Leave { party })
    }

    /// Closes the room: connections closed, the recording completed (reported as
    /// [`RelayEvent::Recorded`]).
    pub fn close(&self, call: u64) {
        let _ = self.send(call, RoomCommand::Close);
    }

    /// Rooms open now.
    pub fn rooms(&self) -> usize {
        self.rooms.lock().expect("rooms lock is never poisoned").len()
    }

    /// Whether the call's room is open.
    pub fn is_open(&self, call: u64) -> bool {
        self.rooms.lock().expect("rooms lock is never poisoned").contains_key(&call)
    }

    /// RTP packets and payload bytes forwarded so far, over all rooms.
    pub fn forwarded(&self) -> (u64, u64) {
        (self.counters.packets.load(Ordering::Relaxed), self.counters.bytes.load(Ordering::Relaxed))
    }

    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// The calls whose rooms are open.
    pub fn open_calls(&self) -> Vec<u64> {
        self.rooms.lock().expect("rooms lock is never poisoned").keys().copied().collect()
    }

    fn send(&self, call: u64, command: RoomCommand) -> Result<(), RelayError> {
        let rooms = self.rooms.lock().expect("rooms lock is never poisoned");
        let room = rooms.get(&call).ok_or(RelayError::NotFound)?;
        room.send(command).map_err(|_| RelayError::NotFound)
    }
}

/// Where a call's recording is written: `call-<id>.webm`, or `call-<id>.<n>.webm` for the n-th
/// part when the room had to be opened again (the server restarted mid-call).
pub fn recording_path(dir: &std::path::Path, call: u64) -> PathBuf {
    let first = dir.join(format!("call-{call}.webm"));
    if !first.exists() {
        return first;
    }
    (2..).map(|n| dir.join(format!("call-{call}.{n}.webm"))).find(|p| !p.exists()).expect("some part number is free")
}

/// The relay the signaling server drives: in its own process, or `xiaowu-relay` processes on
/// other machines. Same methods either way.
#[derive(Clone)]
pub enum Relay {
    Local(LocalRelay),
    Remote(crate::pool::RelayPool),
}

macro_rules! both {
    ($self:ident, $r:ident => $e:expr) => {
        match $self {
            Relay::Local($r) => $e,
            Relay::Remote($r) => $e,
        }
    };
}

impl Relay {
    /// Starts an in-process relay (see [`LocalRelay::start`]).
    pub fn start(config: RelayConfig) -> (Self, mpsc::UnboundedReceiver<RelayEvent>) {
        let (relay, events) = LocalRelay::start(config);
        (Relay::Local(relay), events)
    }

    /// See [`LocalRelay::open`]. A remote pool opens the room on a relay that is up; with none up,
    /// [`RelayEvent::RoomLost`] follows at once.
    pub fn open(&self, call: u64, parties: Vec<JoinSpec>, fresh: bool) {
        both!(self, r => r.open(call, parties, fresh))
    }

    pub fn join(&self, call: u64, spec: JoinSpec) -> Result<(), RelayError> {
        both!(self, r => r.join(call, spec))
    }

    pub fn rejoin(&self, call: u64, spec: JoinSpec) -> Result<(), RelayError> {
        both!(self, r => r.rejoin(call, spec))
    }

    pub fn answer(&self, call: u64, party: PartyId, sdp: String) -> Result<(), RelayError> {
        both!(self, r => r.answer(call, party, sdp))
    }

    pub fn candidate(
        &self,
        call: u64,
        party: PartyId,
        candidate: String,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u16>,
    ) -> Result<(), RelayError> {
        both!(self, r => r.candidate(call, party, candidate, sdp_mid, sdp_mline_index))
    }

    pub fn leave(&self, call: u64, party: PartyId) -> Result<(), RelayError> {
        both!(self, r => r.leave(call, party))
    }

    pub fn close(&self, call: u64) {
        both!(self, r => r.close(call))
    }

    pub fn rooms(&self) -> usize {
        both!(self, r => r.rooms())
    }

    pub fn is_open(&self, call: u64) -> bool {
        both!(self, r => r.is_open(call))
    }

    pub fn forwarded(&self) -> (u64, u64) {
        both!(self, r => r.forwarded())
    }
}
