//! Property test of three-way calls and transfers: random invitations (by id and by item), joins,
//! leaves, transfers, hang-ups and time passing, fed to the engine and the desk as the driver's
//! shell feeds them. After every step: a guest assists a live call it is not the clerk of, and the
//! engine holds it `away (assisting)`; no clerk is the guest of two calls; a guest who leaves is
//! made available again, and the engine accepts it; the desk's snapshot restores to the same
//! state.

mod common;

use common::call::{ice_servers, World};
use desk::effect::Effect;
use desk::three_way::{Invitee, ThreeWay};
use desk::transfer;
use proptest::prelude::*;
use protocol::CallId;
use routing::{Action, AwayReason, ClerkIdx, ClerkState, Input, Party};

const CLERKS: [&str; 4] = ["clerk-hekou-1", "clerk-hekou-2", "clerk-hekou-3", "clerk-bincheng-1"];

/// `by`: `None` is the call's clerk (whoever it is now), else any clerk (mostly refused).
#[derive(Debug, Clone)]
enum Step {
    Invite { by: Option<usize>, invitee: usize },
    InviteByItem { by: Option<usize> },
    Join { clerk: usize },
    Leave,
    Transfer { by: Option<usize>, to: usize },
    HangUp { by_booth: bool },
    Wait { secs: u64 },
}

fn who() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![3 => Just(None), 1 => (0..4usize).prop_map(Some)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (who(), 0..4usize).prop_map(|(by, invitee)| Step::Invite { by, invitee }),
        2 => who().prop_map(|by| Step::InviteByItem { by }),
        4 => (0..4usize).prop_map(|clerk| Step::Join { clerk }),
        1 => Just(Step::Leave),
        2 => (who(), 0..4usize).prop_map(|(by, to)| Step::Transfer { by, to }),
        1 => any::<bool>().prop_map(|by_booth| Step::HangUp { by_booth }),
        2 => (1..40u64).prop_map(|secs| Step::Wait { secs }),
    ]
}

struct Run {
    w: World,
    call: CallId,
    secs: u64,
}

impl Run {
    /// Applies an input as the shell does, then what the desk decides about its actions. `false`
    /// if the engine refused the input.
    fn input(&mut self, input: Input) -> bool {
        let now = self.w.at(self.secs);
        self.w.engine.handle_timeout(now);
        let accepted = self.w.engine.handle_input(input, now).is_ok();
        self.drain();
        accepted
    }

    fn drain(&mut self) {
        let actions: Vec<Action> = std::iter::from_fn(|| self.w.engine.poll_action()).collect();
        let mut follow_ups = vec![];
        for action in actions {
            let effects = match action {
                Action::CallEnded { call, .. } => self.with_desk(|w, t| t.leave(&w.floor(), call.0, true)),
                Action::CallTransferred { call, ticket, booth, from, to, .. } => {
                    self.with_desk(|w, t| transfer::transferred(&w.floor(), t, call, ticket, booth, from, to))
                }
                _ => vec![],
            };
            follow_ups.extend(effects.into_iter().filter_map(|e| match e {
                Effect::FollowUp(input) => Some(input),
                _ => None,
            }));
        }
        for input in follow_ups {
            let now = self.w.at(self.secs);
            assert!(self.w.engine.handle_input(input.clone(), now).is_ok(), "the engine refused {input:?}");
            self.drain();
        }
    }

    fn with_desk(&mut self, decide: impl FnOnce(&World, &mut ThreeWay) -> Vec<Effect>) -> Vec<Effect> {
        let mut three_way = std::mem::take(&mut self.w.three_way);
        let effects = decide(&self.w, &mut three_way);
        self.w.three_way = three_way;
        effects
    }

    fn clerk(&self, i: usize) -> ClerkIdx {
        self.w.clerk(CLERKS[i])
    }

    /// `None`: the call's clerk now (the first clerk once the call is over).
    fn by(&self, by: Option<usize>) -> ClerkIdx {
        match by {
            Some(i) => self.clerk(i),
            None => self.w.engine.call(routing::CallId(self.call.0)).map_or(self.clerk(0), |v| v.clerk),
        }
    }

    fn apply(&mut self, step: &Step) {
        let (call, now) = (self.call, self.w.at(self.secs));
        match *step {
            Step::Invite { by, invitee } => {
                let inviter = self.by(by);
                let _ = self.with_desk(|w, t| {
                    t.invite(&w.floor(), inviter, call, Invitee::Clerk(CLERKS[invitee]), now).unwrap_or_default()
                });
            }
            Step::InviteByItem { by } => {
                let inviter = self.by(by);
                let _ = self.with_desk(|w, t| {
                    t.invite(&w.floor(), inviter, call, Invitee::Service("teacher-cert"), now).unwrap_or_default()
                });
            }
            Step::Join { clerk } => {
                let clerk = self.clerk(clerk);
                if self.w.three_way.may_join(&self.w.floor(), clerk, call, now).is_ok()
                    && self.input(Input::ClerkSetAway { clerk, reason: AwayReason::Assisting })
                {
                    let _ = self.with_desk(|w, t| t.joined(&w.floor(), clerk, call, &ice_servers()));
                }
            }
            Step::Leave => {
                let effects = self.with_desk(|w, t| t.leave(&w.floor(), call.0, true));
                for effect in effects {
                    if let Effect::FollowUp(input) = effect {
                        assert!(self.input(input.clone()), "the engine refused {input:?}");
                    }
                }
            }
            Step::Transfer { by, to } => {
                let from = self.by(by);
                if let Ok(to) = transfer::check(&self.w.floor(), &self.w.three_way, call.0, CLERKS[to]) {
                    self.input(Input::TransferCall { call: routing::CallId(call.0), from, to });
                }
            }
            Step::HangUp { by_booth } => {
                let Some(view) = self.w.engine.call(routing::CallId(call.0)) else { return };
                let by = if by_booth { Party::Booth(view.booth) } else { Party::Clerk(view.clerk) };
                self.input(Input::HangUp { call: routing::CallId(call.0), by });
            }
            Step::Wait { secs } => {
                self.secs += secs;
                let now = self.w.at(self.secs);
                self.w.engine.handle_timeout(now);
                self.drain();
            }
        }
    }

    fn check(&self) {
        let snap = self.w.three_way.snapshot(self.w.t0);
        let mut guests: Vec<u32> = snap.guests.iter().map(|(_, g)| *g).collect();
        guests.sort_unstable();
        guests.dedup();
        assert_eq!(guests.len(), snap.guests.len(), "a clerk is the guest of two calls: {snap:?}");
        for (call, guest) in &snap.guests {
            let guest = ClerkIdx(*guest);
            let view = self.w.engine.call(routing::CallId(*call)).expect("a guest assists a live call");
            assert_ne!(view.clerk, guest, "the call's clerk is not its guest");
            assert_eq!(self.w.engine.clerk_state(guest), ClerkState::Away(AwayReason::Assisting));
        }
        assert_eq!(ThreeWay::restore(self.w.t0, &snap), self.w.three_way, "the snapshot restores the same state");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn three_way_calls_and_transfers_keep_their_invariants(steps in prop::collection::vec(step(), 1..40)) {
        let (w, call) = World::in_a_call();
        let mut run = Run { w, call, secs: 10 };
        for step in &steps {
            run.apply(step);
            run.check();
        }
    }
}
