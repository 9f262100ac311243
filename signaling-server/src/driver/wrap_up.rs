//! The driver's side of case records (办件) and ratings: it feeds the clerk's and booth's messages
//! to the desk (which opens the case a finished call leaves, [`desk::cases::Cases`]) and carries
//! out each write it decides — the record to the records writer, and its answer (`case_recorded`,
//! `rating_recorded`) only once the record is committed: what a clerk or citizen is told is saved,
//! is saved.

use desk::cases::{Write, Written};
use protocol::{CaseOutcome, ErrorCode, Rating, ServerMessage};
use routing::{BoothIdx, ClerkIdx, Party, TicketId};
use tracing::info;

use super::Driver;
use crate::records::{OnCommit, Record};

impl Driver {
    /// The clerk ends wrap-up with an outcome and note. A bad note changes nothing.
    pub(super) fn end_wrap_up(
        &mut self,
        clerk: ClerkIdx,
        outcome: Option<CaseOutcome>,
        note: Option<&str>,
    ) -> Result<(), ErrorCode> {
        if let Some(write) = self.desk.end_wrap_up(clerk, outcome, note, self.turn_now())? {
            self.carry_out_write(write);
        }
        Ok(())
    }

    /// The clerk's draft of the outcome and note, kept on the pending case.
    pub(super) fn wrap_up_draft(
        &mut self,
        clerk: ClerkIdx,
        outcome: Option<CaseOutcome>,
        note: Option<&str>,
    ) -> Result<(), ErrorCode> {
        self.desk.cases.draft(clerk, outcome, note)
    }

    /// Wrap-up ended without `end_wrap_up`: the case is written with the clerk's draft, if any.
    pub(super) fn close_case_with_draft(&mut self, clerk: ClerkIdx) {
        if let Some(effect) = self.desk.close_case_with_draft(clerk, self.turn_now()) {
            self.carry_out_effects(vec![effect]);
        }
    }

    /// A booth rates its last served ticket, once (一事一评).
    pub(super) fn rate_service(
        &mut self,
        booth: BoothIdx,
        ticket: protocol::TicketId,
        rating: Rating,
        reason: Option<protocol::RatingReason>,
    ) -> Result<(), ErrorCode> {
        let write = self.desk.rate_service(booth, TicketId(ticket.0), rating, reason, self.turn_now())?;
        info!(ticket = ticket.0, ?rating, "service rated");
        self.carry_out_write(write);
        Ok(())
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
