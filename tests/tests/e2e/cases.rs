//! Case records (办件) and the supervisors' waiting history, end to end on the real server:
//! wrap-up outcome and note are stored durably and survive a restart, a bad note changes
//! nothing, a wrap-up that times out still leaves a record (with the clerk's draft when there is
//! one), ratings join their case, reads are
//! scoped; a supervisor connecting gets the last hour of waiting counts.

use std::time::Duration;

use protocol::rest::CaseList;
use protocol::{CaseOutcome, ClientMessage, ErrorCode, Rating, Role, ServerMessage, MAX_CASE_NOTE_CHARS};
use session::Session;
use xiaowu_tests::*;

async fn cases_as(server: &signaling_server::RunningServer, role: Role, id: &str) -> (u16, Option<CaseList>) {
    let token = token(server, role, id).await;
    let reply = session::get_bytes(format!("{}/api/cases?limit=20", base_url(server)), token).await.unwrap();
    (reply.status, serde_json::from_slice(&reply.body).ok())
}

/// Hangs up `call` from the clerk's side and waits for wrap-up.
async fn hang_up_into_wrap_up(clerk: &mut Session, call: u64) {
    clerk.send(ClientMessage::HangUp { call: protocol::CallId(call) }).await.unwrap();
    expect(clerk, "wrap-up", |m| {
        matches!(m, ServerMessage::ClerkState { state: protocol::ClerkState::WrapUp, .. }).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrap_up_outcome_and_note_are_recorded_with_the_rating_and_survive_a_restart() {
    let server = start(settings(|_| {})).await;
    let (mut booth, mut clerk, call) = live_call(&server).await;
    // The supervisor's grid counts the answer at once, within the 60 s target: service level 100 %.
    let mut sup = connect(&server, Role::Supervisor, "sup-dongying").await;
    let level = expect(&mut sup, "service level", |m| match m {
        ServerMessage::QueueLoad { rows } => rows
            .iter()
            .find(|r| r.region.as_str() == "hekou" && r.service.as_str() == "teacher-cert" && r.answered_today > 0)
            .map(|r| (r.answered_today, r.answered_within_target_today, r.service_level)),
        _ => None,
    })
    .await;
    assert_eq!(level, (1, 1, Some(1.0)));
    hang_up_into_wrap_up(&mut clerk, call).await;

    // A note over the limit is refused and changes nothing: still in wrap-up, no case written.
    let long_note = "字".repeat(MAX_CASE_NOTE_CHARS + 1);
    let end = |outcome, note: &str| ClientMessage::EndWrapUp { outcome: Some(outcome), note: Some(note.to_owned()) };
    clerk.send(end(CaseOutcome::Completed, &long_note)).await.unwrap();
    let code = expect(&mut clerk, "error", |m| match m {
        ServerMessage::Error { code, .. } => Some(*code),
        _ => None,
    })
    .await;
    assert_eq!(code, ErrorCode::InvalidField);
    let (status, list) = cases_as(&server, Role::Clerk, "clerk-hekou-1").await;
    assert_eq!((status, list.unwrap().cases.len()), (200, 0));

    clerk.send(end(CaseOutcome::MissingDocuments, "  缺户口本首页，群众下次补交  ")).await.unwrap();
    // The clerk is available at once; `case_recorded` follows when the record is committed.
    let (mut recorded, mut available) = (None, false);
    while recorded.is_none() || !available {
        let seen = expect(&mut clerk, "case recorded and available", |m| match m {
            ServerMessage::CaseRecorded { call: c, outcome, .. } => Some(Some((c.0, *outcome))),
            ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. } => Some(None),
            _ => None,
        })
        .await;
        match seen {
            Some(r) => recorded = Some(r),
            None => available = true,
        }
    }
    assert_eq!(recorded, Some((call, CaseOutcome::MissingDocuments)));

    let ticket = expect(&mut booth, "ticket closed", |m| match m {
        ServerMessage::TicketClosed { ticket, .. } => Some(*ticket),
        _ => None,
    })
    .await;
    let reason = Some(protocol::RatingReason::LongWait);
    booth.send(ClientMessage::RateService { ticket, rating: Rating::Dissatisfied, reason }).await.unwrap();
    expect(&mut booth, "rating recorded", |m| matches!(m, ServerMessage::RatingRecorded { .. }).then_some(())).await;

    let check = |list: CaseList| {
        assert_eq!(list.cases.len(), 1, "{list:?}");
        let case = &list.cases[0];
        assert_eq!((case.call, case.ticket), (call, ticket.0));
        assert_eq!(case.outcome, CaseOutcome::MissingDocuments);
        assert_eq!(case.note.as_deref(), Some("缺户口本首页，群众下次补交"));
        assert_eq!((case.rating, case.rating_reason), (Some(Rating::Dissatisfied), reason));
        assert_eq!((case.clerk.as_str(), case.booth.as_str()), ("clerk-hekou-1", "booth-gudao-1"));
        assert_eq!(case.call_end, protocol::CallEndReason::HungUpByClerk);
        assert_eq!(case.service, "teacher-cert");
    };
    let (_, list) = cases_as(&server, Role::Clerk, "clerk-hekou-1").await;
    check(list.unwrap());
    let (_, list) = cases_as(&server, Role::Supervisor, "sup-dongying").await;
    check(list.unwrap());
    // Scoped: another clerk, another city's supervisor see nothing; booths may not read cases.
    let (_, list) = cases_as(&server, Role::Clerk, "clerk-hekou-2").await;
    assert!(list.unwrap().cases.is_empty());
    let (_, list) = cases_as(&server, Role::Supervisor, "sup-binzhou").await;
    assert!(list.unwrap().cases.is_empty());
    let (status, _) = cases_as(&server, Role::Booth, "booth-gudao-1").await;
    assert_eq!(status, 403);

    // A restart on the same data directory still has the case and its rating.
    let data_dir = server.state().docs.config.data_dir.clone();
    drop((booth, clerk, sup));
    server.shutdown().await;
    let server = start_at(settings(|_| {}), data_dir).await;
    let (_, list) = cases_as(&server, Role::Supervisor, "sup-shandong").await;
    check(list.unwrap());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrap_up_that_times_out_is_still_recorded_as_not_recorded() {
    let server = start(settings(|s| s.engine.wrap_up_max = Duration::from_millis(500))).await;
    let (_booth, mut clerk, call) = live_call(&server).await;
    hang_up_into_wrap_up(&mut clerk, call).await;
    let recorded = expect(&mut clerk, "case recorded", |m| match m {
        ServerMessage::CaseRecorded { call: c, outcome, .. } => Some((c.0, *outcome)),
        _ => None,
    })
    .await;
    assert_eq!(recorded, (call, CaseOutcome::NotRecorded));
    let (_, list) = cases_as(&server, Role::Clerk, "clerk-hekou-1").await;
    let cases = list.unwrap().cases;
    assert_eq!(cases.len(), 1);
    assert_eq!((cases[0].call, cases[0].outcome, cases[0].note.clone()), (call, CaseOutcome::NotRecorded, None));
    server.shutdown().await;
}

/// What the clerk entered is never lost: a draft (`wrap_up_draft`) is recorded when wrap-up ends
/// by its time limit, and when the clerk goes available without ending it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clerks_draft_is_recorded_on_timeout_and_on_available() {
    let server = start(settings(|s| s.engine.wrap_up_max = Duration::from_secs(3))).await;
    let draft =
        |outcome, note: &str| ClientMessage::WrapUpDraft { outcome: Some(outcome), note: Some(note.to_owned()) };
    let recorded = |m: &ServerMessage| match m {
        ServerMessage::CaseRecorded { call, outcome, .. } => Some((call.0, *outcome)),
        _ => None,
    };
    // Outside wrap-up a draft is refused.
    let (_booth, mut clerk, call) = live_call(&server).await;
    clerk.send(draft(CaseOutcome::Accepted, "x")).await.unwrap();
    let code = expect(&mut clerk, "refusal", |m| match m {
        ServerMessage::Error { code, in_reply_to, .. } if in_reply_to.as_deref() == Some("wrap_up_draft") => {
            Some(*code)
        }
        _ => None,
    })
    .await;
    assert_eq!(code, ErrorCode::WrongState);
    // Time limit: the console says how long is left, the clerk types, the draft is recorded.
    clerk.send(ClientMessage::HangUp { call: protocol::CallId(call) }).await.unwrap();
    let ends_in = expect(&mut clerk, "wrap-up", |m| match m {
        ServerMessage::ClerkState { state: protocol::ClerkState::WrapUp, wrap_up_ends_in_secs, .. } => {
            Some(*wrap_up_ends_in_secs)
        }
        _ => None,
    })
    .await;
    assert_eq!(ends_in, Some(3));
    clerk.send(draft(CaseOutcome::MissingDocuments, "缺户口本首页")).await.unwrap();
    assert_eq!(expect(&mut clerk, "case recorded", recorded).await, (call, CaseOutcome::MissingDocuments));

    // Going available in the middle of wrap-up (the same clerk, available again, takes a second
    // citizen).
    let (_booth, call) = call_from(&server, &mut clerk, "booth-gudao-2").await;
    hang_up_into_wrap_up(&mut clerk, call).await;
    clerk.send(draft(CaseOutcome::Accepted, "已受理，待补材料")).await.unwrap();
    let available = ClientMessage::SetState { state: protocol::ClerkTargetState::Available, reason: None };
    clerk.send(available).await.unwrap();
    assert_eq!(expect(&mut clerk, "case recorded", recorded).await, (call, CaseOutcome::Accepted));

    let (_, list) = cases_as(&server, Role::Clerk, "clerk-hekou-1").await;
    let mut cases: Vec<_> = list.unwrap().cases.into_iter().map(|c| (c.outcome, c.note)).collect();
    cases.sort_by_key(|(o, _)| format!("{o:?}"));
    assert_eq!(
        cases,
        vec![
            (CaseOutcome::Accepted, Some("已受理，待补材料".to_owned())),
            (CaseOutcome::MissingDocuments, Some("缺户口本首页".to_owned())),
        ]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_during_wrap_up_writes_the_case_before_exit() {
    let server = start(settings(|_| {})).await;
    let (_booth, mut clerk, call) = live_call(&server).await;
    hang_up_into_wrap_up(&mut clerk, call).await;
    let data_dir = server.state().docs.config.data_dir.clone();
    server.shutdown().await;
    let server = start_at(settings(|_| {}), data_dir).await;
    let (_, list) = cases_as(&server, Role::Clerk, "clerk-hekou-1").await;
    let cases = list.unwrap().cases;
    assert_eq!(cases.iter().map(|c| (c.call, c.outcome)).collect::<Vec<_>>(), vec![(call, CaseOutcome::NotRecorded)]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_connecting_gets_the_waiting_history_of_their_scope() {
    let server = start(settings(|s| s.file.server.history_sample_secs = 1)).await;
    // A clerk signed in (not available) keeps the ticket waiting.
    let _clerk = connect(&server, Role::Clerk, "clerk-hekou-1").await;
    let mut booth = connect(&server, Role::Booth, "booth-gudao-1").await;
    let service = protocol::ServiceCode::new("teacher-cert");
    booth.send(ClientMessage::RequestService { service, priority: protocol::Priority::Normal }).await.unwrap();
    expect(&mut booth, "ticket", |m| matches!(m, ServerMessage::TicketStatus { .. }).then_some(())).await;

    // Wait (by polling new connections) until a sample with the waiting ticket has been taken.
    let history = |mut sup: Session| async move {
        expect(&mut sup, "history", |m| match m {
            ServerMessage::QueueHistory { interval_secs, points } => Some((*interval_secs, points.clone())),
            _ => None,
        })
        .await
    };
    let mut points = Vec::new();
    for _ in 0..50 {
        let (interval, p) = history(connect(&server, Role::Supervisor, "sup-dongying").await).await;
        assert_eq!(interval, 1);
        points = p;
        if points.last().is_some_and(|p| p.waiting == 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(points.last().map(|p| p.waiting), Some(1), "{points:?}");
    assert!(points.windows(2).all(|w| w[0].at < w[1].at), "oldest first: {points:?}");
    // The same moment seen from another city's scope: nothing waiting there.
    let (_, other) = history(connect(&server, Role::Supervisor, "sup-binzhou").await).await;
    assert!(!other.is_empty() && other.iter().all(|p| p.waiting == 0), "{other:?}");
    server.shutdown().await;
}
