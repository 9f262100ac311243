//! Scenario test of a ticket's event log and facts, in virtual time: the rows a served ticket
//! leaves (requested, offered once a clerk is free, accepted, the media, the call's end, closed), their times on the
//! log's timeline, and the facts the reports add up; what the counters count.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use desk::ticket_log::Counted;
use desk::{Desk, Now, Principal};
use protocol::{ClerkTargetState, ClientMessage, ServiceCode};
use routing::{ClerkIdx, Engine, EngineConfig};

const WALL0: i64 = 1_800_000_000_000;

#[test]
fn a_served_ticket_leaves_its_steps_and_its_facts() {
    let dir = Arc::new(common::directory_with_booths(&[("booth-gudao-2", "gudao")]));
    let t0 = Instant::now();
    let mut desk = Desk::new(Engine::new(dir.clone(), EngineConfig::default(), t0), false);
    let now = |secs: u64| Now { at: t0 + Duration::from_secs(secs), wall_ms: WALL0 + secs as i64 * 1000 };
    let clerk = ClerkIdx(0);
    let connected: BTreeSet<ClerkIdx> = [clerk].into();
    let (b, c) = (Principal::Booth(dir.booth_idx("booth-gudao-1").unwrap()), Principal::Clerk(clerk));
    let send = |desk: &mut Desk, secs: u64, who: Principal, msg: ClientMessage| {
        desk.on_message(who, &msg, now(secs), &connected).expect("accepted");
        desk.drain(now(secs), &connected);
    };
    desk.clerk_connected(clerk, now(0));
    desk.booth_connected(dir.booth_idx("booth-gudao-1").unwrap(), now(0));
    desk.drain(now(0), &connected);
    let teacher = ServiceCode::new("teacher-cert".to_owned());
    send(&mut desk, 2, b, ClientMessage::RequestService { service: teacher, priority: protocol::Priority::Normal });
    send(&mut desk, 5, c, ClientMessage::SetState { state: ClerkTargetState::Available, reason: None });
    let (offer, ticket) = desk.engine().offer_of(clerk).unwrap();
    send(&mut desk, 12, c, ClientMessage::AcceptOffer { offer: protocol::OfferId(offer.0) });
    let call = protocol::CallId(desk.engine().call_of(clerk).unwrap().call.0);
    send(&mut desk, 13, b, ClientMessage::MediaState { call, state: protocol::MediaState::Connected });
    send(&mut desk, 13, c, ClientMessage::MediaState { call, state: protocol::MediaState::Connected });
    // A second citizen asks while the only clerk is in the call: it waits, and is shown an estimate.
    let b2 = dir.booth_idx("booth-gudao-2").unwrap();
    desk.booth_connected(b2, now(14));
    let teacher = ServiceCode::new("teacher-cert".to_owned());
    send(
        &mut desk,
        20,
        Principal::Booth(b2),
        ClientMessage::RequestService { service: teacher, priority: protocol::Priority::Normal },
    );
    let second = desk.engine().booth_ticket(b2).unwrap();
    assert_eq!(
        desk.ticket_log.facts(second).and_then(|f| f.estimate_secs),
        Some(300),
        "one ahead: the item's handling time"
    );
    send(&mut desk, 73, c, ClientMessage::HangUp { call });

    let (rows, facts) = desk.ticket_log.take_rows();
    let id = format!("{}-{}", ticket.0 >> 32, ticket.0 & 0xFFFF_FFFF);
    let rows: Vec<_> = rows.into_iter().filter(|r| r.ticket_id == id).collect();
    assert!(rows.iter().all(|r| r.booth_region == "gudao"));
    let steps: Vec<_> = rows.iter().map(|r| (r.seq, r.kind.as_str(), (r.at_ms - WALL0) / 1000)).collect();
    assert_eq!(
        steps,
        vec![
            (1, "requested", 2),
            (2, "offered", 5),
            (3, "accepted", 12),
            (4, "media_up", 13),
            (5, "media_up", 13),
            (6, "call_ended", 73),
            (7, "closed", 73)
        ]
    );
    assert_eq!(rows[0].detail, r#"{"booth":"booth-gudao-1","priority":"normal","service":"teacher-cert"}"#);
    assert_eq!(facts.len(), 1);
    let f = &facts[0];
    assert_eq!((f.requested_ms, f.answered_ms, f.closed_ms), (WALL0 + 2_000, Some(WALL0 + 12_000), WALL0 + 73_000));
    assert_eq!(
        (f.home_hall.as_str(), f.answered_hall.as_deref(), f.answered_clerk.as_deref()),
        ("hekou", Some("hekou"), Some("clerk-hekou-1"))
    );
    assert_eq!((f.outcome.as_str(), f.talk_ms, f.requeues), ("served", 61_000, 0));
    assert_eq!(f.estimate_secs, None, "no clerk was taking calls while it waited: no estimate shown");
    assert_eq!(
        desk.ticket_log.take_counted(),
        vec![
            Counted::Offer { service: "teacher-cert".into() },
            Counted::Answered { hall: "hekou".into(), service: "teacher-cert".into() },
        ]
    );
    let open: Vec<u64> = desk.ticket_log.open_list().iter().map(|l| l.ticket).collect();
    assert_eq!(open, vec![second.0], "the second is still open");
}
