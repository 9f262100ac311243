//! The server's side of the control link: [`RelayPool`] holds one connection per relay of its own
//! machine (`[media] relays`), opens each call's room on the relay that is up with the fewest
//! rooms and sends the call's later [`Op`]s there. A link that goes down reports
//! [`RelayEvent::RoomLost`] for each call it had, and is tried again every [`RETRY`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::control::{read_challenge, read_line, write_json, Op, Report, RETRY};
use crate::handshake::{proof, Purpose};
use crate::{JoinSpec, PartyId, RelayError, RelayEvent};

/// One relay of the pool, as the server sees it.
#[derive(Default)]
struct LinkState {
    addr: String,
    up: bool,
    rooms: usize,
    packets: u64,
    bytes: u64,
}

#[derive(Default)]
struct PoolState {
    links: Vec<LinkState>,
    /// Which relay holds each open call.
    calls: HashMap<u64, usize>,
}

/// The server's handle on relays of their own: opens each call's room on the relay that is up
/// with the fewest rooms, and sends the call's later operations to the same one.
#[derive(Clone)]
pub struct RelayPool {
    state: Arc<Mutex<PoolState>>,
    ops: Arc<Vec<mpsc::UnboundedSender<Op>>>,
    events: mpsc::UnboundedSender<RelayEvent>,
}

impl RelayPool {
    /// Connects to each relay (`host:port`) with `secret`, and keeps reconnecting while one is
    /// down. Events of every relay come out of the receiver. With `fetch_into`, each finished
    /// recording is copied from the relay's disk into that directory before it is reported
    /// ([`crate::transfer`]).
    /// `vault` opens the recordings sealed at rest, to check a copy against its hash.
    pub fn connect(
        addrs: &[String],
        secret: &str,
        fetch_into: Option<std::path::PathBuf>,
        vault: Option<Arc<vault::Vault>>,
    ) -> (Self, mpsc::UnboundedReceiver<RelayEvent>) {
        let (events, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(PoolState {
            links: addrs.iter().map(|a| LinkState { addr: a.clone(), ..LinkState::default() }).collect(),
            calls: HashMap::new(),
        }));
        let mut ops = vec![];
        for (i, addr) in addrs.iter().enumerate() {
            let (tx, op_rx) = mpsc::unbounded_channel();
            ops.push(tx);
            let link = Link {
                index: i,
                addr: addr.clone(),
                secret: secret.to_owned(),
                state: state.clone(),
                fetch_into: fetch_into.clone(),
                vault: vault.clone(),
            };
            tokio::spawn(link.run(op_rx, events.clone()));
        }
        (Self { state, ops: Arc::new(ops), events }, rx)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().expect("relay pool lock is never poisoned")
    }

    pub fn open(&self, call: u64, parties: Vec<JoinSpec>, fresh: bool) {
        let mut state = self.lock();
        if state.calls.contains_key(&call) {
            return;
        }
        let load = |i: usize| state.calls.values().filter(|l| **l == i).count();
        let best = (0..state.links.len()).filter(|i| state.links[*i].up).min_by_key(|i| load(*i));
        let Some(link) = best else {
            drop(state);
            tracing::warn!(call, "no media relay is up: the call has no media");
            let _ = self.events.send(RelayEvent::RoomLost { call });
            return;
        };
        state.calls.insert(call, link);
        let _ = self.ops[link].send(Op::Open { call, parties, fresh });
    }

    /// Sends one call's operation to the relay holding it.
    fn to_call(&self, call: u64, op: Op) -> Result<(), RelayError> {
        let state = self.lock();
        let link = *state.calls.get(&call).ok_or(RelayError::NotFound)?;
        if !state.links[link].up {
            return Err(RelayError::Stopped);
        }
        self.ops[link].send(op).map_err(|_| RelayError::Stopped)
    }

    pub fn join(&self, call: u64, spec: JoinSpec) -> Result<(), RelayError> {
        self.to_call(call, Op::Join { call, spec })
    }

    pub fn rejoin(&self, call: u64, spec: JoinSpec) -> Result<(), RelayError> {
        self.to_call(call, Op::Rejoin { call, spec })
    }

    pub fn answer(&self, call: u64, party: PartyId, sdp: String) -> Result<(), RelayError> {
        self.to_call(call, Op::Answer { call, party, sdp })
    }

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
        self.to_call(call, Op::Candidate { call, party, candidate, sdp_mid, sdp_mline_index })
    }

    pub fn leave(&self, call: u64, party: PartyId) -> Result<(), RelayError> {
        self.to_call(call, Op::Leave { call, party })
    }

    pub fn close(&self, call: u64) {
        let _ = self.to_call(call, Op::Close { call });
        self.lock().calls.remove(&call);
    }

    /// Each relay's address and whether its control link is up.
    pub fn links(&self) -> Vec<(String, bool)> {
        self.lock().links.iter().map(|l| (l.addr.clone(), l.up)).collect()
    }

    /// Rooms open on the relays that are up.
    pub fn rooms(&self) -> usize {
        self.lock().links.iter().filter(|l| l.up).map(|l| l.rooms).sum()
    }

    pub fn is_open(&self, call: u64) -> bool {
        self.lock().calls.contains_key(&call)
    }

    /// Packets and bytes forwarded, as the relays that are up last counted them.
    pub fn forwarded(&self) -> (u64, u64) {
        let state = self.lock();
        state.links.iter().filter(|l| l.up).fold((0, 0), |(p, b), l| (p + l.packets, b + l.bytes))
    }
}

