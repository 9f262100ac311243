//! Records go on being written after a takeover. Three nodes on one Redis and one PostgreSQL, as
//! real processes; the booth on one node, the clerk on another, the router a third with nobody on
//! it. A few calls are finished, wrapped up and rated; then, with a call in progress and a citizen
//! waiting, the router is killed with SIGKILL. The new router writes what its replica held back —
//! cases and ratings the dead router had already committed, found there by the database's own
//! code for a duplicate — and goes on: the call in progress and fifty calls after it are each
//! answered `case_recorded`, every rating `rating_recorded`, and every case is readable on every
//! node. Nothing was set aside.

mod common;

use std::time::Duration;

use common::cluster::*;
use common::*;
use protocol::{CaseOutcome, ClientMessage, Rating, Role, ServerMessage};
use session::Session;

const BOOTH: &str = "booth-gudao-1";
const CLERK: &str = "clerk-hekou-1";

/// Waits until `b` or `c` has taken the router lease over.
async fn one_of_them_routes(b: Server, c: Server) -> (Server, Server) {
    tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + WAIT;
        while b.health()["role"] != "router" && c.health()["role"] != "router" {
            assert!(std::time::Instant::now() < deadline, "no takeover");
            std::thread::sleep(Duration::from_millis(20));
        }
        (b, c)
    })
    .await
    .unwrap()
}

/// The clerk hangs up and wraps up; the booth rates. Both answers come only after the commit.
/// Returns the offer the clerk was made meanwhile (back from wrap-up with a citizen waiting).
async fn finish_call(
    booth: &mut Session,
    clerk: &mut Session,
    call: protocol::CallId,
    ticket: protocol::TicketId,
) -> Option<protocol::OfferId> {
    clerk.send(ClientMessage::HangUp { call }).await.unwrap();
    expect(booth, "served", |m| {
        matches!(m, ServerMessage::TicketClosed { reason: protocol::TicketEndReason::Served, .. }).then_some(())
    })
    .await;
    clerk
        .send(ClientMessage::EndWrapUp { outcome: Some(CaseOutcome::Completed), note: Some("ok".into()) })
        .await
        .unwrap();
    let mut offered = None;
    let recorded = expect(clerk, "case recorded", |m| match m {
        ServerMessage::CaseRecorded { call, .. } => Some(*call),
        ServerMessage::Offer { offer, .. } => {
            offered = Some(*offer);
            None
        }
        ServerMessage::Error { code, in_reply_to, .. } if in_reply_to.as_deref() == Some("end_wrap_up") => {
            panic!("end_wrap_up refused: {code:?}")
        }
        _ => None,
    })
    .await;
    assert_eq!(recorded, call);
    booth.send(ClientMessage::RateService { ticket, rating: Rating::Satisfied, reason: None }).await.unwrap();
    let rated = expect(booth, "rating recorded", |m| match m {
        ServerMessage::RatingRecorded { ticket, .. } => Some(*ticket),
        ServerMessage::Error { code, in_reply_to, .. } if in_reply_to.as_deref() == Some("rate_service") => {
            panic!("rate_service refused: {code:?}")
        }
        _ => None,
    })
    .await;
    assert_eq!(rated, ticket);
    offered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_router_is_killed_every_case_and_rating_is_still_recorded() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let a = cluster.node("a");
    wait_for_router(&a, WAIT);
    let (b, c) = (cluster.node("b"), cluster.node("c"));
    // A standby's /healthz shows the router lease's epoch, as the router's does.
    let (b, c, a) = tokio::task::spawn_blocking(move || {
        let epoch = a.health()["epoch"].as_u64().unwrap_or(0);
        assert!(epoch > 0, "{}", a.health());
        let deadline = std::time::Instant::now() + WAIT;
        while b.health()["epoch"].as_u64() != Some(epoch) {
            assert!(std::time::Instant::now() < deadline, "standby epoch: {}", b.health());
            std::thread::sleep(Duration::from_millis(50));
        }
        (b, c, a)
    })
    .await
    .unwrap();
    let mut booth = connect(&b, Role::Booth, BOOTH).await;
    let mut clerk = connect(&c, Role::Clerk, CLERK).await;
    // A second clerk signed in but away keeps the item staffed while the first is in wrap-up.
    let _away = connect(&c, Role::Clerk, "clerk-hekou-2").await;
    clerk.send(ClientMessage::SetState { state: protocol::ClerkTargetState::Available, reason: None }).await.unwrap();

    // Three calls finished, wrapped up and rated on the first router.
    let mut calls = Vec::new();
    for _ in 0..3 {
        let (call, ticket) = call_between(&mut booth, &mut clerk).await;
        finish_call(&mut booth, &mut clerk, call, ticket).await;
        calls.push(call);
    }
    // A call in progress and a citizen waiting when the router dies.
    let (call, ticket) = call_between(&mut booth, &mut clerk).await;
    let mut waiting = connect(&b, Role::Booth, "booth-gudao-2").await;
    waiting.send(teacher_cert()).await.unwrap();
    expect(&mut waiting, "a place", |m| matches!(m, ServerMessage::TicketStatus { .. }).then_some(())).await;

    a.kill_9();
    let (b, c) = one_of_them_routes(b, c).await;

    // The call in progress ends as usual on the new router.
    let offered = finish_call(&mut booth, &mut clerk, call, ticket).await;
    calls.push(call);
    // The waiting citizen is served next; then fifty more calls.
    let offer = match offered {
        Some(offer) => offer,
        None => {
            expect(&mut clerk, "the waiting citizen's offer", |m| match m {
                ServerMessage::Offer { offer, .. } => Some(*offer),
                _ => None,
            })
            .await
        }
    };
    clerk.send(ClientMessage::AcceptOffer { offer }).await.unwrap();
    let (call, ticket) = expect(&mut waiting, "call", |m| match m {
        ServerMessage::CallStarted { call, ticket, .. } => Some((*call, *ticket)),
        _ => None,
    })
    .await;
    finish_call(&mut waiting, &mut clerk, call, ticket).await;
    calls.push(call);
    for _ in 0..50 {
        // Within the clerk's message rate (20 a second; a call takes four of its messages).
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (call, ticket) = call_between(&mut booth, &mut clerk).await;
        finish_call(&mut booth, &mut clerk, call, ticket).await;
        calls.push(call);
    }

    // Every case is readable on every node, with its rating.
    for node in [&b, &c] {
        let sup = token(node, Role::Supervisor, "sup-dongying").await;
        let list: protocol::rest::CaseList = get_json(node, "/api/cases?limit=200", sup).await;
        let mut seen: Vec<u64> = list.cases.iter().map(|c| c.call).collect();
        seen.sort_unstable();
        let mut want: Vec<u64> = calls.iter().map(|c| c.0).collect();
        want.sort_unstable();
        assert_eq!(seen, want, "every case on {}", node.addr);
        assert!(list.cases.iter().all(|c| c.rating == Some(Rating::Satisfied)), "every rating joins its case");
        let health = node.health();
        assert_eq!(health["records"]["set_aside"], 0, "{health}");
    }
    // `replay` names booths, clerks and services by their ids, not the engine's indexes (the
    // nodes are stopped first: a live router goes on appending timer runs).
    drop((b, c));
    let url = cluster.redis.url();
    let replayed = tokio::task::spawn_blocking(move || replay_twice(&url)).await.unwrap();
    assert!(replayed.contains("booth-gudao-1") && replayed.contains("clerk-hekou-1"), "{replayed:.2000}");
    assert!(!replayed.contains("Idx("), "no internal indexes: {replayed:.2000}");
}

