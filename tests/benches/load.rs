//! Load benchmarks, against the release server as a
//! separate process so that its memory and CPU are its own:
//!
//! 1. `idle`: N booths (default 10,000) connect, say hello and ping every 10 s; the server's RSS
//!    per connection, its CPU, and the ping round trip p50/p99, then RSS after all leave.
//! 2. `flood`: one booth floods pings while another pings every 100 ms: the calm booth's round trip
//!    before and during the flood.
//! 3. `nagle`: request → offer at the clerk (the server sends `clerk_state` then `offer`, two
//!    small messages back to back), with `TCP_NODELAY` on the server's sockets and without.
//! 4. `churn`: 300 booths and 40 clerks for 60 s with random requests, cancels, declines, hang-ups,
//!    drops and reconnects. Checked from the clients' side: no clerk holds two offers, no booth is
//!    offered while it is away, no ticket is in two calls, every ticket ends exactly once.
//!
//! Run: `cargo build --release --bins && cargo bench -p xiaowu-tests --bench load [-- idle|flood|nagle|churn] [--booths N] [--rounds N]`

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::{ClerkTargetState, ClientMessage, Priority, Role, ServerMessage, ServiceCode};
use xiaowu_tests::bench::*;

const KEY: &str = "load-bench-key-of-at-least-thirty-two-bytes";
const LIMITS: &str = "[limits]\nmax_connections_per_ip = 40000\nmax_unauthenticated = 4096\n";

fn now_us(t0: Instant) -> u64 {
    t0.elapsed().as_micros() as u64
}

fn report_rtt(label: &str, rtts: &mut [u64]) {
    rtts.sort();
    if rtts.is_empty() {
        println!("  {label}: no samples");
        return;
    }
    println!(
        "  {label}: n={} p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        rtts.len(),
        pct(rtts, 0.5) as f64 / 1000.0,
        pct(rtts, 0.99) as f64 / 1000.0,
        rtts[rtts.len() - 1] as f64 / 1000.0
    );
}

/// One booth: hello, then a ping every `every`, recording each round trip.
async fn idle_booth(addr: SocketAddr, id: String, every: Duration, t0: Instant, rtts: Arc<Mutex<Vec<u64>>>) {
    let token = mint_token(KEY, Role::Booth, &id);
    let Ok(mut c) = Conn::open(addr, Role::Booth, &token).await else { return };
    // Spread the pings over the interval, as real booths started at different times would.
    let offset = Duration::from_millis(id.bytes().map(u64::from).sum::<u64>() * 37 % every.as_millis() as u64);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if c.send(&ClientMessage::Ping { seq: now_us(t0) }).await.is_err() { return; }
            }
            msg = c.recv() => match msg {
                Some(ServerMessage::Pong { seq }) => rtts.lock().unwrap().push(now_us(t0) - seq),
                Some(_) => {}
                None => return,
            }
        }
    }
}

