//! The desk with the engine inside it, under the engine bench's load: 10,000 waiting tickets,
//! 2,000 clerks (all busy), 200 regions, 50 service items. Each measured sample is one client
//! message as the server's shell feeds it — `Desk::on_message` and `Desk::drain`, every action
//! turned into effects, each ticket's event rows and facts written into the desk's log (taken after
//! each message, as the shell takes them after each batch). The steady state is the engine
//! bench's cycle (a clerk hangs up, ends wrap-up with an outcome — a case record to write — and is
//! matched at once, accepts, both parties report the call's media up; the freed booth asks
//! again), and every eighth cycle is a warm transfer instead: a clerk ends its call and goes away,
//! is invited into another clerk's call by id, joins it as its guest, and takes it over; the first
//! clerk ends wrap-up and is matched. Virtual time advances 1 ms per input, so the
//! paced status refresh (at most once a second) rides on one input in 1,000. Reports inputs/s and
//! p50/p99/max per input, and the decisions and the refresh apart.
//!
//! Run: `cargo bench -p xiaowu-desk --bench desk` (add `-- --inputs N` to change the count).

extern crate routing as xiaowu_routing;

#[path = "../../routing/benches/common/mod.rs"]
mod floor;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use desk::effect::Effect;
use desk::{Desk, Now, Principal};
use floor::{directory, Latencies, Rng, CLERKS, SERVICES};
use protocol::{CaseOutcome, ClerkTargetState, ClientMessage, ErrorCode, ServiceCode};
use routing::*;

struct Bench {
    desk: Desk,
    connected: BTreeSet<ClerkIdx>,
    t0: Instant,
    now: Instant,
    call_of: HashMap<ClerkIdx, CallId>,
    offer_of: HashMap<ClerkIdx, OfferId>,
    samples: Vec<Duration>,
    /// Per measured input: its decisions alone (`input` and `route_actions`), and the status
    /// refresh that completes its drain.
    decide: Vec<Duration>,
    refresh: Vec<Duration>,
    effects: usize,
}

impl Bench {
    fn now(&self) -> Now {
        Now { at: self.now, wall_ms: 1_800_000_000_000 + self.now.duration_since(self.t0).as_millis() as i64 }
    }

    /// One input and its drain; the effects are tracked as the shell would read them.
    fn step(&mut self, input: Input, measure: bool) -> Result<(), Reject> {
        self.now += Duration::from_millis(1);
        let now = self.now();
        let t = Instant::now();
        let r = self.desk.input(input, now.at);
        let mut effects = self.desk.route_actions(now, &self.connected);
        let decided = t.elapsed();
        effects.extend(self.desk.refresh_statuses(now.at));
        let whole = t.elapsed();
        if measure {
            self.samples.push(whole);
            self.decide.push(decided);
            self.refresh.push(whole - decided);
        }
        self.track(effects);
        r
    }

    /// One client message from `who` and its drain, measured like an input.
    fn send(&mut self, who: Principal, msg: ClientMessage) -> Result<(), ErrorCode> {
        self.now += Duration::from_millis(1);
        let now = self.now();
        let t = Instant::now();
        let (mut effects, decided_now) = match self.desk.on_message(who, &msg, now, &self.connected) {
            Ok(effects) => (effects, Ok(())),
            Err(code) => (Vec::new(), Err(code)),
        };
        effects.extend(self.desk.route_actions(now, &self.connected));
        let decided = t.elapsed();
        effects.extend(self.desk.refresh_statuses(now.at));
        let whole = t.elapsed();
        self.samples.push(whole);
        self.decide.push(decided);
        self.refresh.push(whole - decided);
        self.track(effects);
        decided_now
    }

