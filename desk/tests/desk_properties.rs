//! Property test of the whole desk: random steps — clerks signing in, dropping and signing out,
//! going available and away, taking and declining offers; booths coming and going, asking and
//! cancelling; media up and failing; hang-ups, transfers, re-queues, three-way invitations, joins
//! and leaves; wrap-ups ended and ratings given; time passing — fed to one [`Desk`] as the
//! server's shell feeds it (through [`Desk::apply`], the clients' requests as their messages),
//! each step logged. A message the desk refuses changes nothing. After
//! every step:
//! - the log replayed into a fresh desk gives the very same effects and the same state (engine,
//!   three-way calls, cases, what each booth was shown, clerks' open time, open tickets' logs and
//!   facts);
//! - the engine's own records agree, and no clerk is in two calls (as a call's clerk or guest);
//! - no ticket is closed twice;
//! - no message goes to a clerk without a connection.
//!
//! At the end the desk shuts down: every ticket that was opened is closed exactly once.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use desk::effect::Effect;
use desk::{Desk, Event, Now, Principal};
use proptest::prelude::*;
use protocol::{AwayReason, CaseOutcome, ClerkTargetState, ClientMessage, Rating, ServiceCode};
use routing::{Action, BoothIdx, ClerkIdx, Engine, EngineConfig, Input};

const CLERKS: usize = 4;
const BOOTHS: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    ClerkOn(usize),
    ClerkDrop(usize),
    ClerkOff(usize),
    Available(usize),
    Away(usize),
    Accept(usize),
    Decline(usize),
    EndWrapUp(usize),
    BoothOn(usize),
    BoothDrop(usize),
    Request(usize, bool),
    Cancel(usize),
    MediaUp(usize),
    MediaFailed(usize),
    HangUp(usize, bool),
    Transfer(usize, usize),
    Requeue(usize),
    Invite(usize, usize),
    InviteByItem(usize),
    Join(usize, usize),
    Leave(usize),
    Rate(usize, bool),
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..CLERKS;
    let b = 0..BOOTHS;
    prop_oneof![
        3 => c.clone().prop_map(Op::ClerkOn),
        1 => c.clone().prop_map(Op::ClerkDrop),
        1 => c.clone().prop_map(Op::ClerkOff),
        3 => c.clone().prop_map(Op::Available),
        1 => c.clone().prop_map(Op::Away),
        10 => c.clone().prop_map(Op::Accept),
        1 => c.clone().prop_map(Op::Decline),
        2 => c.clone().prop_map(Op::EndWrapUp),
        2 => b.clone().prop_map(Op::BoothOn),
        1 => b.clone().prop_map(Op::BoothDrop),
        5 => (b.clone(), any::<bool>()).prop_map(|(b, elderly)| Op::Request(b, elderly)),
        1 => b.clone().prop_map(Op::Cancel),
        5 => b.clone().prop_map(Op::MediaUp),
        1 => b.clone().prop_map(Op::MediaFailed),
        2 => (b.clone(), any::<bool>()).prop_map(|(b, by_booth)| Op::HangUp(b, by_booth)),
        1 => (b.clone(), c.clone()).prop_map(|(b, to)| Op::Transfer(b, to)),
        1 => b.clone().prop_map(Op::Requeue),
        2 => (b.clone(), c.clone()).prop_map(|(b, to)| Op::Invite(b, to)),
        1 => b.clone().prop_map(Op::InviteByItem),
        2 => (c.clone(), b.clone()).prop_map(|(c, b)| Op::Join(c, b)),
        1 => b.clone().prop_map(Op::Leave),
        1 => (b.clone(), any::<bool>()).prop_map(|(b, good)| Op::Rate(b, good)),
        3 => (1..15u64).prop_map(Op::Wait),
        1 => (15..400u64).prop_map(Op::Wait),
    ]
}

/// A desk and what the shell knows beside it: which clerks and booths are connected, and the
/// time. A request comes only from a party's connection, so a step that stands for one is skipped
/// when the party has none.
struct Shell {
    desk: Desk,
    connected: BTreeSet<ClerkIdx>,
    booths: BTreeSet<BoothIdx>,
    t0: Instant,
    secs: u64,
}

