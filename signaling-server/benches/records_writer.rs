//! The records writer, side by side in one run: each record committed on its own (one transaction
//! and one `fsync` per record) against group commit (what queued up during the last commit, up
//! to 256 records, in one transaction), on SQLite (a file, `synchronous=FULL`) and on PostgreSQL
//! (a throwaway local cluster).
//!
//! A wrap-up is what the driver hands the writer when a clerk ends one: the case record (chained
//! in the audit log, with its report roll-up) and the turn's ticket events (6 rows and the
//! ticket's facts). `case_recorded` goes out when the case's on-commit action runs.
//!
//! 1. Throughput: 4,000 wrap-ups handed over at once; wrap-ups per second until the last is
//!    committed.
//! 2. Latency at 500 wrap-ups a second for 8 s: from the hand-over to the case's on-commit action
//!    (what the clerk waits for `case_recorded`, less the socket), p50 / p99 / max.
//!
//! Run: `cargo bench -p signaling-server --bench records_writer`

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use protocol::{CallEndReason, CaseOutcome};
use signaling_server::records::{id_base, CaseRecord, Record, Records, GROUP_MAX};
use store::{Store, TicketEventRow, TicketFactRow};

const BURST: usize = 4_000;
const RATE: u64 = 500;
const SECONDS: u64 = 8;

fn case(call: u64) -> CaseRecord {
    CaseRecord {
        id: String::new(),
        call,
        ticket: call,
        service: "teacher-cert".into(),
        booth: "booth-gudao-1".into(),
        booth_region: "gudao".into(),
        clerk: "clerk-hekou-1".into(),
        hall: "hekou".into(),
        call_end: CallEndReason::HungUpByClerk,
        ended_unix: 1_795_000_000,
        outcome: CaseOutcome::Completed,
        note: Some("材料齐全".into()),
        recorded_unix: 1_795_000_030,
        rating: None,
        rating_reason: None,
    }
}

fn events(call: u64) -> Record {
    let ticket_id = signaling_server::records::store_id(call);
    let rows = ["requested", "offered", "accepted", "call_ended", "closed", "rated"]
        .iter()
        .enumerate()
        .map(|(i, kind)| TicketEventRow {
            ticket_id: ticket_id.clone(),
            seq: i as i64 + 1,
            booth_region: "gudao".into(),
            at_ms: 1_795_000_000_000 + i as i64,
            kind: (*kind).into(),
            detail: "{}".into(),
        })
        .collect();
    let fact = TicketFactRow {
        ticket_id,
        booth: "booth-gudao-1".into(),
        booth_region: "gudao".into(),
        home_hall: "hekou".into(),
        service: "teacher-cert".into(),
        requested_ms: 1_795_000_000_000,
        answered_ms: Some(1_795_000_010_000),
        answered_hall: Some("hekou".into()),
        answered_clerk: Some("clerk-hekou-1".into()),
        target_secs: 60,
        closed_ms: 1_795_000_300_000,
        outcome: "served".into(),
        talk_ms: 290_000,
        requeues: 0,
        estimate_secs: Some(30),
    };
    Record::Events(rows, vec![fact])
}

/// Hands one wrap-up to the writer; `done` gets its latency once the case is committed.
fn wrap_up(records: &Records, call: u64, done: &mpsc::Sender<Duration>) {
    let handed = Instant::now();
    records.append(events(call));
    let done = done.clone();
    records.append_then(
        Record::Case(case(call)),
        Box::new(move || {
            let _ = done.send(handed.elapsed());
        }),
    );
}

fn throughput(open: &dyn Fn() -> Records) -> f64 {
    let records = open();
    let base = id_base(records.boot());
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    for i in 0..BURST as u64 {
        wrap_up(&records, base + i, &tx);
    }
    for _ in 0..BURST {
        rx.recv_timeout(Duration::from_secs(300)).expect("every case is committed");
    }
    BURST as f64 / started.elapsed().as_secs_f64()
}

fn latency(open: &dyn Fn() -> Records) -> (Duration, Duration, Duration) {
    let records = open();
    let base = id_base(records.boot()) + 1_000_000;
    let (tx, rx) = mpsc::channel();
    let n = RATE * SECONDS;
    let started = Instant::now();
    for i in 0..n {
        let at = started + Duration::from_micros(i * 1_000_000 / RATE);
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        wrap_up(&records, base + i, &tx);
    }
    let mut took: Vec<Duration> =
        (0..n).map(|_| rx.recv_timeout(Duration::from_secs(300)).expect("every case is committed")).collect();
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    (at(0.5), at(0.99), *took.last().expect("some"))
}

fn main() {
    let dir = std::env::temp_dir().join(format!("xiaowu-records-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let postgres = test_kit::postgres::postgres_url();
    println!("records writer: {BURST} wrap-ups at once; then {RATE} a second for {SECONDS} s (a wrap-up: a chained case + 6 events + facts)");
    println!("{:<11} {:<16} {:>14} {:>10} {:>10} {:>10}", "database", "commits", "wrap-ups/s", "p50", "p99", "max");
    let mut n = 0;
    for (name, url) in [("SQLite", None), ("PostgreSQL", Some(postgres))] {
        for (label, group) in [("one by one", 1), ("group (≤256)", GROUP_MAX)] {
            // A fresh database for every row of the table.
            let store = Arc::new(match &url {
                Some(url) => Store::open_postgres(url).expect("PostgreSQL"),
                None => {
                    n += 1;
                    Store::open_sqlite(&dir.join(format!("bench-{n}.db"))).expect("SQLite")
                }
            });
            let open = || Records::open_grouped(store.clone(), group).expect("the writer starts");
            let rate = throughput(&open);
            let (p50, p99, max) = latency(&open);
            println!(
                "{name:<11} {label:<16} {rate:>14.0} {:>8.1}ms {:>8.1}ms {:>8.1}ms",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                max.as_secs_f64() * 1e3
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
