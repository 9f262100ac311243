//! Property tests over random event sequences: the routing invariants hold whatever happens, and
//! the engine is deterministic — replaying the inputs it was given, at the same instants, rebuilds
//! the same state and the same actions after every step (what the applied log relies on).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Harness, SERVICES};
use proptest::prelude::*;
use xiaowu_routing::*;

#[derive(Debug, Clone)]
enum Op {
    SignIn(u32),
    SignOut(u32),
    ClerkDrop(u32),
    Available(u32),
    Away(u32),
    EndWrapUp(u32),
    Accept(u32),
    Decline(u32),
    BoothUp(u32),
    BoothDown(u32),
    Request(u32, u32, Priority),
    Cancel(u32),
    HangUpByBooth(u32),
    HangUpByClerk(u32),
    MediaUp(u32, bool),
    MediaFail(u32),
    Transfer(u32, u32),
    Requeue(u32, u32),
    Advance(u64),
    /// Time moves on without the timers being fired: the next input meets deadlines already due.
    Skip(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let clerk = 0u32..6;
    let booth = 0u32..5;
    let priority = prop_oneof![Just(Priority::Normal), Just(Priority::Elderly), Just(Priority::Appointment)];
    prop_oneof![
        2 => clerk.clone().prop_map(Op::SignIn),
        1 => clerk.clone().prop_map(Op::SignOut),
        2 => clerk.clone().prop_map(Op::ClerkDrop),
        3 => clerk.clone().prop_map(Op::Available),
        2 => clerk.clone().prop_map(Op::Away),
        2 => clerk.clone().prop_map(Op::EndWrapUp),
        3 => clerk.clone().prop_map(Op::Accept),
        2 => clerk.clone().prop_map(Op::Decline),
        2 => booth.clone().prop_map(Op::BoothUp),
        1 => booth.clone().prop_map(Op::BoothDown),
        4 => (booth.clone(), 0u32..2, priority).prop_map(|(b, s, p)| Op::Request(b, s, p)),
        1 => booth.clone().prop_map(Op::Cancel),
        2 => booth.prop_map(Op::HangUpByBooth),
        2 => clerk.clone().prop_map(Op::HangUpByClerk),
        2 => (clerk.clone(), any::<bool>()).prop_map(|(c, b)| Op::MediaUp(c, b)),
        1 => clerk.clone().prop_map(Op::MediaFail),
        1 => (clerk.clone(), clerk.clone()).prop_map(|(a, b)| Op::Transfer(a, b)),
        1 => (clerk.clone(), 0u32..2).prop_map(|(c, s)| Op::Requeue(c, s)),
        3 => (0u64..45).prop_map(Op::Advance),
        2 => (0u64..45).prop_map(Op::Skip),
    ]
}

/// What the actions say, tracked independently of the engine.
#[derive(Default)]
struct Ledger {
    open: BTreeSet<TicketId>,
    closed: BTreeMap<TicketId, TicketEndReason>,
    offer_by_clerk: BTreeMap<ClerkIdx, OfferId>,
    offer_by_ticket: BTreeMap<TicketId, OfferId>,
    offers: BTreeMap<OfferId, (TicketId, ClerkIdx)>,
    call_by_clerk: BTreeMap<ClerkIdx, CallId>,
    connected: BTreeSet<TicketId>,
}

impl Ledger {
    fn apply(&mut self, action: &Action) -> Result<(), String> {
        match *action {
            Action::TicketOpened { ticket, .. } if !self.open.insert(ticket) || self.closed.contains_key(&ticket) => {
                return Err(format!("{ticket:?} opened twice"));
            }
            Action::TicketClosed { ticket, reason, .. } => {
                if !self.open.remove(&ticket) {
                    return Err(format!("{ticket:?} closed but not open"));
                }
                if self.closed.insert(ticket, reason).is_some() {
                    return Err(format!("{ticket:?} closed twice"));
                }
                if self.offer_by_ticket.contains_key(&ticket) {
                    return Err(format!("{ticket:?} closed with an offer out"));
                }
                self.connected.remove(&ticket);
            }
            Action::OfferMade { offer, ticket, clerk, .. } => {
                if self.offer_by_clerk.contains_key(&clerk) || self.call_by_clerk.contains_key(&clerk) {
                    return Err(format!("{clerk:?} offered {ticket:?} while holding an offer or call"));
                }
                if self.offer_by_ticket.contains_key(&ticket) || self.connected.contains(&ticket) {
                    return Err(format!("{ticket:?} offered to a second clerk"));
                }
                if !self.open.contains(&ticket) {
                    return Err(format!("{ticket:?} offered but not open"));
                }
                self.offer_by_clerk.insert(clerk, offer);
                self.offer_by_ticket.insert(ticket, offer);
                self.offers.insert(offer, (ticket, clerk));
            }
            Action::OfferRevoked { offer, .. } => self.end_offer(offer)?,
            // Widening belongs to a ticket's waiting phase: never while it is offered or in a call.
            Action::TicketWidened { ticket, .. }
                if self.offer_by_ticket.contains_key(&ticket) || self.connected.contains(&ticket) =>
            {
                return Err(format!("{ticket:?} widened while offered or in a call"));
            }
            Action::CallStarted { call, ticket, clerk, .. } => {
                let offer = self.offer_by_ticket.get(&ticket).copied().ok_or("call without offer")?;
                self.end_offer(offer)?;
                if self.call_by_clerk.insert(clerk, call).is_some() {
                    return Err(format!("{clerk:?} in two calls"));
                }
                self.connected.insert(ticket);
            }
            Action::CallEnded { clerk, ticket, .. } => {
                self.call_by_clerk.remove(&clerk).ok_or("call ended twice")?;
                self.connected.remove(&ticket);
            }
            Action::CallTransferred { call, from, to, .. } => {
                if self.call_by_clerk.remove(&from) != Some(call) {
                    return Err(format!("{call:?} transferred from {from:?}, not its clerk"));
                }
                if self.offer_by_clerk.contains_key(&to) || self.call_by_clerk.insert(to, call).is_some() {
                    return Err(format!("{call:?} transferred to {to:?}, who holds an offer or call"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end_offer(&mut self, offer: OfferId) -> Result<(), String> {
        let (ticket, clerk) = self.offers.remove(&offer).ok_or(format!("{offer:?} ended twice"))?;
        self.offer_by_clerk.remove(&clerk);
        self.offer_by_ticket.remove(&ticket);
        Ok(())
    }
}

/// The input an op stands for in the engine's current state (`None` for a time step or an op
/// that has nothing to act on).
fn input_of(h: &mut Harness, op: &Op) -> Option<Input> {
    let c = |i: u32| ClerkIdx(i);
    let b = |i: u32| BoothIdx(i);
    match *op {
        Op::SignIn(i) => Some(Input::ClerkSignIn { clerk: c(i) }),
        Op::SignOut(i) => Some(Input::ClerkSignOut { clerk: c(i) }),
        Op::ClerkDrop(i) => Some(Input::ClerkDisconnected { clerk: c(i) }),
        Op::Available(i) => Some(Input::ClerkSetAvailable { clerk: c(i) }),
        Op::Away(i) => Some(Input::ClerkSetAway { clerk: c(i), reason: AwayReason::Break }),
        Op::EndWrapUp(i) => Some(Input::EndWrapUp { clerk: c(i) }),
        Op::Accept(i) => {
            let offer = h.engine.offer_of(c(i)).map_or(OfferId(u64::MAX), |(o, _)| o);
            Some(Input::AcceptOffer { clerk: c(i), offer })
        }
        Op::Decline(i) => {
            let offer = h.engine.offer_of(c(i)).map_or(OfferId(u64::MAX), |(o, _)| o);
            Some(Input::DeclineOffer { clerk: c(i), offer })
        }
        Op::BoothUp(i) => Some(Input::BoothConnected { booth: b(i) }),
        Op::BoothDown(i) => Some(Input::BoothDisconnected { booth: b(i) }),
        Op::Request(i, s, p) => Some(Input::RequestService { booth: b(i), service: ServiceIdx(s), priority: p }),
        Op::Cancel(i) => {
            let ticket = h.engine.booth_ticket(b(i)).unwrap_or(TicketId(u64::MAX));
            Some(Input::CancelTicket { booth: b(i), ticket })
        }
        Op::HangUpByBooth(i) => {
            h.engine.call_of_booth(b(i)).map(|v| Input::HangUp { call: v.call, by: Party::Booth(b(i)) })
        }
        Op::HangUpByClerk(i) => h.engine.call_of(c(i)).map(|v| Input::HangUp { call: v.call, by: Party::Clerk(c(i)) }),
        Op::MediaUp(i, by_booth) => h.engine.call_of(c(i)).map(|v| Input::MediaConnected {
            call: v.call,
            by: if by_booth { Party::Booth(v.booth) } else { Party::Clerk(c(i)) },
        }),
        Op::MediaFail(i) => h.engine.call_of(c(i)).map(|v| Input::MediaFailed { call: v.call, by: Party::Clerk(c(i)) }),
        Op::Transfer(i, j) => {
            h.engine.call_of(c(i)).map(|v| Input::TransferCall { call: v.call, from: c(i), to: c(j) })
        }
        Op::Requeue(i, s) => {
            h.engine.call_of(c(i)).map(|v| Input::RequeueCall { call: v.call, clerk: c(i), service: ServiceIdx(s) })
        }
        Op::Advance(_) | Op::Skip(_) => None,
    }
}

/// What the applied log holds: each input or timer run, with its instant.
#[derive(Clone)]
enum Logged {
    Input(Input, std::time::Instant),
    Timeout(std::time::Instant),
}

/// Runs `ops` on a live engine, logging every input and timer run; after every op a fresh engine
/// replays the log so far and must describe the same state and have emitted the same actions.
/// Random "router deaths" are replays from scratch at arbitrary points, which is what every
/// step's check is.
fn run_replayed(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut live = Harness::with_config(EngineConfig::default());
    let t0 = live.t0;
    let mut log: Vec<Logged> = Vec::new();
    let mut live_actions: Vec<Action> = Vec::new();
    for op in ops {
        if let Op::Advance(s) = op {
            let target = live.now + Duration::from_secs(*s);
            while let Some(at) = live.engine.poll_timeout().filter(|at| *at <= target) {
                live.now = live.now.max(at);
                live.engine.handle_timeout(live.now);
                log.push(Logged::Timeout(live.now));
            }
            live.now = target;
        } else if let Op::Skip(s) = op {
            live.now += Duration::from_secs(*s);
        } else if let Some(input) = input_of(&mut live, op) {
            // The driver fires due timers before every input and logs that run.
            if live.engine.poll_timeout().is_some_and(|at| at <= live.now) {
                live.engine.handle_timeout(live.now);
                log.push(Logged::Timeout(live.now));
            }
            if live.engine.handle_input(input.clone(), live.now).is_ok() {
                log.push(Logged::Input(input, live.now));
            }
        }
        live_actions.extend(live.drain());
        let mut replica = Engine::new(live.dir.clone(), EngineConfig::default(), t0);
        let mut replica_actions = Vec::new();
        for entry in &log {
            match entry {
                Logged::Input(input, at) => {
                    prop_assert!(replica.handle_input(input.clone(), *at).is_ok(), "replayed {input:?} was refused");
                }
                Logged::Timeout(at) => replica.handle_timeout(*at),
            }
            replica_actions.extend(std::iter::from_fn(|| replica.poll_action()));
        }
        prop_assert_eq!(&replica_actions, &live_actions, "after {:?}", op);
        prop_assert_eq!(replica.describe(t0), live.engine.describe(t0), "after {:?}", op);
    }
    Ok(())
}

/// Runs `ops` on a live engine; after op number `cut` a snapshot is taken, written as numbers,
/// read back and restored, and from then on the restored engine gets the same inputs and timer runs as
/// the live one: it must emit the same actions, describe the same state after every step, and
/// keep its invariants.
fn run_snapshotted(ops: &[Op], cut: usize) -> Result<(), TestCaseError> {
    let mut live = Harness::with_config(EngineConfig::default());
    let t0 = live.t0;
    let cut = cut % ops.len();
    let mut replica: Option<Engine> = None;
    for (i, op) in ops.iter().enumerate() {
        let mut step: Vec<Logged> = Vec::new();
        if let Op::Advance(s) = op {
            let target = live.now + Duration::from_secs(*s);
            while let Some(at) = live.engine.poll_timeout().filter(|at| *at <= target) {
                live.now = live.now.max(at);
                live.engine.handle_timeout(live.now);
                step.push(Logged::Timeout(live.now));
            }
            live.now = target;
        } else if let Op::Skip(s) = op {
            live.now += Duration::from_secs(*s);
        } else if let Some(input) = input_of(&mut live, op) {
            if live.engine.poll_timeout().is_some_and(|at| at <= live.now) {
                live.engine.handle_timeout(live.now);
                step.push(Logged::Timeout(live.now));
            }
            if live.engine.handle_input(input.clone(), live.now).is_ok() {
                step.push(Logged::Input(input, live.now));
            }
        }
        let live_actions = live.drain();
        if let Some(r) = replica.as_mut() {
            let mut actions = Vec::new();
            for entry in step {
                match entry {
                    Logged::Input(input, at) => {
                        prop_assert!(r.handle_input(input.clone(), at).is_ok(), "{input:?} refused after restore");
                    }
                    Logged::Timeout(at) => r.handle_timeout(at),
                }
                actions.extend(std::iter::from_fn(|| r.poll_action()));
            }
            prop_assert_eq!(&actions, &live_actions, "after {:?}", op);
            prop_assert_eq!(r.describe(t0), live.engine.describe(t0), "after {:?}", op);
            r.check_invariants().map_err(|e| TestCaseError::fail(format!("restored, after {op:?}: {e}")))?;
        }
        if i == cut {
            // Written as numbers and read back, as the server stores it.
            let snap = EngineSnapshot::from_words(&live.engine.snapshot(t0).to_words()).unwrap();
            prop_assert_eq!(&snap, &live.engine.snapshot(t0));
            let restored = Engine::restore(live.dir.clone(), EngineConfig::default(), t0, &snap).unwrap();
            prop_assert_eq!(&restored.snapshot(t0), &snap, "a restored engine snapshots the same");
            prop_assert_eq!(restored.describe(t0), live.engine.describe(t0));
            replica = Some(restored);
        }
    }
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut h = Harness::with_config(EngineConfig::default());
    h.engine.enable_audit();
    let mut ledger = Ledger::default();
    for op in ops {
        let input = match *op {
            Op::Advance(s) => {
                h.advance(Duration::from_secs(s));
                None
            }
            Op::Skip(s) => {
                h.now += Duration::from_secs(s);
                None
            }
            _ => input_of(&mut h, op),
        };
        if let Some(input) = input {
            // Deadlines already due are the timers' (as in the driver); what the input queues is
            // its own, and a refused one queues nothing.
            h.engine.handle_timeout(h.now);
            for action in h.drain() {
                ledger.apply(&action).map_err(TestCaseError::fail)?;
            }
            let refused = h.engine.handle_input(input.clone(), h.now).is_err();
            if refused {
                prop_assert!(h.engine.poll_action().is_none(), "refused {input:?} still queued an action");
            }
        }
        for action in h.drain() {
            ledger.apply(&action).map_err(TestCaseError::fail)?;
        }
        h.engine.check_invariants().map_err(|e| TestCaseError::fail(format!("after {op:?}: {e}")))?;
        prop_assert!(h.engine.audit_violations().is_empty(), "{:?}", h.engine.audit_violations());
        // Every open ticket the engine knows is open in the ledger and vice versa.
        prop_assert_eq!(h.engine.open_ticket_count(), ledger.open.len());
        same_open_views(&h)?;
    }
    h.input(Input::Shutdown).unwrap();
    for action in h.drain() {
        ledger.apply(&action).map_err(TestCaseError::fail)?;
    }
    prop_assert!(ledger.open.is_empty(), "tickets left open after shutdown: {:?}", ledger.open);
    prop_assert!(ledger.offers.is_empty() && ledger.call_by_clerk.is_empty());
    Ok(())
}

/// An item's open views from one walk are each open ticket's own view.
fn same_open_views(h: &Harness) -> Result<(), TestCaseError> {
    for s in 0..SERVICES.len() {
        let service = ServiceIdx(s as u32);
        let mut walked = h.engine.open_views(service, h.now);
        walked.sort_by_key(|v| v.ticket);
        let one_by_one: Vec<TicketView> =
            h.engine.open_tickets(service).filter_map(|t| h.engine.ticket_view(t, h.now)).collect();
        prop_assert_eq!(walked, one_by_one);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_event_sequences(ops in prop::collection::vec(op(), 1..120)) {
        run(&ops)?;
    }

    #[test]
    fn a_replay_of_the_log_rebuilds_the_same_engine_after_every_step(ops in prop::collection::vec(op(), 1..80)) {
        run_replayed(&ops)?;
    }

    #[test]
    fn an_engine_restored_from_a_snapshot_goes_on_as_the_live_one(
        ops in prop::collection::vec(op(), 1..120),
        cut in 0..120usize,
    ) {
        run_snapshotted(&ops, cut)?;
    }
}