impl Shell {
    fn new(dir: &Arc<routing::Directory>, t0: Instant) -> Self {
        let engine = Engine::new(dir.clone(), EngineConfig::default(), t0);
        Self { desk: Desk::new(engine, true), connected: BTreeSet::new(), booths: BTreeSet::new(), t0, secs: 0 }
    }

    fn now(&self) -> Now {
        Now { at: self.t0 + Duration::from_secs(self.secs), wall_ms: 1_800_000_000_000 + self.secs as i64 * 1000 }
    }

    fn clerk(&self, i: usize) -> ClerkIdx {
        ClerkIdx(i as u32)
    }

    fn booth(&self, i: usize) -> BoothIdx {
        BoothIdx(i as u32)
    }

    fn call_of_booth(&self, b: usize) -> Option<routing::CallId> {
        self.desk.engine().call_of_booth(self.booth(b)).map(|v| v.call)
    }

    /// The booth's call, when its clerk is connected (to ask for something about it).
    fn clerks_call(&self, b: usize) -> Option<routing::CallView> {
        self.desk.engine().call_of_booth(self.booth(b)).filter(|v| self.connected.contains(&v.clerk))
    }

    /// Whether a step that stands for a message from this party can happen.
    fn on_line(&self, op: &Op) -> bool {
        let clerk = |c: usize| self.connected.contains(&self.clerk(c));
        let booth = |b: usize| self.booths.contains(&self.booth(b));
        match *op {
            Op::Available(c) | Op::Away(c) | Op::Accept(c) | Op::Decline(c) | Op::EndWrapUp(c) | Op::Join(c, _) => {
                clerk(c)
            }
            Op::Request(b, _) | Op::Cancel(b) | Op::Rate(b, _) | Op::HangUp(b, true) => booth(b),
            _ => true,
        }
    }

    /// Applies one step as the shell does — each event through [`Desk::apply`]: time passing, the
    /// step's messages, a party's coming or going — and returns every effect it led to. A message
    /// the desk refuses must change nothing.
    fn step(&mut self, op: &Op) -> Vec<Effect> {
        let mut out = Vec::new();
        if let Op::Wait(secs) = op {
            self.secs += secs;
        }
        if !self.on_line(op) {
            return Vec::new();
        }
        let now = self.now();
        // The timers due first, as every input does (and what they caused, drained): a refused
        // message then changes nothing.
        out.extend(self.desk.apply(Event::Timeout, now, &self.connected).effects);
        for (who, msg) in self.messages(op) {
            let before = self.state();
            let applied = self.desk.apply(Event::Message { who, msg: &msg }, now, &self.connected);
            if let Some(code) = applied.refused {
                assert_eq!(self.state(), before, "{} refused ({code:?}) changed the desk", msg.kind());
            }
            out.extend(applied.effects);
        }
        let event = match *op {
            Op::ClerkOn(c) => {
                self.connected.insert(self.clerk(c));
                Some(Event::Connected(Principal::Clerk(self.clerk(c))))
            }
            Op::ClerkDrop(c) if self.connected.remove(&self.clerk(c)) => {
                Some(Event::Disconnected(Principal::Clerk(self.clerk(c))))
            }
            Op::BoothOn(b) => {
                self.booths.insert(self.booth(b));
                Some(Event::Connected(Principal::Booth(self.booth(b))))
            }
            Op::BoothDrop(b) if self.booths.remove(&self.booth(b)) => {
                Some(Event::Disconnected(Principal::Booth(self.booth(b))))
            }
            _ => None,
        };
        if let Some(event) = event {
            out.extend(self.desk.apply(event, now, &self.connected).effects);
        }
        if let Op::ClerkOff(c) = *op {
            if self.connected.remove(&self.clerk(c)) {
                let sign_out = Input::ClerkSignOut { clerk: self.clerk(c) };
                out.extend(self.desk.apply(Event::Input(&sign_out), now, &self.connected).effects);
            }
        }
        out
    }

