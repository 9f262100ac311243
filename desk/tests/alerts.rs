//! The desk's alerts in virtual time, with a real routing engine: each kind raised at its limit
//! and not before, with its exact words and value; a standing alert keeps the time it was raised;
//! cleared when its cause goes; a supervisor sees its scope's alerts, most urgent first.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use desk::alerts::{AlertEvent, Alerts, AlertsConfig, Evaluation, Situation};
use protocol::{AlertKind, DeviceState};
use routing::*;

mod common;
use common::directory;

/// 2026-12-01 09:00 China time (01:00 UTC): within the default opening hours.
const NINE_UNIX: u64 = 1_796_086_800;

struct World {
    dir: Arc<Directory>,
    engine: Engine,
    t0: Instant,
    online: HashSet<BoothIdx>,
    alerts: Alerts,
    cfg: AlertsConfig,
}

impl World {
    fn new() -> Self {
        let dir = Arc::new(directory());
        let t0 = Instant::now();
        let engine = Engine::new(dir.clone(), EngineConfig::default(), t0);
        Self { dir, engine, t0, online: HashSet::new(), alerts: Alerts::default(), cfg: AlertsConfig::default() }
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    fn input(&mut self, secs: u64, input: Input) {
        let now = self.at(secs);
        self.engine.handle_timeout(now);
        self.engine.handle_input(input, now).expect("the input is accepted");
        while self.engine.poll_action().is_some() {}
    }

    /// Evaluates at `secs` after 09:00 China time.
    fn evaluate(&mut self, secs: u64) -> Evaluation {
        self.evaluate_at(secs, NINE_UNIX + secs)
    }

    fn evaluate_at(&mut self, secs: u64, unix: u64) -> Evaluation {
        let now = self.at(secs);
        let load = self.engine.load_snapshot(now);
        let online = |b| self.online.contains(&b);
        let situation = Situation {
            dir: &self.dir,
            engine: &self.engine,
            load: &load,
            online: &online,
            now,
            unix,
            at_ms: unix as i64 * 1000,
        };
        self.alerts.evaluate(&self.cfg, &situation)
    }

    fn booth(&self, id: &str) -> BoothIdx {
        self.dir.booth_idx(id).unwrap()
    }
}

fn kinds(events: &[AlertEvent]) -> Vec<(AlertKind, bool)> {
    events.iter().map(|e| (e.alert.kind, e.raised)).collect()
}

#[test]
fn a_queue_past_its_target_is_raised_kept_and_cleared() {
    let mut w = World::new();
    let clerk = w.dir.clerk_idx("clerk-hekou-1").unwrap();
    let booth = w.booth("booth-gudao-1");
    w.input(0, Input::ClerkSignIn { clerk });
    w.input(0, Input::BoothConnected { booth });
    w.input(0, Input::RequestService { booth, service: ServiceIdx(0), priority: Priority::Normal });
    assert_eq!(w.evaluate(60), Evaluation::default(), "at its target, not past it");

    let found = w.evaluate(61);
    assert!(found.changed);
    assert_eq!(kinds(&found.events), [(AlertKind::QueueOverTarget, true)]);
    let a = &found.events[0].alert;
    assert_eq!(a.message_zh, "河口区「教师资格认定」最长等待 61 秒，超过目标 60 秒");
    assert_eq!(a.message_en, "hekou teacher-cert: longest wait 61 s, over the 60 s target");
    assert_eq!((a.value, a.since_unix, a.region.as_str()), (61.0, NINE_UNIX + 61, "hekou"));
    assert_eq!(found.events[0].at_ms, (NINE_UNIX as i64 + 61) * 1000);

    assert_eq!(w.evaluate(90), Evaluation::default(), "standing: nothing new, nothing to send");
    let sd = w.dir.region_idx("sd").unwrap();
    let standing = w.alerts.for_scope(&w.dir, sd);
    assert_eq!(
        (standing[0].value, standing[0].since_unix),
        (90.0, NINE_UNIX + 61),
        "its value goes on, its time stays"
    );

    let ticket = TicketId(1);
    w.input(95, Input::CancelTicket { booth, ticket });
    let found = w.evaluate(96);
    assert!(found.changed);
    assert_eq!(kinds(&found.events), [(AlertKind::QueueOverTarget, false)]);
    assert!(w.alerts.for_scope(&w.dir, sd).is_empty());
}

#[test]
fn a_low_service_level_counts_the_last_hour_only() {
    let mut w = World::new();
    let hekou = w.dir.region_idx("hekou").unwrap();
    w.alerts.answered(w.at(0), hekou, ServiceIdx(0), true);
    w.alerts.answered(w.at(10), hekou, ServiceIdx(0), false);
    assert_eq!(w.evaluate(20), Evaluation::default(), "two answers are under the minimum of three");
    w.alerts.answered(w.at(30), hekou, ServiceIdx(0), false);
    let found = w.evaluate(40);
    assert_eq!(kinds(&found.events), [(AlertKind::ServiceLevelLow, true)]);
    let a = &found.events[0].alert;
    assert_eq!(a.message_zh, "河口区「教师资格认定」近一小时服务水平 33%，低于目标 80%");
    assert_eq!(a.message_en, "hekou teacher-cert: service level 33 % over the last hour, under the 80 % goal");
    assert!((a.value - 1.0 / 3.0).abs() < 1e-9);
    // An hour after the first answer it leaves the window: two answers, no alert.
    let found = w.evaluate(3_601);
    assert_eq!(kinds(&found.events), [(AlertKind::ServiceLevelLow, false)]);
}

#[test]
fn a_clerk_away_past_the_limit_but_not_one_just_signed_in() {
    let mut w = World::new();
    let clerk = w.dir.clerk_idx("clerk-hekou-1").unwrap();
    w.input(0, Input::ClerkSignIn { clerk });
    assert_eq!(w.evaluate(2_000), Evaluation::default(), "signed in and not yet available is not a break");
    w.input(2_000, Input::ClerkSetAway { clerk, reason: AwayReason::Meal });
    assert_eq!(w.evaluate(2_900), Evaluation::default(), "900 s is the limit, not past it");
    let found = w.evaluate(2_960);
    assert_eq!(kinds(&found.events), [(AlertKind::ClerkAwayLong, true)]);
    let a = &found.events[0].alert;
    assert_eq!(a.message_zh, "河口1（clerk-hekou-1）已暂离 16 分钟");
    assert_eq!(a.message_en, "clerk-hekou-1 has been away for 16 min");
    assert_eq!((a.clerk.as_deref(), a.value), (Some("clerk-hekou-1"), 960.0));
    w.input(3_000, Input::ClerkSetAvailable { clerk });
    assert_eq!(kinds(&w.evaluate(3_001).events), [(AlertKind::ClerkAwayLong, false)]);
}

#[test]
fn a_booth_offline_during_opening_hours_and_a_booth_whose_camera_fails() {
    let mut w = World::new();
    let gudao = w.booth("booth-gudao-1");
    let never = w.booth("booth-bincheng-1");
    w.alerts.booth_up(gudao);
    w.alerts.booth_down(gudao, w.at(10));
    w.alerts.booth_down(never, w.at(10));
    assert_eq!(w.alerts.offline_since(never), None, "a booth never seen is not offline");
    assert_eq!(w.evaluate(310), Evaluation::default(), "300 s is the limit");
    // The same moment at 18:00 China time: closed, no alert.
    assert_eq!(w.evaluate_at(311, NINE_UNIX + 9 * 3600), Evaluation::default());
    let found = w.evaluate(311);
    assert_eq!(kinds(&found.events), [(AlertKind::BoothOffline, true)]);
    assert_eq!(found.events[0].alert.message_zh, "孤岛镇1号 离线已 5 分钟");
    assert_eq!(found.events[0].alert.message_en, "booth-gudao-1 has been offline for 5 min");

    // Back online, it reports a camera it may not use: the device alert replaces the offline one.
    w.alerts.booth_up(gudao);
    w.online.insert(gudao);
    w.alerts.booth_devices(gudao, DeviceState::Denied, DeviceState::Ok);
    let found = w.evaluate(320);
    assert_eq!(kinds(&found.events), [(AlertKind::BoothDevice, true), (AlertKind::BoothOffline, false)]);
    assert_eq!(found.events[0].alert.message_zh, "孤岛镇1号：摄像头无权限");
    assert_eq!(found.events[0].alert.message_en, "booth-gudao-1: camera access denied");
    // Offline again: a device problem is only shown for a booth that is there.
    w.online.remove(&gudao);
    assert_eq!(kinds(&w.evaluate(330).events), [(AlertKind::BoothDevice, false)]);
}

#[test]
fn a_supervisor_sees_its_scope_most_urgent_first() {
    let mut w = World::new();
    let hekou = w.dir.region_idx("hekou").unwrap();
    let clerk = w.dir.clerk_idx("clerk-hekou-1").unwrap();
    let (gudao, bincheng) = (w.booth("booth-gudao-1"), w.booth("booth-bincheng-1"));
    w.input(0, Input::ClerkSignIn { clerk });
    w.input(0, Input::ClerkSetAway { clerk, reason: AwayReason::Break });
    for b in [gudao, bincheng] {
        w.alerts.booth_up(b);
        w.alerts.booth_down(b, w.at(if b == gudao { 0 } else { 100 }));
    }
    for within in [false, false, false, true] {
        w.alerts.answered(w.at(0), hekou, ServiceIdx(0), within);
    }
    let found = w.evaluate(1_000);
    assert_eq!(found.events.len(), 4);
    let sd = w.dir.region_idx("sd").unwrap();
    let seen: Vec<(AlertKind, f64)> = w.alerts.for_scope(&w.dir, sd).iter().map(|a| (a.kind, a.value)).collect();
    assert_eq!(
        seen,
        [
            (AlertKind::ServiceLevelLow, 0.25),
            (AlertKind::ClerkAwayLong, 1_000.0),
            (AlertKind::BoothOffline, 1_000.0),
            (AlertKind::BoothOffline, 900.0),
        ]
    );
    let binzhou = w.dir.region_idx("binzhou").unwrap();
    let theirs: Vec<String> = w.alerts.for_scope(&w.dir, binzhou).iter().filter_map(|a| a.booth.clone()).collect();
    assert_eq!(theirs, ["booth-bincheng-1"], "another city sees only its own");
}
