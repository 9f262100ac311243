//! A throwaway `redis-server` on a free loopback port, in a temporary folder, for tests and
//! benchmarks (`scripts/test.sh` installs Debian's `redis-server`). It is stopped when dropped.

use crate::ports::free_port;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestRedis {
    child: Child,
    pub port: u16,
    dir: std::path::PathBuf,
}

impl TestRedis {
    /// Starts a server (no persistence: tests want a clean one) and waits until it answers.
    pub fn start() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("xiaowu-redis-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install -y redis-server)");
        let redis = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis::Client::open(redis.url()).and_then(|c| c.get_connection()).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One Redis master, one replica and three Sentinels watching them (master name `mymaster`,
/// down after 1 s), on free loopback ports, for failover tests.
pub struct TestSentinel {
    pub master: Option<Child>,
    pub master_port: u16,
    replica: Child,
    sentinels: Vec<Child>,
    sentinel_ports: Vec<u16>,
    dir: std::path::PathBuf,
}

fn redis_server(dir: &std::path::Path, args: &[String]) -> Child {
    Command::new("redis-server")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is installed (apt-get install -y redis-server)")
}

fn query(port: u16, cmd: &mut redis::Cmd) -> Option<redis::Value> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let mut conn = client.get_connection_with_timeout(Duration::from_millis(500)).ok()?;
    cmd.query(&mut conn).ok()
}

impl TestSentinel {
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("xiaowu-sentinel-{}-{}", std::process::id(), free_port()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (master_port, replica_port) = (free_port(), free_port());
        let base = |port: u16| {
            vec!["--port".into(), port.to_string(), "--bind".into(), "127.0.0.1".into(), "--save".into(), String::new()]
        };
        let master = redis_server(&dir, &base(master_port));
        let mut replica_args = base(replica_port);
        replica_args.extend(["--replicaof".into(), "127.0.0.1".into(), master_port.to_string()]);
        let replica = redis_server(&dir, &replica_args);
        let mut sentinels = Vec::new();
        let mut sentinel_ports = Vec::new();
        for i in 0..3 {
            let port = free_port();
            let conf = dir.join(format!("sentinel-{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {master_port} 2\n\
                     sentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 3000\n\
                     sentinel parallel-syncs mymaster 1\n"
                ),
            )
            .unwrap();
            sentinels.push(redis_server(&dir, &[conf.display().to_string(), "--sentinel".into()]));
            sentinel_ports.push(port);
        }
        let s = Self { master: Some(master), master_port, replica, sentinels, sentinel_ports, dir };
        // Ready when the replica is in sync and every Sentinel knows the master and its replica.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let synced = matches!(query(replica_port, redis::cmd("INFO").arg("replication")),
                Some(redis::Value::BulkString(b)) if String::from_utf8_lossy(&b).contains("master_link_status:up"));
            let watched = s.sentinel_ports.iter().all(|p| {
                matches!(query(*p, redis::cmd("SENTINEL").arg("replicas").arg("mymaster")), Some(redis::Value::Array(r)) if !r.is_empty())
            });
            if synced && watched {
                return s;
            }
            assert!(Instant::now() < deadline, "the Sentinel set-up did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `redis-sentinel://…/mymaster` for the nodes.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self.sentinel_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        format!("redis-sentinel://{}/mymaster", hosts.join(","))
    }

    /// SIGKILL to the master: the Sentinels promote the replica.
    pub fn kill_master(&mut self) {
        if let Some(mut m) = self.master.take() {
            let _ = m.kill();
            let _ = m.wait();
        }
    }

    /// Starts the old master again, empty; the Sentinels make it a replica of the new one.
    ///
    /// Only once every Sentinel names the new master and the new master says it is one: an empty
    /// master back while the replica still follows it would hand the replica its emptiness (a
    /// full resync), and the promoted replica would then hold no data (what Redis warns of for
    /// masters without persistence that restart by themselves).
    pub fn restart_old_master(&mut self) {
        let old = self.master_port;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let named: Vec<Option<u16>> = self.sentinel_ports.iter().map(|p| master_named_by(*p)).collect();
            let promoted = named.iter().all(|n| n.is_some_and(|p| p != old))
                && named[0].is_some_and(|p| {
                    matches!(query(p, redis::cmd("INFO").arg("replication")),
                        Some(redis::Value::BulkString(b)) if String::from_utf8_lossy(&b).contains("role:master"))
                });
            if promoted {
                break;
            }
            assert!(Instant::now() < deadline, "the Sentinels did not agree on a new master: {named:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = vec![
            "--port".into(),
            self.master_port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            String::new(),
        ];
        self.master = Some(redis_server(&self.dir, &args));
    }

    /// The port the (first) Sentinel names as master now.
    pub fn current_master_port(&self) -> Option<u16> {
        master_named_by(self.sentinel_ports[0])
    }
}

/// The master's port as the Sentinel on `port` names it.
fn master_named_by(port: u16) -> Option<u16> {
    match query(port, redis::cmd("SENTINEL").arg("get-master-addr-by-name").arg("mymaster"))? {
        redis::Value::Array(parts) => match parts.get(1) {
            Some(redis::Value::BulkString(p)) => String::from_utf8_lossy(p).parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

impl Drop for TestSentinel {
    fn drop(&mut self) {
        for c in self.sentinels.iter_mut().chain(std::iter::once(&mut self.replica)).chain(self.master.as_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
