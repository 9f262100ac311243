//! The router lease and the applied log in Redis.
//!
//! Keys (under the configured prefix, `xiaowu` by default):
//! - `<p>:lease` — the router's node id, set with `NX PX <lease_ms>` and renewed by its holder;
//! - `<p>:epoch` — incremented at every acquisition: the fencing token;
//! - `<p>:applied` — a Stream of applied entries (field `e`: the entry as JSON, as in the file
//!   log), appended only by a Lua script that first checks `<p>:epoch` against the writer's epoch,
//!   in the same atomic step. A router whose lease lapsed and was taken over can never append
//!   again: its epoch is old;
//! - `<p>:inputs`, `<p>:out:<gateway>`, `<p>:gateways` — the bus (`cluster::bus`) and the
//!   gateways' heartbeats (`cluster::nodes`).
//!
//! Synchronous by design, like the file log: the driver appends a batch and commits it (one
//! `EVAL`) before the batch's answers go out.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::ClusterError;
use host::routing_log::{AppliedLog, Logged};

/// Appends a batch if the epoch still holds, once: a batch id already appended (a retry after a
/// lost answer, e.g. across a Redis failover) is not appended again. KEYS: epoch, stream, last
/// batch. ARGV: epoch, batch id, entries….
const FENCED_APPEND: &str = r#"
local current = redis.call('GET', KEYS[1])
if not current then
  return redis.error_reply('NOSTATE no epoch here: not the cluster master yet')
end
if current ~= ARGV[1] then
  return redis.error_reply('FENCED ' .. tostring(current))
end
if redis.call('GET', KEYS[3]) == ARGV[2] then
  return 0
end
for i = 3, #ARGV do
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[i])
end
redis.call('SET', KEYS[3], ARGV[2])
return #ARGV - 2
"#;

/// Appends a snapshot entry if the epoch still holds, points `<p>:snapshot` at it, and drops the
/// entries before the previous snapshot (one generation is kept for `replay`). KEYS: epoch,
/// stream, snapshot pointer. ARGV: epoch, entry. Returns the entry's id.
const FENCED_SNAPSHOT: &str = r#"
local current = redis.call('GET', KEYS[1])
if not current then
  return redis.error_reply('NOSTATE no epoch here: not the cluster master yet')
end
if current ~= ARGV[1] then
  return redis.error_reply('FENCED ' .. tostring(current))
end
local id = redis.call('XADD', KEYS[2], '*', 'e', ARGV[2])
local previous = redis.call('GET', KEYS[3])
if previous then
  redis.call('XTRIM', KEYS[2], 'MINID', previous)
end
redis.call('SET', KEYS[3], id)
return id
"#;

/// Takes the lease if it is free and returns the new epoch, else 0. KEYS: lease, epoch.
/// ARGV: node, lease ms.
const ACQUIRE: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"#;

/// Extends the lease if this node still holds it: 1. If the lease ran out but nobody took it
/// (the epoch is still this router's), takes it back: 1. Held by another node or a newer epoch: 0.
/// A Redis without an epoch at all is not the cluster's master (an empty master just restarted,
/// before Sentinel makes it a replica): -1, to retry. KEYS: lease, epoch. ARGV: node, lease ms,
/// epoch.
const RENEW: &str = r#"
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  return -1
end
if not holder and epoch == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"#;

/// The Redis keys of one deployment.
#[derive(Debug, Clone)]
pub struct Keys {
    pub lease: String,
    pub epoch: String,
    pub applied: String,
    /// The id of the last batch appended (`<epoch>:<n>`), for idempotent retries.
    pub last_batch: String,
    /// The stream id of the latest snapshot entry: where a replay starts.
    pub snapshot: String,
    /// The gateways' inputs, in one stream (`cluster::bus`).
    pub inputs: String,
    /// Each gateway's last heartbeat (Unix ms), by gateway.
    pub gateways: String,
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            lease: format!("{prefix}:lease"),
            epoch: format!("{prefix}:epoch"),
            applied: format!("{prefix}:applied"),
            last_batch: format!("{prefix}:last_batch"),
            snapshot: format!("{prefix}:snapshot"),
            inputs: format!("{prefix}:inputs"),
            gateways: format!("{prefix}:gateways"),
            prefix: prefix.to_owned(),
        }
    }

    /// The stream of what the router says to connections on `gateway`.
    pub fn outbound(&self, gateway: &str) -> String {
        format!("{}:out:{gateway}", self.prefix)
    }
}

