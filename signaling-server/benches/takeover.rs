//! Takeover time in cluster mode: two nodes (release binaries) on a throwaway Redis and
//! PostgreSQL, the router killed with SIGKILL, timed until the standby's `/healthz` says
//! `router`; then a fresh standby replaces the dead node and it starts over. Lease: 1 s (the
//! default). The takeover is bounded by the lease plus up to a third of it (the standby's try
//! interval) plus the catch-up replay.
//!
//! Run: `cargo bench -p signaling-server --bench takeover` (needs redis-server and PostgreSQL).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{free_addr, temp_dir, Server};
use test_kit::redis::TestRedis;

const RUNS: usize = 9;

fn node(redis: &TestRedis, database: &str, name: &str) -> Server {
    let dir = temp_dir(&format!("takeover-{name}"));
    let args =
        ["--node-id", name, "--redis", &redis.url(), "--token-secret", "bench-secret-of-at-least-thirty-two-bytes"];
    Server::start(&dir, free_addr(), &args, &[("XIAOWU_DATABASE", database.to_owned())])
}

fn is_router(s: &Server) -> bool {
    s.health()["role"] == "router"
}

fn main() {
    let redis = TestRedis::start();
    let database = test_kit::postgres::postgres_url();
    let mut nodes = vec![node(&redis, &database, "n0"), node(&redis, &database, "n1")];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !nodes.iter().any(is_router) {
        assert!(Instant::now() < deadline, "no router");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut times = Vec::new();
    for run in 0..RUNS {
        let router = nodes.iter().position(is_router).expect("one router");
        nodes.remove(router).kill_9();
        let started = Instant::now();
        while !is_router(&nodes[0]) {
            assert!(started.elapsed() < Duration::from_secs(10), "no takeover");
            std::thread::sleep(Duration::from_millis(5));
        }
        times.push(started.elapsed());
        nodes.push(node(&redis, &database, &format!("n{}", run + 2)));
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "takeover after kill -9 of the router (lease 1 s), {RUNS} runs: p50 {:.0} ms, max {:.0} ms, min {:.0} ms",
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1]),
        ms(times[0])
    );
}
