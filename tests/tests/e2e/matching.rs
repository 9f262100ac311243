//! End-to-end routing: the real server on port 0, driven by the real clients and the protocol.

use std::time::Duration;

use protocol::{ClerkTargetState, ClientMessage, Priority, Role, ServerMessage, ServiceCode};
use xiaowu_tests::*;

fn booth_args(server: &str, booth: &str, timeout: f64) -> booth_client::BoothArgs {
    booth_client::BoothArgs { timeout, ..booth_client::BoothArgs::new(server, booth, "teacher-cert") }
}

fn agent_args(server: &str, clerk: &str) -> agent_console::AgentArgs {
    agent_console::AgentArgs { hold: Some(0.3), timeout: 20.0, ..agent_console::AgentArgs::new(server, clerk) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_match_with_the_real_clients() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let agent = tokio::spawn({
        let args = agent_args(&url, "clerk-hekou-1");
        async move { agent_console::run(&args, |_| {}).await }
    });
    // Let the clerk become available first; the booth's summary then names who served it.
    let mut sup = connect(&server, Role::Supervisor, "sup-dongying").await;
    expect(&mut sup, "hekou clerk available", |m| match m {
        ServerMessage::QueueLoad { rows } => {
            rows.iter().any(|r| r.region.as_str() == "hekou" && r.clerks_available > 0).then_some(())
        }
        _ => None,
    })
    .await;
    let booth = booth_client::run(&booth_args(&url, "booth-gudao-1", 20.0), |_| {}).await.unwrap();
    assert_eq!(booth.outcome, "served");
    assert_eq!(booth.clerk.as_deref(), Some("clerk-hekou-1"));
    // The first ticket of this start: short number 1, in an id that carries the boot number.
    let first = signaling_server::records::id_base(server.state().records.boot());
    assert_eq!(booth.ticket, Some(first));
    let agent = agent.await.unwrap().unwrap();
    assert_eq!((agent.outcome.as_str(), agent.calls, agent.ticket), ("done", 1, Some(first)));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_to_city_hall_after_the_threshold() {
    let server = start(settings(|s| widen_after(s, &[1.0, 60.0, 60.0]))).await;
    let url = base_url(&server);
    // The county clerk is signed in but away: the county step is not empty, so the ticket must
    // wait for the 1 s threshold before the city hall may take it.
    let _county = connect(&server, Role::Clerk, "clerk-hekou-1").await;
    let city = tokio::spawn({
        let args = agent_args(&url, "clerk-dongying-1");
        async move { agent_console::run(&args, |_| {}).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let booth = booth_client::run(&booth_args(&url, "booth-gudao-1", 20.0), |_| {}).await.unwrap();
    assert_eq!(booth.outcome, "served");
    assert_eq!(booth.clerk.as_deref(), Some("clerk-dongying-1"));
    assert!(booth.waited_ms >= 1000, "widened before its threshold: waited {} ms", booth.waited_ms);
    assert_eq!(booth.first_position, Some(1));
    city.await.unwrap().unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_county_step_is_skipped_at_once() {
    // Thresholds of an hour: only the empty-step rule can bring the city clerk in.
    let server = start(settings(|s| widen_after(s, &[3600.0]))).await;
    let url = base_url(&server);
    let city = tokio::spawn({
        let args = agent_args(&url, "clerk-dongying-1");
        async move { agent_console::run(&args, |_| {}).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let booth = booth_client::run(&booth_args(&url, "booth-gudao-1", 10.0), |_| {}).await.unwrap();
    assert_eq!(booth.outcome, "served");
    assert_eq!(booth.clerk.as_deref(), Some("clerk-dongying-1"));
    city.await.unwrap().unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elderly_citizen_jumps_the_queue() {
    let server = start(settings(|_| {})).await;
    let mut clerk = connect(&server, Role::Clerk, "clerk-hekou-1").await;
    let mut first = connect(&server, Role::Booth, "booth-gudao-1").await;
    let mut elderly = connect(&server, Role::Booth, "booth-gudao-2").await;
    let teacher = ServiceCode::new("teacher-cert");
    first.send(ClientMessage::RequestService { service: teacher.clone(), priority: Priority::Normal }).await.unwrap();
    let t1 = expect(&mut first, "first ticket", |m| match m {
        ServerMessage::TicketStatus { ticket, position: Some(1), .. } => Some(*ticket),
        _ => None,
    })
    .await;
    elderly.send(ClientMessage::RequestService { service: teacher, priority: Priority::Elderly }).await.unwrap();
    let t2 = expect(&mut elderly, "elderly ticket at position 1", |m| match m {
        ServerMessage::TicketStatus { ticket, position: Some(1), .. } => Some(*ticket),
        _ => None,
    })
    .await;
    expect(&mut first, "first ticket pushed to position 2", |m| {
        matches!(m, ServerMessage::TicketStatus { ticket, position: Some(2), .. } if *ticket == t1).then_some(())
    })
    .await;
    clerk.send(ClientMessage::SetState { state: ClerkTargetState::Available, reason: None }).await.unwrap();
    let offered = expect(&mut clerk, "offer", |m| match m {
        ServerMessage::Offer { ticket, priority, .. } => Some((*ticket, *priority)),
        _ => None,
    })
    .await;
    assert_eq!(offered, (t2, Priority::Elderly));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_and_timed_out_offers_go_to_the_next_clerk() {
    let server = start(settings(|s| s.engine.offer_timeout = Duration::from_millis(800))).await;
    let mut c1 = connect(&server, Role::Clerk, "clerk-hekou-1").await;
    c1.send(ClientMessage::SetState { state: ClerkTargetState::Available, reason: None }).await.unwrap();
    expect(&mut c1, "available", |m| {
        matches!(m, ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. }).then_some(())
    })
    .await;
    let mut c2 = connect(&server, Role::Clerk, "clerk-hekou-2").await;
    c2.send(ClientMessage::SetState { state: ClerkTargetState::Available, reason: None }).await.unwrap();
    expect(&mut c2, "available", |m| {
        matches!(m, ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. }).then_some(())
    })
    .await;

    // Decline: the idle-longest clerk (c1) is asked first, declines, and c2 is asked next.
    let mut booth = connect(&server, Role::Booth, "booth-gudao-1").await;
    booth
        .send(ClientMessage::RequestService { service: ServiceCode::new("teacher-cert"), priority: Priority::Normal })
        .await
        .unwrap();
    let (offer, ticket) = expect(&mut c1, "offer to c1", |m| match m {
        ServerMessage::Offer { offer, ticket, .. } => Some((*offer, *ticket)),
        _ => None,
    })
    .await;
    c1.send(ClientMessage::DeclineOffer { offer }).await.unwrap();
    let (offer2, ticket2) = expect(&mut c2, "offer to c2", |m| match m {
        ServerMessage::Offer { offer, ticket, .. } => Some((*offer, *ticket)),
        _ => None,
    })
    .await;
    assert_eq!(ticket2, ticket, "the same ticket is re-offered");
    // Timeout: c2 does not answer; the offer is revoked and the ticket waits at position 1
    // (c1 declined it, so no one else may take it).
    let reason = expect(&mut c2, "offer revoked", |m| match m {
        ServerMessage::OfferRevoked { offer, reason } if *offer == offer2 => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, protocol::OfferRevokeReason::Timeout);
    expect(&mut booth, "back to waiting at position 1", |m| {
        matches!(m, ServerMessage::TicketStatus { state: protocol::TicketState::Waiting, position: Some(1), .. })
            .then_some(())
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_clerk_signed_in_closes_with_a_reason() {
    let server = start(settings(|_| {})).await;
    let booth = booth_client::run(&booth_args(&base_url(&server), "booth-gudao-1", 10.0), |_| {}).await.unwrap();
    assert_eq!(booth.outcome, "no_clerk");
    server.shutdown().await;
}

/// A booth that signs in before any clerk of its service (the README's commands start both at
/// once) waits for one (`--wait-for-clerk`: it asks the catalog, `clerks_signed_in`) before it
/// takes its ticket, and is served: one request, the first ticket of the run — no ticket was
/// opened and closed `no_clerk` meanwhile (the reports would count those).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booth_before_its_clerk_asks_again_and_is_served() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let booth = tokio::spawn({
        let args = booth_client::BoothArgs { wait_for_clerk: 20.0, ..booth_args(&url, "booth-gudao-1", 30.0) };
        async move { booth_client::run(&args, |_| {}).await }
    });
    // Long enough for a ticket taken at once to have been closed as no_clerk.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let agent = agent_console::run(&agent_args(&url, "clerk-hekou-1"), |_| {}).await.unwrap();
    let booth = booth.await.unwrap().unwrap();
    assert_eq!(booth.outcome, "served", "{booth:?}");
    assert_eq!(booth.requests, 1, "{booth:?}");
    assert_eq!(booth.ticket.map(|t| t & 0xFFFF_FFFF), Some(1), "the run's first ticket: {booth:?}");
    assert_eq!(agent.calls, 1);
    server.shutdown().await;
}
