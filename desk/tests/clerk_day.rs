//! Each clerk's day from the engine's actions in virtual time: calls and handling time (talk and
//! wrap-up), a transfer splitting a call between two clerks, offers missed, ratings and bad
//! ratings for the clerk who finished the call; a new China date starts from zero.

use std::time::{Duration, Instant};

use desk::clerk_day::{ClerkDay, Tally};
use routing::{
    Action, BoothIdx, CallEndReason, CallId, ClerkIdx, ClerkState, OfferId, OfferRevokeReason, ServiceIdx, TicketId,
};

const A: ClerkIdx = ClerkIdx(0);
const B: ClerkIdx = ClerkIdx(1);

fn started(call: u64, clerk: ClerkIdx) -> Action {
    Action::CallStarted {
        call: CallId(call),
        ticket: TicketId(call),
        booth: BoothIdx(0),
        clerk,
        service: ServiceIdx(0),
    }
}

fn ended(call: u64, clerk: ClerkIdx, reason: CallEndReason) -> Action {
    Action::CallEnded {
        call: CallId(call),
        ticket: TicketId(call),
        booth: BoothIdx(0),
        clerk,
        service: ServiceIdx(0),
        reason,
    }
}

fn state(clerk: ClerkIdx, state: ClerkState) -> Action {
    Action::ClerkStateChanged { clerk, state }
}

#[test]
fn a_clerks_day_counts_calls_handling_time_misses_and_ratings() {
    let t0 = Instant::now();
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    let mut day = ClerkDay::default();
    day.roll("2026-12-01".into());
    // Call 1: 100 s of talk, 30 s of wrap-up.
    day.on_action(&started(1, A), at(0));
    day.on_action(&ended(1, A, CallEndReason::HungUpByClerk), at(100));
    day.on_action(&state(A, ClerkState::WrapUp), at(100));
    day.on_action(&state(A, ClerkState::Available), at(130));
    // Call 2: A talks 50 s and hands it to B, who talks 70 s and wraps up 20 s.
    day.on_action(&started(2, A), at(200));
    day.on_action(
        &Action::CallTransferred {
            call: CallId(2),
            ticket: TicketId(2),
            booth: BoothIdx(0),
            service: ServiceIdx(0),
            from: A,
            to: B,
        },
        at(250),
    );
    day.on_action(&state(A, ClerkState::Available), at(250));
    day.on_action(&ended(2, B, CallEndReason::HungUpByBooth), at(320));
    day.on_action(&state(B, ClerkState::Available), at(340));
    // A call whose media never came up counts for nobody.
    day.on_action(&started(3, B), at(400));
    day.on_action(&ended(3, B, CallEndReason::MediaFailed), at(410));
    // A missed offer; ratings go to the clerk who finished the call.
    let timeout = OfferRevokeReason::Timeout;
    day.on_action(&Action::OfferRevoked { offer: OfferId(9), ticket: TicketId(9), clerk: A, reason: timeout }, at(500));
    day.rated(TicketId(1), false);
    day.rated(TicketId(2), true);
    day.rated(TicketId(2), true);

    let a = day.get(A);
    assert_eq!((a.calls, a.handle_ms, a.missed, a.ratings, a.bad_ratings), (2, 180_000, 1, 1, 0));
    assert_eq!(a.avg_handle_secs(), Some(90));
    let b = day.get(B);
    assert_eq!((b.calls, b.handle_ms, b.missed, b.ratings, b.bad_ratings), (1, 90_000, 0, 1, 1), "rated once");

    day.roll("2026-12-01".into());
    assert_eq!(day.get(A).calls, 2, "the same day goes on");
    day.roll("2026-12-02".into());
    assert_eq!(day.get(A), Tally::default());
    assert_eq!(day.get(A).avg_handle_secs(), None);
}