    /// The messages a step stands for, each from the party that sends it.
    fn messages(&self, op: &Op) -> Vec<(Principal, ClientMessage)> {
        use ClientMessage as M;
        let clerk = |c: usize| Principal::Clerk(self.clerk(c));
        let booth = |b: usize| Principal::Booth(self.booth(b));
        let wire = |call: routing::CallId| protocol::CallId(call.0);
        let id_of = |c: usize| self.desk.engine().directory().clerk(self.clerk(c)).id.clone();
        let teacher = || ServiceCode::new("teacher-cert".to_owned());
        match *op {
            Op::Available(c) => vec![(clerk(c), M::SetState { state: ClerkTargetState::Available, reason: None })],
            Op::Away(c) => {
                vec![(clerk(c), M::SetState { state: ClerkTargetState::Away, reason: Some(AwayReason::Break) })]
            }
            Op::Accept(c) | Op::Decline(c) => match self.desk.engine().offer_of(self.clerk(c)) {
                Some((offer, _)) if matches!(op, Op::Accept(_)) => {
                    vec![(clerk(c), M::AcceptOffer { offer: protocol::OfferId(offer.0) })]
                }
                Some((offer, _)) => vec![(clerk(c), M::DeclineOffer { offer: protocol::OfferId(offer.0) })],
                None => vec![],
            },
            Op::EndWrapUp(c) => {
                vec![(clerk(c), M::EndWrapUp { outcome: Some(CaseOutcome::Completed), note: Some("办结".into()) })]
            }
            Op::Request(b, elderly) => {
                let priority = if elderly { protocol::Priority::Elderly } else { protocol::Priority::Normal };
                vec![(booth(b), M::RequestService { service: teacher(), priority })]
            }
            Op::Cancel(b) => match self.desk.engine().booth_ticket(self.booth(b)) {
                Some(ticket) => vec![(booth(b), M::CancelTicket { ticket: protocol::TicketId(ticket.0) })],
                None => vec![],
            },
            Op::MediaUp(b) | Op::MediaFailed(b) => match self.desk.engine().call_of_booth(self.booth(b)) {
                Some(view) if matches!(op, Op::MediaUp(_)) => {
                    let up = M::MediaState { call: wire(view.call), state: protocol::MediaState::Connected };
                    vec![(booth(b), up.clone()), (Principal::Clerk(view.clerk), up)]
                }
                Some(view) => {
                    vec![(booth(b), M::MediaState { call: wire(view.call), state: protocol::MediaState::Failed })]
                }
                None => vec![],
            },
            Op::HangUp(b, by_booth) => {
                let call = if by_booth { self.desk.engine().call_of_booth(self.booth(b)) } else { self.clerks_call(b) };
                match call {
                    Some(view) if by_booth => vec![(booth(b), M::HangUp { call: wire(view.call) })],
                    Some(view) => vec![(Principal::Clerk(view.clerk), M::HangUp { call: wire(view.call) })],
                    None => vec![],
                }
            }
            Op::Transfer(b, to) => match self.clerks_call(b) {
                Some(view) => {
                    vec![(Principal::Clerk(view.clerk), M::TransferCall { call: wire(view.call), clerk: id_of(to) })]
                }
                None => vec![],
            },
            Op::Requeue(b) => match self.clerks_call(b) {
                Some(view) => {
                    vec![(Principal::Clerk(view.clerk), M::RequeueCall { call: wire(view.call), service: teacher() })]
                }
                None => vec![],
            },
            Op::Invite(b, _) | Op::InviteByItem(b) => match self.clerks_call(b) {
                Some(view) => {
                    let (invited, service) = match op {
                        Op::Invite(_, to) => (Some(id_of(*to)), None),
                        _ => (None, Some(teacher())),
                    };
                    vec![(
                        Principal::Clerk(view.clerk),
                        M::InviteToCall { call: wire(view.call), clerk: invited, service },
                    )]
                }
                None => vec![],
            },
            Op::Join(c, b) => match self.call_of_booth(b) {
                Some(call) => vec![(clerk(c), M::JoinCall { call: wire(call) })],
                None => vec![],
            },
            Op::Leave(b) => {
                let call = self.call_of_booth(b);
                let guest = call.and_then(|call| self.desk.three_way.guest_of(call.0));
                match (call, guest) {
                    (Some(call), Some(guest)) if self.connected.contains(&guest) => {
                        vec![(Principal::Clerk(guest), M::LeaveCall { call: wire(call) })]
                    }
                    _ => vec![],
                }
            }
            Op::Rate(b, good) => {
                let rating = if good { Rating::VerySatisfied } else { Rating::Dissatisfied };
                // The booth rates the ticket it may rate, if any: its last served one.
                let ticket =
                    self.desk.cases.snapshot().rateable.iter().find(|(bb, _)| *bb == self.booth(b).0).map(|x| x.1);
                match ticket {
                    Some(t) => vec![(booth(b), M::RateService { ticket: protocol::TicketId(t), rating, reason: None })],
                    None => vec![],
                }
            }
            _ => vec![],
        }
    }

