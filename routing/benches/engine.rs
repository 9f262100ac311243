//! Engine throughput and latency at scale: 10,000 waiting tickets, 2,000 clerks (all busy),
//! 200 regions, 50 service items. Each measured cycle is a clerk hanging up, ending wrap-up (and
//! being matched at once with the best waiting ticket), accepting the offer, both parties
//! reporting the call's media up, and the freed booth asking again — with virtual time advancing 1 ms per input so that widenings and
//! expiries fire along the way. Reports events/s and p50/p99/max per `handle_input` (including
//! draining its actions).
//!
//! Run: `cargo bench -p xiaowu-routing --bench engine` (add `-- --events N` to change the count).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xiaowu_routing::*;

mod common;

use common::{directory, Latencies, Rng, CLERKS, SERVICES};

struct Bench {
    engine: Engine,
    now: Instant,
    call_of: HashMap<ClerkIdx, CallId>,
    offer_of: HashMap<ClerkIdx, OfferId>,
    samples: Vec<Duration>,
}

impl Bench {
    fn step(&mut self, input: Input, measure: bool) -> Result<(), Reject> {
        self.now += Duration::from_millis(1);
        let t = Instant::now();
        // Due timers first, as the server's driver does before every input.
        self.engine.handle_timeout(self.now);
        let r = self.engine.handle_input(input, self.now);
        while let Some(a) = self.engine.poll_action() {
            match a {
                Action::OfferMade { offer, clerk, .. } => {
                    self.offer_of.insert(clerk, offer);
                }
                Action::CallStarted { call, clerk, .. } => {
                    self.offer_of.remove(&clerk);
                    self.call_of.insert(clerk, call);
                }
                Action::CallEnded { clerk, .. } => {
                    self.call_of.remove(&clerk);
                }
                Action::OfferRevoked { clerk, .. } => {
                    self.offer_of.remove(&clerk);
                }
                _ => {}
            }
        }
        if measure {
            self.samples.push(t.elapsed());
        }
        r
    }
}

impl Bench {
    /// Every outstanding offer is accepted (each a measured input); returns how many.
    fn accept_all(&mut self) -> usize {
        let offers: Vec<(ClerkIdx, OfferId)> = self.offer_of.iter().map(|(c, o)| (*c, *o)).collect();
        for (clerk, offer) in &offers {
            self.step(Input::AcceptOffer { clerk: *clerk, offer: *offer }, true).expect("a tracked offer is live");
            self.media_up(*clerk, true);
        }
        offers.len()
    }

    /// Both parties report the clerk's new call's media up, as a booth and a console do once
    /// connected (else the call would end as a media failure after the media timeout).
    fn media_up(&mut self, clerk: ClerkIdx, measure: bool) {
        let Some(&call) = self.call_of.get(&clerk) else { return };
        let booth = self.engine.call(call).expect("tracked call is live").booth;
        self.step(Input::MediaConnected { call, by: Party::Booth(booth) }, measure).expect("the call is live");
        self.step(Input::MediaConnected { call, by: Party::Clerk(clerk) }, measure).expect("the call is live");
    }
}

fn main() {
    let events: usize =
        std::env::args().skip_while(|a| a != "--events").nth(1).and_then(|n| n.parse().ok()).unwrap_or(400_000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (dir, booths) = directory(&mut rng);
    let dir = Arc::new(dir);
    let t0 = Instant::now();
    let cfg = EngineConfig { max_wait: Duration::from_secs(24 * 3600), ..EngineConfig::default() };
    let mut b = Bench {
        engine: Engine::new(dir.clone(), cfg, t0),
        now: t0,
        call_of: HashMap::new(),
        offer_of: HashMap::new(),
        samples: Vec::with_capacity(events),
    };
    // Set-up: every clerk signs in and goes available; the first tickets put every clerk in a
    // call, the rest wait.
    for c in 0..CLERKS as u32 {
        b.step(Input::ClerkSignIn { clerk: ClerkIdx(c) }, false).unwrap();
        b.step(Input::ClerkSetAvailable { clerk: ClerkIdx(c) }, false).unwrap();
    }
    let skill_of = |rng: &mut Rng, _booth: usize| ServiceIdx(rng.below(SERVICES) as u32);
    for i in 0..booths {
        let booth = BoothIdx(i as u32);
        b.step(Input::BoothConnected { booth }, false).unwrap();
        let service = skill_of(&mut rng, i);
        let _ = b.step(Input::RequestService { booth, service, priority: Priority::Normal }, false);
        let offers: Vec<(ClerkIdx, OfferId)> = b.offer_of.iter().map(|(c, o)| (*c, *o)).collect();
        for (clerk, offer) in offers {
            b.step(Input::AcceptOffer { clerk, offer }, false).expect("a tracked offer is live");
            b.media_up(clerk, false);
        }
    }
    let waiting = b.engine.open_ticket_count() - b.call_of.len();
    println!(
        "set-up: {} regions, {} services, {} clerks ({} in calls), {} open tickets ({} waiting)",
        dir.regions.len(),
        dir.services.len(),
        dir.clerks.len(),
        b.call_of.len(),
        b.engine.open_ticket_count(),
        waiting
    );

    // Measured steady state.
    let started = Instant::now();
    let mut refused = 0usize;
    let mut calls = 0usize;
    while b.samples.len() < events {
        let busy: Vec<ClerkIdx> =
            if b.call_of.is_empty() { vec![] } else { b.call_of.keys().copied().take(64).collect() };
        let Some(&clerk) = busy.get(rng.below(busy.len().max(1))) else {
            break;
        };
        let call = b.call_of[&clerk];
        let booth = b.engine.call(call).expect("tracked call is live").booth;
        b.step(Input::HangUp { call, by: Party::Clerk(clerk) }, true).unwrap();
        b.step(Input::EndWrapUp { clerk }, true).unwrap();
        calls += b.accept_all();
        let service = skill_of(&mut rng, booth.0 as usize);
        if b.step(Input::RequestService { booth, service, priority: Priority::Normal }, true).is_err() {
            refused += 1;
        }
        calls += b.accept_all();
    }
    let wall = started.elapsed();
    let s = Latencies::new(std::mem::take(&mut b.samples));
    println!(
        "measured: {} inputs ({} calls answered, {} requests refused), open tickets at end {}",
        s.len(),
        calls,
        refused,
        b.engine.open_ticket_count()
    );
    println!(
        "throughput: {:.0} events/s inside handle_input ({:.0} events/s wall, bookkeeping included)",
        s.per_sec(),
        s.len() as f64 / wall.as_secs_f64()
    );
    println!("latency per handle_input: {}, max {:.2} µs", s.percentiles(), s.max_us());
}
