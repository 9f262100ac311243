//! A cluster for the process tests: a throwaway Redis and PostgreSQL, and nodes started on them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use test_kit::postgres as test_postgres;

use super::{free_addr, temp_dir, Server};

pub struct Cluster {
    pub redis: test_kit::redis::TestRedis,
    pub database: String,
}

impl Cluster {
    pub fn start() -> Self {
        Self { redis: test_kit::redis::TestRedis::start(), database: test_postgres::postgres_url() }
    }

    pub fn node(&self, name: &str) -> Server {
        self.node_with(name, &[])
    }

    pub fn node_with(&self, name: &str, extra: &[&str]) -> Server {
        // Tests of one binary run at once, each with its own cluster of nodes of the same names.
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let dir = temp_dir(&format!("node-{name}-{}", STARTED.fetch_add(1, Ordering::Relaxed)));
        let url = self.redis.url();
        let mut args =
            vec!["--node-id", name, "--redis", &url, "--token-secret", "cluster-test-secret-of-at-least-32-bytes"];
        args.extend_from_slice(extra);
        Server::start(&dir, free_addr(), &args, &[("XIAOWU_DATABASE", self.database.clone())])
    }
}

/// Waits until `server` says it is the router (or `limit` passes); returns how long it took.
pub fn wait_for_router(server: &Server, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if server.health()["role"] == "router" {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "no takeover: {}", server.health());
        std::thread::sleep(Duration::from_millis(20));
    }
}
