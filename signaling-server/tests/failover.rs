//! Two nodes on one Redis and one PostgreSQL, as real processes: one routes, the other is a warm
//! standby. The router is killed with SIGKILL while twenty citizens wait and five are in calls:
//! the standby takes the lease, the citizens reconnect to it and find their tickets in their
//! places, and the calls go on — the clerks come back within their grace period and hang up as
//! usual, and the cases are recorded; no ticket is offered to two clerks. A router that is paused
//! past its lease (split brain) is fenced off: its writes are refused and it exits. Redis itself
//! failing over under Sentinel loses nothing a client was told.

mod common;

use std::time::{Duration, Instant};

use common::cluster::*;
use common::*;
use protocol::{CaseOutcome, ClientMessage, Role, ServerMessage, TicketNotice};
use test_kit::postgres as test_postgres;

/// (booth, clerk) pairs in a call when the router dies: each clerk in the booth's own county.
const CALLS: [(&str, &str); 5] = [
    ("booth-gudao-1", "clerk-hekou-1"),
    ("booth-xianhe-1", "clerk-hekou-2"),
    ("booth-niuzhuang-1", "clerk-dongyingqu-1"),
    ("booth-yongan-1", "clerk-kenli-1"),
    ("booth-chenzhuang-1", "clerk-lijin-1"),
];

/// Clerks signed in but away: they keep the waiting citizens' pools staffed (no `no_clerk`) while
/// offering nothing.
const AWAY: [&str; 6] =
    ["clerk-dongyingqu-2", "clerk-kenli-2", "clerk-lijin-2", "clerk-guangrao-1", "clerk-bincheng-1", "clerk-zhanhua-1"];

