//! The server's side of the records store (`xiaowu-store`: SQLite by default, PostgreSQL for a
//! cluster): case records (办件), citizens' ratings, supervisors' forced clerk states, the
//! per-ticket event log, the day's answered counts and the waiting samples.
//!
//! The driver must never wait on a database, so records go to a writer thread that commits them
//! in order (durably: SQLite `synchronous=FULL`, PostgreSQL's commit). A record may carry an
//! action to run once it is committed: the driver answers `case_recorded` and `rating_recorded`
//! that way, so what a clerk or citizen is told is saved, is saved. [`Records::sync`] waits until
//! everything sent so far is committed; shutdown calls it.
//!
//! Ids never repeat: each server start takes a boot number from the store, and ticket and call
//! ids are `boot << 32 | n` (n counting from 1 within the start). The store keeps them as
//! `<boot>-<n>`; ratings join their case by that ticket id.
//!
//! Notes are staff text that may mention a citizen's circumstances: they are stored, never logged.

use std::sync::{mpsc, Arc};

pub use protocol::rest::CaseRecord;
use protocol::{CallEndReason, CaseOutcome};
use serde::{Deserialize, Serialize};
use store::{AnsweredRow, CaseQuery, CaseRow, ForcedStateRow, RatingRow, Store, StoreError, TicketEventRow};
use tracing::error;

/// How ticket and call ids are numbered and named (the desk's, used by the store's rows too).
pub use desk::ids::{id_base, short_number, store_id, wire_id};

/// A citizen's rating of a served ticket (the desk decides it).
pub use desk::cases::RatingRecord;

/// One record for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Case(CaseRecord),
    Rating(RatingRecord),
    /// A supervisor set a clerk's state (the desk decides it); `id` is unique, and the same when
    /// the input is replayed from the routing log.
    ForcedState {
        id: String,
        forced: desk::cases::ForcedState,
    },
    /// Ticket events of one driver turn, written in one transaction, and the facts of the tickets
    /// that closed in it.
    Events(Vec<TicketEventRow>, Vec<store::TicketFactRow>),
    /// This start's answered counts today (replacing what it saved before).
    Answered(Vec<AnsweredRow>),
    /// A sample of waiting tickets: region id → count, as a JSON object.
    WaitingSample {
        at_ms: i64,
        counts: String,
    },
    /// A finished call recording's index row, and its wrapped data key when it is sealed at rest.
    Recording(store::RecordingRow, Option<String>),
    /// An attempt to watch a call (a supervisor monitoring it live).
    View(store::RecordingViewRow),
    /// Clerks' state stretches that ended (or were cut at an hour).
    ClerkTime(Vec<store::Stretch>),
    /// Supervisors' alerts raised and cleared.
    Alerts(Vec<store::AlertEventRow>),
    /// A clerk's review of a document photo (chained).
    Review(store::DocumentReviewRow),
    /// A document photo as stored: its metadata (chained) and its sealed image and thumbnail.
    Document(Box<StoredDocument>),
    /// One attempt to read a document (chained), committed before anything is served.
    DocumentRead(store::DocumentReadRow),
}

/// A document photo for the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    pub row: store::DocumentRow,
    pub image: store::StoredBytes,
    pub thumbnail: store::StoredBytes,
}

/// Run by the writer once the record is committed.
pub type OnCommit = Box<dyn FnOnce() + Send>;

enum ToWriter {
    Row(Box<Row>, Option<OnCommit>),
    Sync(mpsc::Sender<()>),
}

enum Row {
    Case(CaseRow),
    Rating(RatingRow),
    Forced(ForcedStateRow),
    Events(Vec<TicketEventRow>, Vec<store::TicketFactRow>),
    Answered(Vec<AnsweredRow>),
    Sample { at_ms: i64, boot: i64, counts: String },
    Recording(store::RecordingRow, Option<String>),
    View(store::RecordingViewRow),
    ClerkTime(Vec<store::Stretch>),
    Alerts(Vec<store::AlertEventRow>),
    Review(store::DocumentReviewRow),
    Document(Box<StoredDocument>),
    DocumentRead(store::DocumentReadRow),
}

/// The records store and its writer thread.
pub struct Records {
    store: Arc<Store>,
    boot: i64,
    tx: mpsc::Sender<ToWriter>,
    health: Arc<WriterHealth>,
}

fn word<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn parse_word<T: for<'de> Deserialize<'de>>(w: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(w.to_owned())).ok()
}