/// Connects to Redis: `redis://host:port/db`, or through Sentinel to the current master,
/// `redis-sentinel://host:port,host:port,…/master-name`.
pub fn connect(url: &str) -> Result<redis::Connection, ClusterError> {
    if let Some(rest) = url.strip_prefix("redis-sentinel://") {
        let (hosts, master) = rest
            .split_once('/')
            .filter(|(h, m)| !h.is_empty() && !m.is_empty())
            .ok_or_else(|| ClusterError::Redis(format!("expected redis-sentinel://host:port,…/master, got {url}")))?;
        let sentinels: Vec<&str> = hosts.split(',').collect();
        let address = master_by_quorum(&sentinels, master.trim_end_matches('/'))?;
        let client = redis::Client::open(format!("redis://{address}/"))?;
        let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
        conn.set_read_timeout(Some(Duration::from_secs(5)))?;
        // It must say so itself too (a master Sentinel has just demoted is not one).
        let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut conn)?;
        if !matches!(role.first(), Some(redis::Value::BulkString(r)) if r.as_slice() == b"master") {
            return Err(ClusterError::Redis(format!("{address}, named master by the Sentinels, is not one (yet)")));
        }
        return Ok(conn);
    }
    let client = redis::Client::open(url)?;
    let conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(conn)
}

/// The master's address as a majority of the Sentinels name it. One Sentinel alone may not have
/// heard of a failover yet and name the old master — which, restarted without its data, answers as
/// a master until Sentinel makes it a replica: a node must not take (or renew) a lease there.
fn master_by_quorum(sentinels: &[&str], master: &str) -> Result<String, ClusterError> {
    let mut votes: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for sentinel in sentinels {
        let asked = redis::Client::open(format!("redis://{sentinel}/")).and_then(|c| {
            let mut conn = c.get_connection_with_timeout(Duration::from_millis(500))?;
            conn.set_read_timeout(Some(Duration::from_millis(500)))?;
            redis::cmd("SENTINEL").arg("get-master-addr-by-name").arg(master).query::<Option<(String, u16)>>(&mut conn)
        });
        if let Ok(Some((host, port))) = asked {
            *votes.entry(format!("{host}:{port}")).or_default() += 1;
        }
    }
    let majority = sentinels.len() / 2 + 1;
    votes.into_iter().find(|(_, n)| *n >= majority).map(|(address, _)| address).ok_or_else(|| {
        ClusterError::Redis(format!("no majority of the {} Sentinels names a master `{master}`", sentinels.len()))
    })
}

/// How many replicas must have a write before it counts: 1 through Sentinel (a failover then
/// keeps it), 0 for a plain Redis.
pub fn replicas_for(url: &str) -> u64 {
    u64::from(url.starts_with("redis-sentinel://"))
}

/// How long one wait for the replicas may last. Past it the write counts as failed: a router's
/// commit is then given up (its retries last 30 s in all) and the router exits (71) without
/// having told anybody the batch's outcome; a gateway's input appender tries again.
pub const REPLICA_WAIT_LIMIT: Duration = Duration::from_secs(30);

/// Waits until `replicas` replicas have every write made on `conn` so far (`WAIT`), for at most
/// [`REPLICA_WAIT_LIMIT`], so nothing counts as written that a failover could lose.
pub fn wait_for_replicas(conn: &mut redis::Connection, replicas: u64) -> Result<(), ClusterError> {
    wait_for_replicas_within(conn, replicas, REPLICA_WAIT_LIMIT)
}