/// Citizens waiting when the router dies.
const QUEUED: [&str; 20] = [
    "booth-gudao-2",
    "booth-yihe-1",
    "booth-xinhu-1",
    "booth-nanling-1",
    "booth-hekou-bank-1",
    "booth-xianhe-2",
    "booth-longju-1",
    "booth-dongyingqu-post-1",
    "booth-dongying-power-1",
    "booth-erbajiu-1",
    "booth-huanghekou-1",
    "booth-kenli-bank-1",
    "booth-yongan-2",
    "booth-lijin-post-1",
    "booth-dawang-1",
    "booth-guangrao-bank-1",
    "booth-qinhuangtai-1",
    "booth-bincheng-post-1",
    "booth-fuyuan-1",
    "booth-zhanhua-bank-1",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_and_nobody_loses_their_place_or_call() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let a = cluster.node("a");
    wait_for_router(&a, WAIT);
    let b = cluster.node("b");
    let health = b.health();
    assert_eq!((health["role"].as_str(), health["node"].as_str()), (Some("standby"), Some("b")), "{health}");

    // On the router: five calls, and twenty citizens waiting behind them.
    let mut calls = Vec::new();
    let mut held = Vec::new();
    for (booth, clerk) in CALLS {
        let mut c = connect(&a, Role::Clerk, clerk).await;
        c.send(ClientMessage::SetState { state: protocol::ClerkTargetState::Available, reason: None }).await.unwrap();
        expect(&mut c, "available", |m| {
            matches!(m, ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. }).then_some(())
        })
        .await;
        let mut b_ = connect(&a, Role::Booth, booth).await;
        b_.send(teacher_cert()).await.unwrap();
        let offer = expect(&mut c, "offer", |m| match m {
            ServerMessage::Offer { offer, .. } => Some(*offer),
            _ => None,
        })
        .await;
        c.send(ClientMessage::AcceptOffer { offer }).await.unwrap();
        let call = expect(&mut b_, "call", |m| match m {
            ServerMessage::CallStarted { call, .. } => Some(*call),
            _ => None,
        })
        .await;
        for s in [&b_, &c] {
            s.send(ClientMessage::MediaState { call, state: protocol::MediaState::Connected }).await.unwrap();
        }
        calls.push(call);
        held.push(b_);
        held.push(c);
    }
    for clerk in AWAY {
        held.push(connect(&a, Role::Clerk, clerk).await);
    }
    let mut places = Vec::new();
    for booth in QUEUED {
        let mut s = connect(&a, Role::Booth, booth).await;
        s.send(teacher_cert()).await.unwrap();
        places.push(
            expect(&mut s, "waiting", |m| match m {
                ServerMessage::TicketStatus { ticket, position: Some(p), .. } => Some((ticket.0, *p)),
                _ => None,
            })
            .await,
        );
        held.push(s);
    }

    a.kill_9();
    drop(held);
    let (took, b) = tokio::task::spawn_blocking(move || (wait_for_router(&b, WAIT), b)).await.unwrap();
    eprintln!("takeover after kill -9 with 20 waiting and 5 calls: {took:?} (lease 1 s)");

    // Every clerk comes back to its call on the new router, and every caller too.
    let mut clerks = Vec::new();
    for ((booth, clerk), call) in CALLS.iter().zip(&calls) {
        let mut c = connect(&b, Role::Clerk, clerk).await;
        let again = expect(&mut c, "the call again", |m| match m {
            ServerMessage::CallStarted { call, .. } => Some(*call),
            _ => None,
        })
        .await;
        assert_eq!(again, *call, "{clerk}'s call survived the router's death");
        let mut s = connect(&b, Role::Booth, booth).await;
        expect(&mut s, "the call again", |m| matches!(m, ServerMessage::CallStarted { .. }).then_some(())).await;
        clerks.push((c, s));
    }
    for clerk in AWAY {
        clerks.push((connect(&b, Role::Clerk, clerk).await, connect(&b, Role::Supervisor, "sup-dongying").await));
    }
    // The waiting citizens find their tickets, in their places (coming back in the same order).
    let mut back = Vec::new();
    let mut sessions = Vec::new();
    for booth in QUEUED {
        let mut s = connect(&b, Role::Booth, booth).await;
        back.push(
            expect(&mut s, "resumed", |m| match m {
                ServerMessage::TicketStatus {
                    ticket, position: Some(p), notice: Some(TicketNotice::Resumed), ..
                } => Some((ticket.0, *p)),
                _ => None,
            })
            .await,
        );
        sessions.push(s);
    }
    assert_eq!(back, places);
    // The calls end as usual, and their cases are recorded by the new router.
    for ((clerk, _), call) in clerks.iter_mut().zip(&calls) {
        clerk.send(ClientMessage::HangUp { call: *call }).await.unwrap();
        clerk.send(ClientMessage::EndWrapUp { outcome: Some(CaseOutcome::Completed), note: None }).await.unwrap();
        expect(clerk, "case recorded", |m| matches!(m, ServerMessage::CaseRecorded { .. }).then_some(())).await;
    }
    // Supervisors see who routes now, the log's length, and each node's lag (heartbeats come
    // every second: ask until b's says it routes).
    let sup = token(&b, Role::Supervisor, "sup-dongying").await;
    let deadline = Instant::now() + WAIT;
    let view = loop {
        let view: protocol::rest::ClusterView = get_json(&b, "/api/cluster", sup.clone()).await;
        if view.nodes.iter().any(|n| n.node == "b" && n.role == "router") {
            break view;
        }
        assert!(Instant::now() < deadline, "{view:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((view.mode.as_str(), view.router.as_deref()), ("cluster", Some("b")));
    assert!(view.log_length > 0 && view.nodes.iter().any(|n| n.node == "a"), "{view:?}");
    // Both routers' decisions are in one log in Redis, and it replays the same every time: five
    // offers and five calls in all — no ticket was offered to two clerks.
    let first = replay_twice(&cluster.redis.url());
    let count = |what: &str| first.lines().filter(|l| l.trim_start().starts_with(what)).count();
    assert_eq!((count("CallStarted"), count("CallEnded"), count("TicketOpened")), (5, 5, 25), "{first}");
    // The five calls, then each clerk back from wrap-up offered the next citizen: ten offers,
    // each of a different ticket.
    let offered: Vec<&str> = first
        .lines()
        .filter(|l| l.trim_start().starts_with("OfferMade"))
        .filter_map(|l| l.split("ticket: TicketId(").nth(1)?.split(')').next())
        .collect();
    let distinct: std::collections::BTreeSet<&str> = offered.iter().copied().collect();
    assert_eq!((offered.len(), distinct.len()), (10, 10), "no ticket is offered to two clerks: {offered:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_paused_past_its_lease_is_fenced_off_and_steps_down() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let a = cluster.node("a");
    wait_for_router(&a, WAIT);
    let b = cluster.node("b");
    let mut booth = connect(&a, Role::Booth, "booth-gudao-1").await;
    a.signal("-STOP");
    let b = tokio::task::spawn_blocking(move || {
        wait_for_router(&b, WAIT);
        b
    })
    .await
    .unwrap();
    // The old router wakes up with a message to route: its write is refused and it exits.
    a.signal("-CONT");
    let service = protocol::ServiceCode::new("teacher-cert");
    let _ = booth.send(ClientMessage::RequestService { service, priority: protocol::Priority::Normal }).await;
    let mut a = a;
    let status = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = a.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the deposed router did not step down");
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap();
    assert!(matches!(status.code(), Some(71) | Some(75)), "exit status {status:?}");
    assert_eq!(b.health()["role"], "router");
    let _ = booth.recv_timeout(Duration::from_millis(10)).await;
}

/// Redis itself fails over: the master is killed while citizens take tickets; Sentinel promotes
/// the replica. Every batch was confirmed by the replica (`WAIT`) before its answers went out, so
/// every citizen who was told a place still has it; the requests made during the failover are
/// held, then answered; and the log has each of them exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_failover_loses_nothing_a_client_was_told() {
    let mut sentinel = tokio::task::spawn_blocking(test_kit::redis::TestSentinel::start).await.unwrap();
    let database = tokio::task::spawn_blocking(test_postgres::postgres_url).await.unwrap();
    let url = sentinel.url();
    // A lease longer than the failover, so the router keeps it and goes on once Redis is back.
    // Generous: under a loaded machine a Sentinel failover has taken more than 10 s, and a lease
    // that expired on the new master meanwhile makes the router step down (exit 75); an append is
    // retried as long as the lease (here about 30 s were seen under load before the new master
    // had the cluster's state).
    let args = [
        "--node-id",
        "a",
        "--redis",
        &url,
        "--token-secret",
        "sentinel-test-secret-of-at-least-32-bytes",
        "--lease-ms",
        "60000",
    ];
    let a = Server::start(&temp_dir("sentinel-a"), free_addr(), &args, &[("XIAOWU_DATABASE", database)]);
    wait_for_router(&a, WAIT);
    let _away = connect(&a, Role::Clerk, "clerk-hekou-2").await;
    let service = protocol::ServiceCode::new("teacher-cert");
    let booths = ["booth-gudao-1", "booth-gudao-2", "booth-xianhe-1", "booth-yihe-1", "booth-xinhu-1"];
    let mut told = Vec::new();
    let mut sessions = Vec::new();
    for (i, booth) in booths.iter().enumerate() {
        let mut s = connect(&a, Role::Booth, booth).await;
        s.send(ClientMessage::RequestService { service: service.clone(), priority: protocol::Priority::Normal })
            .await
            .unwrap();
        if i == 3 {
            // The master dies with two requests still to come.
            let old = sentinel.master_port;
            sentinel = tokio::task::spawn_blocking(move || {
                sentinel.kill_master();
                let deadline = Instant::now() + Duration::from_secs(30);
                while sentinel.current_master_port().is_none_or(|p| p == old) {
                    assert!(Instant::now() < deadline, "Sentinel did not fail over");
                    std::thread::sleep(Duration::from_millis(100));
                }
                // The old master comes back as a replica, so writes can be confirmed again.
                sentinel.restart_old_master();
                sentinel
            })
            .await
            .unwrap();
        }
        told.push(
            expect_within(&mut s, "a place", 2 * WAIT, |m| match m {
                ServerMessage::TicketStatus { ticket, position: Some(p), .. } => Some((ticket.0, *p)),
                _ => None,
            })
            .await,
        );
        sessions.push(s);
    }
    let positions: Vec<u32> = told.iter().map(|(_, p)| *p).collect();
    assert_eq!(positions, [1, 2, 3, 4, 5], "every request answered, in order");
    assert_eq!(a.health()["role"], "router", "the router kept its lease through the failover");
    // The log has each ticket exactly once.
    let replayed = replay_twice(&url);
    assert_eq!(replayed.lines().filter(|l| l.trim_start().starts_with("TicketOpened")).count(), 5, "{replayed}");
}

/// A router stopped on purpose (SIGTERM, a rolling upgrade) hands over: it gives up its lease, so
/// the standby routes at once, and closes nothing — the waiting citizen keeps the ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_stopped_on_purpose_hands_over_without_closing_tickets() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    // A long lease, so a lease left to run out would still be there when the router has exited.
    let a = cluster.node_with("a", &["--lease-ms", "15000"]);
    wait_for_router(&a, WAIT);
    let b = cluster.node_with("b", &["--lease-ms", "15000"]);
    let _away = connect(&a, Role::Clerk, "clerk-hekou-2").await;
    let mut booth = connect(&a, Role::Booth, "booth-gudao-1").await;
    booth.send(teacher_cert()).await.unwrap();
    let ticket = expect(&mut booth, "waiting", |m| match m {
        ServerMessage::TicketStatus { ticket, .. } => Some(*ticket),
        _ => None,
    })
    .await;
    a.signal("-TERM");
    let retry = expect(&mut booth, "server_shutdown", |m| match m {
        ServerMessage::ServerShutdown { retry_after_ms, .. } => Some(*retry_after_ms),
        ServerMessage::TicketClosed { .. } => panic!("a handover closes no ticket"),
        _ => None,
    })
    .await;
    assert_eq!(retry, 1_000);
    // Once the old router has exited, its lease is gone (released, not left to run out its 15 s).
    let mut a = a;
    let url = cluster.redis.url();
    let b = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + WAIT;
        while a.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the router did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut conn = ::cluster::redis_log::connect(&url).unwrap();
        let holder: Option<String> = redis::cmd("GET").arg("xiaowu:lease").query(&mut conn).unwrap();
        assert_ne!(holder.as_deref(), Some("a"), "the stopped router released its lease");
        wait_for_router(&b, WAIT);
        b
    })
    .await
    .unwrap();
    let mut booth = connect(&b, Role::Booth, "booth-gudao-1").await;
    let resumed = expect(&mut booth, "resumed", |m| match m {
        ServerMessage::TicketStatus { ticket, notice: Some(TicketNotice::Resumed), .. } => Some(*ticket),
        _ => None,
    })
    .await;
    assert_eq!(resumed, ticket);
}

