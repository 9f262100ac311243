//! The server process killed with SIGKILL mid-day and started again on the same data directory:
//! every record acknowledged before the kill is there, read back through the HTTP API — the case
//! and its rating, the document and its bytes, the document's read log, the ticket's event log —
//! the supervisors' grid still has today's service level and the waiting history from before the
//! kill, and the citizens who were waiting find their tickets again, in their places (the routing
//! log is replayed). A call after the restart gets an id never used before, and its rating lands
//! on its case.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use protocol::rest::{CaseList, DocumentReads, DocumentUploaded, TicketEvents};
use protocol::{CaseOutcome, ClientMessage, Rating, Role, ServerMessage};
use session::Session;

/// Booths whose citizens are waiting when the server is killed.
const WAITING: [&str; 3] = ["booth-gudao-2", "booth-xianhe-1", "booth-yihe-1"];

fn start(dir: &Path, addr: SocketAddr) -> Server {
    let db = format!("sqlite://{}", dir.join("xiaowu.db").display());
    Server::start(dir, addr, &["--history-sample-secs", "1"], &[("XIAOWU_DATABASE", db)])
}

fn id_card_photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(800, 500, |x, y| image::Rgb([(x / 4) as u8, (y / 2) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

struct Served {
    ticket: u64,
    call: u64,
    document: Option<DocumentUploaded>,
}

/// booth-gudao-1 served by clerk-hekou-1: media up on both sides, optionally a document uploaded
/// and read by the clerk, hung up, wrapped up with `outcome`, rated `rating`. Returns once the
/// server acknowledged the case and the rating.
async fn serve(server: &Server, outcome: CaseOutcome, rating: Rating, with_document: bool) -> Served {
    let mut clerk = connect(server, Role::Clerk, "clerk-hekou-1").await;
    clerk.send(ClientMessage::SetState { state: protocol::ClerkTargetState::Available, reason: None }).await.unwrap();
    let mut booth = connect(server, Role::Booth, "booth-gudao-1").await;
    let service = protocol::ServiceCode::new("teacher-cert");
    booth.send(ClientMessage::RequestService { service, priority: protocol::Priority::Normal }).await.unwrap();
    let offer = expect(&mut clerk, "offer", |m| match m {
        ServerMessage::Offer { offer, .. } => Some(*offer),
        _ => None,
    })
    .await;
    clerk.send(ClientMessage::AcceptOffer { offer }).await.unwrap();
    let (call, ticket) = expect(&mut booth, "call", |m| match m {
        ServerMessage::CallStarted { call, ticket, .. } => Some((*call, *ticket)),
        _ => None,
    })
    .await;
    for s in [&booth, &clerk] {
        s.send(ClientMessage::MediaState { call, state: protocol::MediaState::Connected }).await.unwrap();
    }
    let document = if with_document {
        let booth_token = token(server, Role::Booth, "booth-gudao-1").await;
        let url = format!("{}/api/calls/{}/documents?doc_type=id_front", server.url(), call.0);
        let reply = session::post_bytes(url, booth_token, "image/jpeg", id_card_photo()).await.unwrap();
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        let uploaded: DocumentUploaded = serde_json::from_slice(&reply.body).unwrap();
        expect(&mut clerk, "document ready", |m| matches!(m, ServerMessage::DocumentReady { .. }).then_some(())).await;
        let clerk_token = token(server, Role::Clerk, "clerk-hekou-1").await;
        let url = format!("{}/api/documents/{}", server.url(), uploaded.document.as_str());
        assert_eq!(session::get_bytes(url, clerk_token).await.unwrap().status, 200);
        Some(uploaded)
    } else {
        None
    };
    clerk.send(ClientMessage::HangUp { call }).await.unwrap();
    expect(&mut booth, "served", |m| matches!(m, ServerMessage::TicketClosed { .. }).then_some(())).await;
    let note = Some("已核验身份证，材料齐全".to_owned());
    clerk.send(ClientMessage::EndWrapUp { outcome: Some(outcome), note }).await.unwrap();
    expect(&mut clerk, "case recorded", |m| matches!(m, ServerMessage::CaseRecorded { .. }).then_some(())).await;
    booth.send(ClientMessage::RateService { ticket, rating, reason: None }).await.unwrap();
    expect(&mut booth, "rating recorded", |m| matches!(m, ServerMessage::RatingRecorded { .. }).then_some(())).await;
    Served { ticket: ticket.0, call: call.0, document }
}

/// Waits until the store holds waiting samples and answered counts (the grid saves them as it
/// takes them, within a second or two).
fn wait_for_saved_grid(db: &Path) {
    let store = store::Store::open_sqlite(db).unwrap();
    let today = china_time::date_string(gateway::auth::unix_now() as i64 * 1000);
    let deadline = Instant::now() + WAIT;
    while store.waiting_samples(0).unwrap().is_empty() || store.answered_on(&today, 0).unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the grid was not saved");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_acknowledged_before_a_kill_9_is_there_after_the_restart() {
    let dir = temp_dir("kill9");
    let addr: SocketAddr = test_kit::ports::free_addr();
    let server = start(&dir, addr);
    let before = serve(&server, CaseOutcome::Completed, Rating::VerySatisfied, true).await;
    let doc = before.document.clone().unwrap();
    // Three citizens waiting (the only clerk signed in is not available): their tickets and
    // places must survive the kill.
    let _away = connect(&server, Role::Clerk, "clerk-hekou-2").await;
    let mut waiting = Vec::new();
    for booth in WAITING {
        let mut s = connect(&server, Role::Booth, booth).await;
        let service = protocol::ServiceCode::new("teacher-cert");
        s.send(ClientMessage::RequestService { service, priority: protocol::Priority::Normal }).await.unwrap();
        let place = expect(&mut s, "waiting", |m| match m {
            ServerMessage::TicketStatus { ticket, position: Some(p), .. } => Some((ticket.0, *p)),
            _ => None,
        })
        .await;
        waiting.push((s, place));
    }
    let db = dir.join("xiaowu.db");
    tokio::task::spawn_blocking({
        let db = db.clone();
        move || wait_for_saved_grid(&db)
    })
    .await
    .unwrap();
    let killed_at = gateway::auth::unix_now();
    server.kill_9();
    let places: Vec<(u64, u32)> = waiting.iter().map(|(_, p)| *p).collect();
    drop((waiting, _away));

    let server = start(&dir, addr);
    let sup = token(&server, Role::Supervisor, "sup-dongying").await;
    let clerk = token(&server, Role::Clerk, "clerk-hekou-1").await;
    // The case and its rating.
    let list: CaseList = get_json(&server, "/api/cases?limit=10", clerk.clone()).await;
    assert_eq!(list.cases.len(), 1, "{list:?}");
    let case = &list.cases[0];
    assert_eq!((case.call, case.ticket), (before.call, before.ticket));
    assert_eq!((case.outcome, case.rating), (CaseOutcome::Completed, Some(Rating::VerySatisfied)));
    assert_eq!(case.note.as_deref(), Some("已核验身份证，材料齐全"));
    // The document and its bytes.
    let url = format!("{}/api/documents/{}", server.url(), doc.document.as_str());
    let bytes = session::get_bytes(url, clerk.clone()).await.unwrap();
    assert_eq!(bytes.status, 200);
    let digest: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&bytes.body).iter().map(|b| format!("{b:02x}")).collect()
    };
    assert_eq!(digest, doc.sha256_result, "the same processed image");
    // Its read log: the clerk's read before the kill, and the one just now.
    let reads: DocumentReads =
        get_json(&server, &format!("/api/documents/{}/reads", doc.document.as_str()), sup.clone()).await;
    let by_clerk = reads.reads.iter().filter(|r| r.who == "clerk:clerk-hekou-1" && r.allowed).count();
    assert_eq!(by_clerk, 2, "{reads:?}");
    // The ticket's event log.
    let events: TicketEvents = get_json(&server, &format!("/api/tickets/{}/events", before.ticket), sup.clone()).await;
    let kinds: Vec<&str> = events.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["requested", "offered", "accepted", "media_up", "media_up", "call_ended", "closed"]);
    assert_eq!(events.events[2].detail["clerk"], "clerk-hekou-1");
    assert_eq!(events.events[6].detail["reason"], "served");
    // Out of scope: another city's supervisor.
    let other = token(&server, Role::Supervisor, "sup-binzhou").await;
    let url = format!("{}/api/tickets/{}/events", server.url(), before.ticket);
    assert_eq!(session::get_bytes(url, other).await.unwrap().status, 403);

    // The grid: the waiting chart from before the kill and today's service level.
    let mut s = Session::connect(&server.url(), Role::Supervisor, &sup).await.unwrap();
    let points = expect(&mut s, "history", |m| match m {
        ServerMessage::QueueHistory { points, .. } => Some(points.clone()),
        _ => None,
    })
    .await;
    assert!(points.iter().any(|p| p.at <= killed_at && p.waiting >= 1), "{points:?}");
    let answered = expect(&mut s, "grid", |m| match m {
        ServerMessage::QueueLoad { rows } => rows
            .iter()
            .find(|r| r.region.as_str() == "hekou" && r.service.as_str() == "teacher-cert")
            .map(|r| r.answered_today),
        _ => None,
    })
    .await;
    assert_eq!(answered, 1, "today's answered count from before the kill");

    // A new call gets ids never used before; its rating lands on its own case.
    let after = serve(&server, CaseOutcome::MissingDocuments, Rating::Dissatisfied, false).await;
    assert!(after.ticket != before.ticket && after.call != before.call);
    let list: CaseList = get_json(&server, "/api/cases?limit=10", clerk).await;
    let got: Vec<(u64, CaseOutcome, Option<Rating>)> =
        list.cases.iter().map(|c| (c.ticket, c.outcome, c.rating)).collect();
    assert_eq!(
        got,
        [
            (after.ticket, CaseOutcome::MissingDocuments, Some(Rating::Dissatisfied)),
            (before.ticket, CaseOutcome::Completed, Some(Rating::VerySatisfied))
        ]
    );

    // The waiting citizens come back to their tickets, in their places (each back in turn, so
    // the ones ahead are already in the queue again when the next returns).
    let mut back = Vec::new();
    let mut sessions = Vec::new();
    for booth in WAITING {
        let mut s = connect(&server, Role::Booth, booth).await;
        back.push(
            expect(&mut s, "resumed", |m| match m {
                ServerMessage::TicketStatus {
                    ticket,
                    position: Some(p),
                    notice: Some(protocol::TicketNotice::Resumed),
                    ..
                } => Some((ticket.0, *p)),
                _ => None,
            })
            .await,
        );
        sessions.push(s);
    }
    assert_eq!(back, places, "same tickets, same places");
    drop(server);
    // The routing log explains the day: replayed offline, it prints every decision, and the same
    // log prints the same lines every time.
    let first = replay_twice(dir.join("xiaowu-data/routing.log").to_str().unwrap());
    for decision in ["TicketOpened", "OfferMade", "CallStarted", "CallEnded", "TicketClosed"] {
        assert!(first.lines().any(|l| l.trim_start().starts_with(decision)), "{decision} missing:\n{first}");
    }
    assert!(!first.contains("已核验"), "wrap-up notes stay out of the log");
    // The audit chain holds across the kill.
    let verify = Command::new(env!("CARGO_BIN_EXE_signaling-server"))
        .args(["verify-audit", "--database", &format!("sqlite://{}", db.display())])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
