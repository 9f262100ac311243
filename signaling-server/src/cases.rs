//! Case records (办件记录): one JSON line per call a clerk wrapped up — what was handled, for
//! whom (ids only), the outcome and the clerk's note — one per citizen rating, and one per clerk
//! state forced by a supervisor (who, whom, why), appended to `<data_dir>/cases.jsonl`.
//!
//! The driver must never wait on a disk, so lines go to a writer thread that appends them in
//! batches and fsyncs each batch. [`CaseLog::sync`] waits until everything sent so far is on disk;
//! shutdown calls it, so a wrapped-up case is never lost by a clean stop.
//!
//! Notes are staff text that may mention a citizen's circumstances: they are stored here, never
//! logged.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

pub use protocol::rest::CaseRecord;
use protocol::Rating;
use serde::{Deserialize, Serialize};
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

/// A line of `cases.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseLine {
    Case(CaseRecord),
    Rating(RatingRecord),
    ForcedState(ForcedStateRecord),
}

enum ToWriter {
    Line(String),
    Sync(mpsc::Sender<()>),
}

/// The append-only case file and its writer thread.
pub struct CaseLog {
    path: PathBuf,
    tx: mpsc::Sender<ToWriter>,
}

impl CaseLog {
    /// Opens (creating) `<dir>/cases.jsonl` and starts the writer thread.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("cases.jsonl");
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new().name("case-log".into()).spawn(move || write_loop(file, rx))?;
        Ok(Self { path, tx })
    }

    /// Queues a line; it is on disk after the writer's next fsync.
    pub fn append(&self, line: &CaseLine) {
        let text = serde_json::to_string(line).expect("case lines always serialize");
        if self.tx.send(ToWriter::Line(text)).is_err() {
            error!("case log writer is gone: a case line was not written");
        }
    }

    /// Blocks until every line appended so far is fsync'd.
    pub fn sync(&self) {
        let (done, wait) = mpsc::channel();
        if self.tx.send(ToWriter::Sync(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// The newest `limit` cases that `keep` accepts, newest first, each with its ticket's
    /// rating when there is one. Blocking file I/O.
    pub fn recent_cases(&self, limit: usize, keep: impl Fn(&CaseRecord) -> bool) -> io::Result<Vec<CaseRecord>> {
        let file = File::open(&self.path)?;
        let mut ratings = HashMap::new();
        let mut cases = Vec::new();
        for line in BufReader::new(file).lines().map_while(Result::ok) {
            match serde_json::from_str(&line) {
                Ok(CaseLine::Case(c)) if keep(&c) => cases.push(c),
                Ok(CaseLine::Rating(r)) => {
                    ratings.insert(r.ticket, r.rating);
                }
                _ => {}
            }
        }
        cases.reverse();
        cases.truncate(limit);
        for c in &mut cases {
            c.rating = ratings.get(&c.ticket).copied();
        }
        Ok(cases)
    }
}

fn write_loop(mut file: File, rx: mpsc::Receiver<ToWriter>) {
    while let Ok(first) = rx.recv() {
        let mut waiting = Vec::new();
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let mut dirty = false;
        for msg in batch {
            match msg {
                ToWriter::Line(text) => {
                    if let Err(e) = writeln!(file, "{text}") {
                        error!(error = %e, "writing a case line failed");
                    }
                    dirty = true;
                }
                ToWriter::Sync(done) => waiting.push(done),
            }
        }
        if dirty {
            if let Err(e) = file.sync_data() {
                error!(error = %e, "fsync of the case log failed");
            }
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{CallEndReason, CaseOutcome};

    fn case(call: u64, outcome: CaseOutcome) -> CaseRecord {
        CaseRecord {
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
            recorded_unix: 1_795_000_030,
            rating: None,
        }
    }

    #[test]
    fn lines_survive_reopen_newest_first() {
        let dir = std::env::temp_dir().join(format!("xiaowu-cases-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = CaseLog::open(&dir).unwrap();
        log.append(&CaseLine::Case(case(1, CaseOutcome::Completed)));
        log.append(&CaseLine::Case(case(2, CaseOutcome::MissingDocuments)));
        let rating = CaseLine::Rating(RatingRecord {
            ticket: 102,
            booth: "booth-gudao-1".into(),
            rating: Rating::Satisfied,
            at_unix: 1_795_000_040,
        });
        log.append(&rating);
        log.sync();
        drop(log);

        let reopened = CaseLog::open(&dir).unwrap();
        let rated = CaseRecord { rating: Some(Rating::Satisfied), ..case(2, CaseOutcome::MissingDocuments) };
        let all = reopened.recent_cases(10, |_| true).unwrap();
        assert_eq!(all, vec![rated.clone(), case(1, CaseOutcome::Completed)]);
        assert_eq!(reopened.recent_cases(1, |_| true).unwrap(), vec![rated]);
        let none = reopened.recent_cases(10, |c| c.clerk == "clerk-other").unwrap();
        assert!(none.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