async fn idle(n: usize) {
    let (procs, addr) = server_process(&load_config(n, 0, KEY, LIMITS), "idle");
    let pid = procs.0[0].id();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let base = sample(pid).expect("server alive");
    let t0 = Instant::now();
    let rtts = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::with_capacity(n);
    let ramp = Instant::now();
    for batch in (0..n).collect::<Vec<_>>().chunks(500) {
        for &i in batch {
            tasks.push(tokio::spawn(idle_booth(
                addr,
                format!("booth-load-{i}"),
                Duration::from_secs(10),
                t0,
                rtts.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ramp = ramp.elapsed();
    tokio::time::sleep(Duration::from_secs(5)).await;
    rtts.lock().unwrap().clear();
    let s0 = sample(pid).expect("server alive");
    let window = Duration::from_secs(30);
    tokio::time::sleep(window).await;
    let s1 = sample(pid).expect("server alive");
    let mut r = std::mem::take(&mut *rtts.lock().unwrap());
    let connected = tasks.iter().filter(|t| !t.is_finished()).count();
    println!("idle booths: {n} opened in {:.1} s, {connected} still connected; pings every 10 s", ramp.as_secs_f64());
    let per_conn = (s1.1.saturating_sub(base.1)) as f64 * 1024.0 / connected.max(1) as f64;
    println!(
        "  server RSS: {:.1} MiB before, {:.1} MiB with them ({:.1} KiB per connection), peak {:.1} MiB",
        base.1 as f64 / 1024.0,
        s1.1 as f64 / 1024.0,
        per_conn / 1024.0,
        s1.2 as f64 / 1024.0
    );
    println!(
        "  server CPU: {:.1} % of one core over {} s",
        (s1.0 - s0.0) as f64 / window.as_secs_f64(),
        window.as_secs()
    );
    report_rtt("ping round trip", &mut r);
    for t in &tasks {
        t.abort();
    }
    drop(tasks);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = sample(pid).expect("server alive");
    println!("  server RSS 10 s after all left: {:.1} MiB", after.1 as f64 / 1024.0);
    drop(procs);
}

async fn flood() {
    let (procs, addr) = server_process(&load_config(2, 0, KEY, LIMITS), "flood");
    let t0 = Instant::now();
    let probe = |label: &'static str, dur: Duration| async move {
        let mut c = Conn::open(addr, Role::Booth, &mint_token(KEY, Role::Booth, "booth-load-0")).await.unwrap();
        let mut rtts = Vec::new();
        let end = Instant::now() + dur;
        while Instant::now() < end {
            c.send(&ClientMessage::Ping { seq: now_us(t0) }).await.unwrap();
            loop {
                match c.recv().await {
                    Some(ServerMessage::Pong { seq }) => {
                        rtts.push(now_us(t0) - seq);
                        break;
                    }
                    Some(_) => continue,
                    None => panic!("the calm booth was disconnected"),
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        c.close().await;
        report_rtt(label, &mut rtts);
    };
    println!(
        "flood: a calm booth pings every 100 ms; another floods pings as fast as it can, reconnecting when closed"
    );
    probe("calm booth, no flood", Duration::from_secs(5)).await;
    let sent = Arc::new(AtomicU64::new(0));
    let closes = Arc::new(AtomicU64::new(0));
    let flooder = tokio::spawn({
        let (sent, closes) = (sent.clone(), closes.clone());
        async move {
            loop {
                let Ok(mut c) = Conn::open(addr, Role::Booth, &mint_token(KEY, Role::Booth, "booth-load-1")).await
                else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                while c.send(&ClientMessage::Ping { seq: 0 }).await.is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                closes.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    probe("calm booth, during the flood", Duration::from_secs(5)).await;
    flooder.abort();
    println!(
        "  the flood: {} pings sent in 5 s, connection closed (rate_limited) {} times",
        sent.load(Ordering::Relaxed),
        closes.load(Ordering::Relaxed)
    );
    drop(procs);
}

/// Request → offer latency over `rounds` calls, with the server's `TCP_NODELAY` on or off.
async fn offer_latency(nodelay: bool, rounds: usize) -> Vec<u64> {
    let config =
        load_config(1, 1, KEY, LIMITS).replacen("[server]\n", &format!("[server]\ntcp_nodelay = {nodelay}\n"), 1);
    let (procs, addr) = server_process(&config, if nodelay { "nodelay" } else { "nagle" });
    let mut clerk = Conn::open(addr, Role::Clerk, &mint_token(KEY, Role::Clerk, "clerk-load-0")).await.unwrap();
    let mut booth = Conn::open(addr, Role::Booth, &mint_token(KEY, Role::Booth, "booth-load-0")).await.unwrap();
    let available = ClientMessage::SetState { state: ClerkTargetState::Available, reason: None };
    clerk.send(&available).await.unwrap();
    while !matches!(clerk.recv().await, Some(ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. }))
    {
    }
    let mut lat = Vec::new();
    for _ in 0..rounds {
        let sent = Instant::now();
        let request =
            ClientMessage::RequestService { service: ServiceCode::new("teacher-cert"), priority: Priority::Normal };
        booth.send(&request).await.unwrap();
        let offer = loop {
            if let Some(ServerMessage::Offer { offer, .. }) = clerk.recv().await {
                break offer;
            }
        };
        lat.push(sent.elapsed().as_micros() as u64);
        clerk.send(&ClientMessage::AcceptOffer { offer }).await.unwrap();
        let call = loop {
            if let Some(ServerMessage::CallStarted { call, .. }) = booth.recv().await {
                break call;
            }
        };
        booth.send(&ClientMessage::HangUp { call }).await.unwrap();
        while !matches!(booth.recv().await, Some(ServerMessage::TicketClosed { .. })) {}
        clerk.send(&ClientMessage::EndWrapUp { outcome: None, note: None }).await.unwrap();
        while !matches!(
            clerk.recv().await,
            Some(ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. })
        ) {}
        // Stay well inside the per-socket rate limit.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(procs);
    lat
}

async fn nagle(rounds: usize) {
    println!("request_service → offer at the clerk (clerk_state and offer sent back to back), {rounds} rounds each:");
    let mut on = offer_latency(true, rounds).await;
    let mut off = offer_latency(false, rounds).await;
    report_rtt("server TCP_NODELAY on (default)", &mut on);
    report_rtt("server TCP_NODELAY off (Nagle)", &mut off);
}

/// What the churn run saw, across all clients.
#[derive(Default)]
struct Ledger {
    violations: Vec<String>,
    /// Ticket → how many `ticket_closed` its booth received.
    closed: HashMap<u64, u32>,
    opened: HashSet<u64>,
    reasons: HashMap<String, u32>,
    offers: u64,
    calls: u64,
    drops: u64,
    /// Booths whose connection is down, since when.
    away: HashMap<String, Instant>,
}

type Shared = Arc<Mutex<Ledger>>;

async fn churn_clerk(addr: SocketAddr, i: usize, until: Instant, ledger: Shared) {
    let id = format!("clerk-load-{i}");
    let mut rng = Rng::new(1000 + i as u64);
    while Instant::now() < until {
        let Ok(mut c) = Conn::open(addr, Role::Clerk, &mint_token(KEY, Role::Clerk, &id)).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let _ = c.send(&ClientMessage::SetState { state: ClerkTargetState::Available, reason: None }).await;
        let mut outstanding: Option<u64> = None;
        let mut call: Option<protocol::CallId> = None;
        let mut hang_up_at: Option<Instant> = None;
        let drop_at = Instant::now() + rng.ms(5_000, 40_000);
        loop {
            let wake = hang_up_at.unwrap_or(drop_at).min(drop_at).min(until);
            let msg = tokio::select! {
                m = c.recv() => m,
                _ = tokio::time::sleep_until(wake.into()) => {
                    if Instant::now() >= until { return; }
                    if Instant::now() >= drop_at { break; }
                    if let (Some(at), Some(cl)) = (hang_up_at, call) {
                        if Instant::now() >= at {
                            let _ = c.send(&ClientMessage::HangUp { call: cl }).await;
                            hang_up_at = None;
                        }
                    }
                    continue;
                }
            };
            let Some(msg) = msg else { break };
            match msg {
                ServerMessage::Offer { offer, booth, .. } => {
                    {
                        let mut l = ledger.lock().unwrap();
                        l.offers += 1;
                        if let Some(o) = outstanding {
                            l.violations.push(format!("{id} got offer {} while holding offer {o}", offer.0));
                        }
                        if let Some(since) = l.away.get(booth.as_str()).copied() {
                            if since.elapsed() > Duration::from_millis(300) {
                                l.violations.push(format!("{id} offered {booth} away for {:?}", since.elapsed()));
                            }
                        }
                    }
                    // Held until it is revoked, turns into a call, or our accept is refused.
                    outstanding = Some(offer.0);
                    tokio::time::sleep(rng.ms(0, 300)).await;
                    let reply = if rng.chance(0.1) {
                        ClientMessage::DeclineOffer { offer }
                    } else {
                        ClientMessage::AcceptOffer { offer }
                    };
                    let _ = c.send(&reply).await;
                }
                ServerMessage::OfferRevoked { offer, .. } if outstanding == Some(offer.0) => outstanding = None,
                ServerMessage::Error { in_reply_to: Some(kind), .. } if kind == "accept_offer" => outstanding = None,
                ServerMessage::CallStarted { call: cl, .. } => {
                    outstanding = None;
                    call = Some(cl);
                    let _ =
                        c.send(&ClientMessage::MediaState { call: cl, state: protocol::MediaState::Connected }).await;
                    hang_up_at = Some(Instant::now() + rng.ms(500, 3_000));
                }
                ServerMessage::CallEnded { .. } => {
                    call = None;
                    hang_up_at = None;
                    tokio::time::sleep(rng.ms(0, 500)).await;
                    let _ = c.send(&ClientMessage::EndWrapUp { outcome: None, note: None }).await;
                }
                ServerMessage::ClerkState { state: protocol::ClerkState::Away, .. } => {
                    let _ = c.send(&ClientMessage::SetState { state: ClerkTargetState::Available, reason: None }).await;
                }
                _ => {}
            }
        }
        // A dropped console: gone without a goodbye, back after a moment.
        ledger.lock().unwrap().drops += 1;
        drop(c);
        tokio::time::sleep(rng.ms(200, 3_000)).await;
    }
}

async fn churn_booth(addr: SocketAddr, i: usize, until: Instant, ledger: Shared) {
    let id = format!("booth-load-{i}");
    let mut rng = Rng::new(i as u64 + 1);
    let service = ServiceCode::new("teacher-cert");
    let mut ticket: Option<u64> = None;
    let mut live_call: Option<protocol::CallId> = None;
    let mut first = true;
    loop {
        let finishing = Instant::now() >= until;
        let Ok(mut c) = Conn::open(addr, Role::Booth, &mint_token(KEY, Role::Booth, &id)).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        ledger.lock().unwrap().away.remove(&id);
        if first {
            tokio::time::sleep(rng.ms(0, 2_000)).await;
            first = false;
        }
        let drop_at =
            if finishing { until + Duration::from_secs(3600) } else { Instant::now() + rng.ms(2_000, 20_000) };
        let mut next_action = Instant::now() + rng.ms(100, 1_500);
        let mut asked = false;
        loop {
            let now = Instant::now();
            if now >= until && !finishing {
                break; // Reconnect once more to finish cleanly.
            }
            if finishing && ticket.is_none() && asked {
                c.close().await;
                return;
            }
            let wake = next_action.min(drop_at).min(if finishing { now + Duration::from_secs(15) } else { until });
            let msg = tokio::select! {
                m = c.recv() => m,
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if finishing && now >= wake && now >= next_action + Duration::from_secs(14) {
                        ledger.lock().unwrap().violations.push(format!("{id}: ticket {ticket:?} never ended"));
                        return;
                    }
                    if now >= drop_at { break; }
                    if now >= next_action {
                        next_action = now + rng.ms(300, 2_000);
                        match (ticket, live_call) {
                            (None, _) if !finishing => {
                                let _ = c.send(&ClientMessage::RequestService { service: service.clone(), priority: Priority::Normal }).await;
                                asked = true;
                            }
                            (None, _) => asked = true,
                            (Some(t), None) if finishing || rng.chance(0.15) => {
                                let _ = c.send(&ClientMessage::CancelTicket { ticket: protocol::TicketId(t) }).await;
                            }
                            (Some(_), Some(call)) if finishing || rng.chance(0.2) => {
                                let _ = c.send(&ClientMessage::HangUp { call }).await;
                            }
                            _ => {}
                        }
                    }
                    continue;
                }
            };
            let Some(msg) = msg else { break };
            match msg {
                ServerMessage::TicketStatus { ticket: t, .. } => {
                    ticket = Some(t.0);
                    ledger.lock().unwrap().opened.insert(t.0);
                }
                ServerMessage::TicketClosed { ticket: t, reason, .. } => {
                    {
                        let mut l = ledger.lock().unwrap();
                        l.opened.insert(t.0);
                        *l.closed.entry(t.0).or_default() += 1;
                        *l.reasons.entry(format!("{reason:?}")).or_default() += 1;
                    }
                    if ticket == Some(t.0) {
                        ticket = None;
                        live_call = None;
                    }
                    if finishing {
                        c.close().await;
                        return;
                    }
                }
                ServerMessage::CallStarted { call, ticket: t, .. } => {
                    if let Some(other) = live_call.filter(|c| *c != call) {
                        let v = format!("{id}: ticket {} in call {} while call {} is live", t.0, call.0, other.0);
                        ledger.lock().unwrap().violations.push(v);
                    }
                    if live_call != Some(call) {
                        ledger.lock().unwrap().calls += 1;
                    }
                    live_call = Some(call);
                    let _ = c.send(&ClientMessage::MediaState { call, state: protocol::MediaState::Connected }).await;
                }
                ServerMessage::CallEnded { call, .. } if live_call == Some(call) => live_call = None,
                _ => {}
            }
        }
        {
            let mut l = ledger.lock().unwrap();
            l.drops += 1;
            l.away.insert(id.clone(), Instant::now());
        }
        drop(c);
        if Instant::now() < until {
            // Mostly back within the grace period (5 s here); sometimes not (the ticket is lost).
            let away = if rng.chance(0.1) { rng.ms(6_000, 9_000) } else { rng.ms(100, 3_000) };
            tokio::time::sleep(away).await;
        }
    }
}

async fn churn() {
    const BOOTHS: usize = 300;
    const CLERKS: usize = 40;
    let run = Duration::from_secs(60);
    let config = load_config(BOOTHS, CLERKS, KEY, LIMITS)
        .replace("booth_grace_secs = 30", "booth_grace_secs = 5")
        .replace("offer_timeout_secs = 20", "offer_timeout_secs = 3")
        .replace("wrap_up_max_secs = 120", "wrap_up_max_secs = 5");
    let (procs, addr) = server_process(&config, "churn");
    let pid = procs.0[0].id();
    let s0 = sample(pid).expect("server alive");
    let ledger: Shared = Arc::default();
    let until = Instant::now() + run;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..CLERKS {
        tasks.push(tokio::spawn(churn_clerk(addr, i, until, ledger.clone())));
    }
    for i in 0..BOOTHS {
        tasks.push(tokio::spawn(churn_booth(addr, i, until, ledger.clone())));
    }
    // A probe measures message latency through the server while the churn runs.
    let probe = tokio::spawn(async move {
        let mut c = Conn::open(addr, Role::Booth, &mint_token(KEY, Role::Booth, "booth-gudao-2")).await.unwrap();
        let mut rtts = Vec::new();
        // Five pings a second: well inside the per-socket rate limit.
        'probe: while Instant::now() < until {
            let sent = Instant::now();
            c.send(&ClientMessage::Ping { seq: 1 }).await.unwrap();
            loop {
                match c.recv().await {
                    Some(ServerMessage::Pong { .. }) => break,
                    Some(_) => continue,
                    None => break 'probe,
                }
            }
            rtts.push(sent.elapsed().as_micros() as u64);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        rtts
    });
    let mut rtts = probe.await.unwrap();
    let s1 = sample(pid).expect("server alive");
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(40), t).await;
    }
    let l = ledger.lock().unwrap();
    let never_closed: Vec<u64> = l.opened.iter().filter(|t| !l.closed.contains_key(t)).copied().collect();
    let twice: Vec<u64> = l.closed.iter().filter(|(_, n)| **n > 1).map(|(t, _)| *t).collect();
    println!("churn: {BOOTHS} booths, {CLERKS} clerks, {} s (booth grace 5 s, offer timeout 3 s)", run.as_secs());
    println!(
        "  tickets {} (ended: {:?}), offers {}, calls {}, connection drops {}",
        l.opened.len(),
        l.reasons,
        l.offers,
        l.calls,
        l.drops
    );
    let cpu = (s1.0 - s0.0) as f64 / t0.elapsed().as_secs_f64().min(run.as_secs_f64());
    println!(
        "  server CPU {cpu:.1} % of one core, RSS {:.1} MiB (peak {:.1} MiB)",
        s1.1 as f64 / 1024.0,
        s1.2 as f64 / 1024.0
    );
    report_rtt("probe ping round trip during the churn", &mut rtts);
    println!("  tickets never ended: {never_closed:?}; ended twice: {twice:?}");
    println!("  violations: {}", l.violations.len());
    for v in l.violations.iter().take(20) {
        println!("    {v}");
    }
    let ok = l.violations.is_empty() && never_closed.is_empty() && twice.is_empty();
    println!("  {}", if ok { "CHECKS PASSED" } else { "CHECKS FAILED" });
    drop(l);
    drop(procs);
    assert!(ok, "the churn run found violations");
}

fn main() {
    gateway::limits::raise_nofile_limit();
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let booths =
        args.iter().position(|a| a == "--booths").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(10_000);
    let rounds = args.iter().position(|a| a == "--rounds").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(40);
    let which: Vec<&str> =
        args.iter().map(String::as_str).filter(|a| ["idle", "flood", "nagle", "churn"].contains(a)).collect();
    let all = which.is_empty();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if all || which.contains(&"idle") {
        rt.block_on(idle(booths));
    }
    if all || which.contains(&"flood") {
        rt.block_on(flood());
    }
    if all || which.contains(&"nagle") {
        rt.block_on(nagle(rounds));
    }
    if all || which.contains(&"churn") {
        rt.block_on(churn());
    }
}
