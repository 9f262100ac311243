//! A small directory and a virtual-time harness shared by the scenario and property tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use xiaowu_routing::*;

pub const SERVICES: [&str; 2] = ["teacher-cert", "business-reg"];

/// Shandong › 东营 (partner 滨州) › 河口区 › 孤岛镇, 垦利区; 滨州 › 滨城区.
pub fn directory() -> Directory {
    let mut b = DirectoryBuilder::default();
    b.region("sd", "山东省", Level::Province, None, &[])
        .region("dongying", "东营市", Level::City, Some("sd"), &["binzhou"])
        .region("binzhou", "滨州市", Level::City, Some("sd"), &["dongying"])
        .region("hekou", "河口区", Level::County, Some("dongying"), &[])
        .region("kenli", "垦利区", Level::County, Some("dongying"), &[])
        .region("bincheng", "滨城区", Level::County, Some("binzhou"), &[])
        .region("gudao", "孤岛镇", Level::Town, Some("hekou"), &[])
        .region("yong-an", "永安镇", Level::Town, Some("kenli"), &[]);
    for code in SERVICES {
        b.service(Service {
            code: code.into(),
            name: code.into(),
            levels: vec![Level::Province, Level::City, Level::County],
            widen_after: vec![Duration::from_secs(30), Duration::from_secs(90), Duration::from_secs(180)],
            target_answer: Duration::from_secs(60),
            expected_handle: Duration::from_secs(300),
        });
    }
    b.booth("booth-gudao-1", "孤岛镇1号", "gudao")
        .booth("booth-gudao-2", "孤岛镇2号", "gudao")
        .booth("booth-gudao-3", "孤岛镇3号", "gudao")
        .booth("booth-yongan-1", "永安镇1号", "yong-an")
        .booth("booth-bincheng-1", "滨城区1号", "bincheng");
    b.clerk("clerk-hekou-1", "河口1", "hekou", &["teacher-cert"])
        .clerk("clerk-hekou-2", "河口2", "hekou", &["teacher-cert", "business-reg"])
        .clerk("clerk-kenli-1", "垦利1", "kenli", &["teacher-cert"])
        .clerk("clerk-dongying-1", "东营1", "dongying", &["teacher-cert", "business-reg"])
        .clerk("clerk-binzhou-1", "滨州1", "binzhou", &["teacher-cert"])
        .clerk("clerk-sd-1", "省1", "sd", &["teacher-cert"]);
    b.build().expect("the test directory is valid")
}

pub struct Harness {
    pub engine: Engine,
    pub dir: Arc<Directory>,
    pub t0: Instant,
    pub now: Instant,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(EngineConfig::default())
    }

    pub fn with_config(cfg: EngineConfig) -> Self {
        let dir = Arc::new(directory());
        let t0 = Instant::now();
        Self { engine: Engine::new(dir.clone(), cfg, t0), dir, t0, now: t0 }
    }

    pub fn clerk(&self, id: &str) -> ClerkIdx {
        self.dir.clerk_idx(id).expect("known clerk")
    }
    pub fn booth(&self, id: &str) -> BoothIdx {
        self.dir.booth_idx(id).expect("known booth")
    }
    pub fn service(&self, code: &str) -> ServiceIdx {
        self.dir.service_idx(code).expect("known service")
    }

    /// Fires the timers due now, as the server's driver does before every input, then applies
    /// `input`. (`engine.handle_input` alone fires none: a refused input queues nothing.)
    pub fn input(&mut self, input: Input) -> Result<(), Reject> {
        self.engine.handle_timeout(self.now);
        self.engine.handle_input(input, self.now)
    }

    /// Moves virtual time forward, firing due timers on the way in deadline order.
    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        while let Some(at) = self.engine.poll_timeout() {
            if at > target {
                break;
            }
            self.now = self.now.max(at);
            self.engine.handle_timeout(self.now);
        }
        self.now = target;
        self.engine.handle_timeout(self.now);
    }

    pub fn secs(&mut self, s: u64) {
        self.advance(Duration::from_secs(s));
    }

    pub fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.engine.poll_action()).collect()
    }

    /// Drained actions without the informational ones (queue changes, state changes, widenings).
    pub fn drain_core(&mut self) -> Vec<Action> {
        self.drain()
            .into_iter()
            .filter(|a| {
                !matches!(
                    a,
                    Action::QueueChanged { .. } | Action::ClerkStateChanged { .. } | Action::TicketWidened { .. }
                )
            })
            .collect()
    }

    pub fn available(&mut self, id: &str) {
        let clerk = self.clerk(id);
        self.input(Input::ClerkSignIn { clerk }).unwrap();
        self.input(Input::ClerkSetAvailable { clerk }).unwrap();
    }

    pub fn sign_in_away(&mut self, id: &str) {
        let clerk = self.clerk(id);
        self.input(Input::ClerkSignIn { clerk }).unwrap();
    }

    pub fn request(&mut self, booth: &str, service: &str, priority: Priority) -> TicketId {
        let booth = self.booth(booth);
        let service = self.service(service);
        self.input(Input::BoothConnected { booth }).unwrap();
        self.input(Input::RequestService { booth, service, priority }).unwrap();
        self.engine.booth_ticket(booth).expect("the request opened a ticket")
    }

    /// The single offer among `actions`, as (offer, ticket, clerk).
    pub fn offer_in(actions: &[Action]) -> (OfferId, TicketId, ClerkIdx) {
        let offers: Vec<_> = actions
            .iter()
            .filter_map(|a| match a {
                Action::OfferMade { offer, ticket, clerk, .. } => Some((*offer, *ticket, *clerk)),
                _ => None,
            })
            .collect();
        assert_eq!(offers.len(), 1, "expected exactly one offer in {actions:?}");
        offers[0]
    }
}