/// The booth is on the router's node, the clerk on another. The router is killed and the clerk
/// hangs up before the dead node's gateway is noticed as lost: the call's end and the ticket's
/// close went to the dead node's outbound stream. When the booth comes back, on another node and
/// after its old connection was given up, it is told both — its receipt and its rating follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booth_on_the_killed_router_gets_the_end_of_its_call_when_it_comes_back() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let a = cluster.node("a");
    wait_for_router(&a, WAIT);
    let (b, c) = (cluster.node("b"), cluster.node("c"));
    let mut booth = connect(&a, Role::Booth, BOOTH).await;
    let mut clerk = connect(&c, Role::Clerk, CLERK).await;
    let _away = connect(&c, Role::Clerk, "clerk-hekou-2").await;
    clerk.send(ClientMessage::SetState { state: protocol::ClerkTargetState::Available, reason: None }).await.unwrap();
    let (call, ticket) = call_between(&mut booth, &mut clerk).await;

    a.kill_9();
    drop(booth);
    let (b, c) = one_of_them_routes(b, c).await;
    // At once, while the booth still counts as connected through the dead node.
    clerk.send(ClientMessage::HangUp { call }).await.unwrap();
    expect(&mut clerk, "the call's end", |m| matches!(m, ServerMessage::CallEnded { .. }).then_some(())).await;
    // The dead gateway is given up (3 s without a heartbeat); the booth comes back after that.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut booth = connect(&b, Role::Booth, BOOTH).await;
    let ended = expect(&mut booth, "call_ended", |m| match m {
        ServerMessage::CallEnded { call, .. } => Some(*call),
        _ => None,
    })
    .await;
    assert_eq!(ended, call);
    let closed = expect(&mut booth, "ticket_closed", |m| match m {
        ServerMessage::TicketClosed { ticket, reason, .. } => Some((*ticket, *reason)),
        _ => None,
    })
    .await;
    assert_eq!(closed, (ticket, protocol::TicketEndReason::Served));
    booth.send(ClientMessage::RateService { ticket, rating: Rating::Satisfied, reason: None }).await.unwrap();
    expect(&mut booth, "rating recorded", |m| matches!(m, ServerMessage::RatingRecorded { .. }).then_some(())).await;
    drop(c);
}
