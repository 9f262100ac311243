//! Scenario tests in virtual time: one per routing rule, asserting the exact actions.

mod common;

use std::time::Duration;

use common::Harness;
use xiaowu_routing::*;

#[test]
fn local_county_clerk_is_preferred_over_idler_city_clerk() {
    let mut h = Harness::new();
    h.available("clerk-dongying-1"); // idle longer, but one step further away
    h.secs(5);
    h.available("clerk-hekou-1");
    h.drain();
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (booth, service, clerk) = (h.booth("booth-gudao-1"), h.service("teacher-cert"), h.clerk("clerk-hekou-1"));
    assert_eq!(
        h.drain_core(),
        vec![
            Action::TicketOpened { ticket, booth, service, priority: Priority::Normal },
            Action::OfferMade { offer: OfferId(1), ticket, clerk, booth, service },
        ]
    );
}

#[test]
fn pool_widens_to_city_after_threshold_and_keeps_place() {
    let mut h = Harness::new();
    h.sign_in_away("clerk-hekou-1"); // signed in, so the county step is not empty
    h.available("clerk-dongying-1");
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    h.drain();
    h.secs(29);
    assert_eq!(h.drain(), vec![], "nothing may happen before the 30 s threshold");
    h.secs(1);
    let actions = h.drain();
    assert_eq!(actions[0], Action::TicketWidened { ticket, step: 1, cause: WidenCause::Threshold });
    let (_, offered, clerk) = Harness::offer_in(&actions);
    assert_eq!((offered, clerk), (ticket, h.clerk("clerk-dongying-1")));
}

#[test]
fn empty_county_step_is_skipped_at_once() {
    let mut h = Harness::new();
    h.available("clerk-dongying-1");
    h.drain();
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let actions = h.drain();
    assert!(actions.contains(&Action::TicketWidened { ticket, step: 1, cause: WidenCause::EmptyStep }));
    assert_eq!(Harness::offer_in(&actions).2, h.clerk("clerk-dongying-1"));
}

#[test]
fn partner_city_is_the_last_step() {
    let mut h = Harness::new();
    h.sign_in_away("clerk-hekou-1");
    h.sign_in_away("clerk-dongying-1");
    h.sign_in_away("clerk-sd-1");
    h.available("clerk-binzhou-1");
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    h.drain();
    h.secs(179);
    let widened: Vec<_> = h.drain().into_iter().filter(|a| matches!(a, Action::TicketWidened { .. })).collect();
    assert_eq!(
        widened,
        vec![
            Action::TicketWidened { ticket, step: 1, cause: WidenCause::Threshold },
            Action::TicketWidened { ticket, step: 2, cause: WidenCause::Threshold },
        ]
    );
    h.secs(1);
    let actions = h.drain();
    assert_eq!(actions[0], Action::TicketWidened { ticket, step: 3, cause: WidenCause::Threshold });
    assert_eq!(Harness::offer_in(&actions).2, h.clerk("clerk-binzhou-1"));
}

#[test]
fn higher_priority_class_jumps_the_queue_then_age_orders() {
    let mut h = Harness::new();
    h.sign_in_away("clerk-hekou-1");
    let a = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    h.secs(1);
    let b = h.request("booth-gudao-2", "teacher-cert", Priority::Elderly);
    h.secs(1);
    let c = h.request("booth-gudao-3", "teacher-cert", Priority::Elderly);
    h.drain();
    let clerk = h.clerk("clerk-hekou-1");
    let order: Vec<_> = [a, b, c].iter().map(|t| h.engine.ticket_view(*t, h.now).unwrap().position.unwrap()).collect();
    assert_eq!(order, vec![3, 1, 2]);
    h.input(Input::ClerkSetAvailable { clerk }).unwrap();
    let (offer, ticket, _) = Harness::offer_in(&h.drain());
    assert_eq!(ticket, b, "the earliest elderly ticket goes first");
    h.input(Input::AcceptOffer { clerk, offer }).unwrap();
    let call = h.engine.call_of(clerk).unwrap().call;
    h.input(Input::HangUp { call, by: Party::Clerk(clerk) }).unwrap();
    h.input(Input::EndWrapUp { clerk }).unwrap();
    assert_eq!(Harness::offer_in(&h.drain()).1, c);
}

#[test]
fn multi_skill_clerk_takes_longest_waiting_across_services() {
    let mut h = Harness::new();
    h.sign_in_away("clerk-hekou-2");
    let teacher = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    h.secs(1);
    let business = h.request("booth-gudao-2", "business-reg", Priority::Normal);
    h.drain();
    let clerk = h.clerk("clerk-hekou-2");
    h.input(Input::ClerkSetAvailable { clerk }).unwrap();
    assert_eq!(Harness::offer_in(&h.drain()).1, teacher);
    let _ = business;
}

#[test]
fn idle_longest_clerk_gets_the_ticket() {
    let mut h = Harness::new();
    h.available("clerk-hekou-2");
    h.secs(3);
    h.available("clerk-hekou-1");
    h.drain();
    h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    assert_eq!(Harness::offer_in(&h.drain()).2, h.clerk("clerk-hekou-2"));
}

