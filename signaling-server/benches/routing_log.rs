//! What the applied routing log costs, side by side in one run, and how long a replay takes.
//!
//! 1. Throughput of the real driver, fed through the gateway's inputs as the WebSocket tasks feed
//!    it (answers through the hub): 100,000 state-changing inputs — 30 booths taking a ticket and
//!    cancelling it, one clerk signed in so tickets wait — on a single node with the log off and
//!    with the log in a file (each batch of up to 64 ready inputs appended and `fdatasync`ed
//!    before its answers go out); in a cluster on a local Redis, where every input goes through
//!    the input stream and the router's log is one fenced Lua append per batch — on the router's
//!    own gateway, and on a second node's gateway (answers through that gateway's outbound
//!    stream); and through Sentinel with a replica that must confirm each batch (`WAIT 1`).
//! 2. Latency of one input on an idle driver: a booth's request answered with its
//!    `ticket_status`, then its cancel answered with `ticket_closed`, 1,000 times each, one at a
//!    time — p50 and p99 of the round trip from the gateway's input to the answer in its hub.
//! 3. Replay of that log offline (`signaling-server replay` without printing): a whole segment
//!    between two snapshots (time per 100,000 entries), and what a restart replays (from the last
//!    snapshot: bounded by `snapshot_every`, 50,000 by default).
//!
//! Run: `cargo bench -p signaling-server --bench routing_log`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use host::bus::GatewayInput;
use protocol::{ClientMessage, Priority, ServerMessage, ServiceCode, TicketId};
use signaling_server::config::Settings;
use signaling_server::driver::{CloseSignal, ConnHandle, Outbound, Principal};
use signaling_server::AppState;
use tokio::sync::mpsc;

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
    s.file.server.token_secret = Some("bench-secret-of-at-least-thirty-two-bytes".into());
    s.file.database.url = Some(format!("sqlite://{}", dir.join("xiaowu.db").display()));
    s
}

/// A second node of the same cluster (a gateway and standby), in this process.
fn second_node(mut s: Settings, dir: &std::path::Path) -> Settings {
    s.file.documents.data_dir = dir.to_owned();
    s.file.database.url = Some(format!("sqlite://{}", dir.join("xiaowu.db").display()));
    s.file.cluster.node_id = Some("bench-gateway".into());
    s
}

/// What the bench's connections were told, counted.
#[derive(Default)]
struct Seen {
    welcomes: AtomicU64,
    closed: AtomicU64,
}

/// A connection in `state`'s hub whose messages are counted and dropped (its queue never fills).
fn register(state: &AppState, seen: &Arc<Seen>) -> u64 {
    let conn = state.edge.next_conn_id();
    let (tx, mut rx) = mpsc::channel(4096);
    let seen = seen.clone();
    tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            match out {
                Outbound::Msg(ServerMessage::Welcome { .. }) => seen.welcomes.fetch_add(1, Ordering::SeqCst),
                Outbound::Msg(ServerMessage::TicketClosed { .. }) => seen.closed.fetch_add(1, Ordering::SeqCst),
                _ => 0,
            };
        }
    });
    state.edge.hub.register(conn, ConnHandle { tx, close: Arc::new(CloseSignal::default()) });
    conn
}

async fn connect(state: &AppState, conn: u64, who: Principal) {
    let (role, id) = state.edge.account_of(who);
    let gateway = state.cluster.is_some().then(|| state.edge.gateway.clone());
    state.edge.inputs.send(GatewayInput::Connect { conn, role, id, gateway }).await.unwrap();
}

