//! Scenario tests of the desk's case records and ratings: the exact write (record and the answer
//! that follows its commit) for each way a wrap-up ends, and a rating given once.

mod common;

use desk::cases::{Cases, RatingRecord, Write, Written};
use protocol::rest::CaseRecord;
use protocol::{CallEndReason, CaseOutcome, ErrorCode, Rating, RatingReason, ServerMessage, MAX_CASE_NOTE_CHARS};
use routing::{BoothIdx, ClerkIdx, Party, TicketId};

const CLERK: ClerkIdx = ClerkIdx(3);
const BOOTH: BoothIdx = BoothIdx(1);

fn case(call: u64, ticket: u64, call_end: CallEndReason) -> CaseRecord {
    common::pending_case(&format!("7-{call}"), call, ticket, call_end, 1_000)
}

fn case_write(case: CaseRecord, outcome: CaseOutcome, note: Option<&str>, at: u64, told: bool) -> Write {
    let answer = ServerMessage::CaseRecorded {
        call: protocol::CallId(case.call),
        ticket: protocol::TicketId(case.ticket),
        outcome,
    };
    Write {
        record: Written::Case(CaseRecord { outcome, note: note.map(str::to_owned), recorded_unix: at, ..case }),
        then: told.then_some((Party::Clerk(CLERK), answer)),
    }
}

#[test]
fn end_wrap_up_writes_the_outcome_and_note_and_answers_after_the_commit() {
    let mut cases = Cases::default();
    assert_eq!(cases.open(CLERK, case(11, 5, CallEndReason::HungUpByClerk), 1_000), None);
    let write = cases.close(CLERK, CaseOutcome::Completed, Some("材料齐全".into()), 1_030);
    let expected =
        case_write(case(11, 5, CallEndReason::HungUpByClerk), CaseOutcome::Completed, Some("材料齐全"), 1_030, true);
    assert_eq!(write, Some(expected));
    // Once: the case is gone.
    assert_eq!(cases.close(CLERK, CaseOutcome::Completed, None, 1_031), None);
    assert!(cases.pending_clerks().is_empty());
}

#[test]
fn a_wrap_up_ended_by_timeout_or_a_drop_keeps_the_clerks_draft() {
    let mut cases = Cases::default();
    cases.open(CLERK, case(11, 5, CallEndReason::HungUpByBooth), 1_000);
    cases.draft(CLERK, Some(CaseOutcome::MissingDocuments), Some("  缺少户口本  ")).unwrap();
    let write = cases.close_with_draft(CLERK, 1_120);
    let expected = case_write(
        case(11, 5, CallEndReason::HungUpByBooth),
        CaseOutcome::MissingDocuments,
        Some("缺少户口本"),
        1_120,
        true,
    );
    assert_eq!(write, Some(expected));

    // Without a draft: not recorded, no note — but still written and answered.
    cases.open(CLERK, case(12, 6, CallEndReason::HungUpByBooth), 1_200);
    let write = cases.close_with_draft(CLERK, 1_300);
    assert_eq!(
        write,
        Some(case_write(case(12, 6, CallEndReason::HungUpByBooth), CaseOutcome::NotRecorded, None, 1_300, true))
    );
}

#[test]
fn a_bad_draft_changes_nothing() {
    let mut cases = Cases::default();
    assert_eq!(cases.draft(CLERK, Some(CaseOutcome::Completed), None), Err(ErrorCode::WrongState));
    cases.open(CLERK, case(11, 5, CallEndReason::HungUpByClerk), 1_000);
    cases.draft(CLERK, Some(CaseOutcome::Completed), Some("ok")).unwrap();
    let before = cases.clone();
    let long = "字".repeat(MAX_CASE_NOTE_CHARS + 1);
    assert_eq!(cases.draft(CLERK, Some(CaseOutcome::Referred), Some(&long)), Err(ErrorCode::InvalidField));
    assert_eq!(cases, before);
    // Exactly at the limit is fine; blank is no note.
    assert_eq!(desk::cases::checked_note(Some(&"字".repeat(MAX_CASE_NOTE_CHARS))).map(|n| n.is_some()), Ok(true));
    assert_eq!(desk::cases::checked_note(Some("   ")), Ok(None));
}

