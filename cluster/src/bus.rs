//! The cluster's bus on Redis Streams (not pub/sub: a stream keeps what a reconnecting reader has
//! not read yet).
//!
//! - `<p>:inputs`: every gateway appends its inputs (connects, disconnects, client messages,
//!   stored documents) here, in the order it saw them ([`spawn_input_appender`]); the router reads
//!   them in stream order ([`spawn_input_reader`]) and logs each applied entry with the input's
//!   stream id, so a router that takes over reads on after the last one logged — an input a dead
//!   router never applied is applied by the next.
//! - `<p>:out:<gateway>`: what the router says to a connection on that gateway, published after
//!   the batch that caused it is committed ([`RedisBus`]), by a Lua script that checks the
//!   router's epoch in the same step (a deposed router cannot publish). Each gateway tails its own
//!   stream ([`spawn_outbound_tail`]) and hands the messages to its hub; it ignores anything of an
//!   older epoch than it has already seen.
//!
//! Every reader and writer here runs on a thread of its own with a blocking connection, and makes
//! its connection again when Redis restarts or Sentinel fails over; an appender retries its batch
//! until it lands (the socket tasks wait meanwhile: back-pressure, nothing dropped).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use protocol::ServerMessage;
use tokio::sync::mpsc;

use crate::redis_log::{connect, replicas_for, wait_for_replicas, Keys};
use crate::ClusterError;
use host::bus::{close_reason, GatewayInput, RemoteBus, RemoteOut, RemoteWhat};
use host::commands::Command;
use host::hub::Hub;

/// Inputs appended per round trip at most.
const INPUT_BATCH: usize = 256;
/// Entries kept in a gateway's outbound stream (approximately): bounds a dead gateway's stream.
const OUTBOUND_MAXLEN: u64 = 100_000;
/// How long a reader blocks on an empty stream; well under the connection's 5 s read timeout.
const BLOCK: Duration = Duration::from_millis(1000);

/// Publishes a batch for other gateways if the epoch still holds (a Redis without an epoch — an
/// empty master just restarted, before Sentinel makes it a replica — is an error to retry, not a
/// newer router). KEYS: epoch, then one outbound
/// stream per message. ARGV: epoch, max length, then per message: connection, kind (`m` message,
/// `x` close), payload.
const FENCED_PUBLISH: &str = r#"
local current = redis.call('GET', KEYS[1])
if not current then
  return redis.error_reply('NOSTATE no epoch here: not the cluster master yet')
end
if current ~= ARGV[1] then
  return redis.error_reply('FENCED')
end
for i = 2, #KEYS do
  local a = 3 + (i - 2) * 3
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[2], '*', 'ep', ARGV[1], 'c', ARGV[a], ARGV[a + 1], ARGV[a + 2])
end
return #KEYS - 1
"#;

/// Sleeps after a failed Redis call: doubling from 50 ms up to a second.
fn back_off(pause: &mut Duration) {
    std::thread::sleep(*pause);
    *pause = (*pause * 2).min(Duration::from_secs(1));
}

/// Starts this gateway's appender: what is sent on the returned channel lands in `<p>:inputs`,
/// in order (a failed batch is retried until it lands). Through Sentinel, a batch counts as
/// landed once the replica has it (`WAIT`), so a failover cannot lose an input the client sent.
/// Each input carries this appender's id and a sequence number: a batch whose answer was lost
/// and that was sent again is read once ([`spawn_input_reader`] skips what it has seen).
pub fn spawn_input_appender(url: String, keys: Keys) -> mpsc::Sender<GatewayInput> {
    let (tx, mut rx) = mpsc::channel::<GatewayInput>(4096);
    let appender = format!("{}-{}", std::process::id(), store::now_ms());
    let replicas = replicas_for(&url);
    let spawned = std::thread::Builder::new().name("gateway-inputs".into()).spawn(move || {
        let (mut conn, mut seq) = (None, 0u64);
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < INPUT_BATCH {
                match rx.try_recv() {
                    Ok(input) => batch.push(input),
                    Err(_) => break,
                }
            }
            let mut pipe = redis::pipe();
            for input in &batch {
                seq += 1;
                let json = serde_json::to_string(input).expect("an input serializes");
                pipe.cmd("XADD")
                    .arg(&keys.inputs)
                    .arg("*")
                    .arg("a")
                    .arg(&appender)
                    .arg("s")
                    .arg(seq)
                    .arg("i")
                    .arg(json);
                pipe.ignore();
            }
            let mut pause = Duration::from_millis(50);
            loop {
                if conn.is_none() {
                    conn = connect(&url).ok();
                }
                if let Some(c) = conn.as_mut() {
                    match pipe.query::<()>(c).map_err(ClusterError::from).and_then(|()| wait_for_replicas(c, replicas))
                    {
                        Ok(()) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "appending gateway inputs failed; reconnecting and retrying");
                            conn = None;
                        }
                    }
                }
                back_off(&mut pause);
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the gateway's input appender");
    }
    tx
}