/// The connection to one relay, kept up by its own task.
struct Link {
    index: usize,
    addr: String,
    secret: String,
    state: Arc<Mutex<PoolState>>,
    /// The server's recording directory: each finished recording is copied into it.
    fetch_into: Option<std::path::PathBuf>,
    vault: Option<Arc<vault::Vault>>,
}

impl Link {
    async fn run(self, mut ops: mpsc::UnboundedReceiver<Op>, events: mpsc::UnboundedSender<RelayEvent>) {
        let mut was_up = false;
        loop {
            match tokio::time::timeout(RETRY * 2, TcpStream::connect(&self.addr)).await {
                Ok(Ok(stream)) => {
                    self.session(stream, &mut ops, &events).await;
                    was_up = true;
                }
                Ok(Err(e)) if !was_up => tracing::debug!(relay = %self.addr, error = %e, "media relay not reachable"),
                _ => {}
            }
            self.down(&mut ops, &events);
            if events.is_closed() {
                return;
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// One connection: hello, then operations out and reports in until either side ends.
    async fn session(
        &self,
        stream: TcpStream,
        ops: &mut mpsc::UnboundedReceiver<Op>,
        events: &mpsc::UnboundedSender<RelayEvent>,
    ) {
        let _ = stream.set_nodelay(true);
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let challenge = match read_challenge(&mut reader).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(relay = %self.addr, error = %e, "media relay sent no challenge");
                return;
            }
        };
        let proof = proof(&self.secret, &challenge, Purpose::Control);
        if write_json(&mut write, &Op::Hello { proof }).await.is_err() {
            return;
        }
        // Operations queued while it was down were for rooms it no longer has.
        while ops.try_recv().is_ok() {}
        self.state.lock().expect("relay pool lock is never poisoned").links[self.index].up = true;
        tracing::info!(relay = %self.addr, "media relay connected");
        loop {
            tokio::select! {
                op = ops.recv() => {
                    let Some(op) = op else { return };
                    if write_json(&mut write, &op).await.is_err() {
                        return;
                    }
                }
                line = read_line(&mut reader) => {
                    let Some(line) = line else { return };
                    match serde_json::from_str::<Report>(&line) {
                        Ok(Report::Event { event: RelayEvent::Recorded(info) }) => {
                            self.state.lock().expect("relay pool lock is never poisoned").calls.remove(&info.call);
                            self.recorded(info, events.clone());
                        }
                        Ok(Report::Event { event }) => {
                            let _ = events.send(event);
                        }
                        Ok(Report::Counts { rooms, packets, bytes }) => {
                            let mut state = self.state.lock().expect("relay pool lock is never poisoned");
                            let link = &mut state.links[self.index];
                            (link.rooms, link.packets, link.bytes) = (rooms, packets, bytes);
                        }
                        Err(e) => tracing::warn!(relay = %self.addr, error = %e, "relay report not understood"),
                    }
                }
            }
        }
    }

    /// A recording the relay finished: copied into the server's directory first (on a connection
    /// of its own, so the room's signaling goes on meanwhile), then reported. A copy that fails is
    /// logged and the recording reported all the same: it is still on the relay's disk.
    fn recorded(&self, mut info: crate::record::RecordingInfo, events: mpsc::UnboundedSender<RelayEvent>) {
        let Some(dir) = self.fetch_into.clone() else {
            let _ = events.send(RelayEvent::Recorded(info));
            return;
        };
        let (addr, secret, vault) = (self.addr.clone(), self.secret.clone(), self.vault.clone());
        tokio::spawn(async move {
            match crate::transfer::fetch_into(&dir, &addr, &secret, &info, vault).await {
                Ok(()) => {
                    if let Some(name) = info.path.file_name() {
                        info.path = dir.join(name);
                    }
                }
                Err(e) => {
                    tracing::error!(relay = %addr, call = info.call, error = %e, "recording not copied from the relay")
                }
            }
            let _ = events.send(RelayEvent::Recorded(info));
        });
    }

    /// The link is down: every call it held has lost its room.
    fn down(&self, ops: &mut mpsc::UnboundedReceiver<Op>, events: &mpsc::UnboundedSender<RelayEvent>) {
        let lost: Vec<u64> = {
            let mut state = self.state.lock().expect("relay pool lock is never poisoned");
            let was_up = std::mem::replace(&mut state.links[self.index].up, false);
            if was_up {
                tracing::error!(relay = %self.addr, "media relay lost");
            }
            let lost: Vec<u64> = state.calls.iter().filter(|(_, l)| **l == self.index).map(|(c, _)| *c).collect();
            for call in &lost {
                state.calls.remove(call);
            }
            lost
        };
        while ops.try_recv().is_ok() {}
        for call in lost {
            let _ = events.send(RelayEvent::RoomLost { call });
        }
    }
}