async fn wait_for(counter: &AtomicU64, n: u64) {
    while counter.load(Ordering::SeqCst) < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Starts the node(s): a single node, or a cluster's router (and, with `gateway`, a second node
/// whose gateway the inputs go through). Returns the router's state and the gateway's.
async fn start(settings: Settings, gateway: Option<Settings>) -> (AppState, AppState) {
    let router = signaling_server::spawn_driver(settings).unwrap();
    while router.cluster.as_ref().is_some_and(|r| !r.is_router()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let gateway = match gateway {
        Some(s) => signaling_server::spawn_driver(s).unwrap(),
        None => router.clone(),
    };
    (router, gateway)
}

/// p50 and p99, in microseconds, of one input's round trip (gateway input in → answer in the
/// gateway's hub) on an idle driver.
async fn latency(settings: Settings, gateway: Option<Settings>) -> (f64, f64) {
    let (router, state) = start(settings, gateway).await;
    let seen = Arc::new(Seen::default());
    let clerk = Principal::Clerk(state.directory.clerk_idx("clerk-hekou-1").unwrap());
    let clerk_conn = register(&state, &seen);
    connect(&state, clerk_conn, clerk).await;
    let (tx, mut rx) = mpsc::channel(4096);
    let conn = state.edge.next_conn_id();
    state.edge.hub.register(conn, ConnHandle { tx, close: Arc::default() });
    connect(&state, conn, Principal::Booth(routing::BoothIdx(0))).await;
    wait_for(&seen.welcomes, 1).await;
    while !matches!(rx.recv().await, Some(Outbound::Msg(ServerMessage::Welcome { .. }))) {}
    let first_ticket = signaling_server::records::id_base(router.records.boot());
    let service = ServiceCode::new("teacher-cert");
    let mut times = Vec::new();
    for i in 0..1000u64 {
        let request = ClientMessage::RequestService { service: service.clone(), priority: Priority::Normal };
        let cancel = ClientMessage::CancelTicket { ticket: TicketId(first_ticket + i) };
        for (msg, closes) in [(request, false), (cancel, true)] {
            let started = Instant::now();
            state.edge.inputs.send(GatewayInput::Message { conn, msg }).await.unwrap();
            loop {
                match rx.recv().await.unwrap() {
                    Outbound::Msg(ServerMessage::TicketStatus { .. }) if !closes => break,
                    Outbound::Msg(ServerMessage::TicketClosed { .. }) if closes => break,
                    _ => {}
                }
            }
            times.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

/// Feeds the workload; returns inputs per second (until the last answer is in the hub).
async fn throughput(settings: Settings, gateway: Option<Settings>) -> f64 {
    let (router, state) = start(settings, gateway).await;
    let seen = Arc::new(Seen::default());
    let clerk = Principal::Clerk(state.directory.clerk_idx("clerk-hekou-1").unwrap());
    let clerk_conn = register(&state, &seen);
    connect(&state, clerk_conn, clerk).await;
    let mut booths = Vec::new();
    for i in 0..BOOTHS {
        let conn = register(&state, &seen);
        connect(&state, conn, Principal::Booth(routing::BoothIdx(i as u32))).await;
        booths.push(conn);
    }
    wait_for(&seen.welcomes, BOOTHS as u64 + 1).await;
    let first_ticket = signaling_server::records::id_base(router.records.boot());
    let service = ServiceCode::new("teacher-cert");
    let started = Instant::now();
    for i in 0..INPUTS / 2 {
        let conn = booths[i as usize % BOOTHS];
        let request = ClientMessage::RequestService { service: service.clone(), priority: Priority::Normal };
        state.edge.inputs.send(GatewayInput::Message { conn, msg: request }).await.unwrap();
        let cancel = ClientMessage::CancelTicket { ticket: TicketId(first_ticket + i) };
        state.edge.inputs.send(GatewayInput::Message { conn, msg: cancel }).await.unwrap();
    }
    wait_for(&seen.closed, INPUTS / 2).await;
    INPUTS as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let root = std::env::temp_dir().join(format!("xiaowu-bench-routing-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let on = root.join("tp-on");
    let redis = test_kit::redis::TestRedis::start();
    let sentinel = test_kit::redis::TestSentinel::start();
    let cross = |tag: &str| {
        let router = root.join(tag);
        // The same prefix (from the router's directory): the same cluster.
        let g = second_node(cluster_settings(&router, &redis.url()), &root.join(format!("{tag}-gateway")));
        (cluster_settings(&router, &redis.url()), Some(g))
    };
    let runs = |tag: &str| -> Vec<(&'static str, Settings, Option<Settings>)> {
        vec![
            ("single node, log off", settings(&root.join(format!("{tag}-off")), false), None),
            ("single node, log in a file", settings(&root.join(format!("{tag}-on")), true), None),
            ("cluster, router's gateway", cluster_settings(&root.join(format!("{tag}-redis")), &redis.url()), None),
            {
                let (s, g) = cross(&format!("{tag}-cross"));
                ("cluster, another gateway", s, g)
            },
            ("cluster + replica WAIT", cluster_settings(&root.join(format!("{tag}-sentinel")), &sentinel.url()), None),
        ]
    };
    println!("driver throughput, {INPUTS} inputs (request + cancel, {BOOTHS} booths):");
    for (name, s, g) in runs("tp") {
        let rate = rt.block_on(throughput(s, g));
        println!("  {name:<28} {rate:>9.0} inputs/s");
    }
    println!("latency of one input on an idle driver (gateway in → answer in the hub), 2,000 inputs:");
    for (name, s, g) in runs("lat") {
        let (p50, p99) = rt.block_on(latency(s, g));
        println!("  {name:<28} p50 {p50:>7.0} µs   p99 {p99:>7.0} µs");
    }
    // The throughput run's file log wrote a snapshot every 50,000 entries: `routing.log.1` is a
    // whole segment (header, snapshot, 50,000 entries), `routing.log` what a restart replays.
    for (name, file) in [
        ("a segment (snapshot + 50,000 entries)", "routing.log.1"),
        ("a restart (from the last snapshot)", "routing.log"),
    ] {
        let log = on.join(file);
        let size = std::fs::metadata(&log).unwrap().len();
        let mut times = Vec::new();
        let mut entries = 0;
        for _ in 0..5 {
            let started = Instant::now();
            entries = rt
                .block_on(async {
                    signaling_server::replay_log(settings(&root.join("replay"), false), &log, Box::new(|_| {}))
                })
                .unwrap();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "replay of {name}: {entries} entries, {:.1} MB: median {:.0} ms (best {:.0}, worst {:.0}, 5 runs), {:.0} ms per 100,000 entries",
            size as f64 / 1e6,
            times[2],
            times[0],
            times[4],
            times[2] * 1e5 / entries as f64
        );
    }
    let _ = std::fs::remove_dir_all(&root);
    std::thread::sleep(Duration::from_millis(100));
}
