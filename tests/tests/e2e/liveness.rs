//! End-to-end liveness: disconnects and resumes, lost booths and clerks, graceful shutdown.

use std::time::Duration;

use protocol::{
    CallEndReason, ClerkTargetState, ClientMessage, Priority, Role, ServerMessage, ServiceCode, TicketEndReason,
    TicketNotice, TicketState,
};
use session::Session;
use xiaowu_tests::*;

async fn request(booth: &Session) {
    booth
        .send(ClientMessage::RequestService { service: ServiceCode::new("teacher-cert"), priority: Priority::Normal })
        .await
        .unwrap();
}

async fn go_available(clerk: &mut Session) {
    clerk.send(ClientMessage::SetState { state: ClerkTargetState::Available, reason: None }).await.unwrap();
}

/// Connects booth and clerk and puts them in a call; returns (booth, clerk, call, ticket).
async fn in_call(
    server: &signaling_server::RunningServer,
    booth_id: &str,
) -> (Session, Session, protocol::CallId, protocol::TicketId) {
    let mut clerk = connect(server, Role::Clerk, "clerk-hekou-1").await;
    go_available(&mut clerk).await;
    let mut booth = connect(server, Role::Booth, booth_id).await;
    request(&booth).await;
    let offer = expect(&mut clerk, "offer", |m| match m {
        ServerMessage::Offer { offer, .. } => Some(*offer),
        _ => None,
    })
    .await;
    clerk.send(ClientMessage::AcceptOffer { offer }).await.unwrap();
    let (call, ticket) = expect(&mut booth, "call started", |m| match m {
        ServerMessage::CallStarted { call, ticket, initiator: false, .. } => Some((*call, *ticket)),
        _ => None,
    })
    .await;
    expect(&mut clerk, "clerk call started", |m| {
        // Through the media relay (the default) nobody is the initiator: the relay offers.
        matches!(m, ServerMessage::CallStarted { initiator: false, media: protocol::MediaMode::Relay, .. })
            .then_some(())
    })
    .await;
    (booth, clerk, call, ticket)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booth_reconnecting_within_grace_keeps_its_place() {
    let server = start(settings(|s| s.engine.booth_grace = Duration::from_secs(5))).await;
    let _clerk = connect(&server, Role::Clerk, "clerk-hekou-1").await; // signed in, away
    let mut booth = connect(&server, Role::Booth, "booth-gudao-1").await;
    request(&booth).await;
    let ticket = expect(&mut booth, "ticket", |m| match m {
        ServerMessage::TicketStatus { ticket, position: Some(1), .. } => Some(*ticket),
        _ => None,
    })
    .await;
    booth.abort(); // the network drops without a goodbye
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut booth = connect(&server, Role::Booth, "booth-gudao-1").await;
    let (resumed, position, notice) = expect(&mut booth, "resumed status", |m| match m {
        ServerMessage::TicketStatus { ticket, position, notice, .. } => Some((*ticket, *position, *notice)),
        _ => None,
    })
    .await;
    assert_eq!((resumed, position, notice), (ticket, Some(1), Some(TicketNotice::Resumed)));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booth_gone_past_grace_is_closed_as_booth_lost() {
    let server = start(settings(|s| s.engine.booth_grace = Duration::from_millis(500))).await;
    let _clerk = connect(&server, Role::Clerk, "clerk-hekou-1").await;
    let mut sup = connect(&server, Role::Supervisor, "sup-dongying").await;
    let mut booth = connect(&server, Role::Booth, "booth-gudao-1").await;
    request(&booth).await;
    expect(&mut booth, "ticket", |m| matches!(m, ServerMessage::TicketStatus { .. }).then_some(())).await;
    expect(&mut sup, "one waiting", |m| match m {
        ServerMessage::QueueLoad { rows } => {
            rows.iter().any(|r| r.region.as_str() == "hekou" && r.waiting == 1).then_some(())
        }
        _ => None,
    })
    .await;
    booth.abort();
    // The supervisor sees the queue empty once the grace period has run out…
    expect(&mut sup, "none waiting", |m| match m {
        ServerMessage::QueueLoad { rows } => rows.iter().all(|r| r.waiting == 0).then_some(()),
        _ => None,
    })
    .await;
    // …and the booth, back later, has no ticket: a new request opens a new one.
    let mut booth = connect(&server, Role::Booth, "booth-gudao-1").await;
    request(&booth).await;
    let number = expect(&mut booth, "new ticket", |m| match m {
        ServerMessage::TicketStatus { number, notice: None, .. } => Some(*number),
        ServerMessage::TicketStatus { notice: Some(n), .. } => panic!("old ticket resumed: {n:?}"),
        _ => None,
    })
    .await;
    assert_eq!(number, 2);
    server.shutdown().await;
}

/// A clerk's connection drops mid-call and comes back within the grace period: the call goes on
/// (the booth is told nothing), and the clerk's console gets the call again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_back_within_grace_finds_the_call_going_on() {
    let server = start(settings(|_| {})).await;
    let (mut booth, clerk, call, _ticket) = in_call(&server, "booth-gudao-1").await;
    clerk.abort();
    let mut clerk = connect(&server, Role::Clerk, "clerk-hekou-1").await;
    let again = expect(&mut clerk, "the call again", |m| match m {
        ServerMessage::CallStarted { call: c, .. } => Some(*c),
        _ => None,
    })
    .await;
    assert_eq!(again, call);
    expect_none(&mut booth, "call ended", Duration::from_millis(500), |m| matches!(m, ServerMessage::CallEnded { .. }))
        .await;
    clerk.send(ClientMessage::HangUp { call }).await.unwrap();
    let reason = expect(&mut booth, "call ended", |m| match m {
        ServerMessage::CallEnded { reason, .. } => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, CallEndReason::HungUpByClerk);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clerk_lost_mid_call_puts_the_citizen_back_at_the_head() {
    // The clerk does not come back: its grace period runs out soon.
    let server = start(settings(|s| s.engine.clerk_grace = Duration::from_millis(300))).await;
    let (mut booth, clerk, call, ticket) = in_call(&server, "booth-gudao-1").await;
    // A second citizen starts waiting while the first is in the call.
    let mut second = connect(&server, Role::Booth, "booth-gudao-2").await;
    request(&second).await;
    expect(&mut second, "second waiting", |m| {
        matches!(m, ServerMessage::TicketStatus { position: Some(1), .. }).then_some(())
    })
    .await;

    clerk.abort();
    let reason = expect(&mut booth, "call ended", |m| match m {
        ServerMessage::CallEnded { call: c, reason, .. } if *c == call => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, CallEndReason::ClerkLost);
    let (state, position, notice) = expect(&mut booth, "re-queued status", |m| match m {
        ServerMessage::TicketStatus { ticket: t, state, position, notice, .. } if *t == ticket => {
            Some((*state, *position, *notice))
        }
        _ => None,
    })
    .await;
    assert_eq!((state, position, notice), (TicketState::Waiting, Some(1), Some(TicketNotice::ClerkLostRequeued)));
    expect(&mut second, "second pushed back", |m| {
        matches!(m, ServerMessage::TicketStatus { position: Some(2), .. }).then_some(())
    })
    .await;

    // The next clerk to become available gets the re-queued citizen first.
    let mut next = connect(&server, Role::Clerk, "clerk-hekou-2").await;
    go_available(&mut next).await;
    let offered = expect(&mut next, "offer", |m| match m {
        ServerMessage::Offer { ticket, .. } => Some(*ticket),
        _ => None,
    })
    .await;
    assert_eq!(offered, ticket);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_up_ends_the_call_on_both_sides_and_wrap_up_frees_the_clerk() {
    let server = start(settings(|_| {})).await;
    let (mut booth, mut clerk, call, ticket) = in_call(&server, "booth-gudao-1").await;
    booth.send(ClientMessage::HangUp { call }).await.unwrap();
    for s in [&mut booth, &mut clerk] {
        let reason = expect(s, "call ended", |m| match m {
            ServerMessage::CallEnded { reason, .. } => Some(*reason),
            _ => None,
        })
        .await;
        assert_eq!(reason, CallEndReason::HungUpByBooth);
    }
    let closed = expect(&mut booth, "ticket closed", |m| match m {
        ServerMessage::TicketClosed { ticket: t, reason, .. } if *t == ticket => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(closed, TicketEndReason::Served);
    expect(&mut clerk, "wrap-up", |m| {
        matches!(m, ServerMessage::ClerkState { state: protocol::ClerkState::WrapUp, .. }).then_some(())
    })
    .await;
    clerk.send(ClientMessage::EndWrapUp { outcome: None, note: None }).await.unwrap();
    expect(&mut clerk, "available", |m| {
        matches!(m, ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. }).then_some(())
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_tells_waiting_citizens() {
    let server = start(settings(|_| {})).await;
    let _clerk = connect(&server, Role::Clerk, "clerk-hekou-1").await;
    let mut booth = connect(&server, Role::Booth, "booth-gudao-1").await;
    request(&booth).await;
    expect(&mut booth, "ticket", |m| matches!(m, ServerMessage::TicketStatus { .. }).then_some(())).await;
    let stop = tokio::spawn(server.shutdown());
    let reason = expect(&mut booth, "ticket closed", |m| match m {
        ServerMessage::TicketClosed { reason, .. } => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, TicketEndReason::ServerShutdown);
    expect(&mut booth, "shutdown notice", |m| matches!(m, ServerMessage::ServerShutdown { .. }).then_some(())).await;
    stop.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_sees_clerks_and_forces_a_state_within_scope_only_and_it_is_recorded() {
    let server = start(settings(|_| {})).await;
    let mut clerk = connect(&server, Role::Clerk, "clerk-hekou-1").await;
    go_available(&mut clerk).await;
    let mut sup = connect(&server, Role::Supervisor, "sup-dongying").await;
    expect(&mut sup, "the clerk listed as available", |m| match m {
        ServerMessage::ClerkList { clerks } => clerks
            .iter()
            .any(|c| c.clerk == "clerk-hekou-1" && c.state == protocol::ClerkState::Available)
            .then_some(()),
        _ => None,
    })
    .await;
    // A supervisor of another city may not touch a 河口区 clerk.
    let mut other = connect(&server, Role::Supervisor, "sup-binzhou").await;
    let away = protocol::ClerkTargetState::Away;
    other
        .send(ClientMessage::ForceClerkState { clerk: "clerk-hekou-1".into(), state: away, why: "调度".into() })
        .await
        .unwrap();
    let code = expect(&mut other, "refusal", |m| match m {
        ServerMessage::Error { code, .. } => Some(*code),
        _ => None,
    })
    .await;
    assert_eq!(code, protocol::ErrorCode::Forbidden);
    // The city's supervisor may, with a reason; the clerk sees away(supervisor).
    sup.send(ClientMessage::ForceClerkState { clerk: "clerk-hekou-1".into(), state: away, why: "培训".into() })
        .await
        .unwrap();
    // (Skipping the away(signed_in) and available states from before.)
    expect(&mut clerk, "forced away(supervisor)", |m| {
        matches!(
            m,
            ServerMessage::ClerkState {
                state: protocol::ClerkState::Away,
                reason: Some(protocol::AwayReason::Supervisor),
                ..
            }
        )
        .then_some(())
    })
    .await;
    expect(&mut sup, "the clerk listed as away", |m| match m {
        ServerMessage::ClerkList { clerks } => {
            clerks.iter().any(|c| c.clerk == "clerk-hekou-1" && c.state == protocol::ClerkState::Away).then_some(())
        }
        _ => None,
    })
    .await;
    // Recorded durably with who and why; the refused attempt left nothing.
    let store = server.state().records.store().clone();
    server.shutdown().await;
    let rows = store.forced_states(10).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(
        (r.supervisor.as_str(), r.clerk.as_str(), r.state.as_str(), r.why.as_str()),
        ("sup-dongying", "clerk-hekou-1", "away", "培训")
    );
    assert_eq!(store.verify_audit().unwrap(), None);
}
