//! Case records (办件) and ratings: the case each clerk in wrap-up holds, what the clerk has
//! drafted on it so far, and which served ticket each booth may still rate (一事一评).
//!
//! A call that ends into wrap-up opens a pending case for its clerk; `end_wrap_up` closes it with
//! the clerk's outcome and note. If wrap-up ends any other way (time limit, `set_state`,
//! supervisor, sign-out, shutdown) the case is closed with the clerk's draft, or as
//! `not_recorded` without one: every handled call leaves a record, and nothing the clerk entered
//! is lost.
//!
//! Each decision comes back as a [`Write`]: the record to commit and the message that may only be
//! sent once it is committed (`case_recorded`, `rating_recorded`) — what a clerk or citizen is told
//! is saved, is saved. Times (`*_unix`) come in as arguments.

use std::collections::BTreeMap;

use protocol::rest::CaseRecord;
use protocol::{CallEndReason, CaseOutcome, ErrorCode, Rating, RatingReason, ServerMessage, MAX_CASE_NOTE_CHARS};
use routing::{BoothIdx, ClerkIdx, Party, TicketId};
use serde::{Deserialize, Serialize};

/// A citizen's rating of a served ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingRecord {
    pub ticket: u64,
    pub booth: String,
    pub rating: Rating,
    pub reason: Option<RatingReason>,
    pub at_unix: u64,
}

/// A supervisor set a clerk's state: who, whom, what and why (the shell gives it its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForcedState {
    pub supervisor: String,
    pub clerk: String,
    pub state: protocol::ClerkTargetState,
    pub why: String,
    pub at_unix: u64,
}

/// A clerk's verdict on a document of its live call (the shell gives it its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub document: String,
    pub call: u64,
    pub accepted: bool,
    pub reason: Option<String>,
    pub at_ms: i64,
}

/// What a [`Write`] commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Case(CaseRecord),
    Rating(RatingRecord),
    ForcedState(ForcedState),
    Review(Review),
}

/// A record to commit, and the message for a party that follows its commit (never before).
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub record: Written,
    pub then: Option<(Party, ServerMessage)>,
}

/// A wrap-up note trimmed (`None` when empty), or `invalid_field` when it is over the limit.
pub fn checked_note(note: Option<&str>) -> Result<Option<&str>, ErrorCode> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > MAX_CASE_NOTE_CHARS) {
        return Err(ErrorCode::InvalidField);
    }
    Ok(note)
}

/// Whether a call that ended this way opens a case. A lost clerk or failed media sends the citizen
/// back to the queue: that call handled nothing, and the next one will be the case.
pub fn opens_case(reason: CallEndReason) -> bool {
    !matches!(reason, CallEndReason::ClerkLost | CallEndReason::MediaFailed)
}

/// [`Cases`] in a snapshot: (booth, ticket) and (clerk, case) pairs in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CasesSnapshot {
    pub rateable: Vec<(u32, u64)>,
    pub pending: Vec<(u32, CaseRecord)>,
}

/// Pending cases by clerk and rateable tickets by booth.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Cases {
    pending: BTreeMap<ClerkIdx, CaseRecord>,
    rateable: BTreeMap<BoothIdx, TicketId>,
}

impl Cases {
    /// A call ended and its clerk goes into wrap-up: the case waits for its outcome. `case` comes
    /// as `not_recorded` with no note. Nothing happens for a call that opens no case
    /// ([`opens_case`]). A case the clerk still held (a clerk in wrap-up takes no call, so this
    /// cannot happen, but a case is never dropped) comes back to be written as `not_recorded`.
    pub fn open(&mut self, clerk: ClerkIdx, case: CaseRecord, now_unix: u64) -> Option<Write> {
        if !opens_case(case.call_end) {
            return None;
        }
        let previous = self.pending.insert(clerk, case)?;
        Some(Self::written(previous, CaseOutcome::NotRecorded, None, now_unix, None))
    }