    /// The desk's state, in a form two desks can be compared by.
    fn state(&self) -> String {
        let d = &self.desk;
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            d.engine().snapshot(self.t0).to_words(),
            d.three_way.snapshot(self.t0),
            d.cases.snapshot(),
            d.shown.list(),
            d.clerk_time.open_list(),
            d.pace.snapshot(self.t0),
            d.ticket_log.open_list(),
        )
    }
}

fn directory() -> Arc<routing::Directory> {
    Arc::new(common::directory_with_clerks(&[
        ("clerk-hekou-2", "hekou"),
        ("clerk-hekou-3", "hekou"),
        ("clerk-bincheng-1", "bincheng"),
    ]))
}

/// What must hold after every step, whatever the inputs.
fn check_step(
    shell: &Shell,
    effects: &[Effect],
    closed: &mut HashMap<u64, u32>,
    running: bool,
) -> Result<(), TestCaseError> {
    let engine = shell.desk.engine();
    // A shut-down engine keeps its clerks' last states with no offer or call behind them: its
    // records are checked while it runs.
    if running {
        engine.check_invariants().map_err(TestCaseError::fail)?;
    }
    let mut busy = BTreeSet::new();
    for call in engine.live_calls() {
        prop_assert!(busy.insert(call.clerk), "a clerk is the clerk of two calls");
        if let Some(guest) = shell.desk.three_way.guest_of(call.call.0) {
            prop_assert!(guest != call.clerk, "a call's clerk is its own guest");
            prop_assert!(busy.insert(guest), "a guest is in another call too");
        }
    }
    for effect in effects {
        match effect {
            Effect::ToClerk(clerk, msg) => {
                prop_assert!(shell.connected.contains(clerk), "a message for a clerk without a connection: {msg:?}");
            }
            Effect::Noted(Action::TicketClosed { ticket, .. }) => {
                let n = closed.entry(ticket.0).or_default();
                *n += 1;
                prop_assert_eq!(*n, 1, "ticket {} closed twice", ticket.0);
            }
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_desk_replays_to_the_same_effects_and_state_and_keeps_its_promises(steps in prop::collection::vec(op(), 1..60)) {
        // Every run starts on an open floor (booths up, clerks signed in and available), so that
        // calls, transfers and three-way calls are common.
        let mut ops: Vec<Op> = (0..BOOTHS).map(Op::BoothOn).collect();
        ops.extend((0..CLERKS).flat_map(|c| [Op::ClerkOn(c), Op::Available(c)]));
        ops.extend(steps);
        let dir = directory();
        let t0 = Instant::now();
        let mut live = Shell::new(&dir, t0);
        let mut log: Vec<Op> = Vec::new();
        let mut said: Vec<Effect> = Vec::new();
        let mut closed = HashMap::new();
        let mut opened = BTreeSet::new();
        for op in &ops {
            let effects = live.step(op);
            check_step(&live, &effects, &mut closed, true)?;
            for e in &effects {
                if let Effect::Noted(Action::TicketOpened { ticket, .. }) = e {
                    opened.insert(ticket.0);
                }
            }
            said.extend(effects);
            log.push(op.clone());

            // The log so far, replayed into a fresh desk: the same effects, the same state.
            let mut replayed = Shell::new(&dir, t0);
            let again: Vec<Effect> = log.iter().flat_map(|op| replayed.step(op)).collect();
            prop_assert_eq!(&again, &said, "a replay of the log decided differently");
            prop_assert_eq!(replayed.state(), live.state());
        }
        // Shut down: every ticket ever opened ends, exactly once.
        let now = live.now();
        let _ = live.desk.input(Input::Shutdown, now.at);
        let effects = live.desk.drain(now, &live.connected);
        check_step(&live, &effects, &mut closed, false)?;
        prop_assert_eq!(live.desk.engine().open_ticket_count(), 0);
        let closed: BTreeSet<u64> = closed.keys().copied().collect();
        prop_assert_eq!(closed, opened, "every ticket opened is closed exactly once");
    }
}
