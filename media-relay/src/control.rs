//! The control link between the signaling server and relays on machines of their own
//! (`xiaowu-relay`, `[media] relays` in the server's config).
//!
//! One TCP connection per relay, opened by the server: newline-delimited JSON, at most
//! [`MAX_LINE`] bytes a line. The relay's first line is a [`Challenge`]; the server's is
//! [`Op::Hello`] with its proof that it knows the shared secret (`handshake.rs`: the secret itself
//! never crosses the wire; a relay closes a connection whose first line is anything else, or
//! comes later than [`HELLO_TIMEOUT`]); then [`Op`]s, each one call's (open, join, answer, …). The relay answers with
//! [`Report`]s: the [`RelayEvent`]s of its rooms and, every second, its counts.
//!
//! The rooms belong to the connection. When it ends — the server went away, or the relay's
//! machine lost the network — the relay closes them (each recording is completed); the server,
//! seeing the link down, reports [`RelayEvent::RoomLost`] for each call it had there (the driver
//! ends those calls as `media_failed` and puts the citizens back at the head of the queue), opens
//! new rooms only on relays that are up, and connects again every second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::handshake::{proof, verify, Challenge, Purpose};
use crate::relay::LocalRelay;
use crate::{JoinSpec, PartyId, RelayConfig, RelayError, RelayEvent};

/// The longest line either side accepts (an SDP is a few kilobytes).
pub const MAX_LINE: u64 = 256 * 1024;
/// How long a relay waits for the server's `hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the server tries a relay that is down, and how often a relay sends its counts.
pub const RETRY: Duration = Duration::from_secs(1);

/// Server → relay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `proof`: [`crate::handshake::proof`] of the relay's challenge for the control session.
    Hello {
        proof: String,
    },
    /// The first line of a connection of its own: send this finished recording
    /// ([`crate::transfer`]); `proof` for this file.
    Fetch {
        proof: String,
        file: String,
    },
    Open {
        call: u64,
        parties: Vec<JoinSpec>,
        fresh: bool,
    },
    Join {
        call: u64,
        spec: JoinSpec,
    },
    Rejoin {
        call: u64,
        spec: JoinSpec,
    },
    Answer {
        call: u64,
        party: PartyId,
        sdp: String,
    },
    Candidate {
        call: u64,
        party: PartyId,
        candidate: String,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u16>,
    },
    Leave {
        call: u64,
        party: PartyId,
    },
    Close {
        call: u64,
    },
}

/// Relay → server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Report {
    Event { event: RelayEvent },
    Counts { rooms: usize, packets: u64, bytes: u64 },
}

/// Reads one line of at most [`MAX_LINE`] bytes; `None` at the end of the stream or for a line
/// over the limit (the connection is then dropped).
pub(crate) async fn read_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<String> {
    let mut line = String::new();
    let n = reader.take(MAX_LINE + 1).read_line(&mut line).await.ok()?;
    if n == 0 || (n as u64 > MAX_LINE && !line.ends_with('\n')) {
        return None;
    }
    Some(line)
}

async fn write_json(writer: &mut (impl AsyncWriteExt + Unpin), value: &impl Serialize) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value).expect("control messages always serialize");
    line.push(b'\n');
    writer.write_all(&line).await
}

/// Reads the relay's challenge, the first line of every control-port connection.
pub(crate) async fn read_challenge<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> std::io::Result<Challenge> {
    let line = tokio::time::timeout(HELLO_TIMEOUT, read_line(reader))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
        .ok_or_else(|| std::io::Error::other("the relay sent no challenge"))?;
    serde_json::from_str(&line).map_err(std::io::Error::other)
}

// ---- the relay's side -------------------------------------------------------------------

/// Serves control connections until the listener fails: each connection that says `hello` with
/// `secret` drives rooms of its own.
pub async fn serve(listener: TcpListener, config: RelayConfig, secret: String) -> std::io::Result<()> {
    loop {
        let (stream, from) = listener.accept().await?;
        let (config, secret) = (config.clone(), secret.clone());
        tokio::spawn(async move {
            tracing::info!(%from, "control connection");
            serve_one(stream, config, &secret).await;
            tracing::info!(%from, "control connection ended: its rooms are closed");
        });
    }
}