#[test]
fn decline_reoffers_to_next_clerk_and_keeps_place() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    h.secs(1);
    h.available("clerk-hekou-2");
    h.sign_in_away("clerk-dongying-1");
    let first = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, c1) = Harness::offer_in(&h.drain());
    assert_eq!(c1, h.clerk("clerk-hekou-1"));
    // hekou-2 takes a second ticket, then the first is declined: it must go to hekou-2 next,
    // ahead of a third ticket that came later.
    let (second, third) = {
        let s = h.request("booth-gudao-2", "teacher-cert", Priority::Normal);
        let (o2, _, c2) = Harness::offer_in(&h.drain());
        h.input(Input::AcceptOffer { clerk: c2, offer: o2 }).unwrap();
        let t = h.request("booth-gudao-3", "teacher-cert", Priority::Normal);
        (s, t)
    };
    h.drain();
    h.input(Input::DeclineOffer { clerk: c1, offer }).unwrap();
    let actions = h.drain();
    assert!(actions.iter().all(|a| !matches!(a, Action::OfferMade { ticket, .. } if *ticket == first)));
    // hekou-1 declined `first`, so it gets `third` instead; `first` waits at position 1.
    assert_eq!(Harness::offer_in(&actions).1, third);
    assert_eq!(h.engine.ticket_view(first, h.now).unwrap().position, Some(1));
    let c2 = h.clerk("clerk-hekou-2");
    let call = h.engine.call_of(c2).unwrap().call;
    assert_eq!(h.engine.call(call).unwrap().ticket, second);
    h.input(Input::HangUp { call, by: Party::Booth(h.booth("booth-gudao-2")) }).unwrap();
    h.input(Input::EndWrapUp { clerk: c2 }).unwrap();
    assert_eq!(Harness::offer_in(&h.drain()).1, first, "the declined ticket kept its place");
}

#[test]
fn offer_timeout_reoffers_and_two_misses_put_clerk_away() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    let clerk = h.clerk("clerk-hekou-1");
    let a = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer_a, _, _) = Harness::offer_in(&h.drain());
    let b = h.request("booth-gudao-2", "teacher-cert", Priority::Normal);
    h.drain();
    h.secs(19);
    assert_eq!(h.drain(), vec![]);
    h.secs(1);
    let actions = h.drain_core();
    assert_eq!(
        actions,
        vec![
            Action::OfferRevoked { offer: offer_a, ticket: a, clerk, reason: OfferRevokeReason::Timeout },
            Action::TicketRequeued { ticket: a, booth: h.booth("booth-gudao-1"), cause: RequeueCause::OfferNotTaken },
            Action::OfferMade {
                offer: OfferId(2),
                ticket: b,
                clerk,
                booth: h.booth("booth-gudao-2"),
                service: h.service("teacher-cert")
            },
        ]
    );
    h.secs(20);
    let actions = h.drain();
    assert!(actions.contains(&Action::ClerkStateChanged { clerk, state: ClerkState::Away(AwayReason::MissedOffers) }));
    assert_eq!(h.engine.clerk_state(clerk), ClerkState::Away(AwayReason::MissedOffers));
}

#[test]
fn booth_resumes_within_grace_and_is_lost_after_it() {
    let mut h = Harness::new();
    h.sign_in_away("clerk-hekou-1");
    let booth = h.booth("booth-gudao-1");
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    h.input(Input::BoothDisconnected { booth }).unwrap();
    h.secs(25);
    h.input(Input::BoothConnected { booth }).unwrap();
    h.secs(25);
    assert!(h.engine.ticket_view(ticket, h.now).is_some(), "resumed within grace: still queued");
    assert_eq!(h.engine.ticket_view(ticket, h.now).unwrap().position, Some(1));
    h.drain();
    h.input(Input::BoothDisconnected { booth }).unwrap();
    h.secs(29);
    assert!(h.drain_core().is_empty());
    h.secs(1);
    assert_eq!(
        h.drain_core(),
        vec![Action::TicketClosed {
            ticket,
            booth,
            service: h.service("teacher-cert"),
            reason: TicketEndReason::BoothLost
        }]
    );
}

#[test]
fn ticket_of_an_away_booth_is_held_not_offered_and_keeps_its_place() {
    let mut h = Harness::new();
    h.sign_in_away("clerk-hekou-1");
    let clerk = h.clerk("clerk-hekou-1");
    let (b1, b2) = (h.booth("booth-gudao-1"), h.booth("booth-gudao-2"));
    let first = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let second = h.request("booth-gudao-2", "teacher-cert", Priority::Normal);
    h.input(Input::BoothDisconnected { booth: b1 }).unwrap();
    h.drain();
    // The clerk comes free while the first booth is away: the second citizen is served first.
    h.input(Input::ClerkSetAvailable { clerk }).unwrap();
    let (offer, ticket, _) = Harness::offer_in(&h.drain());
    assert_eq!(ticket, second, "an away booth's ticket is never offered");
    h.input(Input::DeclineOffer { clerk, offer }).unwrap();
    assert!(h.drain_core().iter().all(|a| !matches!(a, Action::OfferMade { .. })), "nothing else to offer");
    assert!(h.engine.check_invariants().is_ok());
    // Back within grace: its old key puts it first again, and it is offered at once.
    h.secs(10);
    h.input(Input::BoothConnected { booth: b1 }).unwrap();
    let (_, ticket, to) = Harness::offer_in(&h.drain());
    assert_eq!((ticket, to), (first, clerk));
    let _ = b2;
    assert!(h.engine.check_invariants().is_ok());
}

