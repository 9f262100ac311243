//! Scenario tests of the outcomes kept for away booths, in virtual time: an outcome that finds
//! its booth away is kept and comes first when it returns; one sent to a gateway later found dead
//! is kept too; the oldest go past the bound; everything expires.

use std::time::{Duration, Instant};

use desk::booth_outcomes::{BoothOutcomes, BoothReach, MAX_KEPT};
use protocol::{CallEndReason, CallId, ServerMessage, TicketEndReason, TicketId};
use routing::BoothIdx;

const BOOTH: BoothIdx = BoothIdx(2);
const WINDOW: Duration = Duration::from_secs(8);

fn call_ended(n: u64) -> ServerMessage {
    ServerMessage::CallEnded { call: CallId(n), ticket: TicketId(n), reason: CallEndReason::HungUpByClerk }
}

fn ticket_closed(n: u64) -> ServerMessage {
    ServerMessage::ticket_closed(TicketId(n), TicketEndReason::Served)
}

#[test]
fn an_outcome_for_an_away_booth_is_kept_and_sent_first_when_it_returns() {
    let t0 = Instant::now();
    let mut outcomes = BoothOutcomes::new(WINDOW);
    assert!(!outcomes.to_booth(BOOTH, BoothReach::Away, &call_ended(1), t0), "not sent: nobody to send it to");
    assert!(!outcomes.to_booth(BOOTH, BoothReach::Away, &ticket_closed(1), t0 + Duration::from_secs(1)));
    // Anything else for an away booth is not kept (its state is sent afresh on return).
    let status = ServerMessage::PartyLeft { call: CallId(1), party: "guest".into(), id: "clerk-hekou-2".into() };
    assert!(!outcomes.to_booth(BOOTH, BoothReach::Away, &status, t0));
    assert_eq!(outcomes.returned(BOOTH), vec![call_ended(1), ticket_closed(1)]);
    assert_eq!(outcomes.returned(BOOTH), vec![], "once");
}

#[test]
fn a_connected_booth_is_sent_to_and_nothing_is_kept() {
    let t0 = Instant::now();
    let mut outcomes = BoothOutcomes::new(WINDOW);
    assert!(outcomes.to_booth(BOOTH, BoothReach::Local, &call_ended(1), t0));
    // Sent to a remote gateway: sent, and not kept unless that gateway is found dead.
    assert!(outcomes.to_booth(BOOTH, BoothReach::Remote, &ticket_closed(1), t0));
    assert_eq!(outcomes.returned(BOOTH), vec![]);
}

#[test]
fn outcomes_sent_to_a_gateway_found_dead_within_the_window_are_kept() {
    let t0 = Instant::now();
    let mut outcomes = BoothOutcomes::new(WINDOW);
    outcomes.to_booth(BOOTH, BoothReach::Remote, &call_ended(1), t0);
    outcomes.to_booth(BOOTH, BoothReach::Remote, &call_ended(2), t0 + Duration::from_secs(5));
    outcomes.to_booth(BOOTH, BoothReach::Remote, &ticket_closed(2), t0 + Duration::from_secs(6));
    // Found dead 10 s after the first send: the first was delivered before the gateway died.
    outcomes.gateway_lost(BOOTH, t0 + Duration::from_secs(10));
    assert_eq!(outcomes.returned(BOOTH), vec![call_ended(2), ticket_closed(2)]);
}

#[test]
fn at_most_the_last_few_outcomes_are_kept() {
    let t0 = Instant::now();
    let mut outcomes = BoothOutcomes::new(WINDOW);
    for n in 1..=(MAX_KEPT as u64 + 2) {
        outcomes.to_booth(BOOTH, BoothReach::Away, &call_ended(n), t0);
    }
    let expected: Vec<_> = (3..=(MAX_KEPT as u64 + 2)).map(call_ended).collect();
    assert_eq!(outcomes.returned(BOOTH), expected);
}

#[test]
fn kept_outcomes_expire_and_the_snapshot_carries_the_rest() {
    let t0 = Instant::now();
    let keep_for = Duration::from_secs(60);
    let mut outcomes = BoothOutcomes::new(WINDOW);
    outcomes.to_booth(BOOTH, BoothReach::Away, &call_ended(1), t0);
    outcomes.to_booth(BoothIdx(5), BoothReach::Away, &call_ended(2), t0 + Duration::from_secs(30));
    outcomes.to_booth(BOOTH, BoothReach::Remote, &call_ended(3), t0 + Duration::from_secs(30));
    outcomes.expire(t0 + Duration::from_secs(61), keep_for);

    let snap = outcomes.snapshot(t0);
    assert_eq!(snap, vec![(5, vec![(30_000_000_000, call_ended(2))])]);
    let mut restored = BoothOutcomes::new(WINDOW);
    restored.restore(t0, &snap);
    assert_eq!(restored.snapshot(t0), snap);
    assert_eq!(restored.returned(BoothIdx(5)), vec![call_ended(2)]);
    // The remembered remote send expired with the window: a late loss keeps nothing.
    outcomes.gateway_lost(BOOTH, t0 + Duration::from_secs(62));
    assert_eq!(outcomes.returned(BOOTH), vec![]);
}
