//! Records in a real database, end to end: two servers on one PostgreSQL see each other's case
//! records and ratings; after a restart (SQLite) a new call's case gets a new, never-used id and its
//! rating lands on it, not on the old case with the same call number; an edit made with SQL is
//! named by the audit check; an unreachable database stops the server with a bilingual error.

use protocol::rest::CaseList;
use protocol::{CaseOutcome, ClientMessage, Rating, Role, ServerMessage};
use xiaowu_tests::*;

async fn cases(server: &signaling_server::RunningServer, role: Role, id: &str) -> CaseList {
    let token = token(server, role, id).await;
    let reply = session::get_bytes(format!("{}/api/cases?limit=20", base_url(server)), token).await.unwrap();
    assert_eq!(reply.status, 200);
    serde_json::from_slice(&reply.body).unwrap()
}

/// One served call on `server` (booth-gudao-1 with clerk-hekou-1), wrapped up with `outcome` and
/// rated `rating`; returns the call number.
async fn served_and_rated(server: &signaling_server::RunningServer, outcome: CaseOutcome, rating: Rating) -> u64 {
    let (mut booth, mut clerk, call) = live_call(server).await;
    clerk.send(ClientMessage::HangUp { call: protocol::CallId(call) }).await.unwrap();
    let ticket = expect(&mut booth, "ticket closed", |m| match m {
        ServerMessage::TicketClosed { ticket, .. } => Some(*ticket),
        _ => None,
    })
    .await;
    clerk.send(ClientMessage::EndWrapUp { outcome: Some(outcome), note: None }).await.unwrap();
    expect(&mut clerk, "case recorded", |m| matches!(m, ServerMessage::CaseRecorded { .. }).then_some(())).await;
    booth.send(ClientMessage::RateService { ticket, rating, reason: None }).await.unwrap();
    expect(&mut booth, "rating recorded", |m| matches!(m, ServerMessage::RatingRecorded { .. }).then_some(())).await;
    call
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_see_each_others_records() {
    // The PostgreSQL client runs its own runtime: off this one.
    let url = tokio::task::spawn_blocking(test_kit::postgres::postgres_url).await.unwrap();
    let on_pg = |url: String| settings(move |s| s.file.database.url = Some(url));
    let a = start(on_pg(url.clone())).await;
    let b = start(on_pg(url.clone())).await;
    served_and_rated(&a, CaseOutcome::Completed, Rating::VerySatisfied).await;
    let seen = cases(&b, Role::Supervisor, "sup-dongying").await.cases;
    assert_eq!(seen.len(), 1, "server B reads what server A wrote: {seen:?}");
    assert_eq!((seen[0].outcome, seen[0].rating), (CaseOutcome::Completed, Some(Rating::VerySatisfied)));
    served_and_rated(&b, CaseOutcome::Consultation, Rating::Acceptable).await;
    let seen = cases(&a, Role::Clerk, "clerk-hekou-1").await.cases;
    let got: Vec<(CaseOutcome, Option<Rating>)> = seen.iter().map(|c| (c.outcome, c.rating)).collect();
    assert_eq!(
        got,
        [(CaseOutcome::Consultation, Some(Rating::Acceptable)), (CaseOutcome::Completed, Some(Rating::VerySatisfied))]
    );
    // Both servers' first call has the short number 1; the ids differ (boot numbers).
    let short = signaling_server::records::short_number;
    assert_eq!((short(seen[0].call), short(seen[1].call)), (1, 1));
    assert_ne!(seen[0].call, seen[1].call);
    assert_ne!(seen[0].id, seen[1].id);
    let store = a.state().records.store().clone();
    assert_eq!(tokio::task::spawn_blocking(move || store.verify_audit().unwrap()).await.unwrap(), None);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_ids_are_new_and_ratings_land_on_the_right_case() {
    let server = start(settings(|_| {})).await;
    let first = served_and_rated(&server, CaseOutcome::Completed, Rating::VeryDissatisfied).await;
    let data_dir = server.state().docs.config.data_dir.clone();
    server.shutdown().await;
    let server = start_at(settings(|_| {}), data_dir).await;
    let second = served_and_rated(&server, CaseOutcome::Accepted, Rating::VerySatisfied).await;
    assert_ne!(first, second, "a call id is never reused");
    let short = signaling_server::records::short_number;
    assert_eq!(short(first), short(second), "the short number starts again with each start");
    let seen = cases(&server, Role::Clerk, "clerk-hekou-1").await.cases;
    let got: Vec<(&str, CaseOutcome, Option<Rating>)> =
        seen.iter().map(|c| (c.id.as_str(), c.outcome, c.rating)).collect();
    assert_eq!(got.len(), 2);
    assert_ne!(got[0].0, got[1].0, "a case id is never reused");
    assert_eq!((got[0].1, got[0].2), (CaseOutcome::Accepted, Some(Rating::VerySatisfied)));
    assert_eq!((got[1].1, got[1].2), (CaseOutcome::Completed, Some(Rating::VeryDissatisfied)));
    // Someone edits the first case with SQL: the audit check names it.
    let store = server.state().records.store().clone();
    assert_eq!(store.verify_audit().unwrap(), None);
    let edited = got[1].0.to_owned();
    store
        .execute_raw("UPDATE cases SET outcome = 'completed', note = 'x' WHERE id = $1", &[edited.clone().into()])
        .unwrap();
    let broken = store.verify_audit().unwrap().expect("the edit is found");
    assert_eq!(broken.record_id, edited);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_stops_the_server_with_a_clear_error() {
    let port = test_kit::ports::free_port();
    let mut s = settings(|_| {});
    s.file.database.url = Some(format!("postgres://xiaowu@127.0.0.1:{port}/xiaowu"));
    s.file.documents.data_dir = std::env::temp_dir().join(format!("xiaowu-nodb-{}", std::process::id()));
    match signaling_server::start(s, "127.0.0.1:0").await {
        Err(e) => assert!(e.to_string().starts_with("无法连接数据库 / database unreachable"), "{e}"),
        Ok(_) => panic!("the server started without its database"),
    }
}

/// The database goes away while the server runs: a document review and a case wrapped up
/// meanwhile are held by the writer (not dropped) and neither the booth nor the clerk is told
/// they are saved; case reads answer `503 server_busy`
/// instead of a stale list; once the database is back the case is committed, the clerk gets
/// `case_recorded`, and the case is listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_written_while_the_database_is_away_is_kept_until_it_is_back() {
    let pg = tokio::task::spawn_blocking(test_kit::postgres::Cluster::start).await.unwrap();
    let pg = std::sync::Arc::new(pg);
    let url = tokio::task::spawn_blocking({
        let pg = pg.clone();
        move || pg.database()
    })
    .await
    .unwrap();
    let server = start(settings(move |s| s.file.database.url = Some(url))).await;
    let (mut booth, mut clerk, call) = live_call(&server).await;
    // A photo stored before the database goes away.
    let booth_token = token(&server, Role::Booth, "booth-gudao-1").await;
    let upload = format!("{}/api/calls/{call}/documents?doc_type=id_front", base_url(&server));
    let stored = http("POST", upload, Some(booth_token), Some(test_kit::photos::jpeg(640, 480))).await;
    assert_eq!(stored.status, 200, "{}", stored.body);
    let document = protocol::DocumentId::new(stored.body["document"].as_str().unwrap().to_owned());
    let halt = pg.clone();
    tokio::task::spawn_blocking(move || halt.halt()).await.unwrap();
    // The clerk's review of it waits for its commit: the booth is not told yet.
    clerk.send(ClientMessage::ReviewDocument { document, accepted: true, reason: None }).await.unwrap();
    expect_none(&mut booth, "document reviewed", std::time::Duration::from_secs(1), |m| {
        matches!(m, ServerMessage::DocumentReviewed { .. })
    })
    .await;
    clerk.send(ClientMessage::HangUp { call: protocol::CallId(call) }).await.unwrap();
    expect(&mut booth, "ticket closed", |m| matches!(m, ServerMessage::TicketClosed { .. }).then_some(())).await;
    clerk.send(ClientMessage::EndWrapUp { outcome: Some(CaseOutcome::NeedsVisit), note: None }).await.unwrap();
    // Not committed, so the clerk is not told it is saved.
    expect_none(&mut clerk, "case recorded", std::time::Duration::from_secs(1), |m| {
        matches!(m, ServerMessage::CaseRecorded { .. })
    })
    .await;
    let token = token(&server, Role::Clerk, "clerk-hekou-1").await;
    let url = format!("{}/api/cases?limit=20", base_url(&server));
    let away = http("GET", url.clone(), Some(token.clone()), None).await;
    assert_eq!((away.status, away.code()), (503, "server_busy"));
    let resume = pg.clone();
    tokio::task::spawn_blocking(move || resume.resume()).await.unwrap();
    // Once the writer has committed them (it retries with a growing pause, up to 5 s), the booth
    // is told of the review and the clerk of the case.
    expect(&mut booth, "document reviewed", |m| matches!(m, ServerMessage::DocumentReviewed { .. }).then_some(()))
        .await;
    expect(&mut clerk, "case recorded", |m| matches!(m, ServerMessage::CaseRecorded { .. }).then_some(())).await;
    let back = http("GET", url.clone(), Some(token.clone()), None).await;
    assert_eq!(back.status, 200, "{}", back.body);
    let list: CaseList = serde_json::from_value(back.body).unwrap();
    assert_eq!(list.cases.len(), 1, "{list:?}");
    assert_eq!(list.cases[0].outcome, CaseOutcome::NeedsVisit);
    server.shutdown().await;
}

/// The records writer's queue has a bound (`[limits] records_queue`): with the database away and
/// the queue full, what would add a record is refused `server_busy` and changes nothing —
/// the clerk stays in wrap-up — and `/healthz` says why; once the database is back and the queue
/// drains, the same `end_wrap_up` is taken and recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_records_queue_refuses_what_would_add_a_record() {
    let pg = std::sync::Arc::new(tokio::task::spawn_blocking(test_kit::postgres::Cluster::start).await.unwrap());
    let url = tokio::task::spawn_blocking({
        let pg = pg.clone();
        move || pg.database()
    })
    .await
    .unwrap();
    let server = start(settings(move |s| {
        s.file.database.url = Some(url);
        s.file.limits.records_queue = 1;
    }))
    .await;
    let (mut booth, mut clerk, call) = live_call(&server).await;
    let halt = pg.clone();
    tokio::task::spawn_blocking(move || halt.halt()).await.unwrap();
    // The call's end queues its ticket events; the database cannot take them.
    clerk.send(ClientMessage::HangUp { call: protocol::CallId(call) }).await.unwrap();
    expect(&mut booth, "ticket closed", |m| matches!(m, ServerMessage::TicketClosed { .. }).then_some(())).await;
    let health_url = format!("{}/healthz", base_url(&server));
    let deadline = std::time::Instant::now() + WAIT;
    let health = loop {
        let h = http("GET", health_url.clone(), None, None).await;
        if h.body["reasons"].as_array().is_some_and(|r| r.iter().any(|r| r == "records_queue_full")) {
            break h;
        }
        assert!(std::time::Instant::now() < deadline, "the queue never filled: {}", h.body);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!((health.status, health.body["status"].as_str()), (200, Some("degraded")));
    clerk.send(ClientMessage::EndWrapUp { outcome: Some(CaseOutcome::Completed), note: None }).await.unwrap();
    let refused = expect(&mut clerk, "a refusal", |m| match m {
        ServerMessage::Error { code, in_reply_to, .. } if in_reply_to.as_deref() == Some("end_wrap_up") => Some(*code),
        ServerMessage::CaseRecorded { .. } => panic!("recorded while the database is away"),
        _ => None,
    })
    .await;
    assert_eq!(refused, protocol::ErrorCode::ServerBusy);
    let resume = pg.clone();
    tokio::task::spawn_blocking(move || resume.resume()).await.unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while http("GET", health_url.clone(), None, None).await.body["status"] != "ok" {
        assert!(std::time::Instant::now() < deadline, "the queue never drained");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    clerk.send(ClientMessage::EndWrapUp { outcome: Some(CaseOutcome::Completed), note: None }).await.unwrap();
    expect(&mut clerk, "case recorded", |m| matches!(m, ServerMessage::CaseRecorded { .. }).then_some(())).await;
    server.shutdown().await;
}
