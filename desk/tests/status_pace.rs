//! Scenario tests of the paced refresh of waiting citizens' positions and estimates, in virtual
//! time: a ticket's own status goes out with the input that caused it; the others' follow within
//! a second of the last refresh (at once on a quiet floor), at the time the desk asks to be woken.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use desk::effect::Effect;
use desk::status_pace::STATUS_REFRESH_EVERY;
use desk::{Desk, Now};
use protocol::ServerMessage;
use routing::{BoothIdx, ClerkIdx, Engine, EngineConfig, Input, Party, Priority, ServiceIdx};

struct Floor {
    desk: Desk,
    connected: BTreeSet<ClerkIdx>,
    t0: Instant,
    booths: Vec<BoothIdx>,
}

/// (booth index in `Floor::booths`, position, estimate in seconds) of each status sent.
type Status = (usize, Option<u32>, Option<u32>);

impl Floor {
    /// 河口1 in a call with 孤岛镇1号 from t = 0; 孤岛镇 2, 3 and 4 connected, nobody waiting.
    fn new() -> Self {
        let extra = [("booth-gudao-2", "gudao"), ("booth-gudao-3", "gudao"), ("booth-gudao-4", "gudao")];
        let dir = Arc::new(common::directory_with_booths(&extra));
        let t0 = Instant::now();
        let mut booths = vec![dir.booth_idx("booth-gudao-1").unwrap()];
        booths.extend(extra.iter().map(|(id, _)| dir.booth_idx(id).unwrap()));
        let clerk = dir.clerk_idx("clerk-hekou-1").unwrap();
        let mut f = Floor {
            desk: Desk::new(Engine::new(dir, EngineConfig::default(), t0), true),
            connected: BTreeSet::from([clerk]),
            t0,
            booths,
        };
        f.desk.clerk_connected(clerk, f.now(0));
        for b in f.booths.clone() {
            f.desk.booth_connected(b, f.now(0));
        }
        f.input(0, Input::ClerkSetAvailable { clerk });
        f.input(0, Input::RequestService { booth: f.booths[0], service: ServiceIdx(0), priority: Priority::Normal });
        let (offer, _) = f.desk.engine().offer_of(clerk).expect("offered");
        f.input(0, Input::AcceptOffer { clerk, offer });
        let call = f.desk.engine().call_of(clerk).expect("in a call").call;
        f.input(0, Input::MediaConnected { call, by: Party::Booth(f.booths[0]) });
        f.input(0, Input::MediaConnected { call, by: Party::Clerk(clerk) });
        f
    }

    fn now(&self, ms: u64) -> Now {
        Now { at: self.t0 + Duration::from_millis(ms), wall_ms: 1_800_000_000_000 + ms as i64 }
    }

    /// An input at `ms`; the statuses it led to.
    fn input(&mut self, ms: u64, input: Input) -> Vec<Status> {
        let now = self.now(ms);
        self.desk.input(input, now.at).expect("accepted");
        let effects = self.desk.drain(now, &self.connected);
        self.statuses(effects)
    }

    /// The desk woken at `ms`; the statuses that led to.
    fn wake(&mut self, ms: u64) -> Vec<Status> {
        let now = self.now(ms);
        self.desk.timeout(now.at);
        let effects = self.desk.drain(now, &self.connected);
        self.statuses(effects)
    }

    fn ask(&mut self, ms: u64, booth: usize) -> Vec<Status> {
        self.input(
            ms,
            Input::RequestService { booth: self.booths[booth], service: ServiceIdx(0), priority: Priority::Normal },
        )
    }

    /// Asks as an elderly citizen: ahead of everyone who asked as a normal one.
    fn ask_first(&mut self, ms: u64, booth: usize) -> Vec<Status> {
        self.input(
            ms,
            Input::RequestService { booth: self.booths[booth], service: ServiceIdx(0), priority: Priority::Elderly },
        )
    }