async fn serve_one(stream: TcpStream, config: RelayConfig, secret: &str) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let challenge = Challenge::fresh();
    if write_json(&mut write, &challenge).await.is_err() {
        return;
    }
    let hello = tokio::time::timeout(HELLO_TIMEOUT, read_line(&mut reader)).await.ok().flatten();
    match hello.and_then(|l| serde_json::from_str::<Op>(&l).ok()) {
        Some(Op::Hello { proof }) if verify(secret, &challenge, Purpose::Control, &proof) => {}
        Some(Op::Fetch { proof, file }) if verify(secret, &challenge, Purpose::Fetch(&file), &proof) => {
            if let Err(e) = crate::transfer::send(&mut write, config.record_dir.as_deref(), &file).await {
                tracing::warn!(error = %e, "a recording's transfer broke off");
            }
            return;
        }
        _ => {
            tracing::warn!("control connection refused: no hello proving the shared secret");
            return;
        }
    }
    let (relay, mut events) = LocalRelay::start(config);
    let mut counts = tokio::time::interval(RETRY);
    loop {
        tokio::select! {
            line = read_line(&mut reader) => {
                let Some(line) = line else { break };
                match serde_json::from_str::<Op>(&line) {
                    Ok(op) => apply(&relay, op),
                    Err(e) => tracing::warn!(error = %e, "control line not understood"),
                }
            }
            Some(event) = events.recv() => {
                if write_json(&mut write, &Report::Event { event }).await.is_err() {
                    break;
                }
            }
            _ = counts.tick() => {
                let (packets, bytes) = relay.forwarded();
                let report = Report::Counts { rooms: relay.rooms(), packets, bytes };
                if write_json(&mut write, &report).await.is_err() {
                    break;
                }
            }
        }
    }
    for call in relay.open_calls() {
        relay.close(call);
    }
}

fn apply(relay: &LocalRelay, op: Op) {
    // A call or party the relay does not have is a stale message: nothing to do.
    let _ = match op {
        Op::Hello { .. } | Op::Fetch { .. } => Ok(()),
        Op::Open { call, parties, fresh } => {
            relay.open(call, parties, fresh);
            Ok(())
        }
        Op::Join { call, spec } => relay.join(call, spec),
        Op::Rejoin { call, spec } => relay.rejoin(call, spec),
        Op::Answer { call, party, sdp } => relay.answer(call, party, sdp),
        Op::Candidate { call, party, candidate, sdp_mid, sdp_mline_index } => {
            relay.candidate(call, party, candidate, sdp_mid, sdp_mline_index)
        }
        Op::Leave { call, party } => relay.leave(call, party),
        Op::Close { call } => {
            relay.close(call);
            Ok(())
        }
    };
}

// ---- the server's side ------------------------------------------------------------------

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
    pub fn connect(
        addrs: &[String],
        secret: &str,
        fetch_into: Option<std::path::PathBuf>,
    ) -> (crate::Relay, mpsc::UnboundedReceiver<RelayEvent>) {
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
            };
            tokio::spawn(link.run(op_rx, events.clone()));
        }
        (crate::Relay::Remote(Self { state, ops: Arc::new(ops), events }), rx)
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
        let (addr, secret) = (self.addr.clone(), self.secret.clone());
        tokio::spawn(async move {
            match crate::transfer::fetch_into(&dir, &addr, &secret, &info).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_reports_read_back_as_written() {
        let op = Op::Open { call: 7, parties: vec![JoinSpec { party: "booth".into(), publish: true }], fresh: false };
        let line = serde_json::to_string(&op).unwrap();
        assert!(line.starts_with(r#"{"op":"open","call":7"#), "{line}");
        assert_eq!(serde_json::from_str::<Op>(&line).unwrap(), op);
        let report = Report::Event { event: RelayEvent::RoomLost { call: 7 } };
        let line = serde_json::to_string(&report).unwrap();
        assert_eq!(line, r#"{"type":"event","event":{"event":"room_lost","call":7}}"#);
        assert_eq!(serde_json::from_str::<Report>(&line).unwrap(), report);
    }
}
