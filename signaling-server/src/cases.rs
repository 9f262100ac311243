//! Case records (办件记录), citizens' ratings and supervisors' forced clerk states, kept in the
//! records store (`xiaowu-store`: SQLite by default, PostgreSQL for a cluster), each with its link
//! in the audit hash chain.
//!
//! The driver must never wait on a database, so records go to a writer thread that commits each
//! one (durably: SQLite `synchronous=FULL`, PostgreSQL's commit). [`CaseLog::sync`] waits until
//! everything sent so far is committed; shutdown calls it, so a wrapped-up case is never lost by a
//! clean stop.
//!
//! Ids in the store are unique across restarts: `<boot>-<n>`, where the boot number is taken from
//! the store at start. Ratings join their case by that ticket id, so a new ticket 12 after a
//! restart never shows an old ticket 12's rating.
//!
//! Notes are staff text that may mention a citizen's circumstances: they are stored, never logged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

pub use protocol::rest::CaseRecord;
use protocol::{CallEndReason, CaseOutcome, Rating};
use serde::{Deserialize, Serialize};
use store::{CaseRow, CaseScope, ForcedStateRow, RatingRow, Store};
use tracing::error;

/// A citizen's rating of a served ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingRecord {
    pub ticket: u64,
    pub booth: String,
    pub rating: Rating,
    pub at_unix: u64,
}

/// A supervisor set a clerk's state: who, whom, what and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForcedStateRecord {
    pub supervisor: String,
    pub clerk: String,
    pub state: protocol::ClerkTargetState,
    pub why: String,
    pub at_unix: u64,
}

/// One record for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseLine {
    Case(CaseRecord),
    Rating(RatingRecord),
    ForcedState(ForcedStateRecord),
}

enum ToWriter {
    Row(Box<Row>),
    Sync(mpsc::Sender<()>),
}

enum Row {
    Case(CaseRow),
    Rating(RatingRow),
    Forced(ForcedStateRow),
}

/// The records store for cases, and its writer thread.
pub struct CaseLog {
    store: Arc<Store>,
    boot: i64,
    next_forced: AtomicU64,
    tx: mpsc::Sender<ToWriter>,
}

fn word<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn parse_word<T: for<'de> Deserialize<'de>>(w: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(w.to_owned())).ok()
}