/// [`wait_for_replicas`] with its bound given.
fn wait_for_replicas_within(conn: &mut redis::Connection, replicas: u64, limit: Duration) -> Result<(), ClusterError> {
    if replicas == 0 {
        return Ok(());
    }
    let started = std::time::Instant::now();
    for attempt in 0u32.. {
        let acked: u64 = redis::cmd("WAIT").arg(replicas).arg(500).query(conn)?;
        if acked >= replicas {
            return Ok(());
        }
        if started.elapsed() >= limit {
            return Err(ClusterError::Redis(format!(
                "{acked} of {replicas} Redis replicas confirmed a write within {} s",
                limit.as_secs_f64()
            )));
        }
        if attempt.is_power_of_two() {
            tracing::warn!(acked, replicas, "the Redis replica has not confirmed a write yet; holding the answers");
        }
    }
    unreachable!("the loop returns")
}

/// Takes the router lease for `node` if nobody holds it: the new epoch, or `None`.
pub fn try_acquire(
    conn: &mut redis::Connection,
    keys: &Keys,
    node: &str,
    lease: Duration,
) -> Result<Option<u64>, ClusterError> {
    let epoch: u64 = redis::cmd("EVAL")
        .arg(ACQUIRE)
        .arg(2)
        .arg(&keys.lease)
        .arg(&keys.epoch)
        .arg(node)
        .arg(lease.as_millis() as u64)
        .query(conn)?;
    Ok((epoch > 0).then_some(epoch))
}

/// Extends `node`'s lease of `epoch`; `false` when another node holds it or a newer epoch began;
/// an error when this Redis has no cluster state (to reconnect and retry).
pub fn renew(
    conn: &mut redis::Connection,
    keys: &Keys,
    node: &str,
    epoch: u64,
    lease: Duration,
) -> Result<bool, ClusterError> {
    let held: i64 = redis::cmd("EVAL")
        .arg(RENEW)
        .arg(2)
        .arg(&keys.lease)
        .arg(&keys.epoch)
        .arg(node)
        .arg(lease.as_millis() as u64)
        .arg(epoch)
        .query(conn)?;
    match held {
        -1 => Err(ClusterError::Redis("this Redis has no cluster state (not the master yet)".into())),
        held => Ok(held == 1),
    }
}

/// Gives up `node`'s lease, if it still holds it. KEYS: lease. ARGV: node.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// The current epoch (0 before any router).
pub fn current_epoch(conn: &mut redis::Connection, keys: &Keys) -> Result<u64, ClusterError> {
    let e: Option<u64> = redis::cmd("GET").arg(&keys.epoch).query(conn)?;
    Ok(e.unwrap_or(0))
}

/// One stream entry as `XREAD` returns it: its id and its field/value pairs.
type StreamEntry = (String, Vec<(String, String)>);

/// Applied entries after stream id `after` (`"0"`: from the start), at most `count`, waiting up
/// to `block` for the first one when there is none yet.
pub fn read_after(
    conn: &mut redis::Connection,
    keys: &Keys,
    after: &str,
    count: usize,
    block: Option<Duration>,
) -> Result<Vec<(String, Logged)>, ClusterError> {
    let mut cmd = redis::cmd("XREAD");
    cmd.arg("COUNT").arg(count);
    if let Some(b) = block {
        cmd.arg("BLOCK").arg(b.as_millis() as u64);
    }
    cmd.arg("STREAMS").arg(&keys.applied).arg(after);
    let reply: Option<Vec<(String, Vec<StreamEntry>)>> = cmd.query(conn)?;
    let mut out = Vec::new();
    for (_, entries) in reply.unwrap_or_default() {
        for (id, fields) in entries {
            let json = fields
                .into_iter()
                .find(|(k, _)| k == "e")
                .map(|(_, v)| v)
                .ok_or_else(|| ClusterError::BadLog(format!("entry {id} has no `e` field")))?;
            let logged: Logged =
                serde_json::from_str(&json).map_err(|e| ClusterError::BadLog(format!("entry {id}: {e}")))?;
            out.push((id, logged));
        }
    }
    Ok(out)
}

