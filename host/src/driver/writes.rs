//! The driver's side of the desk's writes — cases (办件), ratings, forced clerk states and
//! document reviews: the record goes to the records writer, and its answer (`case_recorded`,
//! `rating_recorded`, `document_reviewed`) only once the record is committed: what a clerk or
//! citizen is told is saved, is saved.

use desk::cases::{Write, Written};
use protocol::ServerMessage;
use routing::{ClerkIdx, Party};
use tracing::info;

use super::Driver;
use crate::records::{OnCommit, Record};

impl Driver {
    /// Wrap-up ended without `end_wrap_up`: the case is written with the clerk's draft, if any.
    pub(super) fn close_case_with_draft(&mut self, clerk: ClerkIdx) {
        if let Some(effect) = self.desk.close_case_with_draft(clerk, self.turn_now()) {
            self.carry_out_effect(effect);
        }
    }

    /// Hands a desk's write to the records writer, with its answer to run once committed.
    pub(super) fn carry_out_write(&mut self, write: Write) {
        let done = write.then.map(|(to, msg)| self.deliver_on_commit(to, msg));
        let record = match write.record {
            Written::Case(mut case) => {
                // A replay has only the note's mask (the routing log does not keep staff text): a
                // case it writes — one the dead run had logged but not committed — keeps its
                // outcome, not a note.
                case.note = case.note.filter(|_| self.reach().has_staff_text());
                // The note is not logged: it may describe the citizen's circumstances.
                info!(call = case.call, ticket = case.ticket, clerk = %case.clerk, outcome = ?case.outcome,
                      "case recorded");
                Record::Case(case)
            }
            Written::Rating(rating) => Record::Rating(rating),
            Written::ForcedState(forced) => {
                // Staff text (who, whom, why), never a citizen's data.
                info!(supervisor = %forced.supervisor, clerk = %forced.clerk, state = ?forced.state, why = %forced.why,
                      "clerk state forced by supervisor");
                // The same in a replay of this input, so a replay writes it at most once.
                let id = format!("{}-{}-{}", self.lineage, self.t, forced.clerk);
                Record::ForcedState { id, forced }
            }
            Written::Review(review) => {
                // The registry learns the verdict with the booth, once the review is committed.
                let docs = self.shared.docs.clone();
                let kept = crate::doc_meta::Review {
                    accepted: review.accepted,
                    reason: review.reason.clone(),
                    at_unix: (review.at_ms / 1000) as u64,
                };
                let (id, tell) = (review.document.clone(), done);
                let done: OnCommit = Box::new(move || {
                    docs.reviewed(&id, kept);
                    if let Some(tell) = tell {
                        tell();
                    }
                });
                let row = store::DocumentReviewRow {
                    // Times and the id come from the log's timeline, so a replay writes the same
                    // record (and finds it there).
                    id: format!("{}-review-{}", review.document, self.t),
                    document_id: review.document,
                    accepted: review.accepted,
                    reason: review.reason,
                    at_ms: review.at_ms,
                };
                self.write_record(Record::Review(row), Some(done));
                return;
            }
        };
        self.write_record(record, done);
    }

    /// An action for the records writer: once the record is committed, `msg` goes to `to`'s
    /// connection (through the driver, so it finds the party's current connection).
    pub(super) fn deliver_on_commit(&self, to: Party, msg: ServerMessage) -> OnCommit {
        let commands = self.shared.commands.clone();
        Box::new(move || {
            // The writer is a plain thread: blocking is allowed, and the driver is never blocked
            // on the writer, so this cannot deadlock.
            let _ = commands.blocking_send(super::Command::Deliver { to, msg });
        })
    }
}
