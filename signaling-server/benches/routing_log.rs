//! What the applied routing log costs, side by side in one run, and how long a replay takes.
//!
//! 1. Throughput of the real driver (through its command channel, as the WebSocket tasks feed
//!    it): 100,000 state-changing inputs — 30 booths taking a ticket and cancelling it, one clerk
//!    signed in so tickets wait — with the log off, with the log in a file (each batch of up to 64
//!    ready inputs appended and `fdatasync`ed before its answers go out), and with the log in a
//!    local Redis as a cluster's router writes it (each batch one fenced Lua append), and through
//!    Sentinel with a replica that must confirm each batch (`WAIT 1`) before its answers go out.
//! 2. Latency of one input on an idle driver: a booth's request answered with its
//!    `ticket_status`, then its cancel answered with `ticket_closed`, 1,000 times each, one at a
//!    time — p50 and p99 of the round trip through the command channel, per log kind.
//! 3. Replay of that log offline (`signaling-server replay` without printing): time per 100,000
//!    entries.
//!
//! Run: `cargo bench -p signaling-server --bench routing_log`

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::{ClientMessage, Priority, ServerMessage, ServiceCode, TicketId};
use signaling_server::config::Settings;
use signaling_server::driver::{CloseSignal, Command, ConnHandle, Principal};
use tokio::sync::{mpsc, oneshot};

const INPUTS: u64 = 100_000;
const BOOTHS: usize = 30;

fn settings(dir: &std::path::Path, log: bool) -> Settings {
    let mut s = Settings::demo();
    s.file.documents.data_dir = dir.to_owned();
    s.file.server.routing_log = log;
    s
}

/// A cluster's router: the log in Redis (under a prefix of its own, so each run starts a new
/// cluster: the routers of earlier runs are still alive in this process).
fn cluster_settings(dir: &std::path::Path, redis: &str) -> Settings {
    let mut s = settings(dir, false);
    s.file.cluster.redis_url = Some(redis.to_owned());
    s.file.cluster.key_prefix = format!("bench-{}", dir.file_name().unwrap().to_string_lossy());
    s.file.server.token_secret = Some("bench".into());
    s.file.database.url = Some(format!("sqlite://{}", dir.join("xiaowu.db").display()));
    s
}

/// A connection whose messages are read and dropped, so its queue never fills.
fn handle() -> ConnHandle {
    let (tx, mut rx) = mpsc::channel(4096);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    ConnHandle { tx, close: Arc::new(CloseSignal::default()) }
}

async fn settle(commands: &mpsc::Sender<Command>) {
    let (reply, done) = oneshot::channel();
    commands.send(Command::Probe { reply }).await.unwrap();
    done.await.unwrap();
}