    fn cancel(&mut self, ms: u64, booth: usize) -> Vec<Status> {
        let booth = self.booths[booth];
        let ticket = self.desk.engine().booth_ticket(booth).expect("its ticket is open");
        self.input(ms, Input::CancelTicket { booth, ticket })
    }

    fn statuses(&self, effects: Vec<Effect>) -> Vec<Status> {
        effects
            .into_iter()
            .filter_map(|e| match e {
                Effect::ToBooth(b, ServerMessage::TicketStatus { position, estimated_wait_secs, .. }) => {
                    Some((self.booths.iter().position(|x| *x == b).unwrap(), position, estimated_wait_secs))
                }
                _ => None,
            })
            .collect()
    }

    fn wake_at(&self) -> Option<u64> {
        self.desk.poll_timeout().map(|at| at.duration_since(self.t0).as_millis() as u64)
    }
}

#[test]
fn a_ticket_is_told_of_its_own_change_at_once_and_the_others_within_a_second() {
    let mut f = Floor::new();
    // One clerk, busy: each place in the queue is 300 s (the item's expected handling time).
    assert_eq!(f.ask(10_000, 1), vec![(1, Some(1), Some(300))]);
    assert_eq!(f.ask(10_200, 2), vec![(2, Some(2), Some(600))]);
    assert_eq!(f.ask(10_400, 3), vec![(3, Some(3), Some(900))]);
    // 孤岛镇2 gives up 0.6 s after the last refresh (at 10.0 s): the two behind it are told later.
    assert_eq!(f.cancel(10_600, 1), vec![]);
    assert_eq!(f.wake_at(), Some(11_000), "woken a second after the last refresh");
    assert_eq!(f.wake(10_999), vec![], "not before");
    assert_eq!(f.wake(11_000), vec![(2, Some(1), Some(300)), (3, Some(2), Some(600))]);
    // Nothing is marked now: only the engine's own timers wake the desk.
    assert_eq!(f.wake_at(), f.desk.engine().poll_timeout().map(|at| at.duration_since(f.t0).as_millis() as u64));
    // A quiet floor: the next change is shown at once.
    assert_eq!(f.cancel(20_000, 2), vec![(3, Some(1), Some(300))]);
}

#[test]
fn the_refresh_is_paced_however_many_changes_come_and_the_last_is_shown() {
    let mut f = Floor::new();
    f.ask(10_000, 1);
    f.ask(10_000, 2);
    assert_eq!(f.ask(10_000, 3), vec![(3, Some(3), Some(900))]);
    let mut told = Vec::new();
    // Ten changes a second for 3 s, the shell waking the desk when it asks to be: 孤岛镇2 gives
    // up and asks again as an elderly citizen (ahead of 孤岛镇4), over and over, so 孤岛镇4's place
    // moves with every change.
    for i in 1..=30u64 {
        let ms = 10_000 + i * 100;
        if let Some(at) = f.wake_at().filter(|at| *at <= ms) {
            told.extend(f.wake(at).into_iter().filter(|s| s.0 == 3).map(|s| (at, s.1)));
        }
        let statuses = if i % 2 == 1 { f.cancel(ms, 1) } else { f.ask_first(ms, 1) };
        told.extend(statuses.into_iter().filter(|s| s.0 == 3).map(|s| (ms, s.1)));
    }
    assert!(told.len() <= 4, "孤岛镇4 was told more than once a second: {told:?}");
    assert!(told.iter().all(|(ms, _)| ms % 1000 == 0), "only at the refreshes: {told:?}");
    // The last change (at 13 s: 孤岛镇3 second again, 孤岛镇4 third) is shown a second after the
    // last refresh.
    let at = f.wake_at().expect("a refresh is due");
    assert_eq!(at, 14_000);
    assert_eq!(f.wake(at), vec![(2, Some(2), Some(600)), (3, Some(3), Some(900))]);
    assert_eq!(f.wake_at(), f.desk.engine().poll_timeout().map(|at| at.duration_since(f.t0).as_millis() as u64));
    assert_eq!(STATUS_REFRESH_EVERY, Duration::from_secs(1));
}
