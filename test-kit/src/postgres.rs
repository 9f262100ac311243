//! A throwaway PostgreSQL cluster for tests (this crate's and the end-to-end ones): Debian's
//! `postgresql` (installed by `scripts/test.sh`), started once per test process on a free loopback
//! port in a temp folder, one fresh database per caller. As root, `initdb` and the server run as the
//! `postgres` user (PostgreSQL refuses to run as root). A watcher stops the cluster and removes its
//! folder within a second of the process's exit.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

static NEXT: AtomicU32 = AtomicU32::new(0);

fn temp_dir(tag: &str) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("xiaowu-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp folder");
    dir
}

fn pg_bin(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (Debian package postgresql; scripts/test.sh installs it)")
        .filter_map(|e| Some(e.ok()?.path().join("bin").join(name)))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| panic!("{name} not found under /usr/lib/postgresql/*/bin"))
}

fn is_root() -> bool {
    // SAFETY-free check: the effective uid from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

fn run(bin: &Path, args: &[&str]) {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd.args(args).output().expect("PostgreSQL tool runs");
    assert!(out.status.success(), "{} {args:?}: {}", bin.display(), String::from_utf8_lossy(&out.stderr));
}

/// A running cluster. A watcher process stops it (and removes its folder) within a second of this
/// process's exit, since the shared one is a static and statics are never dropped.
pub struct Cluster {
    pub port: u16,
    data: PathBuf,
    opts: String,
    log: PathBuf,
}

impl Cluster {
    /// Starts a new cluster of this process's own (most tests share [`cluster`]).
    pub fn start() -> Self {
        let dir = temp_dir("pg");
        // The postgres user must be able to write there.
        Command::new("chmod").args(["777", dir.to_str().unwrap()]).status().unwrap();
        let data = dir.join("data");
        run(&pg_bin("initdb"), &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "xiaowu", "--no-sync"]);
        let port = crate::ports::free_port();
        let opts = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=on", dir.display());
        let cluster = Cluster { port, data: data.clone(), opts, log: dir.join("log") };
        cluster.resume();
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {as_pg} {ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            as_pg = if is_root() { "runuser -u postgres --" } else { "" },
            ctl = pg_bin("pg_ctl").display(),
            data = data.display(),
            dir = dir.display(),
        );
        // Deliberately not waited for: it outlives this process by design (`&` detaches it).
        Command::new("sh")
            .args(["-c", &format!("({stop}) &")])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the cluster's watcher starts");
        cluster
    }

    /// Stops the server at once (as a crash or a lost network would look to its clients).
    pub fn halt(&self) {
        run(&pg_bin("pg_ctl"), &["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"]);
    }

    /// Starts the server again (also the first start).
    pub fn resume(&self) {
        let (data, log) = (self.data.to_str().unwrap(), self.log.to_str().unwrap());
        run(&pg_bin("pg_ctl"), &["-D", data, "-o", &self.opts, "-l", log, "-w", "start"]);
    }

    /// A fresh database in this cluster; returns its URL.
    pub fn database(&self) -> String {
        let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut admin =
            postgres::Client::connect(&format!("postgres://xiaowu@127.0.0.1:{}/postgres", self.port), postgres::NoTls)
                .expect("the test cluster accepts connections");
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        format!("postgres://xiaowu@127.0.0.1:{}/{name}", self.port)
    }
}

/// The process's shared cluster (started on first use).
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(Cluster::start)
}

/// A fresh database in the shared cluster; returns its URL.
pub fn postgres_url() -> String {
    cluster().database()
}