/// p50 and p99, in microseconds, of one input's round trip (command in → answer out) on an idle
/// driver.
async fn latency(settings: Settings) -> (f64, f64) {
    let state = signaling_server::spawn_driver(settings).unwrap();
    while state.cluster.as_ref().is_some_and(|r| !r.is_router()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let commands = state.commands.clone();
    let clerk = Principal::Clerk(state.directory.clerk_idx("clerk-hekou-1").unwrap());
    commands.send(Command::Connect { conn: state.next_conn_id(), who: clerk, handle: handle() }).await.unwrap();
    let (tx, mut rx) = mpsc::channel(4096);
    let conn = state.next_conn_id();
    let booth = Principal::Booth(routing::BoothIdx(0));
    commands
        .send(Command::Connect { conn, who: booth, handle: ConnHandle { tx, close: Arc::default() } })
        .await
        .unwrap();
    settle(&commands).await;
    while rx.try_recv().is_ok() {}
    let first_ticket = signaling_server::records::id_base(state.records.boot());
    let service = ServiceCode::new("teacher-cert");
    let mut times = Vec::new();
    for i in 0..1000u64 {
        let request = ClientMessage::RequestService { service: service.clone(), priority: Priority::Normal };
        let cancel = ClientMessage::CancelTicket { ticket: TicketId(first_ticket + i) };
        for (msg, closes) in [(request, false), (cancel, true)] {
            let started = Instant::now();
            commands.send(Command::Message { conn, msg }).await.unwrap();
            loop {
                match rx.recv().await.unwrap() {
                    signaling_server::driver::Outbound::Msg(ServerMessage::TicketStatus { .. }) if !closes => break,
                    signaling_server::driver::Outbound::Msg(ServerMessage::TicketClosed { .. }) if closes => break,
                    _ => {}
                }
            }
            times.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

/// Feeds the workload; returns inputs per second (until the driver has handled the last one).
async fn throughput(settings: Settings) -> f64 {
    let state = signaling_server::spawn_driver(settings).unwrap();
    while state.cluster.as_ref().is_some_and(|r| !r.is_router()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dir_ = state.directory.clone();
    let commands = state.commands.clone();
    let clerk = Principal::Clerk(dir_.clerk_idx("clerk-hekou-1").unwrap());
    let first_conn = state.next_conn_id();
    commands.send(Command::Connect { conn: first_conn, who: clerk, handle: handle() }).await.unwrap();
    let booths: Vec<u64> = (0..BOOTHS)
        .map(|i| {
            let conn = state.next_conn_id();
            let who = Principal::Booth(routing::BoothIdx(i as u32));
            (conn, who)
        })
        .map(|(conn, who)| {
            let c = commands.clone();
            tokio::spawn(async move { c.send(Command::Connect { conn, who, handle: handle() }).await.unwrap() });
            conn
        })
        .collect();
    settle(&commands).await;
    let first_ticket = signaling_server::records::id_base(state.records.boot());
    let service = ServiceCode::new("teacher-cert");
    let started = Instant::now();
    for i in 0..INPUTS / 2 {
        let conn = booths[i as usize % BOOTHS];
        let request = ClientMessage::RequestService { service: service.clone(), priority: Priority::Normal };
        commands.send(Command::Message { conn, msg: request }).await.unwrap();
        let cancel = ClientMessage::CancelTicket { ticket: TicketId(first_ticket + i) };
        commands.send(Command::Message { conn, msg: cancel }).await.unwrap();
    }
    settle(&commands).await;
    INPUTS as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let root = std::env::temp_dir().join(format!("xiaowu-bench-routing-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (off, on, clustered) = (root.join("off"), root.join("on"), root.join("redis"));
    let redis = signaling_server::cluster::test_redis::TestRedis::start();
    let without = rt.block_on(throughput(settings(&off, false)));
    let with = rt.block_on(throughput(settings(&on, true)));
    let in_redis = rt.block_on(throughput(cluster_settings(&clustered, &redis.url())));
    let sentinel = signaling_server::cluster::test_redis::TestSentinel::start();
    let replicated = rt.block_on(throughput(cluster_settings(&root.join("sentinel"), &sentinel.url())));
    println!("driver throughput, {INPUTS} inputs (request + cancel, {BOOTHS} booths):");
    println!("  routing log off          {without:>9.0} inputs/s");
    println!("  routing log in a file    {with:>9.0} inputs/s");
    println!("  routing log in Redis     {in_redis:>9.0} inputs/s");
    println!("  in Redis + replica WAIT  {replicated:>9.0} inputs/s");
    println!("latency of one input on an idle driver (answer out), 2,000 inputs:");
    for (name, settings) in [
        ("routing log off", settings(&root.join("lat-off"), false)),
        ("in a file", settings(&root.join("lat-on"), true)),
        ("in Redis", cluster_settings(&root.join("lat-redis"), &redis.url())),
        ("in Redis + replica WAIT", cluster_settings(&root.join("lat-sentinel"), &sentinel.url())),
    ] {
        let (p50, p99) = rt.block_on(latency(settings));
        println!("  {name:<24} p50 {p50:>7.0} µs   p99 {p99:>7.0} µs");
    }
    let log = on.join("routing.log");
    let size = std::fs::metadata(&log).unwrap().len();
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let n = rt
            .block_on(async {
                signaling_server::replay_log(settings(&root.join("replay"), false), &log, Box::new(|_| {}))
            })
            .unwrap();
        times.push(started.elapsed().as_secs_f64() * 1e5 / n as f64);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "replay of the log ({:.1} MB): median {:.0} ms per 100,000 entries (best {:.0}, worst {:.0}, 5 runs)",
        size as f64 / 1e6,
        times[2] * 1000.0,
        times[0] * 1000.0,
        times[4] * 1000.0
    );
    let _ = std::fs::remove_dir_all(&root);
    std::thread::sleep(Duration::from_millis(100));
}