/// With a snapshot every 100 entries the applied stream is trimmed (it begins with a snapshot, not
/// the header), and a standby that joins late starts its replica from the latest snapshot: when
/// the router dies, it routes on with the waiting citizen in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_that_joins_late_starts_from_the_latest_snapshot() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let a = cluster.node_with("a", &["--snapshot-every", "100"]);
    wait_for_router(&a, WAIT);
    let _away = connect(&a, Role::Clerk, "clerk-hekou-2").await;
    // 250 logged requests and cancels — two snapshots — from five booths (each within its
    // message rate limit).
    let mut busy = Vec::new();
    for booth in ["booth-gudao-1", "booth-gudao-2", "booth-yihe-1", "booth-xinhu-1", "booth-nanling-1"] {
        let mut s = connect(&a, Role::Booth, booth).await;
        for _ in 0..25 {
            s.send(teacher_cert()).await.unwrap();
            let ticket = expect(&mut s, "a ticket", |m| match m {
                ServerMessage::TicketStatus { ticket, .. } => Some(*ticket),
                _ => None,
            })
            .await;
            s.send(ClientMessage::CancelTicket { ticket }).await.unwrap();
            expect(&mut s, "cancelled", |m| matches!(m, ServerMessage::TicketClosed { .. }).then_some(())).await;
        }
        busy.push(s);
    }
    let mut waiting = connect(&a, Role::Booth, "booth-xianhe-1").await;
    waiting.send(teacher_cert()).await.unwrap();
    let place = expect(&mut waiting, "a place", |m| match m {
        ServerMessage::TicketStatus { ticket, position: Some(p), .. } => Some((*ticket, *p)),
        _ => None,
    })
    .await;
    let url = cluster.redis.url();
    let replayed = tokio::task::spawn_blocking(move || replay_twice(&url)).await.unwrap();
    let first = replayed.lines().next().unwrap_or_default();
    assert!(first.contains(" snapshot: "), "the stream was trimmed to a snapshot: {first}");

    let b = cluster.node("b");
    a.kill_9();
    drop((busy, waiting));
    let b = tokio::task::spawn_blocking(move || {
        wait_for_router(&b, WAIT);
        b
    })
    .await
    .unwrap();
    let mut waiting = connect(&b, Role::Booth, "booth-xianhe-1").await;
    let back = expect(&mut waiting, "resumed", |m| match m {
        ServerMessage::TicketStatus { ticket, position: Some(p), notice: Some(TicketNotice::Resumed), .. } => {
            Some((*ticket, *p))
        }
        _ => None,
    })
    .await;
    assert_eq!(back, place);
}
