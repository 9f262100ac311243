//! A live call for the desk's tests: 河口1 in a call with 孤岛镇1号, three colleagues signed in
//! and available, and the desk's three-way state beside the engine.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use desk::effect::Effect;
use desk::three_way::{Floor, Invitee, ThreeWay};
use protocol::{CallId, ErrorCode, IceServer};
use routing::{Action, AwayReason, ClerkIdx, Directory, Engine, EngineConfig, Input, Priority};

pub struct World {
    pub dir: Arc<Directory>,
    pub engine: Engine,
    pub t0: Instant,
    pub connected: BTreeSet<ClerkIdx>,
    pub relayed: bool,
    pub three_way: ThreeWay,
}

impl World {
    /// 河口1 in a call with 孤岛镇1号; 河口2 and 河口3 (河口区) and 滨城1 (滨城区) signed in.
    pub fn in_a_call() -> (Self, CallId) {
        let dir = Arc::new(super::directory_with_clerks(&[
            ("clerk-hekou-2", "hekou"),
            ("clerk-hekou-3", "hekou"),
            ("clerk-bincheng-1", "bincheng"),
        ]));
        let t0 = Instant::now();
        let engine = Engine::new(dir.clone(), EngineConfig::default(), t0);
        let mut w =
            World { dir, engine, t0, connected: BTreeSet::new(), relayed: true, three_way: ThreeWay::default() };
        let first = w.clerk("clerk-hekou-1");
        w.sign_in(0, first);
        w.input(0, Input::ClerkSetAvailable { clerk: first });
        let booth = w.dir.booth_idx("booth-gudao-1").unwrap();
        let service = w.dir.service_idx("teacher-cert").unwrap();
        w.input(0, Input::BoothConnected { booth });
        let offer = w
            .input(1, Input::RequestService { booth, service, priority: Priority::Normal })
            .into_iter()
            .find_map(|a| match a {
                Action::OfferMade { offer, .. } => Some(offer),
                _ => None,
            })
            .expect("the free clerk is offered the ticket");
        let call = w
            .input(2, Input::AcceptOffer { clerk: first, offer })
            .into_iter()
            .find_map(|a| match a {
                Action::CallStarted { call, .. } => Some(CallId(call.0)),
                _ => None,
            })
            .expect("the call starts");
        let routing_call = routing::CallId(call.0);
        w.input(2, Input::MediaConnected { call: routing_call, by: routing::Party::Booth(booth) });
        w.input(2, Input::MediaConnected { call: routing_call, by: routing::Party::Clerk(first) });
        // The others sign in afterwards (the ticket was the first clerk's); 滨城1 longest available.
        for (secs, id) in [(3, "clerk-bincheng-1"), (4, "clerk-hekou-3"), (5, "clerk-hekou-2")] {
            let c = w.clerk(id);
            w.sign_in(secs, c);
            w.input(secs, Input::ClerkSetAvailable { clerk: c });
        }
        (w, call)
    }

    pub fn clerk(&self, id: &str) -> ClerkIdx {
        self.dir.clerk_idx(id).unwrap()
    }

    pub fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    pub fn sign_in(&mut self, secs: u64, clerk: ClerkIdx) {
        self.connected.insert(clerk);
        self.input(secs, Input::ClerkSignIn { clerk });
    }

    pub fn input(&mut self, secs: u64, input: Input) -> Vec<Action> {
        let now = self.at(secs);
        self.engine.handle_timeout(now);
        self.engine.handle_input(input, now).expect("the input is accepted");
        std::iter::from_fn(|| self.engine.poll_action()).collect()
    }

    pub fn floor(&self) -> Floor<'_> {
        Floor { engine: &self.engine, directory: &self.dir, relayed: self.relayed, connected: &self.connected }
    }

    pub fn invite(
        &mut self,
        secs: u64,
        inviter: &str,
        call: CallId,
        invitee: Invitee<'_>,
    ) -> Result<Vec<Effect>, ErrorCode> {
        let (inviter, now) = (self.clerk(inviter), self.at(secs));
        let mut three_way = std::mem::take(&mut self.three_way);
        let result = three_way.invite(&self.floor(), inviter, call, invitee, now);
        self.three_way = three_way;
        result
    }

    /// Joins as the shell does: the desk's check, the engine's `away`, the desk's decision.
    pub fn join(&mut self, secs: u64, clerk: &str, call: CallId) -> Result<Vec<Effect>, ErrorCode> {
        let (clerk, now) = (self.clerk(clerk), self.at(secs));
        self.three_way.may_join(&self.floor(), clerk, call, now)?;
        self.input(secs, Input::ClerkSetAway { clerk, reason: AwayReason::Assisting });
        let mut three_way = std::mem::take(&mut self.three_way);
        let effects = three_way.joined(&self.floor(), clerk, call, &ice_servers());
        self.three_way = three_way;
        Ok(effects)
    }

    pub fn leave(&mut self, call: CallId, available: bool) -> Vec<Effect> {
        let mut three_way = std::mem::take(&mut self.three_way);
        let effects = three_way.leave(&self.floor(), call.0, available);
        self.three_way = three_way;
        effects
    }
}

pub fn ice_servers() -> Vec<IceServer> {
    vec![IceServer { urls: vec!["stun:127.0.0.1:3478".into()], username: None, credential: None }]
}