/// Starts the router's reader of `<p>:inputs` after stream id `after` (`"0"`: from the start):
/// each input goes to the driver as [`Command::Input`] with its stream id. Stops when `stop` is
/// set or the driver is gone.
pub fn spawn_input_reader(
    url: String,
    keys: Keys,
    after: String,
    commands: mpsc::Sender<Command>,
    stop: Arc<AtomicBool>,
) {
    let spawned = std::thread::Builder::new().name("router-inputs".into()).spawn(move || {
        let mut tail = StreamTail::new(url, keys.inputs.clone(), after);
        // Each appender's last sequence number read: a batch appended twice is read once.
        let mut seen: HashMap<String, u64> = HashMap::new();
        while !stop.load(Ordering::SeqCst) {
            for (id, fields) in tail.next(INPUT_BATCH, "gateway inputs") {
                if let (Some(appender), Some(seq)) =
                    (field(&fields, "a"), field(&fields, "s").and_then(|s| s.parse().ok()))
                {
                    let last = seen.entry(appender.to_owned()).or_insert(0);
                    if seq <= *last {
                        continue;
                    }
                    *last = seq;
                }
                let Some(input) = field(&fields, "i").and_then(|j| serde_json::from_str::<GatewayInput>(j).ok()) else {
                    tracing::error!(id, "an input in the stream cannot be read; skipped");
                    continue;
                };
                if commands.blocking_send(Command::Input { src: Some(id), input }).is_err() {
                    return;
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the router's input reader");
    }
}

type StreamEntry = (String, Vec<(String, String)>);

/// Follows one stream from after an id, across lost connections (made again with a back-off).
struct StreamTail {
    url: String,
    stream: String,
    after: String,
    conn: Option<redis::Connection>,
    pause: Duration,
}

impl StreamTail {
    fn new(url: String, stream: String, after: String) -> Self {
        Self { url, stream, after, conn: None, pause: Duration::from_millis(50) }
    }

    /// The next entries, at most `count`, waiting up to [`BLOCK`] for the first; none after a
    /// failure (the connection is made again at the next call, after a pause).
    fn next(&mut self, count: usize, what: &str) -> Vec<StreamEntry> {
        if self.conn.is_none() {
            self.conn = connect(&self.url).ok();
        }
        let Some(c) = self.conn.as_mut() else {
            back_off(&mut self.pause);
            return Vec::new();
        };
        match xread(c, &self.stream, &self.after, count) {
            Ok(entries) => {
                self.pause = Duration::from_millis(50);
                if let Some((id, _)) = entries.last() {
                    self.after.clone_from(id);
                }
                entries
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading {what} failed; reconnecting");
                self.conn = None;
                back_off(&mut self.pause);
                Vec::new()
            }
        }
    }

    /// Drops what has been read (the reader is the stream's only consumer).
    fn trim_read(&mut self) {
        if let Some(c) = self.conn.as_mut() {
            let _ = redis::cmd("XTRIM").arg(&self.stream).arg("MINID").arg(&self.after).query::<u64>(c);
        }
    }
}

/// Up to `count` entries of `stream` after id `after`, waiting up to [`BLOCK`] for the first.
fn xread(c: &mut redis::Connection, stream: &str, after: &str, count: usize) -> redis::RedisResult<Vec<StreamEntry>> {
    let reply: Option<Vec<(String, Vec<StreamEntry>)>> = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(count)
        .arg("BLOCK")
        .arg(BLOCK.as_millis() as u64)
        .arg("STREAMS")
        .arg(stream)
        .arg(after)
        .query(c)?;
    Ok(reply.unwrap_or_default().into_iter().flat_map(|(_, e)| e).collect())
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The router's publisher to other gateways' outbound streams, under its epoch.
pub struct RedisBus {
    url: String,
    keys: Keys,
    epoch: u64,
    conn: Option<redis::Connection>,
    replicas: u64,
    /// The driver the gateways' inputs are read into, once it routes.
    commands: mpsc::Sender<Command>,
}

impl RedisBus {
    pub fn new(url: &str, keys: Keys, epoch: u64, commands: mpsc::Sender<Command>) -> Self {
        Self { url: url.to_owned(), keys, epoch, conn: None, replicas: replicas_for(url), commands }
    }

    fn try_publish(&mut self, out: &[RemoteOut]) -> Result<(), ClusterError> {
        if self.conn.is_none() {
            self.conn = Some(connect(&self.url)?);
        }
        let conn = self.conn.as_mut().expect("connected just above");
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(FENCED_PUBLISH).arg(out.len() + 1).arg(&self.keys.epoch);
        for o in out {
            cmd.arg(self.keys.outbound(&o.gateway));
        }
        cmd.arg(self.epoch).arg(OUTBOUND_MAXLEN);
        for o in out {
            match &o.what {
                RemoteWhat::Msg(m) => cmd.arg(o.conn).arg("m").arg(m.encode()),
                RemoteWhat::Close(r) => cmd.arg(o.conn).arg("x").arg(r.as_str()),
            };
        }
        match cmd.query::<u64>(conn) {
            // Through Sentinel the replica must have it too: a failover then loses no answer.
            Ok(_) => wait_for_replicas(conn, self.replicas),
            Err(e) if e.to_string().contains("FENCED") => Err(ClusterError::Fenced { mine: self.epoch, current: 0 }),
            Err(e) => Err(e.into()),
        }
    }
}

impl RemoteBus for RedisBus {
    /// Retried (a new connection each time) for up to 30 s, like the log's commit.
    fn publish(&mut self, out: Vec<RemoteOut>) -> Result<(), String> {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            match self.try_publish(&out) {
                Ok(()) => return Ok(()),
                Err(e @ ClusterError::Fenced { .. }) => return Err(e.to_string()),
                Err(e) if started.elapsed() < Duration::from_secs(30) => {
                    tracing::warn!(error = %e, "publishing to gateways failed; reconnecting and retrying");
                    self.conn = None;
                    back_off(&mut pause);
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    fn read_inputs_after(&mut self, after: String) {
        let stop = Arc::new(AtomicBool::new(false));
        spawn_input_reader(self.url.clone(), self.keys.clone(), after, self.commands.clone(), stop);
    }

    /// Drops inputs before `upto` (the last one the log recorded): a new router never reads them.
    fn trim_inputs(&mut self, upto: &str) {
        if self.conn.is_none() {
            self.conn = connect(&self.url).ok();
        }
        if let Some(c) = self.conn.as_mut() {
            let _ = redis::cmd("XTRIM").arg(&self.keys.inputs).arg("MINID").arg(upto).query::<u64>(c);
        }
    }
}

/// Starts this gateway's reader of its outbound stream: each message goes to its connection in
/// the hub; a message of an older epoch than one already seen (a deposed router's) is dropped.
pub fn spawn_outbound_tail(url: String, keys: Keys, gateway: String, hub: Arc<Hub>) {
    let spawned = std::thread::Builder::new().name("gateway-outbound".into()).spawn(move || {
        let mut tail = StreamTail::new(url, keys.outbound(&gateway), "0".to_owned());
        let mut newest_epoch = 0u64;
        loop {
            let entries = tail.next(1024, "this gateway's outbound stream");
            for (_, fields) in &entries {
                let epoch: u64 = field(fields, "ep").and_then(|e| e.parse().ok()).unwrap_or(0);
                if epoch < newest_epoch {
                    tracing::warn!(epoch, newest_epoch, "a message of a deposed router ignored");
                    continue;
                }
                newest_epoch = epoch;
                let Some(to) = field(fields, "c").and_then(|c| c.parse::<u64>().ok()) else { continue };
                if let Some(msg) = field(fields, "m").and_then(|m| serde_json::from_str::<ServerMessage>(m).ok()) {
                    hub.deliver(to, msg);
                } else if let Some(reason) = field(fields, "x").and_then(close_reason) {
                    hub.close(to, reason);
                }
            }
            if !entries.is_empty() {
                // Read: nobody needs them again.
                tail.trim_read();
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the gateway's outbound reader");
    }
}
