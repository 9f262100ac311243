//! The driver without sockets: connections are plain channels the test registers in the hub, so a
//! full queue can be arranged exactly. Pins that a send failing while an accept is routed neither
//! re-enters the engine nor panics: the hub closes the connection (`too_slow`), and its
//! disconnect holds the call for the clerk's grace period.

use std::sync::Arc;

use protocol::{ClerkTargetState, ClientMessage, CloseReason, Priority, ServerMessage, ServiceCode};
use tokio::sync::mpsc;

use super::*;
use crate::config::Settings;

struct TestConn {
    rx: mpsc::Receiver<Outbound>,
    tx: mpsc::Sender<Outbound>,
    close: Arc<CloseSignal>,
}

impl TestConn {
    fn drain(&mut self) -> Vec<ServerMessage> {
        std::iter::from_fn(|| match self.rx.try_recv() {
            Ok(Outbound::Msg(m)) => Some(m),
            _ => None,
        })
        .collect()
    }
}

fn driver() -> Driver {
    let mut settings = Settings::demo();
    let dir = std::env::temp_dir().join(format!("xiaowu-driver-test-{}", std::process::id()));
    settings.file.documents.data_dir = dir;
    let directory = Arc::new(settings.directory.clone());
    let engine_cfg = settings.engine.clone();
    let (tx, _rx) = mpsc::channel(8);
    let shared = Arc::new(Shared::new(settings, directory.clone(), tx, None).expect("a writable temp dir"));
    Driver::new(shared, engine_cfg)
}

fn connect(d: &mut Driver, conn: ConnId, who: Principal, capacity: usize) -> TestConn {
    let (tx, rx) = mpsc::channel(capacity);
    let close = Arc::new(CloseSignal::default());
    d.shared.hub.register(conn, ConnHandle { tx: tx.clone(), close: close.clone() });
    let (role, id) = d.shared.account_of(who);
    d.on_command(Command::Input { src: None, input: GatewayInput::Connect { conn, role, id, gateway: None } });
    d.flush();
    TestConn { rx, tx, close }
}

fn message(d: &mut Driver, conn: ConnId, msg: ClientMessage) {
    d.on_command(Command::Input { src: None, input: GatewayInput::Message { conn, msg } });
    d.flush();
}

#[tokio::test]
async fn a_send_failing_while_an_accept_is_routed_closes_the_clerk_and_keeps_the_call() {
    let mut d = driver();
    let dir = d.shared.directory.clone();
    let clerk = Principal::Clerk(dir.clerk_idx("clerk-hekou-1").unwrap());
    let booth = Principal::Booth(dir.booth_idx("booth-gudao-1").unwrap());
    let mut c = connect(&mut d, 1, clerk, 16);
    let mut b = connect(&mut d, 2, booth, 64);
    message(&mut d, 1, ClientMessage::SetState { state: ClerkTargetState::Available, reason: None });
    let service = ServiceCode::new("teacher-cert");
    message(&mut d, 2, ClientMessage::RequestService { service, priority: Priority::Normal });
    let offer = c
        .drain()
        .into_iter()
        .find_map(|m| match m {
            ServerMessage::Offer { offer, .. } => Some(offer),
            _ => None,
        })
        .expect("the clerk was offered the ticket");
    b.drain();
    // The clerk's queue is full: the first message of the accept (its new state) cannot go.
    while c.tx.try_send(Outbound::Msg(ServerMessage::Pong { seq: 0 })).is_ok() {}
    message(&mut d, 1, ClientMessage::AcceptOffer { offer });

    let to_booth = b.drain();
    let kinds: Vec<&str> = to_booth
        .iter()
        .map(|m| match m {
            ServerMessage::CallStarted { .. } => "call_started",
            ServerMessage::CallEnded { reason: protocol::CallEndReason::ClerkLost, .. } => "call_ended:clerk_lost",
            ServerMessage::TicketStatus { notice: Some(protocol::TicketNotice::ClerkLostRequeued), .. } => "requeued",
            _ => "other",
        })
        .filter(|k| *k != "other")
        .collect();
    // The call goes on: a dropped clerk has its grace period to come back.
    assert_eq!(kinds, ["call_started"]);
    assert_eq!(c.close.closed().await, CloseReason::TooSlow);
    assert!(!d.shared.hub.connections().contains(&1), "the hub forgot it");
    // Its socket task reports the disconnect, as the gateway does.
    d.on_command(Command::Input { src: None, input: GatewayInput::Disconnect { conn: 1 } });
    d.flush();
    assert!(!d.conns.contains_key(&1), "the clerk's connection is forgotten");
    // The driver goes on: the same clerk signs in again and finds the call.
    let mut again = connect(&mut d, 3, clerk, 64);
    assert!(again.drain().iter().any(|m| matches!(m, ServerMessage::CallStarted { .. })));
    d.engine.check_invariants().expect("the engine's records agree");
}