#[test]
fn booth_dropping_while_offered_withdraws_the_offer_and_frees_the_clerk() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    let clerk = h.clerk("clerk-hekou-1");
    let booth = h.booth("booth-gudao-1");
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, _) = Harness::offer_in(&h.drain());
    h.input(Input::BoothDisconnected { booth }).unwrap();
    let actions = h.drain();
    assert!(actions.contains(&Action::OfferRevoked { offer, ticket, clerk, reason: OfferRevokeReason::BoothAway }));
    assert_eq!(h.engine.clerk_state(clerk), ClerkState::Available);
    // Accepting the withdrawn offer starts no call with an empty booth.
    assert_eq!(h.input(Input::AcceptOffer { clerk, offer }), Err(Reject::NoSuchOffer));
    assert!(h.engine.call_of(clerk).is_none());
    assert_eq!(h.engine.ticket_view(ticket, h.now).unwrap().state, TicketState::Waiting);
    assert!(h.engine.check_invariants().is_ok());
    h.input(Input::BoothConnected { booth }).unwrap();
    let (_, again, to) = Harness::offer_in(&h.drain());
    assert_eq!((again, to), (ticket, clerk), "not excluded: the clerk did not decline");
}

#[test]
fn clerk_lost_while_booth_is_away_requeues_held_until_the_booth_returns() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    h.available("clerk-hekou-2");
    let (c1, c2) = (h.clerk("clerk-hekou-1"), h.clerk("clerk-hekou-2"));
    let booth = h.booth("booth-gudao-1");
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, clerk) = Harness::offer_in(&h.drain());
    h.input(Input::AcceptOffer { clerk, offer }).unwrap();
    h.input(Input::BoothDisconnected { booth }).unwrap();
    h.input(Input::ClerkSignOut { clerk }).unwrap();
    let actions = h.drain();
    assert!(!actions.iter().any(|a| matches!(a, Action::OfferMade { .. })), "held: {actions:?}");
    let other = if clerk == c1 { c2 } else { c1 };
    assert_eq!(h.engine.clerk_state(other), ClerkState::Available);
    assert!(h.engine.check_invariants().is_ok());
    h.input(Input::BoothConnected { booth }).unwrap();
    let (_, again, to) = Harness::offer_in(&h.drain());
    assert_eq!((again, to), (ticket, other));
}

#[test]
fn booth_lost_during_call_frees_the_clerk_into_wrap_up() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    let clerk = h.clerk("clerk-hekou-1");
    let booth = h.booth("booth-gudao-1");
    h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, _) = Harness::offer_in(&h.drain());
    h.input(Input::AcceptOffer { clerk, offer }).unwrap();
    let call = h.engine.call_of(clerk).unwrap().call;
    h.input(Input::MediaConnected { call, by: Party::Booth(booth) }).unwrap();
    h.input(Input::MediaConnected { call, by: Party::Clerk(clerk) }).unwrap();
    h.input(Input::BoothDisconnected { booth }).unwrap();
    h.secs(30);
    let reasons: Vec<_> = h
        .drain()
        .into_iter()
        .filter_map(|a| match a {
            Action::CallEnded { reason, .. } => Some(format!("call:{reason:?}")),
            Action::TicketClosed { reason, .. } => Some(format!("ticket:{reason:?}")),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec!["call:BoothLost", "ticket:BoothLost"]);
    assert_eq!(h.engine.clerk_state(clerk), ClerkState::WrapUp);
}

#[test]
fn clerk_lost_mid_call_requeues_ticket_at_head() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    h.sign_in_away("clerk-hekou-2");
    let c1 = h.clerk("clerk-hekou-1");
    let first = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, _) = Harness::offer_in(&h.drain());
    h.input(Input::AcceptOffer { clerk: c1, offer }).unwrap();
    let call = h.engine.call_of(c1).unwrap().call;
    let _older_waiting = h.request("booth-gudao-2", "teacher-cert", Priority::Normal);
    h.drain();
    h.input(Input::ClerkSignOut { clerk: c1 }).unwrap();
    let booth = h.booth("booth-gudao-1");
    let service = h.service("teacher-cert");
    assert_eq!(
        h.drain_core(),
        vec![
            Action::CallEnded { call, ticket: first, booth, clerk: c1, service, reason: CallEndReason::ClerkLost },
            Action::TicketRequeued { ticket: first, booth, cause: RequeueCause::ClerkLost },
        ]
    );
    assert_eq!(h.engine.ticket_view(first, h.now).unwrap().position, Some(1));
    assert_eq!(h.engine.clerk_state(c1), ClerkState::Offline);
    h.input(Input::ClerkSetAvailable { clerk: h.clerk("clerk-hekou-2") }).unwrap();
    assert_eq!(Harness::offer_in(&h.drain()).1, first);
}

#[test]
fn no_clerk_signed_in_anywhere_closes_at_once() {
    let mut h = Harness::new();
    let (booth, service) = (h.booth("booth-gudao-1"), h.service("business-reg"));
    h.input(Input::BoothConnected { booth }).unwrap();
    h.input(Input::RequestService { booth, service, priority: Priority::Normal }).unwrap();
    let ticket = TicketId(1);
    let closed = h.drain_core().pop().unwrap();
    assert_eq!(
        closed,
        Action::TicketClosed {
            ticket,
            booth: h.booth("booth-gudao-1"),
            service: h.service("business-reg"),
            reason: TicketEndReason::NoClerk
        }
    );
    assert_eq!(h.engine.booth_ticket(h.booth("booth-gudao-1")), None);
}