impl Records {
    /// Takes this start's boot number from the store and starts the writer thread.
    pub fn open(store: Arc<Store>) -> std::io::Result<Self> {
        Self::open_grouped(store, GROUP_MAX)
    }

    /// [`Records::open`] committing at most `group` records per transaction (1: each on its own,
    /// for the benchmark that compares the two).
    pub fn open_grouped(store: Arc<Store>, group: usize) -> std::io::Result<Self> {
        let boot = store.register_boot().map_err(|e| std::io::Error::other(e.bilingual()))?;
        let (tx, rx) = mpsc::channel();
        let writer = store.clone();
        let health = Arc::new(WriterHealth::default());
        let reported = health.clone();
        std::thread::Builder::new()
            .name("records-writer".into())
            .spawn(move || write_loop(&writer, rx, &reported, group.max(1)))?;
        Ok(Self { store, boot, tx, health })
    }

    /// The writer's queue and the records it set aside.
    pub fn health(&self) -> &WriterHealth {
        &self.health
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// This start's boot number.
    pub fn boot(&self) -> i64 {
        self.boot
    }

    /// The unique id of the case of `call`.
    pub fn case_id(&self, call: u64) -> String {
        store_id(call)
    }

    /// Queues a record; the writer commits it next.
    pub fn append(&self, record: Record) {
        self.send(record, None);
    }

    /// Queues a record a request waits for, and waits until it is committed: refused at once
    /// (`server_busy`) when the writer's queue is at its bound, and given up after `patience`
    /// (the record may still be committed later: what a caller was told is saved, is saved, not
    /// the other way round). Errors are the store's: `Unreachable` for busy, set aside or slow.
    pub async fn commit(&self, record: Record, patience: std::time::Duration) -> Result<(), StoreError> {
        if self.health.is_full() {
            return Err(StoreError::Unreachable("the records writer's queue is full".into()));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.append_then(
            record,
            Box::new(move || {
                let _ = tx.send(());
            }),
        );
        match tokio::time::timeout(patience, rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(StoreError::Unreachable("the database refused the record; it was set aside".into())),
            Err(_) => Err(StoreError::Unreachable("the records writer is waiting for the database".into())),
        }
    }

    /// Queues a record and runs `done` once it is committed.
    pub fn append_then(&self, record: Record, done: OnCommit) {
        self.send(record, Some(done));
    }

    fn send(&self, record: Record, done: Option<OnCommit>) {
        let row = match record {
            Record::Case(c) => Row::Case(CaseRow {
                id: if c.id.is_empty() { self.case_id(c.call) } else { c.id.clone() },
                call_id: store_id(c.call),
                ticket_id: store_id(c.ticket),
                service: c.service,
                booth: c.booth,
                booth_region: c.booth_region,
                clerk: c.clerk,
                hall: c.hall,
                call_end: word(&c.call_end),
                ended_ms: c.ended_unix as i64 * 1000,
                outcome: word(&c.outcome),
                note: c.note,
                recorded_ms: c.recorded_unix as i64 * 1000,
            }),
            Record::Rating(r) => Row::Rating(RatingRow {
                ticket_id: store_id(r.ticket),
                booth: r.booth,
                rating: word(&r.rating),
                at_ms: r.at_unix as i64 * 1000,
                reason: r.reason.map(|x| x.as_str().to_owned()),
            }),
            Record::ForcedState { id, forced: f } => Row::Forced(ForcedStateRow {
                id,
                supervisor: f.supervisor,
                clerk: f.clerk,
                state: word(&f.state),
                why: f.why,
                at_ms: f.at_unix as i64 * 1000,
            }),
            Record::Events(e, f) => Row::Events(e, f),
            Record::Answered(a) => Row::Answered(a),
            Record::WaitingSample { at_ms, counts } => Row::Sample { at_ms, boot: self.boot, counts },
            Record::Recording(r, sealing) => Row::Recording(r, sealing),
            Record::View(v) => Row::View(v),
            Record::ClerkTime(t) => Row::ClerkTime(t),
            Record::Alerts(a) => Row::Alerts(a),
            Record::Review(r) => Row::Review(r),
            Record::Document(d) => Row::Document(d),
            Record::DocumentRead(r) => Row::DocumentRead(r),
        };
        self.health.queued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.tx.send(ToWriter::Row(Box::new(row), done)).is_err() {
            self.health.queued.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            error!("records writer is gone: a record was not written");
        }
    }

    /// Blocks until every record appended so far is committed.
    pub fn sync(&self) {
        let (done, wait) = mpsc::channel();
        if self.tx.send(ToWriter::Sync(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// Like [`Records::sync`], for at most `limit`; `false` if the writer is still behind (the
    /// database is away).
    pub fn sync_within(&self, limit: std::time::Duration) -> bool {
        let (done, wait) = mpsc::channel();
        self.tx.send(ToWriter::Sync(done)).is_ok() && wait.recv_timeout(limit).is_ok()
    }

    /// A page of cases, newest first, each with its ticket's rating. Blocking.
    pub fn cases(&self, query: &CaseQuery) -> Result<Vec<CaseRecord>, store::StoreError> {
        let rows = self.store.cases(query)?;
        Ok(rows.into_iter().map(|(c, rating)| case_out(c, rating)).collect())
    }
}

fn case_out(c: CaseRow, rating: Option<store::CaseRating>) -> CaseRecord {
    CaseRecord {
        call: wire_id(&c.call_id),
        ticket: wire_id(&c.ticket_id),
        id: c.id,
        service: c.service,
        booth: c.booth,
        booth_region: c.booth_region,
        clerk: c.clerk,
        hall: c.hall,
        call_end: parse_word(&c.call_end).unwrap_or(CallEndReason::HungUpByClerk),
        ended_unix: (c.ended_ms / 1000) as u64,
        outcome: parse_word(&c.outcome).unwrap_or(CaseOutcome::NotRecorded),
        note: c.note,
        recorded_unix: (c.recorded_ms / 1000) as u64,
        rating_reason: rating.as_ref().and_then(|r| r.reason.as_deref()).and_then(parse_word),
        rating: rating.and_then(|r| parse_word(&r.rating)),
    }
}

impl Row {
    /// The record's kind, for the store-latency metric.
    fn kind(&self) -> &'static str {
        match self {
            Row::Case(_) => "case",
            Row::Rating(_) => "rating",
            Row::Forced(_) => "forced_state",
            Row::Events(..) => "events",
            Row::Answered(_) => "answered",
            Row::Sample { .. } => "waiting_sample",
            Row::Recording(..) => "recording",
            Row::View(_) => "recording_view",
            Row::ClerkTime(_) => "clerk_time",
            Row::Alerts(_) => "alerts",
            Row::Review(_) => "document_review",
            Row::Document(_) => "document",
            Row::DocumentRead(_) => "document_read",
        }
    }

    /// The record's id where it has one (for the log: never personal data).
    fn id(&self) -> String {
        match self {
            Row::Case(c) => c.id.clone(),
            Row::Rating(r) => r.ticket_id.clone(),
            Row::Forced(f) => f.id.clone(),
            Row::Recording(r, _) => r.call_id.clone(),
            Row::Sample { at_ms, .. } => at_ms.to_string(),
            Row::Review(r) => r.id.clone(),
            Row::Document(d) => d.row.id.clone(),
            Row::DocumentRead(r) => r.id.clone(),
            _ => String::new(),
        }
    }
}

fn write(store: &Store, row: &Row) -> store::Result<()> {
    match row {
        Row::Case(c) => store.append_case(c).map(drop),
        Row::Rating(r) => store.append_rating(r).map(drop),
        Row::Forced(f) => store.append_forced_state(f).map(drop),
        Row::Events(e, f) => store.append_events(e).and_then(|()| store.append_facts(f)),
        Row::Answered(a) => store.save_answered(a),
        Row::Sample { at_ms, boot, counts } => store.append_waiting_sample(*at_ms, *boot, counts),
        Row::Recording(r, sealing) => store.put_recording(r, sealing.as_deref()).map(drop),
        Row::View(v) => store.append_recording_view(v).map(drop),
        Row::ClerkTime(t) => store.append_clerk_time(t),
        Row::Alerts(a) => store.append_alert_events(a),
        Row::Review(r) => store.append_review(r).map(drop),
        Row::Document(d) => store.put_document(&d.row, &d.image, &d.thumbnail),
        Row::DocumentRead(r) => store.append_read(r).map(drop),
    }
}

/// What the writer says of itself, for `/healthz` and the metrics.
#[derive(Default)]
pub struct WriterHealth {
    /// Records handed to the writer and not yet committed, found there, or set aside.
    queued: std::sync::atomic::AtomicUsize,
    /// Records the database refused for good (not a lost connection, not a duplicate).
    set_aside: std::sync::atomic::AtomicU64,
    /// The last of them: its kind, its id and the database's reason (no personal data).
    last_set_aside: std::sync::Mutex<Option<String>>,
    /// The queue's bound (`[limits] records_queue`; [`MAX_QUEUED`] until set).
    bound: std::sync::atomic::AtomicUsize,
}

impl WriterHealth {
    pub fn queued(&self) -> usize {
        self.queued.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the queue is at its bound.
    pub fn is_full(&self) -> bool {
        let bound = self.bound.load(std::sync::atomic::Ordering::Relaxed);
        self.queued() >= if bound == 0 { MAX_QUEUED } else { bound }
    }

    /// Sets the queue's bound (at least 1).
    pub fn set_bound(&self, bound: usize) {
        self.bound.store(bound.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    pub fn set_aside(&self) -> u64 {
        self.set_aside.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn last_set_aside(&self) -> Option<String> {
        self.last_set_aside.lock().expect("never held across a panic").clone()
    }
}

/// Records waiting for the writer at most (by default; `[limits] records_queue`) before the
/// driver refuses what would add one
/// (`end_wrap_up`, `rate_service`, `review_document`, `force_clerk_state`: `503 server_busy`-style
/// `error` with code `server_busy`); `/healthz` then says `records_queue_full`. What the server
/// writes of its own accord (events, a wrap-up's time limit) is still queued: the bound holds
/// the clients back, never a record.
pub const MAX_QUEUED: usize = 50_000;

/// How often a record the database refuses (other than a lost connection or a duplicate) is
/// tried before it is set aside.
const REFUSALS_BEFORE_SET_ASIDE: u32 = 3;

/// How a record's write ended.
enum Written {
    /// Committed now, or found already there.
    Done,
    /// Refused for good: logged, counted, and the records behind it go on.
    SetAside,
}

/// Commits records in order. A record is never dropped because the database is away: while the
/// database cannot be reached (or is busy) the writer retries it, every 0.5 s and then up to every
/// 5 s, and the records behind it wait. A record found already there — a unique key violated:
/// PostgreSQL's SQLSTATE 23505, SQLite's constraint codes; an earlier attempt committed but its
/// answer was lost, a replay of the routing log, a new router writing what the old one had
/// committed — counts as done. A record the database refuses for any other reason is tried
/// [`REFUSALS_BEFORE_SET_ASIDE`] times, then set aside: logged with its kind and id, counted in
/// `/healthz` (`records.set_aside`) and `xiaowu_records_set_aside_total`, and the writer goes on —
/// one bad record never blocks the ones behind it. A record's on-commit action runs once it is
/// done, never for one set aside.
///
/// Group commit: what has queued up while the last commit ran — up to [`GROUP_MAX`] records, up to
/// the next `sync` — is written in one transaction, one `fsync` for all of them. If that fails
/// (one of them is a duplicate, the database went away, one is refused) none of them was kept,
/// and they are written one by one as above.
fn write_loop(store: &Store, rx: mpsc::Receiver<ToWriter>, health: &WriterHealth, group_max: usize) {
    while let Ok(first) = rx.recv() {
        let mut group: Vec<(Box<Row>, Option<OnCommit>)> = Vec::new();
        let mut sync = None;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                ToWriter::Row(row, done) => group.push((row, done)),
                // A sync ends the group: answered once everything before it is committed.
                ToWriter::Sync(done) => {
                    sync = Some(done);
                    break;
                }
            }
            if group.len() < group_max {
                next = rx.try_recv().ok();
            }
        }
        write_group(store, group, health);
        if let Some(done) = sync {
            let _ = done.send(());
        }
    }
}

/// Records committed in one transaction at most.
pub const GROUP_MAX: usize = 256;

fn write_group(store: &Store, group: Vec<(Box<Row>, Option<OnCommit>)>, health: &WriterHealth) {
    let finish = |done: Option<OnCommit>| {
        health.queued.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(done) = done {
            done();
        }
    };
    if group.len() > 1 {
        let started = std::time::Instant::now();
        let all = store.write_batch(|| group.iter().try_for_each(|(row, _)| write(store, row)));
        if all.is_ok() {
            for (row, done) in group {
                let kind = vec![("kind", row.kind().to_owned())];
                crate::metrics::observe(&crate::metrics::METRICS.store_writes.get_or_create(&kind), started.elapsed());
                finish(done);
            }
            return;
        }
    }
    for (row, done) in group {
        match write_one(store, &row, health) {
            Written::Done => finish(done),
            Written::SetAside => finish(None),
        }
    }
}

fn write_one(store: &Store, row: &Row, health: &WriterHealth) -> Written {
    let mut wait = std::time::Duration::from_millis(500);
    let (mut away, mut refused) = (0u32, 0u32);
    let started = std::time::Instant::now();
    loop {
        match write(store, row) {
            Ok(()) => {
                let kind = vec![("kind", row.kind().to_owned())];
                let h = crate::metrics::METRICS.store_writes.get_or_create(&kind);
                crate::metrics::observe(&h, started.elapsed());
                return Written::Done;
            }
            Err(store::StoreError::Duplicate(_)) => return Written::Done,
            Err(e @ store::StoreError::Unreachable(_)) => {
                if away.is_power_of_two() || away == 0 {
                    error!(error = %e, attempt = away, "writing a record failed; retrying until the database is back");
                }
                away += 1;
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => {
                refused += 1;
                if refused < REFUSALS_BEFORE_SET_ASIDE {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    continue;
                }
                let what = format!("{} {}: {e}", row.kind(), row.id());
                error!(record = %what, "the database refused a record {refused} times; set aside, going on with the next");
                health.set_aside.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                crate::metrics::METRICS.records_set_aside.get_or_create(&vec![("kind", row.kind().to_owned())]).inc();
                *health.last_set_aside.lock().expect("never held across a panic") = Some(what);
                return Written::SetAside;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Rating;
    use store::CaseScope;

    fn case(call: u64, ticket: u64, outcome: CaseOutcome) -> CaseRecord {
        CaseRecord {
            id: String::new(),
            call,
            ticket,
            service: "teacher-cert".into(),
            booth: "booth-gudao-1".into(),
            booth_region: "gudao".into(),
            clerk: "clerk-hekou-1".into(),
            hall: "hekou".into(),
            call_end: CallEndReason::HungUpByClerk,
            ended_unix: 1_795_000_000,
            outcome,
            note: Some("缺户口本".into()),
            recorded_unix: 1_795_000_030 + (call & 0xFF),
            rating: None,
            rating_reason: None,
        }
    }

    #[test]
    fn ids_round_trip_and_carry_the_boot() {
        let id = id_base(7) + 11;
        assert_eq!((store_id(id), wire_id("7-12"), short_number(id)), ("7-12".to_owned(), id, 12));
        assert_eq!(wire_id("garbage"), 0);
        assert!(id_base(2_000_000) < 1 << 53, "exact in JavaScript");
    }

    #[test]
    fn records_survive_reopen_and_ratings_never_cross_restarts() {
        let dir = std::env::temp_dir().join(format!("xiaowu-records-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let open = || Arc::new(Store::open_sqlite(&dir.join("xiaowu.db")).unwrap());
        let log = Records::open(open()).unwrap();
        let first = id_base(log.boot());
        log.append(Record::Case(case(first, first, CaseOutcome::Completed)));
        log.append(Record::Case(case(first + 1, first + 1, CaseOutcome::MissingDocuments)));
        let rating = RatingRecord {
            ticket: first + 1,
            booth: "booth-gudao-1".into(),
            rating: Rating::Satisfied,
            reason: None,
            at_unix: 1,
        };
        let (told, committed) = mpsc::channel();
        log.append_then(Record::Rating(rating), Box::new(move || told.send(()).unwrap()));
        committed.recv_timeout(std::time::Duration::from_secs(10)).expect("the on-commit action runs");
        log.sync();
        drop(log);

        // After a restart the short numbers start again, the ids do not: ticket 2 of this start
        // is another ticket than ticket 2 of the last, and does not show its rating.
        let log = Records::open(open()).unwrap();
        let second = id_base(log.boot());
        assert!(second > first + 1);
        log.append(Record::Case(case(second + 1, second + 1, CaseOutcome::Consultation)));
        log.sync();
        let all = log.cases(&CaseQuery::newest(CaseScope::Clerk("clerk-hekou-1".into()), 10)).unwrap();
        let seen: Vec<(u64, u32, Option<Rating>)> =
            all.iter().map(|c| (c.ticket, short_number(c.ticket), c.rating)).collect();
        assert_eq!(seen, vec![(second + 1, 2, None), (first + 1, 2, Some(Rating::Satisfied)), (first, 1, None)]);
        assert_eq!(all[0].id, store_id(second + 1));
        assert_eq!(log.store().verify_audit().unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