    /// The clerk's draft of the outcome and note, kept on the pending case. A bad note, or no
    /// pending case (`wrong_state`), changes nothing.
    pub fn draft(
        &mut self,
        clerk: ClerkIdx,
        outcome: Option<CaseOutcome>,
        note: Option<&str>,
    ) -> Result<(), ErrorCode> {
        let note = checked_note(note)?;
        let case = self.pending.get_mut(&clerk).ok_or(ErrorCode::WrongState)?;
        case.outcome = outcome.unwrap_or(CaseOutcome::NotRecorded);
        case.note = note.map(str::to_owned);
        Ok(())
    }

    /// Closes the clerk's pending case, if any, with this outcome and note; the clerk is told
    /// `case_recorded` once it is committed.
    pub fn close(
        &mut self,
        clerk: ClerkIdx,
        outcome: CaseOutcome,
        note: Option<String>,
        now_unix: u64,
    ) -> Option<Write> {
        let case = self.pending.remove(&clerk)?;
        let answer = ServerMessage::CaseRecorded {
            call: protocol::CallId(case.call),
            ticket: protocol::TicketId(case.ticket),
            outcome,
        };
        Some(Self::written(case, outcome, note, now_unix, Some((Party::Clerk(clerk), answer))))
    }

    /// Wrap-up ended without `end_wrap_up`: the case is closed with the clerk's draft, if any.
    pub fn close_with_draft(&mut self, clerk: ClerkIdx, now_unix: u64) -> Option<Write> {
        let case = self.pending.get(&clerk)?;
        let (outcome, note) = (case.outcome, case.note.clone());
        self.close(clerk, outcome, note, now_unix)
    }

    /// Clerks holding a pending case, in order.
    pub fn pending_clerks(&self) -> Vec<ClerkIdx> {
        self.pending.keys().copied().collect()
    }

    /// The case number for a closed ticket's receipt: the case its last call opened (not one a
    /// clerk who handed the call on holds).
    pub fn receipt_case(&self, ticket: TicketId) -> Option<String> {
        self.pending
            .values()
            .find(|c| c.ticket == ticket.0 && c.call_end != CallEndReason::Transferred)
            .map(|c| c.id.clone())
    }

    /// A ticket was served: its booth may rate it (until it rates it, or is served again).
    pub fn served(&mut self, booth: BoothIdx, ticket: TicketId) {
        self.rateable.insert(booth, ticket);
    }

    /// A booth rates its last served ticket, once; any other ticket is `not_found`. The booth is
    /// told `rating_recorded` once the rating is committed.
    pub fn rate(
        &mut self,
        booth: BoothIdx,
        booth_id: &str,
        ticket: TicketId,
        rating: Rating,
        reason: Option<RatingReason>,
        now_unix: u64,
    ) -> Result<Write, ErrorCode> {
        if self.rateable.get(&booth) != Some(&ticket) {
            return Err(ErrorCode::NotFound);
        }
        self.rateable.remove(&booth);
        let record = RatingRecord { ticket: ticket.0, booth: booth_id.to_owned(), rating, reason, at_unix: now_unix };
        let answer = ServerMessage::RatingRecorded { ticket: protocol::TicketId(ticket.0), rating };
        Ok(Write { record: Written::Rating(record), then: Some((Party::Booth(booth), answer)) })
    }

    /// For the snapshot: rateable tickets and pending cases in order, without notes (staff text is
    /// kept in the records database only, never in the log).
    pub fn snapshot(&self) -> CasesSnapshot {
        CasesSnapshot {
            rateable: self.rateable.iter().map(|(b, t)| (b.0, t.0)).collect(),
            pending: self.pending.iter().map(|(c, case)| (c.0, CaseRecord { note: None, ..case.clone() })).collect(),
        }
    }

    /// Back from a snapshot.
    pub fn restore(snap: &CasesSnapshot) -> Self {
        Cases {
            pending: snap.pending.iter().map(|(c, case)| (ClerkIdx(*c), case.clone())).collect(),
            rateable: snap.rateable.iter().map(|(b, t)| (BoothIdx(*b), TicketId(*t))).collect(),
        }
    }

    fn written(
        mut case: CaseRecord,
        outcome: CaseOutcome,
        note: Option<String>,
        now_unix: u64,
        then: Option<(Party, ServerMessage)>,
    ) -> Write {
        case.outcome = outcome;
        case.note = note;
        case.recorded_unix = now_unix;
        Write { record: Written::Case(case), then }
    }
}
