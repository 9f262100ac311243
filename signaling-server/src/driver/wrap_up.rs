//! The driver's side of case records (办件) and ratings: it builds the case a finished call opens,
//! feeds the clerk's and booth's messages to the desk's [`desk::cases::Cases`], and carries out
//! each write it decides — the record to the records writer, and its answer (`case_recorded`,
//! `rating_recorded`) only once the record is committed: what a clerk or citizen is told is saved,
//! is saved.

use desk::cases::{Write, Written};
use protocol::{CaseOutcome, ErrorCode, Rating, ServerMessage};
use routing::{BoothIdx, CallId, ClerkIdx, Input, Party, ServiceIdx, TicketId};
use tracing::{info, warn};

use super::Driver;
use crate::convert::reject_code;
use crate::records::{CaseRecord, OnCommit, Record};

impl Driver {
    /// A call ended: if its clerk goes into wrap-up, hold the case until the outcome is known.
    pub(super) fn open_case(
        &mut self,
        call: CallId,
        ticket: TicketId,
        booth: BoothIdx,
        clerk: ClerkIdx,
        service: ServiceIdx,
        reason: protocol::CallEndReason,
    ) {
        if !desk::cases::opens_case(reason) {
            return;
        }
        let dir = self.shared.directory.clone();
        let (b, c) = (dir.booth(booth), dir.clerk(clerk));
        let case = CaseRecord {
            id: self.case_id(call, reason),
            call: call.0,
            ticket: ticket.0,
            service: dir.service(service).code.clone(),
            booth: b.id.clone(),
            booth_region: dir.region(b.region).id.clone(),
            clerk: c.id.clone(),
            hall: dir.region(c.hall).id.clone(),
            call_end: reason,
            ended_unix: self.wall_unix(),
            outcome: CaseOutcome::NotRecorded,
            note: None,
            recorded_unix: 0,
            rating: None,
            rating_reason: None,
        };
        if let Some(replaced) = self.cases.open(clerk, case, self.wall_unix()) {
            warn!("a pending case was replaced; writing it as not recorded");
            self.carry_out(replaced);
        }
    }

    /// A call's case number: the call's id for the clerk who finished it; a clerk who handed it
    /// on (`transferred`) gets `<call>.<n>` for the n-th handover.
    fn case_id(&self, call: CallId, reason: protocol::CallEndReason) -> String {
        let id = self.shared.records.case_id(call.0);
        match self.engine.call(call) {
            Some(view) if reason == protocol::CallEndReason::Transferred => format!("{id}.{}", view.handovers),
            _ => id,
        }
    }

    /// The clerk ends wrap-up with an outcome and note. A bad note changes nothing.
    pub(super) fn end_wrap_up(
        &mut self,
        clerk: ClerkIdx,
        outcome: Option<CaseOutcome>,
        note: Option<&str>,
    ) -> Result<(), ErrorCode> {
        let note = desk::cases::checked_note(note)?;
        self.input(Input::EndWrapUp { clerk }).map_err(reject_code)?;
        let outcome = outcome.unwrap_or(CaseOutcome::NotRecorded);
        if let Some(write) = self.cases.close(clerk, outcome, note.map(str::to_owned), self.wall_unix()) {
            self.carry_out(write);
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
        self.cases.draft(clerk, outcome, note)
    }

    /// Wrap-up ended without `end_wrap_up`: the case is written with the clerk's draft, if any.
    pub(super) fn close_case_with_draft(&mut self, clerk: ClerkIdx) {
        if let Some(write) = self.cases.close_with_draft(clerk, self.wall_unix()) {
            self.carry_out(write);
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
        let booth_id = self.shared.directory.booth(booth).id.clone();
        let write = self.cases.rate(booth, &booth_id, TicketId(ticket.0), rating, reason, self.wall_unix())?;
        info!(ticket = ticket.0, ?rating, "service rated");
        let bad = matches!(rating, Rating::Dissatisfied | Rating::VeryDissatisfied);
        self.clerk_day.rated(TicketId(ticket.0), bad);
        self.carry_out(write);
        Ok(())
    }

    /// Hands a desk's write to the records writer, with its answer to run once committed.
    fn carry_out(&mut self, write: Write) {
        let done = write.then.map(|(to, msg)| self.deliver_on_commit(to, msg));
        let record = match write.record {
            Written::Case(mut case) => {
                // A replay has only the note's mask (the routing log does not keep staff text): a
                // case it writes — one the dead run had logged but not committed — keeps its
                // outcome, not a note.
                case.note = case.note.filter(|_| !self.replaying);
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