/// The latest snapshot entry and its stream id, if the router has written one.
pub fn read_snapshot(conn: &mut redis::Connection, keys: &Keys) -> Result<Option<(String, Logged)>, ClusterError> {
    let Some(id): Option<String> = redis::cmd("GET").arg(&keys.snapshot).query(conn)? else { return Ok(None) };
    let entries: Vec<StreamEntry> = redis::cmd("XRANGE").arg(&keys.applied).arg(&id).arg(&id).query(conn)?;
    let Some((_, fields)) = entries.into_iter().next() else {
        return Err(ClusterError::BadLog(format!("the snapshot pointer names {id}, which is not in the stream")));
    };
    let json = fields
        .into_iter()
        .find(|(k, _)| k == "e")
        .map(|(_, v)| v)
        .ok_or_else(|| ClusterError::BadLog(format!("snapshot {id} has no `e` field")))?;
    let logged = serde_json::from_str(&json).map_err(|e| ClusterError::BadLog(format!("snapshot {id}: {e}")))?;
    Ok(Some((id, logged)))
}

/// Every applied entry, from the start (replay, catch-up).
pub fn read_all(conn: &mut redis::Connection, keys: &Keys) -> Result<(Vec<Logged>, String), ClusterError> {
    let (mut all, mut last) = (Vec::new(), "0".to_owned());
    loop {
        let batch = read_after(conn, keys, &last, 10_000, None)?;
        if batch.is_empty() {
            return Ok((all, last));
        }
        for (id, logged) in batch {
            all.push(logged);
            last = id;
        }
    }
}

/// The router's applied log: appends go to Redis only while this router's epoch is current.
/// A background thread renews the lease every third of its lifetime; if it is lost, the process
/// stops routing at once (it exits, and its service manager restarts it as a standby).
/// How soon a failed lease renewal is tried again.
const RENEW_RETRY: Duration = Duration::from_millis(250);

pub struct RedisLog {
    url: String,
    node: String,
    conn: Option<redis::Connection>,
    keys: Keys,
    epoch: u64,
    pending: Vec<String>,
    batches: u64,
    replicas: u64,
    deposed: Arc<AtomicBool>,
    /// How long a failing append or snapshot is retried: as long as the lease could still be this
    /// router's (nobody else can route meanwhile, and fencing stops it if somebody does), at least
    /// 30 s.
    retry_for: Duration,
}