    fn track(&mut self, effects: Vec<Effect>) {
        self.effects += effects.len();
        // The clerks' closed stretches of time, the tickets' event rows and facts, and the counts
        // go to the records writer and the metrics after each batch.
        let _ = self.desk.clerk_time.take_closed();
        let _ = self.desk.ticket_log.take_rows();
        let _ = self.desk.ticket_log.take_counted();
        for effect in effects {
            match effect {
                Effect::Noted(Action::OfferMade { offer, clerk, .. }) => {
                    self.offer_of.insert(clerk, offer);
                }
                Effect::Noted(Action::CallStarted { call, clerk, .. }) => {
                    self.offer_of.remove(&clerk);
                    self.call_of.insert(clerk, call);
                }
                Effect::Noted(Action::CallEnded { clerk, .. }) => {
                    self.call_of.remove(&clerk);
                }
                Effect::Noted(Action::CallTransferred { call, from, to, .. }) => {
                    self.call_of.remove(&from);
                    self.call_of.insert(to, call);
                }
                Effect::Noted(Action::OfferRevoked { clerk, .. }) => {
                    self.offer_of.remove(&clerk);
                }
                _ => {}
            }
        }
    }

    /// Every outstanding offer is accepted (each a measured input); returns how many.
    fn accept_all(&mut self) -> usize {
        let offers: Vec<(ClerkIdx, OfferId)> = self.offer_of.iter().map(|(c, o)| (*c, *o)).collect();
        for (clerk, offer) in &offers {
            let accept = ClientMessage::AcceptOffer { offer: protocol::OfferId(offer.0) };
            self.send(Principal::Clerk(*clerk), accept).expect("a tracked offer is live");
            self.media_up(*clerk, true);
        }
        offers.len()
    }

    /// Both parties report the clerk's new call's media up, as a booth and a console do once
    /// connected (else the call would end as a media failure after the media timeout).
    fn media_up(&mut self, clerk: ClerkIdx, measure: bool) {
        let Some(&call) = self.call_of.get(&clerk) else { return };
        let booth = self.desk.engine().call(call).expect("tracked call is live").booth;
        if !measure {
            self.step(Input::MediaConnected { call, by: Party::Booth(booth) }, false).expect("the call is live");
            self.step(Input::MediaConnected { call, by: Party::Clerk(clerk) }, false).expect("the call is live");
            return;
        }
        let up = ClientMessage::MediaState { call: protocol::CallId(call.0), state: protocol::MediaState::Connected };
        self.send(Principal::Booth(booth), up.clone()).expect("the call is live");
        self.send(Principal::Clerk(clerk), up).expect("the call is live");
    }

    /// `guest` (in a call) ends it and steps away, is invited into `host`'s call, joins it and
    /// takes it over; `host` ends wrap-up. Returns the booth `guest` served (free to ask again).
    fn warm_transfer(&mut self, host: ClerkIdx, guest: ClerkIdx) -> BoothIdx {
        let (host_call, guest_call) = (self.call_of[&host], self.call_of[&guest]);
        let freed = self.desk.engine().call(guest_call).expect("tracked call is live").booth;
        let (host_p, guest_p) = (Principal::Clerk(host), Principal::Clerk(guest));
        self.send(guest_p, ClientMessage::HangUp { call: protocol::CallId(guest_call.0) }).unwrap();
        let away = ClientMessage::SetState { state: ClerkTargetState::Away, reason: Some(protocol::AwayReason::Break) };
        self.send(guest_p, away).unwrap();
        let wire = protocol::CallId(host_call.0);
        let id = self.desk.engine().directory().clerk(guest).id.clone();
        let invite = ClientMessage::InviteToCall { call: wire, clerk: Some(id.clone()), service: None };
        self.send(host_p, invite).expect("an away clerk can be invited");
        self.send(guest_p, ClientMessage::JoinCall { call: wire }).expect("the invitation is open");
        self.send(host_p, ClientMessage::TransferCall { call: wire, clerk: id }).unwrap();
        self.send(host_p, end_wrap_up()).unwrap();
        freed
    }
}

/// The clerk ends wrap-up with an outcome: a case record to write.
fn end_wrap_up() -> ClientMessage {
    ClientMessage::EndWrapUp { outcome: Some(CaseOutcome::Completed), note: None }
}