#[test]
fn last_clerk_signing_out_closes_waiting_tickets_after_grace() {
    let mut h = Harness::new();
    h.sign_in_away("clerk-hekou-2");
    let ticket = h.request("booth-gudao-1", "business-reg", Priority::Normal);
    h.input(Input::ClerkSignOut { clerk: h.clerk("clerk-hekou-2") }).unwrap();
    h.drain();
    h.secs(59);
    assert!(h.engine.ticket_view(ticket, h.now).is_some());
    h.secs(1);
    assert!(h.drain_core().iter().any(
        |a| matches!(a, Action::TicketClosed { ticket: t, reason: TicketEndReason::NoClerk, .. } if *t == ticket)
    ));
}

#[test]
fn wrap_up_ends_by_itself_after_the_maximum() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    let clerk = h.clerk("clerk-hekou-1");
    h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, _) = Harness::offer_in(&h.drain());
    h.input(Input::AcceptOffer { clerk, offer }).unwrap();
    let call = h.engine.call_of(clerk).unwrap().call;
    h.input(Input::HangUp { call, by: Party::Clerk(clerk) }).unwrap();
    assert_eq!(h.engine.clerk_state(clerk), ClerkState::WrapUp);
    h.secs(119);
    assert_eq!(h.engine.clerk_state(clerk), ClerkState::WrapUp);
    h.secs(1);
    assert_eq!(h.engine.clerk_state(clerk), ClerkState::Available);
}

#[test]
fn cancel_while_offered_revokes_offer_and_frees_clerk() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    let clerk = h.clerk("clerk-hekou-1");
    let booth = h.booth("booth-gudao-1");
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, _) = Harness::offer_in(&h.drain());
    h.input(Input::CancelTicket { booth, ticket }).unwrap();
    assert_eq!(
        h.drain_core(),
        vec![
            Action::OfferRevoked { offer, ticket, clerk, reason: OfferRevokeReason::CancelledByCitizen },
            Action::TicketClosed {
                ticket,
                booth,
                service: h.service("teacher-cert"),
                reason: TicketEndReason::Cancelled
            },
        ]
    );
    assert_eq!(h.engine.clerk_state(clerk), ClerkState::Available);
    assert_eq!(h.input(Input::AcceptOffer { clerk, offer }), Err(Reject::NoSuchOffer));
}

#[test]
fn refused_inputs_change_nothing() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    h.sign_in_away("clerk-hekou-2");
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, _) = Harness::offer_in(&h.drain());
    let intruder = h.clerk("clerk-hekou-2");
    assert_eq!(h.input(Input::AcceptOffer { clerk: intruder, offer }), Err(Reject::NoSuchOffer));
    assert_eq!(h.input(Input::CancelTicket { booth: h.booth("booth-gudao-2"), ticket }), Err(Reject::NoSuchTicket));
    let booth = h.booth("booth-gudao-1");
    let service = h.service("teacher-cert");
    assert_eq!(
        h.input(Input::RequestService { booth, service, priority: Priority::Normal }),
        Err(Reject::TicketAlreadyOpen)
    );
    assert_eq!(h.input(Input::HangUp { call: CallId(99), by: Party::Booth(booth) }), Err(Reject::NoSuchCall));
    assert_eq!(h.input(Input::EndWrapUp { clerk: intruder }), Err(Reject::WrongState));
    assert_eq!(h.drain(), vec![], "a refused input queues no action");
    assert_eq!(h.engine.ticket_view(ticket, h.now).unwrap().state, TicketState::Offered);
}

#[test]
fn estimate_uses_position_clerks_and_average_handling_time() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    h.available("clerk-hekou-2");
    let c1 = h.clerk("clerk-hekou-1");
    let c2 = h.clerk("clerk-hekou-2");
    for (booth, clerk) in [("booth-gudao-1", c1), ("booth-gudao-2", c2)] {
        h.request(booth, "teacher-cert", Priority::Normal);
        let (offer, _, c) = Harness::offer_in(&h.drain());
        assert_eq!(c, clerk);
        h.input(Input::AcceptOffer { clerk, offer }).unwrap();
    }
    let ticket = h.request("booth-gudao-3", "teacher-cert", Priority::Normal);
    let view = h.engine.ticket_view(ticket, h.now).unwrap();
    assert_eq!(view.position, Some(1));
    // 1 × 300 s ÷ 2 working clerks.
    assert_eq!(view.estimated_wait, Some(Duration::from_secs(150)));
}

#[test]
fn load_snapshot_counts_waiting_and_clerk_states() {
    let mut h = Harness::new();
    h.sign_in_away("clerk-hekou-1");
    h.available("clerk-hekou-2");
    h.request("booth-gudao-1", "teacher-cert", Priority::Normal); // offered to hekou-2
    h.request("booth-gudao-2", "teacher-cert", Priority::Normal); // waits
    h.secs(10);
    let hekou = h.dir.region_idx("hekou");
    let teacher = h.service("teacher-cert");
    let row =
        h.engine.load_snapshot(h.now).into_iter().find(|r| r.hall == hekou && r.service == Some(teacher)).unwrap();
    assert_eq!((row.waiting, row.clerks_signed_in, row.offered, row.away), (2, 2, 1, 1));
    assert_eq!(row.longest_wait, Duration::from_secs(10));
}