impl RedisLog {
    /// The log of the router holding `epoch`, with its lease kept alive from now on.
    pub fn new(url: &str, keys: Keys, node: String, epoch: u64, lease: Duration) -> Result<Self, ClusterError> {
        let conn = connect(url)?;
        let deposed = Arc::new(AtomicBool::new(false));
        let (flag, renew_keys, renew_url, holder) = (deposed.clone(), keys.clone(), url.to_owned(), node.clone());
        std::thread::Builder::new()
            .name("router-lease".into())
            .spawn(move || {
                let mut renewer = None;
                // A third of the lease between renewals; while Redis is away (a Sentinel failover)
                // every quarter second, so the lease is renewed as soon as a master answers again
                // rather than up to a third of a lease later, when it may have run out.
                let mut pause = lease / 3;
                loop {
                    std::thread::sleep(pause);
                    pause = lease / 3;
                    if flag.load(Ordering::SeqCst) {
                        return; // released on purpose
                    }
                    if renewer.is_none() {
                        renewer = connect(&renew_url).ok();
                    }
                    let Some(conn) = renewer.as_mut() else {
                        pause = RENEW_RETRY.min(lease / 3);
                        continue;
                    };
                    match renew(conn, &renew_keys, &holder, epoch, lease) {
                        Ok(true) => {}
                        Ok(false) => {
                            flag.store(true, Ordering::SeqCst);
                            tracing::error!(epoch, "the router lease was lost: another node routes now; exiting");
                            std::process::exit(75);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "renewing the router lease failed; reconnecting");
                            renewer = None;
                            pause = RENEW_RETRY.min(lease / 3);
                        }
                    }
                }
            })
            .map_err(|e| ClusterError::Redis(e.to_string()))?;
        Ok(Self {
            replicas: replicas_for(url),
            url: url.to_owned(),
            node,
            conn: Some(conn),
            keys,
            epoch,
            pending: Vec::new(),
            batches: 0,
            deposed,
            retry_for: lease.max(Duration::from_secs(30)),
        })
    }

    /// One attempt at appending the pending batch under `batch` and waiting for the replicas.
    fn try_commit(&mut self, batch: &str) -> Result<(), ClusterError> {
        if self.conn.is_none() {
            self.conn = Some(connect(&self.url)?);
        }
        let conn = self.conn.as_mut().expect("connected just above");
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(FENCED_APPEND)
            .arg(3)
            .arg(&self.keys.epoch)
            .arg(&self.keys.applied)
            .arg(&self.keys.last_batch)
            .arg(self.epoch)
            .arg(batch);
        for e in &self.pending {
            cmd.arg(e);
        }
        match cmd.query::<u64>(conn) {
            Ok(_) => wait_for_replicas(conn, self.replicas),
            Err(e) if e.to_string().contains("FENCED") => {
                let current = current_epoch(conn, &self.keys).unwrap_or(0);
                Err(ClusterError::Fenced { mine: self.epoch, current })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Runs `attempt` until it succeeds: a lost connection (Redis restarting, a Sentinel
    /// failover) is made again and the attempt retried for up to `retry_for` (the lease, at least
    /// 30 s); being fenced ends it at once.
    fn retried(
        &mut self,
        what: &str,
        mut attempt: impl FnMut(&mut Self) -> Result<(), ClusterError>,
    ) -> Result<(), String> {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            if self.deposed.load(Ordering::SeqCst) {
                return Err(ClusterError::Fenced { mine: self.epoch, current: 0 }.to_string());
            }
            match attempt(self) {
                Ok(()) => return Ok(()),
                Err(e @ ClusterError::Fenced { .. }) => return Err(e.to_string()),
                Err(e) if started.elapsed() < self.retry_for => {
                    tracing::warn!(error = %e, "{what} failed; reconnecting and retrying");
                    self.conn = None;
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    fn try_snapshot(&mut self, json: &str) -> Result<(), ClusterError> {
        if self.conn.is_none() {
            self.conn = Some(connect(&self.url)?);
        }
        let conn = self.conn.as_mut().expect("connected just above");
        let appended: redis::RedisResult<String> = redis::cmd("EVAL")
            .arg(FENCED_SNAPSHOT)
            .arg(3)
            .arg(&self.keys.epoch)
            .arg(&self.keys.applied)
            .arg(&self.keys.snapshot)
            .arg(self.epoch)
            .arg(json)
            .query(conn);
        match appended {
            Ok(_) => wait_for_replicas(conn, self.replicas),
            Err(e) if e.to_string().contains("FENCED") => {
                let current = current_epoch(conn, &self.keys).unwrap_or(0);
                Err(ClusterError::Fenced { mine: self.epoch, current })
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl AppliedLog for RedisLog {
    fn append(&mut self, logged: &Logged) -> io::Result<()> {
        self.pending.push(serde_json::to_string(logged).map_err(io::Error::other)?);
        Ok(())
    }

    /// Appends the batch (fenced, once) and waits for the replicas. A lost connection — Redis
    /// restarting, a Sentinel failover — is retried with the same batch id for up to 30 s: the
    /// batch lands exactly once, and the answers wait until it has.
    fn commit(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.batches += 1;
        let batch = format!("{}:{}", self.epoch, self.batches);
        self.retried("appending to the applied log", |log| log.try_commit(&batch))?;
        self.pending.clear();
        Ok(())
    }

    /// Appends the snapshot (fenced) and waits for the replicas; retried like a commit (a
    /// snapshot written twice is harmless: a replay restores the same state twice).
    fn snapshot(&mut self, _header: host::routing_log::Entry, snapshot: &Logged) -> Result<(), String> {
        let json = serde_json::to_string(snapshot).map_err(|e| e.to_string())?;
        self.retried("appending a snapshot", |log| log.try_snapshot(&json))
    }

    /// Stops renewing and deletes the lease if it is still this node's, so a standby takes over
    /// at its next try instead of after the lease runs out. Nothing is appended after this.
    fn release(&mut self) {
        self.deposed.store(true, Ordering::SeqCst);
        let released = self
            .conn
            .as_mut()
            .map(|c| redis::cmd("EVAL").arg(RELEASE).arg(1).arg(&self.keys.lease).arg(&self.node).query::<u64>(c));
        match released {
            Some(Ok(1)) => tracing::info!(epoch = self.epoch, "router lease released"),
            other => tracing::warn!(?other, "the router lease was not released; it will run out"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use host::routing_log::Entry;
    use test_kit::redis::TestRedis;

    fn entry(t: u64) -> Logged {
        Logged { t, src: None, entry: Entry::Timeout {} }
    }

    /// A log without the lease-renewal thread (the tests renew by hand).
    fn test_log(url: &str, keys: &Keys, epoch: u64) -> RedisLog {
        RedisLog {
            url: url.to_owned(),
            node: "test".into(),
            conn: Some(connect(url).unwrap()),
            keys: keys.clone(),
            epoch,
            pending: vec![],
            batches: 0,
            replicas: 0,
            deposed: Arc::default(),
            retry_for: Duration::from_secs(30),
        }
    }

    /// A Redis whose replica never confirms (here: it has none) fails the wait once its bound has
    /// passed, instead of holding the writer for ever; with no replica asked for it does not wait.
    #[test]
    fn the_wait_for_a_replica_ends_at_its_bound() {
        let redis = TestRedis::start();
        let mut conn = connect(&redis.url()).unwrap();
        redis::cmd("SET").arg("k").arg("v").query::<()>(&mut conn).unwrap();
        let started = std::time::Instant::now();
        let refused = wait_for_replicas_within(&mut conn, 1, Duration::from_secs(1)).unwrap_err();
        assert!(started.elapsed() >= Duration::from_secs(1), "it waited for its bound first");
        assert!(refused.to_string().contains("0 of 1 Redis replicas confirmed a write within 1 s"), "{refused}");
        wait_for_replicas(&mut conn, 0).unwrap();
    }

    #[test]
    fn one_lease_holder_and_a_deposed_router_cannot_append() {
        let redis = TestRedis::start();
        let keys = Keys::new("t1");
        let lease = Duration::from_millis(300);
        let mut a = connect(&redis.url()).unwrap();
        let mut b = connect(&redis.url()).unwrap();
        let first = try_acquire(&mut a, &keys, "node-a", lease).unwrap().expect("a free lease is taken");
        assert_eq!(try_acquire(&mut b, &keys, "node-b", lease).unwrap(), None, "one holder at a time");
        assert!(renew(&mut a, &keys, "node-a", first, lease).unwrap());
        assert!(!renew(&mut b, &keys, "node-b", first, lease).unwrap());
        // node-a's log writes while its epoch is current.
        let mut log_a = test_log(&redis.url(), &keys, first);
        log_a.append(&entry(1)).unwrap();
        log_a.append(&entry(2)).unwrap();
        log_a.commit().unwrap();
        // node-a stalls past its lease; node-b takes over with a new epoch.
        std::thread::sleep(Duration::from_millis(400));
        let second = try_acquire(&mut b, &keys, "node-b", lease).unwrap().expect("a lapsed lease is taken");
        assert!(second > first);
        assert!(!renew(&mut a, &keys, "node-a", first, lease).unwrap(), "the old holder cannot renew");
        log_a.append(&entry(3)).unwrap();
        let refused = log_a.commit().unwrap_err();
        assert!(refused.contains("fenced"), "{refused}");
        let (all, _) = read_all(&mut b, &keys).unwrap();
        assert_eq!(all, vec![entry(1), entry(2)], "nothing of the deposed router's last batch is in the log");
    }

    /// A lease that ran out while nobody took it (a long Sentinel failover) is taken back by its
    /// router; an empty Redis (a master restarted without its data, before Sentinel makes it a
    /// replica) deposes nobody: renewing and appending there are errors to retry, not fencing.
    #[test]
    fn a_lapsed_lease_is_taken_back_and_an_empty_redis_deposes_nobody() {
        let redis = TestRedis::start();
        let keys = Keys::new("t4");
        let lease = Duration::from_millis(200);
        let mut a = connect(&redis.url()).unwrap();
        let epoch = try_acquire(&mut a, &keys, "node-a", lease).unwrap().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let lapsed: Option<String> = redis::cmd("GET").arg(&keys.lease).query(&mut a).unwrap();
        assert_eq!(lapsed, None, "the lease ran out");
        assert!(renew(&mut a, &keys, "node-a", epoch, lease).unwrap(), "taken back: nobody took over");
        let holder: Option<String> = redis::cmd("GET").arg(&keys.lease).query(&mut a).unwrap();
        assert_eq!(holder.as_deref(), Some("node-a"));

        let _: () = redis::cmd("FLUSHALL").query(&mut a).unwrap();
        let e = renew(&mut a, &keys, "node-a", epoch, lease).unwrap_err();
        assert!(e.to_string().contains("no cluster state"), "{e}");
        let mut log = test_log(&redis.url(), &keys, epoch);
        log.append(&entry(1)).unwrap();
        match log.try_commit("1:1") {
            Err(ClusterError::Fenced { .. }) => panic!("an empty Redis is not a newer router"),
            Err(e) => assert!(e.to_string().contains("NOSTATE"), "{e}"),
            Ok(()) => panic!("nothing may be appended to a Redis without the cluster's epoch"),
        }
    }

    /// Through Sentinel a node connects to the master a majority of the Sentinels name, and that
    /// server says it is the master.
    #[test]
    fn sentinel_connections_go_to_the_master_the_majority_names() {
        let sentinel = test_kit::redis::TestSentinel::start();
        let mut conn = connect(&sentinel.url()).unwrap();
        let port: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("port").query(&mut conn).unwrap();
        assert_eq!(port[1], sentinel.master_port.to_string());
        let hosts = sentinel.url().trim_start_matches("redis-sentinel://").split('/').next().unwrap().to_owned();
        let named: Vec<&str> = hosts.split(',').collect();
        assert_eq!(master_by_quorum(&named, "mymaster").unwrap(), format!("127.0.0.1:{}", sentinel.master_port));
        let e = master_by_quorum(&named, "nobody").unwrap_err();
        assert!(e.to_string().contains("no majority"), "{e}");
    }

    #[test]
    fn a_batch_retried_after_a_lost_answer_lands_once() {
        let redis = TestRedis::start();
        let keys = Keys::new("t3");
        let mut conn = connect(&redis.url()).unwrap();
        let epoch = try_acquire(&mut conn, &keys, "n", Duration::from_secs(5)).unwrap().unwrap();
        let mut log = test_log(&redis.url(), &keys, epoch);
        log.append(&entry(1)).unwrap();
        log.append(&entry(2)).unwrap();
        log.try_commit("7:1").unwrap();
        // The answer was lost; the same batch is sent again.
        log.try_commit("7:1").unwrap();
        log.pending.clear();
        log.append(&entry(3)).unwrap();
        log.try_commit("7:2").unwrap();
        let (all, _) = read_all(&mut conn, &keys).unwrap();
        assert_eq!(all, vec![entry(1), entry(2), entry(3)]);
    }

    #[test]
    fn reading_after_an_id_returns_only_newer_entries() {
        let redis = TestRedis::start();
        let keys = Keys::new("t2");
        let mut conn = connect(&redis.url()).unwrap();
        let epoch = try_acquire(&mut conn, &keys, "n", Duration::from_secs(5)).unwrap().unwrap();
        let mut log = test_log(&redis.url(), &keys, epoch);
        for t in 1..=3 {
            log.append(&entry(t)).unwrap();
        }
        log.commit().unwrap();
        let first = read_after(&mut conn, &keys, "0", 1, None).unwrap();
        let rest = read_after(&mut conn, &keys, &first[0].0, 10, None).unwrap();
        assert_eq!(rest.iter().map(|(_, l)| l.t).collect::<Vec<_>>(), [2, 3]);
        let none = read_after(&mut conn, &keys, &rest[1].0, 10, Some(Duration::from_millis(50))).unwrap();
        assert!(none.is_empty());
    }
}