/// A run logged a wrap-up and died before its records writer committed the case: replaying the
/// log writes the case (same id, outcome and times; the note is not in the log), and a replay
/// that finds the case already there writes nothing more.
#[tokio::test]
async fn a_replay_writes_the_case_the_dead_run_had_not_committed() {
    use crate::records::short_number;
    use crate::routing_log::read;

    let Logging { mut d, shared, cfg, dir, path, started } = logging_driver("replay", |_| {});
    let directory = shared.directory.clone();
    let clerk = Principal::Clerk(directory.clerk_idx("clerk-hekou-1").unwrap());
    let booth = Principal::Booth(directory.booth_idx("booth-gudao-1").unwrap());
    let mut c = connect(&mut d, 1, clerk, 64);
    let _b = connect(&mut d, 2, booth, 64);
    message(&mut d, 1, ClientMessage::SetState { state: ClerkTargetState::Available, reason: None });
    message(
        &mut d,
        2,
        ClientMessage::RequestService { service: ServiceCode::new("teacher-cert"), priority: Priority::Normal },
    );
    let offer = c.drain().into_iter().find_map(|m| match m {
        ServerMessage::Offer { offer, .. } => Some(offer),
        _ => None,
    });
    message(&mut d, 1, ClientMessage::AcceptOffer { offer: offer.expect("offered") });
    let call = protocol::CallId(cfg.first_call);
    message(&mut d, 1, ClientMessage::HangUp { call });
    let note = Some("缺户口本首页".to_owned());
    message(&mut d, 1, ClientMessage::EndWrapUp { outcome: Some(protocol::CaseOutcome::MissingDocuments), note });
    shared.records.sync();
    let scope = store::CaseQuery::newest(store::CaseScope::Clerk("clerk-hekou-1".into()), 10);
    let written = shared.records.cases(&scope).unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].note.as_deref(), Some("缺户口本首页"));
    // The run "died" before its writer committed the case.
    shared.records.store().execute_raw("DELETE FROM cases WHERE id = $1", &[written[0].id.clone().into()]).unwrap();

    let log = read(&path).unwrap();
    for _ in 0..2 {
        let mut restarted = Driver::new(shared.clone(), cfg.clone());
        restarted.set_wall_base(started);
        restarted.replay(&log.entries);
        shared.records.sync();
        let again = shared.records.cases(&scope).unwrap();
        assert_eq!(again.len(), 1, "written once, whatever the number of replays");
        let (was, is) = (&written[0], &again[0]);
        assert_eq!((&is.id, is.call, short_number(is.ticket)), (&was.id, was.call, 1));
        assert_eq!((is.outcome, is.recorded_unix, is.note.as_deref()), (was.outcome, was.recorded_unix, None));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// With a snapshot every 100 entries, the log file starts anew at each (the old one kept as
/// `routing.log.1`), and a restart that replays only from the last snapshot comes back to the
/// very state of the run that wrote it.
#[tokio::test]
async fn a_restart_replays_from_the_last_snapshot_to_the_same_state() {
    use crate::routing_log::{from_last_snapshot, read, Entry};

    let Logging { mut d, shared, cfg, dir, path, started } =
        logging_driver("snapshot", |s| s.file.server.snapshot_every = 100);
    let directory = shared.directory.clone();
    // The hall's only clerk signed in but away: tickets wait.
    let _clerk = connect(&mut d, 1, Principal::Clerk(directory.clerk_idx("clerk-hekou-1").unwrap()), 256);
    let booths: Vec<TestConn> = ["booth-gudao-1", "booth-gudao-2", "booth-xianhe-1"]
        .iter()
        .enumerate()
        .map(|(i, b)| connect(&mut d, 10 + i as u64, Principal::Booth(directory.booth_idx(b).unwrap()), 1024))
        .collect();
    let request =
        || ClientMessage::RequestService { service: ServiceCode::new("teacher-cert"), priority: Priority::Normal };
    for i in 0..60u64 {
        message(&mut d, 10, request());
        message(&mut d, 10, ClientMessage::CancelTicket { ticket: protocol::TicketId(cfg.first_ticket + i) });
    }
    message(&mut d, 11, request());
    message(&mut d, 12, request());
    drop(booths);

    let log = read(&path).unwrap();
    assert!(matches!(log.entries[0].entry, Entry::Header { .. }));
    assert!(matches!(log.entries[1].entry, Entry::Snapshot { .. }), "the file starts anew at a snapshot");
    assert!(log.entries.len() < 100, "{} entries since the last snapshot", log.entries.len());
    assert!(path.with_extension("log.1").exists(), "the previous file is kept");

    let mut restarted = Driver::new(shared.clone(), cfg.clone());
    restarted.set_wall_base(started);
    restarted.replay(from_last_snapshot(&log.entries));
    assert_eq!(
        restarted.engine.describe(restarted.clock.engine_base()),
        d.engine.describe(d.clock.engine_base()),
        "the same engine"
    );
    assert_eq!(restarted.take_snapshot(), d.take_snapshot(), "the same driver state");
    assert_eq!(restarted.open_tickets(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A driver logging to a fresh file under a temp directory of its own (`tag`), ids from its boot.
struct Logging {
    d: Driver,
    shared: Arc<Shared>,
    cfg: routing::EngineConfig,
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
    started: u64,
}

fn logging_driver(tag: &str, adjust: impl FnOnce(&mut Settings)) -> Logging {
    use crate::records::id_base;
    use crate::routing_log::{Entry, LogWriter, LOG_VERSION};

    let dir = std::env::temp_dir().join(format!("xiaowu-driver-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut settings = Settings::demo();
    settings.file.documents.data_dir = dir.clone();
    adjust(&mut settings);
    let directory = Arc::new(settings.directory.clone());
    let mut cfg = settings.engine.clone();
    let (tx, _rx) = mpsc::channel(64);
    let shared = Arc::new(Shared::new(settings, directory, tx, None).unwrap());
    (cfg.first_ticket, cfg.first_call) = (id_base(shared.records.boot()), id_base(shared.records.boot()));
    let started = store::now_ms() as u64;
    let header = Entry::Header {
        version: LOG_VERSION,
        first_ticket: cfg.first_ticket,
        first_call: cfg.first_call,
        started_unix_ms: started,
    };
    let path = dir.join("routing.log");
    let mut d = Driver::new(shared.clone(), cfg.clone());
    d.set_wall_base(started);
    d.set_log(Box::new(LogWriter::create(&path, header).unwrap()));
    Logging { d, shared, cfg, dir, path, started }
}

/// A three-way call's guest and an open invitation are part of the driver's snapshot: a restart
/// from it knows who assists which call (its `set_state` still waits for `leave_call`) and who
/// may still join.
#[tokio::test]
async fn a_snapshot_carries_three_way_guests_and_open_invitations() {
    let mut d = driver();
    let dir = d.shared.directory.clone();
    let idx = |id: &str| dir.clerk_idx(id).unwrap();
    let mut first = connect(&mut d, 1, Principal::Clerk(idx("clerk-hekou-1")), 256);
    let _guest = connect(&mut d, 2, Principal::Clerk(idx("clerk-hekou-2")), 256);
    let _other = connect(&mut d, 3, Principal::Clerk(idx("clerk-hekou-3")), 256);
    let _booth = connect(&mut d, 10, Principal::Booth(dir.booth_idx("booth-gudao-1").unwrap()), 256);
    message(&mut d, 1, ClientMessage::SetState { state: ClerkTargetState::Available, reason: None });
    let request =
        ClientMessage::RequestService { service: ServiceCode::new("teacher-cert"), priority: Priority::Normal };
    message(&mut d, 10, request);
    let offer = first
        .drain()
        .into_iter()
        .find_map(|m| match m {
            ServerMessage::Offer { offer, .. } => Some(offer),
            _ => None,
        })
        .expect("the clerk is offered the ticket");
    message(&mut d, 1, ClientMessage::AcceptOffer { offer });
    let call = d.engine.call_of(idx("clerk-hekou-1")).expect("a call").call;
    let call = protocol::CallId(call.0);
    message(&mut d, 1, ClientMessage::InviteToCall { call, clerk: "clerk-hekou-2".into() });
    message(&mut d, 2, ClientMessage::JoinCall { call });
    assert_eq!(d.guests.get(&call.0), Some(&idx("clerk-hekou-2")));
    // A second invitation stays open (the call has its guest; this one would be refused at join).
    d.invitations.insert(idx("clerk-hekou-3"), (call.0, d.now + Duration::from_secs(30)));

    let snap = d.take_snapshot();
    let mut restarted = driver();
    restarted.set_wall_base(snap.started_unix_ms);
    restarted.restore_snapshot(&snap);
    assert_eq!(restarted.guests, d.guests);
    assert_eq!(restarted.invitations.keys().collect::<Vec<_>>(), vec![&idx("clerk-hekou-3")]);
    assert_eq!(restarted.take_snapshot(), snap, "the same driver state");
    assert!(restarted.is_guest(Principal::Clerk(idx("clerk-hekou-2"))));
}