#[test]
fn service_level_counts_each_ticket_once_against_the_target() {
    let mut h = Harness::new(); // teacher-cert: target answer 60 s
    h.available("clerk-hekou-1");
    h.sign_in_away("clerk-hekou-2");
    let (c1, c2) = (h.clerk("clerk-hekou-1"), h.clerk("clerk-hekou-2"));
    let (b1, b2) = (h.booth("booth-gudao-1"), h.booth("booth-gudao-2"));
    let up = |h: &mut Harness, clerk: ClerkIdx, booth: BoothIdx| {
        let call = h.engine.call_of(clerk).unwrap().call;
        h.input(Input::MediaConnected { call, by: Party::Booth(booth) }).unwrap();
        h.input(Input::MediaConnected { call, by: Party::Clerk(clerk) }).unwrap();
        call
    };
    h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, _) = Harness::offer_in(&h.drain());
    h.secs(5);
    h.input(Input::AcceptOffer { clerk: c1, offer }).unwrap(); // answered after 5 s: within
    let first = up(&mut h, c1, b1);
    h.request("booth-gudao-2", "teacher-cert", Priority::Normal);
    h.secs(70);
    h.drain();
    h.input(Input::ClerkSetAvailable { clerk: c2 }).unwrap();
    let (offer, _, _) = Harness::offer_in(&h.drain());
    h.input(Input::AcceptOffer { clerk: c2, offer }).unwrap(); // after 70 s: beyond
    let hekou = h.dir.region_idx("hekou");
    let teacher = h.service("teacher-cert");
    let counts = |h: &Harness| {
        let r = h.engine.load_snapshot(h.now).into_iter().find(|r| r.hall == hekou && r.service == Some(teacher));
        r.map(|r| (r.answered, r.answered_within_target)).unwrap()
    };
    assert_eq!(counts(&h), (2, 1));
    // The second call's media fails: the ticket is re-queued and answered again by clerk 1, but
    // for the service level it was answered once.
    let second = h.engine.call_of(c2).unwrap().call;
    h.input(Input::MediaFailed { call: second, by: Party::Booth(b2) }).unwrap();
    h.input(Input::HangUp { call: first, by: Party::Clerk(c1) }).unwrap();
    h.input(Input::EndWrapUp { clerk: c1 }).unwrap();
    let (offer, _, clerk) = Harness::offer_in(&h.drain());
    assert_eq!(clerk, c1);
    h.input(Input::AcceptOffer { clerk: c1, offer }).unwrap();
    assert_eq!(counts(&h), (2, 1));
}

#[test]
fn shutdown_closes_everything_with_a_reason() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    let a = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let b = h.request("booth-gudao-2", "teacher-cert", Priority::Normal);
    h.drain();
    h.input(Input::Shutdown).unwrap();
    let closed: Vec<_> = h
        .drain()
        .into_iter()
        .filter_map(|x| match x {
            Action::TicketClosed { ticket, reason: TicketEndReason::ServerShutdown, .. } => Some(ticket),
            _ => None,
        })
        .collect();
    assert_eq!(closed, vec![a, b]);
    assert_eq!(h.input(Input::Shutdown), Err(Reject::ShutDown));
}

/// Puts booth-gudao-1 in a call with clerk-hekou-1; returns (call, ticket).
fn in_call(h: &mut Harness) -> (CallId, TicketId) {
    h.available("clerk-hekou-1");
    let clerk = h.clerk("clerk-hekou-1");
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, _) = Harness::offer_in(&h.drain());
    h.input(Input::AcceptOffer { clerk, offer }).unwrap();
    h.drain();
    (h.engine.call_of(clerk).unwrap().call, ticket)
}

#[test]
fn call_whose_media_never_connects_ends_and_requeues_at_head() {
    let mut h = Harness::new();
    let (call, ticket) = in_call(&mut h);
    let (booth, clerk) = (h.booth("booth-gudao-1"), h.clerk("clerk-hekou-1"));
    let service = h.service("teacher-cert");
    // Only the booth's side came up.
    h.input(Input::MediaConnected { call, by: Party::Booth(booth) }).unwrap();
    h.secs(14);
    assert!(h.drain_core().is_empty());
    h.secs(1);
    assert_eq!(
        h.drain_core(),
        vec![
            Action::CallEnded { call, ticket, booth, clerk, service, reason: CallEndReason::MediaFailed },
            Action::TicketRequeued { ticket, booth, cause: RequeueCause::MediaFailed },
        ]
    );
    // Nobody was served: the clerk is available at once (not in wrap-up), and is not offered the
    // same citizen again; the citizen is first in line for the next clerk.
    assert_eq!(h.engine.clerk_state(clerk), ClerkState::Available);
    assert_eq!(h.engine.ticket_view(ticket, h.now).unwrap().position, Some(1));
    h.available("clerk-hekou-2");
    assert_eq!(Harness::offer_in(&h.drain()).1, ticket);
}

#[test]
fn media_up_on_both_sides_keeps_the_call() {
    let mut h = Harness::new();
    let (call, _) = in_call(&mut h);
    let (booth, clerk) = (h.booth("booth-gudao-1"), h.clerk("clerk-hekou-1"));
    h.input(Input::MediaConnected { call, by: Party::Booth(booth) }).unwrap();
    h.input(Input::MediaConnected { call, by: Party::Clerk(clerk) }).unwrap();
    h.secs(60);
    assert!(h.drain_core().is_empty());
    assert_eq!(h.engine.clerk_state(clerk), ClerkState::InCall);
}

#[test]
fn reported_media_failure_ends_the_call_at_once_and_only_from_a_party() {
    let mut h = Harness::new();
    let (call, ticket) = in_call(&mut h);
    let outsider = h.booth("booth-gudao-2");
    assert_eq!(h.input(Input::MediaFailed { call, by: Party::Booth(outsider) }), Err(Reject::NoSuchCall));
    let clerk = h.clerk("clerk-hekou-1");
    h.input(Input::MediaFailed { call, by: Party::Clerk(clerk) }).unwrap();
    let actions = h.drain_core();
    assert!(actions.contains(&Action::TicketRequeued {
        ticket,
        booth: h.booth("booth-gudao-1"),
        cause: RequeueCause::MediaFailed
    }));
}