fn main() {
    let inputs: usize =
        std::env::args().skip_while(|a| a != "--inputs").nth(1).and_then(|n| n.parse().ok()).unwrap_or(400_000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (dir, booths) = directory(&mut rng);
    let dir = Arc::new(dir);
    let t0 = Instant::now();
    let cfg = EngineConfig { max_wait: Duration::from_secs(24 * 3600), ..EngineConfig::default() };
    let mut b = Bench {
        desk: Desk::new(Engine::new(dir.clone(), cfg, t0), true),
        connected: (0..CLERKS as u32).map(ClerkIdx).collect(),
        t0,
        now: t0,
        call_of: HashMap::new(),
        offer_of: HashMap::new(),
        samples: Vec::with_capacity(inputs + 16),
        decide: Vec::with_capacity(inputs + 16),
        refresh: Vec::with_capacity(inputs + 16),
        effects: 0,
    };
    for c in 0..CLERKS as u32 {
        b.step(Input::ClerkSignIn { clerk: ClerkIdx(c) }, false).unwrap();
        b.step(Input::ClerkSetAvailable { clerk: ClerkIdx(c) }, false).unwrap();
    }
    let skill = |rng: &mut Rng| ServiceIdx(rng.below(SERVICES) as u32);
    for i in 0..booths {
        let booth = BoothIdx(i as u32);
        b.step(Input::BoothConnected { booth }, false).unwrap();
        let service = skill(&mut rng);
        let _ = b.step(Input::RequestService { booth, service, priority: Priority::Normal }, false);
        let offers: Vec<(ClerkIdx, OfferId)> = b.offer_of.iter().map(|(c, o)| (*c, *o)).collect();
        for (clerk, offer) in offers {
            b.step(Input::AcceptOffer { clerk, offer }, false).expect("a tracked offer is live");
            b.media_up(clerk, false);
        }
    }
    let engine = b.desk.engine();
    println!(
        "set-up: {} regions, {} services, {} clerks ({} in calls), {} open tickets ({} waiting)",
        dir.regions.len(),
        dir.services.len(),
        dir.clerks.len(),
        b.call_of.len(),
        engine.open_ticket_count(),
        engine.open_ticket_count() - b.call_of.len()
    );
    b.effects = 0;

    let started = Instant::now();
    let (mut cycles, mut transfers, mut calls, mut refused) = (0usize, 0usize, 0usize, 0usize);
    while b.samples.len() < inputs {
        let busy: Vec<ClerkIdx> = b.call_of.keys().copied().take(64).collect();
        if busy.len() < 2 {
            break;
        }
        let clerk = busy[rng.below(busy.len())];
        cycles += 1;
        let booth = if cycles % 8 == 0 {
            let guest = *busy.iter().find(|c| **c != clerk).expect("two busy clerks");
            transfers += 1;
            b.warm_transfer(clerk, guest)
        } else {
            let call = b.call_of[&clerk];
            let booth = b.desk.engine().call(call).expect("tracked call is live").booth;
            b.send(Principal::Clerk(clerk), ClientMessage::HangUp { call: protocol::CallId(call.0) }).unwrap();
            b.send(Principal::Clerk(clerk), end_wrap_up()).unwrap();
            booth
        };
        calls += b.accept_all();
        let service = ServiceCode::new(dir.service(skill(&mut rng)).code.clone());
        let request = ClientMessage::RequestService { service, priority: protocol::Priority::Normal };
        if b.send(Principal::Booth(booth), request).is_err() {
            refused += 1;
        }
        calls += b.accept_all();
    }
    let wall = started.elapsed();
    let s = Latencies::new(std::mem::take(&mut b.samples));
    let part = |name: &str, samples: Vec<Duration>| {
        let part = Latencies::new(samples);
        println!("  {name}: {:.0} inputs/s, {}", part.per_sec(), part.percentiles());
    };
    println!(
        "measured: {} inputs ({} cycles, {} of them warm transfers through a three-way call; {} calls answered, \
         {} requests refused), {} effects, open tickets at end {}",
        s.len(),
        cycles,
        transfers,
        calls,
        refused,
        b.effects,
        b.desk.engine().open_ticket_count()
    );
    println!(
        "throughput: {:.0} inputs/s inside the desk ({:.0} inputs/s wall, bookkeeping included)",
        s.per_sec(),
        s.len() as f64 / wall.as_secs_f64()
    );
    println!("latency per input: {}, max {:.2} µs", s.percentiles(), s.max_us());
    println!("of which, per input:");
    part("decisions (on_message + route_actions)", std::mem::take(&mut b.decide));
    part("status refresh (refresh_statuses)", std::mem::take(&mut b.refresh));
}