#[test]
fn a_call_lost_by_the_clerk_or_the_media_opens_no_case() {
    let mut cases = Cases::default();
    for reason in [CallEndReason::ClerkLost, CallEndReason::MediaFailed] {
        assert_eq!(cases.open(CLERK, case(11, 5, reason), 1_000), None);
        assert!(cases.pending_clerks().is_empty(), "{reason:?}");
    }
}

#[test]
fn a_case_is_never_dropped_even_when_replaced() {
    let mut cases = Cases::default();
    cases.open(CLERK, case(11, 5, CallEndReason::HungUpByClerk), 1_000);
    cases.draft(CLERK, Some(CaseOutcome::Completed), Some("草稿")).unwrap();
    let replaced = cases.open(CLERK, case(12, 6, CallEndReason::HungUpByClerk), 1_100);
    // Written as not recorded, without the draft, and nobody is told.
    let expected = case_write(case(11, 5, CallEndReason::HungUpByClerk), CaseOutcome::NotRecorded, None, 1_100, false);
    assert_eq!(replaced, Some(expected));
    assert_eq!(cases.pending_clerks(), vec![CLERK]);
}

#[test]
fn the_receipt_names_the_case_of_the_last_call_not_of_a_clerk_who_handed_it_on() {
    let mut cases = Cases::default();
    cases.open(ClerkIdx(1), CaseRecord { id: "7-11.1".into(), ..case(11, 5, CallEndReason::Transferred) }, 1_000);
    assert_eq!(cases.receipt_case(TicketId(5)), None);
    cases.open(ClerkIdx(2), case(11, 5, CallEndReason::HungUpByClerk), 1_050);
    assert_eq!(cases.receipt_case(TicketId(5)), Some("7-11".into()));
    assert_eq!(cases.receipt_case(TicketId(6)), None);
}

#[test]
fn a_booth_rates_its_last_served_ticket_once() {
    let mut cases = Cases::default();
    let rate = |cases: &mut Cases, ticket| {
        cases.rate(BOOTH, "booth-gudao-1", TicketId(ticket), Rating::Dissatisfied, Some(RatingReason::LongWait), 2_000)
    };
    assert_eq!(rate(&mut cases, 5), Err(ErrorCode::NotFound), "nothing served yet");
    cases.served(BOOTH, TicketId(5));
    cases.served(BOOTH, TicketId(6));
    assert_eq!(rate(&mut cases, 5), Err(ErrorCode::NotFound), "only the last served ticket");
    let record = RatingRecord {
        ticket: 6,
        booth: "booth-gudao-1".into(),
        rating: Rating::Dissatisfied,
        reason: Some(RatingReason::LongWait),
        at_unix: 2_000,
    };
    let answer = ServerMessage::RatingRecorded { ticket: protocol::TicketId(6), rating: Rating::Dissatisfied };
    assert_eq!(
        rate(&mut cases, 6),
        Ok(Write { record: Written::Rating(record), then: Some((Party::Booth(BOOTH), answer)) })
    );
    assert_eq!(rate(&mut cases, 6), Err(ErrorCode::NotFound), "once");
}

#[test]
fn the_snapshot_keeps_everything_but_the_notes() {
    let mut cases = Cases::default();
    cases.served(BOOTH, TicketId(4));
    cases.open(CLERK, case(11, 5, CallEndReason::HungUpByClerk), 1_000);
    cases.draft(CLERK, Some(CaseOutcome::Completed), Some("staff text")).unwrap();
    let snap = cases.snapshot();
    assert_eq!(snap.rateable, vec![(BOOTH.0, 4)]);
    let pending = CaseRecord { outcome: CaseOutcome::Completed, ..case(11, 5, CallEndReason::HungUpByClerk) };
    assert_eq!(snap.pending, vec![(CLERK.0, pending)]);
    let mut restored = Cases::restore(&snap);
    assert_eq!(restored.snapshot(), snap);
    // A restored case closes with its outcome (the note stayed in the dead run's draft).
    let write = restored.close_with_draft(CLERK, 1_100).unwrap();
    assert!(matches!(write.record, Written::Case(CaseRecord { outcome: CaseOutcome::Completed, note: None, .. })));
}