/// clerk-hekou-1 in a call with booth-gudao-1, media up on both sides, actions drained.
fn call_with_media_up() -> (Harness, ClerkIdx, BoothIdx, TicketId, CallId) {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    let c1 = h.clerk("clerk-hekou-1");
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, _) = Harness::offer_in(&h.drain());
    h.input(Input::AcceptOffer { clerk: c1, offer }).unwrap();
    let call = h.engine.call_of(c1).unwrap().call;
    let booth = h.booth("booth-gudao-1");
    h.input(Input::MediaConnected { call, by: Party::Booth(booth) }).unwrap();
    h.input(Input::MediaConnected { call, by: Party::Clerk(c1) }).unwrap();
    h.drain();
    (h, c1, booth, ticket, call)
}

/// A clerk's connection drops mid-call: the call goes on (media does not depend on signaling);
/// back within the grace period, the clerk finds it; later, hang-up works as usual.
#[test]
fn clerk_dropping_mid_call_keeps_the_call_and_finds_it_on_return() {
    let (mut h, c1, _, _, call) = call_with_media_up();
    h.input(Input::ClerkDisconnected { clerk: c1 }).unwrap();
    h.secs(14);
    assert_eq!(h.drain_core(), vec![], "nothing ends within the grace period");
    h.input(Input::ClerkSignIn { clerk: c1 }).unwrap();
    h.secs(60);
    assert_eq!(h.engine.call_of(c1).map(|v| v.call), Some(call), "the call goes on after the grace period");
    assert_eq!(h.engine.clerk_state(c1), ClerkState::InCall);
    h.input(Input::HangUp { call, by: Party::Clerk(c1) }).unwrap();
    assert_eq!(h.engine.clerk_state(c1), ClerkState::WrapUp);
}

/// Not back within the grace period: signed out as before — the call ends `clerk_lost` and the
/// citizen goes back to the head of the queue.
#[test]
fn clerk_not_back_within_grace_is_signed_out_and_the_citizen_requeued() {
    let (mut h, c1, booth, ticket, call) = call_with_media_up();
    h.input(Input::ClerkDisconnected { clerk: c1 }).unwrap();
    h.secs(15);
    let service = h.service("teacher-cert");
    let core = h.drain_core();
    assert_eq!(
        core[..2],
        [
            Action::CallEnded { call, ticket, booth, clerk: c1, service, reason: CallEndReason::ClerkLost },
            Action::TicketRequeued { ticket, booth, cause: RequeueCause::ClerkLost },
        ]
    );
    assert_eq!(h.engine.clerk_state(c1), ClerkState::Offline);
}

/// An available clerk whose connection drops is held out of matching (not offered a ticket it
/// cannot see) and is available again, in the same hall, on return.
#[test]
fn available_clerk_dropping_is_held_and_offered_on_return() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    let c1 = h.clerk("clerk-hekou-1");
    h.input(Input::ClerkDisconnected { clerk: c1 }).unwrap();
    assert_eq!(h.engine.clerk_state(c1), ClerkState::Away(AwayReason::Disconnected));
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    assert!(h.drain().iter().all(|a| !matches!(a, Action::OfferMade { .. })), "no offer to a dropped clerk");
    h.input(Input::ClerkSignIn { clerk: c1 }).unwrap();
    assert_eq!(Harness::offer_in(&h.drain()).1, ticket);
}

/// An offered clerk whose connection drops: the offer is withdrawn at once and the ticket keeps its
/// place for the next clerk.
#[test]
fn offered_clerk_dropping_withdraws_the_offer() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    h.sign_in_away("clerk-hekou-2");
    let (c1, c2) = (h.clerk("clerk-hekou-1"), h.clerk("clerk-hekou-2"));
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, _) = Harness::offer_in(&h.drain());
    h.input(Input::ClerkDisconnected { clerk: c1 }).unwrap();
    let actions = h.drain();
    assert!(actions.contains(&Action::OfferRevoked { offer, ticket, clerk: c1, reason: OfferRevokeReason::ClerkLost }));
    h.input(Input::ClerkSetAvailable { clerk: c2 }).unwrap();
    assert_eq!(Harness::offer_in(&h.drain()).1, ticket);
    // The supervisor cannot make a dropped clerk take calls: it is held until it returns.
    h.input(Input::ClerkSetAvailable { clerk: c1 }).unwrap();
    assert_eq!(h.engine.clerk_state(c1), ClerkState::Away(AwayReason::Disconnected));
}

/// A call with `clerk` on `booth`'s new ticket, media up on both sides.
fn connected_call(h: &mut Harness, booth: &str, service: &str, clerk: &str) -> (TicketId, CallId) {
    h.available(clerk);
    let ticket = h.request(booth, service, Priority::Normal);
    let (offer, _, c) = Harness::offer_in(&h.drain());
    h.input(Input::AcceptOffer { clerk: c, offer }).unwrap();
    let call = h.engine.call_of(c).unwrap().call;
    h.input(Input::MediaConnected { call, by: Party::Clerk(c) }).unwrap();
    h.input(Input::MediaConnected { call, by: Party::Booth(h.booth(booth)) }).unwrap();
    h.drain();
    (ticket, call)
}

