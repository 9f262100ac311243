//! Case records (办件) and ratings in the driver. A call that ends into wrap-up opens a pending
//! case for its clerk; `end_wrap_up` closes it with the clerk's outcome and note. `wrap_up_draft`
//! keeps what the clerk has entered so far on the pending case: if wrap-up ends any other way
//! (time limit, `set_state`, supervisor, sign-out, shutdown) the case is written with that draft,
//! or as `not_recorded` without one — every handled call leaves a record, and nothing the clerk
//! entered is lost.
//!
//! `case_recorded` and `rating_recorded` are sent only once the record is committed to the
//! database: what a clerk or citizen is told is saved, is saved.

use protocol::{CaseOutcome, ErrorCode, Rating, ServerMessage, MAX_CASE_NOTE_CHARS};
use routing::{BoothIdx, CallId, ClerkIdx, Input, Party, ServiceIdx, TicketId};
use tracing::{info, warn};

use super::Driver;
use crate::convert::reject_code;
use crate::records::{CaseRecord, OnCommit, RatingRecord, Record};

/// A wrap-up note trimmed (`None` when empty), or `invalid_field` when it is over the limit.
fn checked_note(note: Option<&str>) -> Result<Option<&str>, ErrorCode> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > MAX_CASE_NOTE_CHARS) {
        return Err(ErrorCode::InvalidField);
    }
    Ok(note)
}

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
        // A lost clerk or failed media sends the citizen back to the queue: that call handled
        // nothing, and the next one will be the case.
        if matches!(reason, protocol::CallEndReason::ClerkLost | protocol::CallEndReason::MediaFailed) {
            return;
        }
        let dir = self.shared.directory.clone();
        let (b, c) = (dir.booth(booth), dir.clerk(clerk));
        let record = CaseRecord {
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
        if let Some(previous) = self.pending_cases.insert(clerk, record) {
            // Cannot happen (a clerk in wrap-up takes no call), but a case is never dropped.
            warn!(call = previous.call, "a pending case was replaced; writing it as not recorded");
            self.write_case(previous, CaseOutcome::NotRecorded, None, None);
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
        let note = checked_note(note)?;
        self.input(Input::EndWrapUp { clerk }).map_err(reject_code)?;
        let outcome = outcome.unwrap_or(CaseOutcome::NotRecorded);
        self.close_case(clerk, outcome, note.map(str::to_owned));
        Ok(())
    }

    /// The clerk's draft of the outcome and note, kept on the pending case.
    pub(super) fn wrap_up_draft(
        &mut self,
        clerk: ClerkIdx,
        outcome: Option<CaseOutcome>,
        note: Option<&str>,
    ) -> Result<(), ErrorCode> {
        let note = checked_note(note)?;
        let Some(record) = self.pending_cases.get_mut(&clerk) else { return Err(ErrorCode::WrongState) };
        record.outcome = outcome.unwrap_or(CaseOutcome::NotRecorded);
        record.note = note.map(str::to_owned);
        Ok(())
    }

    /// Wrap-up ended without `end_wrap_up`: the case is written with the clerk's draft, if any.
    pub(super) fn close_case_with_draft(&mut self, clerk: ClerkIdx) {
        let Some(record) = self.pending_cases.get(&clerk) else { return };
        let (outcome, note) = (record.outcome, record.note.clone());
        self.close_case(clerk, outcome, note);
    }

    /// Writes the clerk's pending case, if any, and tells the clerk once it is committed.
    pub(super) fn close_case(&mut self, clerk: ClerkIdx, outcome: CaseOutcome, note: Option<String>) {
        let Some(record) = self.pending_cases.remove(&clerk) else {
            return;
        };
        let (call, ticket) = (protocol::CallId(record.call), protocol::TicketId(record.ticket));
        let answer = ServerMessage::CaseRecorded { call, ticket, outcome };
        let done = self.deliver_on_commit(Party::Clerk(clerk), answer);
        self.write_case(record, outcome, note, Some(done));
    }

    fn write_case(
        &mut self,
        mut record: CaseRecord,
        outcome: CaseOutcome,
        note: Option<String>,
        done: Option<OnCommit>,
    ) {
        record.outcome = outcome;
        // A replay has only the note's mask (the routing log does not keep staff text): a case it
        // writes — one the dead run had logged but not committed — keeps its outcome, not a note.
        record.note = note.filter(|_| !self.replaying);
        record.recorded_unix = self.wall_unix();
        // The note is not logged: it may describe the citizen's circumstances.
        info!(call = record.call, ticket = record.ticket, clerk = %record.clerk, ?outcome, "case recorded");
        self.write_record(Record::Case(record), done);
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

    /// A booth rates its last served ticket, once (一事一评).
    pub(super) fn rate_service(
        &mut self,
        booth: BoothIdx,
        ticket: protocol::TicketId,
        rating: Rating,
        reason: Option<protocol::RatingReason>,
    ) -> Result<(), ErrorCode> {
        if self.rateable.get(&booth) != Some(&TicketId(ticket.0)) {
            return Err(ErrorCode::NotFound);
        }
        self.rateable.remove(&booth);
        info!(ticket = ticket.0, ?rating, "service rated");
        let bad = matches!(rating, Rating::Dissatisfied | Rating::VeryDissatisfied);
        self.clerk_day.rated(TicketId(ticket.0), bad);
        let booth_id = self.shared.directory.booth(booth).id.clone();
        let at_unix = self.wall_unix();
        let record = Record::Rating(RatingRecord { ticket: ticket.0, booth: booth_id, rating, reason, at_unix });
        let done = self.deliver_on_commit(Party::Booth(booth), ServerMessage::RatingRecorded { ticket, rating });
        self.write_record(record, Some(done));
        Ok(())
    }
}