impl CaseLog {
    /// Takes this start's boot number from the store and starts the writer thread.
    pub fn open(store: Arc<Store>) -> std::io::Result<Self> {
        let boot = store.register_boot().map_err(|e| std::io::Error::other(e.bilingual()))?;
        let (tx, rx) = mpsc::channel();
        let writer = store.clone();
        std::thread::Builder::new().name("case-log".into()).spawn(move || write_loop(&writer, rx))?;
        Ok(Self { store, boot, next_forced: AtomicU64::new(1), tx })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// This start's boot number.
    pub fn boot(&self) -> i64 {
        self.boot
    }

    /// The unique id of the case of `call` (a number of this start).
    pub fn case_id(&self, call: u64) -> String {
        format!("{}-{call}", self.boot)
    }

    fn ticket_id(&self, ticket: u64) -> String {
        format!("{}-{ticket}", self.boot)
    }

    /// Queues a record; it is committed by the writer next.
    pub fn append(&self, line: &CaseLine) {
        let row = match line {
            CaseLine::Case(c) => Row::Case(CaseRow {
                id: if c.id.is_empty() { self.case_id(c.call) } else { c.id.clone() },
                call_id: format!("{}-{}", self.boot, c.call),
                ticket_id: self.ticket_id(c.ticket),
                service: c.service.clone(),
                booth: c.booth.clone(),
                booth_region: c.booth_region.clone(),
                clerk: c.clerk.clone(),
                hall: c.hall.clone(),
                call_end: word(&c.call_end),
                ended_ms: c.ended_unix as i64 * 1000,
                outcome: word(&c.outcome),
                note: c.note.clone(),
                recorded_ms: c.recorded_unix as i64 * 1000,
            }),
            CaseLine::Rating(r) => Row::Rating(RatingRow {
                ticket_id: self.ticket_id(r.ticket),
                booth: r.booth.clone(),
                rating: word(&r.rating),
                at_ms: r.at_unix as i64 * 1000,
            }),
            CaseLine::ForcedState(f) => Row::Forced(ForcedStateRow {
                id: format!("{}-{}", self.boot, self.next_forced.fetch_add(1, Ordering::Relaxed)),
                supervisor: f.supervisor.clone(),
                clerk: f.clerk.clone(),
                state: word(&f.state),
                why: f.why.clone(),
                at_ms: f.at_unix as i64 * 1000,
            }),
        };
        if self.tx.send(ToWriter::Row(Box::new(row))).is_err() {
            error!("case writer is gone: a record was not written");
        }
    }

    /// Blocks until every record appended so far is committed.
    pub fn sync(&self) {
        let (done, wait) = mpsc::channel();
        if self.tx.send(ToWriter::Sync(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// Like [`CaseLog::sync`], for at most `limit`; `false` if the writer is still behind (the
    /// database is away).
    pub fn sync_within(&self, limit: std::time::Duration) -> bool {
        let (done, wait) = mpsc::channel();
        self.tx.send(ToWriter::Sync(done)).is_ok() && wait.recv_timeout(limit).is_ok()
    }

    /// The newest `limit` cases in `scope`, newest first, each with its ticket's rating. Blocking.
    pub fn recent_cases(&self, limit: usize, scope: &CaseScope) -> std::io::Result<Vec<CaseRecord>> {
        let rows = self.store.cases(scope, None, limit).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(rows.into_iter().map(|(c, rating)| case_out(c, rating)).collect())
    }
}

/// The number after the boot prefix of a store id.
fn number(id: &str) -> u64 {
    id.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or_default()
}

fn case_out(c: CaseRow, rating: Option<String>) -> CaseRecord {
    CaseRecord {
        call: number(&c.call_id),
        ticket: number(&c.ticket_id),
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
        rating: rating.and_then(|r| parse_word(&r)),
    }
}

/// Commits records in order. A record is never dropped because the database is away: the writer
/// retries it (every 0.5 s, then up to every 5 s) until it is committed, and the records behind it
/// wait. A retry that finds the record already there (its first commit succeeded but the answer
/// was lost) counts as done.
fn write_loop(store: &Store, rx: mpsc::Receiver<ToWriter>) {
    for msg in rx {
        match msg {
            ToWriter::Row(row) => {
                let mut wait = std::time::Duration::from_millis(500);
                let mut attempt = 0u32;
                loop {
                    let written = match &*row {
                        Row::Case(c) => store.append_case(c),
                        Row::Rating(r) => store.append_rating(r),
                        Row::Forced(f) => store.append_forced_state(f),
                    };
                    match written {
                        Ok(_) => break,
                        Err(e) if attempt > 0 && is_duplicate(&e) => break,
                        Err(e) => {
                            if attempt.is_power_of_two() || attempt == 0 {
                                error!(error = %e, attempt, "writing a record failed; retrying until the database is back");
                            }
                            attempt += 1;
                            std::thread::sleep(wait);
                            wait = (wait * 2).min(std::time::Duration::from_secs(5));
                        }
                    }
                }
            }
            ToWriter::Sync(done) => {
                let _ = done.send(());
            }
        }
    }
}

fn is_duplicate(e: &store::StoreError) -> bool {
    let text = e.to_string().to_lowercase();
    text.contains("duplicate key") || text.contains("unique constraint")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(call: u64, outcome: CaseOutcome) -> CaseRecord {
        CaseRecord {
            id: String::new(),
            call,
            ticket: call + 100,
            service: "teacher-cert".into(),
            booth: "booth-gudao-1".into(),
            booth_region: "gudao".into(),
            clerk: "clerk-hekou-1".into(),
            hall: "hekou".into(),
            call_end: CallEndReason::HungUpByClerk,
            ended_unix: 1_795_000_000,
            outcome,
            note: Some("缺户口本".into()),
            recorded_unix: 1_795_000_030 + call,
            rating: None,
        }
    }

    #[test]
    fn records_survive_reopen_and_ratings_never_cross_restarts() {
        let dir = std::env::temp_dir().join(format!("xiaowu-cases-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let open = || Arc::new(Store::open_sqlite(&dir.join("xiaowu.db")).unwrap());
        let log = CaseLog::open(open()).unwrap();
        log.append(&CaseLine::Case(case(1, CaseOutcome::Completed)));
        log.append(&CaseLine::Case(case(2, CaseOutcome::MissingDocuments)));
        let rating = RatingRecord { ticket: 102, booth: "booth-gudao-1".into(), rating: Rating::Satisfied, at_unix: 1 };
        log.append(&CaseLine::Rating(rating));
        log.sync();
        let first_boot = log.boot();
        drop(log);

        // After a restart the numbers start again; the same ticket number is another ticket.
        let log = CaseLog::open(open()).unwrap();
        assert_eq!(log.boot(), first_boot + 1);
        log.append(&CaseLine::Case(case(2, CaseOutcome::Consultation)));
        log.sync();
        let all = log.recent_cases(10, &CaseScope::Clerk("clerk-hekou-1".into())).unwrap();
        let seen: Vec<(String, u64, Option<Rating>)> = all.iter().map(|c| (c.id.clone(), c.ticket, c.rating)).collect();
        let b = |n: i64| format!("{n}-2");
        assert_eq!(
            seen,
            vec![
                (b(first_boot + 1), 102, None),
                (b(first_boot), 102, Some(Rating::Satisfied)),
                (format!("{first_boot}-1"), 101, None)
            ]
        );
        assert_eq!(log.store().verify_audit().unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