#[test]
fn warm_transfer_hands_the_call_to_the_assisting_clerk() {
    let mut h = Harness::new();
    let (ticket, call) = connected_call(&mut h, "booth-gudao-1", "teacher-cert", "clerk-hekou-1");
    let (from, to) = (h.clerk("clerk-hekou-1"), h.clerk("clerk-dongying-1"));
    h.sign_in_away("clerk-dongying-1");
    h.input(Input::ClerkSetAway { clerk: to, reason: AwayReason::Assisting }).unwrap();
    h.secs(40);
    h.drain();
    // Only the call's clerk may transfer it, and only to a free, connected clerk.
    assert_eq!(h.input(Input::TransferCall { call, from: to, to: from }), Err(Reject::NoSuchCall));
    assert_eq!(h.input(Input::TransferCall { call, from, to: from }), Err(Reject::WrongState));
    h.input(Input::TransferCall { call, from, to }).unwrap();
    let (booth, service) = (h.booth("booth-gudao-1"), h.service("teacher-cert"));
    assert_eq!(
        h.drain(),
        vec![
            Action::CallTransferred { call, ticket, booth, service, from, to },
            Action::ClerkStateChanged { clerk: from, state: ClerkState::WrapUp },
            Action::ClerkStateChanged { clerk: to, state: ClerkState::InCall },
        ]
    );
    let view = h.engine.call(call).expect("the call goes on");
    assert_eq!((view.clerk, view.ticket), (to, ticket));
    assert_eq!(h.engine.call_of(from), None);
    // The new clerk's media must come up within the media timeout (15 s), counted from the
    // transfer: nothing happens at 14 s, and without it the call fails at 15 s.
    h.secs(14);
    assert_eq!(h.drain(), vec![]);
    h.secs(1);
    let actions = h.drain_core();
    assert_eq!(
        actions[0],
        Action::CallEnded { call, ticket, booth, clerk: to, service, reason: CallEndReason::MediaFailed }
    );
}

#[test]
fn a_transferred_call_whose_media_comes_up_ends_served_with_the_new_clerk() {
    let mut h = Harness::new();
    let (ticket, call) = connected_call(&mut h, "booth-gudao-1", "teacher-cert", "clerk-hekou-1");
    let (from, to) = (h.clerk("clerk-hekou-1"), h.clerk("clerk-dongying-1"));
    h.available("clerk-dongying-1");
    h.drain();
    h.input(Input::TransferCall { call, from, to }).unwrap();
    h.secs(2);
    h.input(Input::MediaConnected { call, by: Party::Clerk(to) }).unwrap();
    // The first clerk's wrap-up runs on its own while the call goes on.
    h.input(Input::EndWrapUp { clerk: from }).unwrap();
    assert_eq!(h.engine.clerk_state(from), ClerkState::Available);
    h.secs(60);
    h.drain();
    assert_eq!(h.input(Input::HangUp { call, by: Party::Clerk(from) }), Err(Reject::NoSuchCall));
    h.input(Input::HangUp { call, by: Party::Clerk(to) }).unwrap();
    let (booth, service) = (h.booth("booth-gudao-1"), h.service("teacher-cert"));
    assert_eq!(
        h.drain_core(),
        vec![
            Action::CallEnded { call, ticket, booth, clerk: to, service, reason: CallEndReason::HungUpByClerk },
            Action::TicketClosed { ticket, booth, service, reason: TicketEndReason::Served },
        ]
    );
    assert_eq!(h.engine.clerk_state(to), ClerkState::WrapUp);
}

#[test]
fn a_transfer_to_a_busy_or_away_clerk_is_refused_and_changes_nothing() {
    let mut h = Harness::new();
    let (_, call) = connected_call(&mut h, "booth-gudao-1", "teacher-cert", "clerk-hekou-1");
    let from = h.clerk("clerk-hekou-1");
    let to = h.clerk("clerk-dongying-1");
    assert_eq!(h.input(Input::TransferCall { call, from, to }), Err(Reject::WrongState), "offline");
    h.sign_in_away("clerk-dongying-1");
    h.input(Input::ClerkSetAway { clerk: to, reason: AwayReason::Break }).unwrap();
    assert_eq!(h.input(Input::TransferCall { call, from, to }), Err(Reject::WrongState), "on a break");
    h.input(Input::ClerkSetAvailable { clerk: to }).unwrap();
    h.input(Input::ClerkDisconnected { clerk: to }).unwrap();
    assert_eq!(h.input(Input::TransferCall { call, from, to }), Err(Reject::WrongState), "disconnected");
    h.drain();
    assert_eq!(h.engine.call(call).unwrap().clerk, from);
    assert_eq!(h.engine.clerk_state(from), ClerkState::InCall);
}

#[test]
fn requeue_call_puts_the_ticket_at_the_head_of_the_other_service() {
    let mut h = Harness::new();
    h.sign_in_away("clerk-hekou-2"); // serves business-reg, busy for now
    let waiting = h.request("booth-gudao-2", "business-reg", Priority::Normal);
    let (ticket, call) = connected_call(&mut h, "booth-gudao-1", "teacher-cert", "clerk-hekou-1");
    let clerk = h.clerk("clerk-hekou-1");
    let (teacher, business) = (h.service("teacher-cert"), h.service("business-reg"));
    let booth = h.booth("booth-gudao-1");
    assert_eq!(
        h.input(Input::RequeueCall { call, clerk: h.clerk("clerk-hekou-2"), service: business }),
        Err(Reject::NoSuchCall),
        "only the call's clerk"
    );
    h.input(Input::RequeueCall { call, clerk, service: business }).unwrap();
    assert_eq!(
        h.drain_core(),
        vec![
            Action::CallEnded { call, ticket, booth, clerk, service: teacher, reason: CallEndReason::Requeued },
            Action::TicketServiceChanged { ticket, booth, from: teacher, to: business },
            Action::TicketRequeued { ticket, booth, cause: RequeueCause::Transferred },
        ]
    );
    assert_eq!(h.engine.clerk_state(clerk), ClerkState::WrapUp);
    let view = h.engine.ticket_view(ticket, h.now).unwrap();
    assert_eq!((view.service, view.state, view.position), (business, TicketState::Waiting, Some(1)));
    assert_eq!(h.engine.ticket_view(waiting, h.now).unwrap().position, Some(2), "ahead of one who came earlier");
    // The business-registration clerk gets it first.
    let c2 = h.clerk("clerk-hekou-2");
    h.input(Input::ClerkSetAvailable { clerk: c2 }).unwrap();
    assert_eq!(Harness::offer_in(&h.drain()).1, ticket);
}

#[test]
fn requeue_to_a_service_nobody_serves_closes_as_no_clerk_after_the_grace() {
    let mut h = Harness::new();
    let (ticket, call) = connected_call(&mut h, "booth-gudao-1", "teacher-cert", "clerk-hekou-1");
    let clerk = h.clerk("clerk-hekou-1");
    let business = h.service("business-reg");
    assert_eq!(h.input(Input::RequeueCall { call, clerk, service: ServiceIdx(9) }), Err(Reject::UnknownService));
    h.input(Input::RequeueCall { call, clerk, service: business }).unwrap();
    h.drain();
    h.secs(60);
    let closed: Vec<_> = h.drain().into_iter().filter(|a| matches!(a, Action::TicketClosed { .. })).collect();
    let (booth, reason) = (h.booth("booth-gudao-1"), TicketEndReason::NoClerk);
    assert_eq!(closed, vec![Action::TicketClosed { ticket, booth, service: business, reason }]);
}

#[test]
fn a_ticket_in_a_call_never_widens() {
    let mut h = Harness::new();
    h.sign_in_away("clerk-dongying-1"); // the city step is staffed: nothing widens at once
    h.available("clerk-hekou-1");
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, clerk) = Harness::offer_in(&h.drain());
    h.input(Input::AcceptOffer { clerk, offer }).unwrap();
    let call = h
        .drain()
        .into_iter()
        .find_map(|a| match a {
            Action::CallStarted { call, .. } => Some(call),
            _ => None,
        })
        .expect("the call started");
    let booth = h.booth("booth-gudao-1");
    h.input(Input::MediaConnected { call, by: Party::Booth(booth) }).unwrap();
    h.input(Input::MediaConnected { call, by: Party::Clerk(clerk) }).unwrap();
    h.drain();
    // A 200 s call passes every threshold (30, 90, 180 s): the ticket is no longer waiting.
    h.secs(200);
    let widened: Vec<_> = h.drain().into_iter().filter(|a| matches!(a, Action::TicketWidened { .. })).collect();
    assert_eq!(widened, vec![], "no widening after the call began");
    assert_eq!(h.engine.ticket_view(ticket, h.now).unwrap().state, TicketState::Connected);
}

#[test]
fn an_offer_declined_after_a_threshold_widens_the_ticket_then() {
    let mut h = Harness::new();
    h.sign_in_away("clerk-dongying-1");
    h.sign_in_away("clerk-hekou-1");
    let ticket = h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    h.secs(15);
    h.drain();
    h.input(Input::ClerkSetAvailable { clerk: h.clerk("clerk-hekou-1") }).unwrap();
    let (offer, _, clerk) = Harness::offer_in(&h.drain());
    // The 30 s threshold passes while the offer is out: the ticket is not waiting, nothing widens.
    h.secs(18);
    assert!(!h.drain().iter().any(|a| matches!(a, Action::TicketWidened { .. })), "no widening while offered");
    // Declined at 33 s, it waits again and widens at once to the step its wait has reached.
    h.input(Input::DeclineOffer { clerk, offer }).unwrap();
    let actions = h.drain();
    assert!(
        actions.contains(&Action::TicketWidened { ticket, step: 1, cause: WidenCause::Threshold }),
        "waiting again, it catches up: {actions:?}"
    );
}

#[test]
fn a_refused_input_that_meets_a_due_timer_queues_nothing() {
    let mut h = Harness::new();
    h.available("clerk-hekou-1");
    h.request("booth-gudao-1", "teacher-cert", Priority::Normal);
    let (offer, _, clerk) = Harness::offer_in(&h.drain());
    // The offer's 20 s run out, but nobody has fired the timer yet.
    h.now += Duration::from_secs(25);
    let intruder = h.clerk("clerk-hekou-2");
    assert_eq!(h.engine.handle_input(Input::AcceptOffer { clerk: intruder, offer }, h.now), Err(Reject::NoSuchOffer));
    assert_eq!(h.drain(), vec![], "the refused input queued nothing, the due timer did not fire with it");
    // Fired first, the timer revokes the offer; the clerk's accept then finds none.
    h.engine.handle_timeout(h.now);
    assert!(h.drain().iter().any(|a| matches!(a, Action::OfferRevoked { .. })));
    assert_eq!(h.engine.handle_input(Input::AcceptOffer { clerk, offer }, h.now), Err(Reject::NoSuchOffer));
}
