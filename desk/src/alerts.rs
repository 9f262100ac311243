//! Supervisors' alerts, worked out from the routing state whenever the caller asks (the server:
//! once a second): a queue whose longest wait passed its item's target; a queue whose last hour
//! answered fewer than the goal's share within target; a clerk away longer than the limit; a booth
//! offline longer than the limit during opening hours; a booth online whose camera or microphone
//! does not work (as it reported). [`Alerts::evaluate`] says which were raised and cleared and
//! whether the set changed; [`Alerts::for_scope`] gives a supervisor the alerts of its scope, most
//! urgent first. Alerts change no routing state.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use protocol::{Alert, AlertKind, DeviceState, RegionId, ServiceCode};
use routing::{BoothIdx, ClerkIdx, Directory, Engine, LoadRow, RegionIdx, ServiceIdx};
use serde::Deserialize;

/// `[alerts]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// The service-level goal: this share of the last hour's answers within the item's target.
    pub service_level_goal: f64,
    /// Fewer answers than this in the last hour raise no service-level alert.
    pub service_level_min_answered: u32,
    /// A clerk away (break, meal, meeting, …) longer than this.
    pub clerk_away_limit_secs: u64,
    /// A booth offline longer than this, during opening hours.
    pub booth_offline_secs: u64,
    /// Opening hours, China time, `HH:MM-HH:MM`.
    pub opening_hours: String,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            service_level_goal: 0.8,
            service_level_min_answered: 3,
            clerk_away_limit_secs: 900,
            booth_offline_secs: 300,
            opening_hours: "08:30-17:30".into(),
        }
    }
}

impl AlertsConfig {
    /// Opening hours as minutes after midnight, or `None` if malformed.
    pub fn opening_minutes(&self) -> Option<(u32, u32)> {
        let (a, b) = self.opening_hours.split_once('-')?;
        let minutes = |hm: &str| -> Option<u32> {
            let (h, m) = hm.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60).then_some(h * 60 + m)
        };
        let (from, to) = (minutes(a)?, minutes(b)?);
        (from < to).then_some((from, to))
    }

    /// What is wrong with the section, if anything.
    pub fn check(&self) -> Option<&'static str> {
        if !(0.0..=1.0).contains(&self.service_level_goal) {
            return Some("service_level_goal must be between 0 and 1");
        }
        if self.opening_minutes().is_none() {
            return Some("opening_hours must be HH:MM-HH:MM, the first before the second");
        }
        None
    }

    /// Whether `unix` falls within the opening hours (China time).
    pub fn is_open(&self, unix: u64) -> bool {
        let Some((from, to)) = self.opening_minutes() else { return false };
        let minute = china_time::minute_of_day(unix as i64 * 1000);
        (from..to).contains(&minute)
    }
}

/// What an alert is about: a queue (kind, hall, service), a clerk, a booth.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    Queue(AlertKind, u32, u32),
    Clerk(u32),
    Booth(u32),
    BoothDevice(u32),
}

/// An alert raised or cleared, at a time on the caller's timeline (Unix ms).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    pub at_ms: i64,
    /// Raised (else cleared).
    pub raised: bool,
    pub alert: Alert,
}

/// What one evaluation found.
#[derive(Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Raised and cleared since the last evaluation, raised first.
    pub events: Vec<AlertEvent>,
    /// The set of standing alerts changed: every supervisor's list is out of date.
    pub changed: bool,
}

/// What the alerts remember between evaluations.
#[derive(Default)]
pub struct Alerts {
    /// The standing alerts by subject, with when each was raised, and the region each is in.
    current: BTreeMap<Subject, (Alert, RegionIdx)>,
    /// First answers of the last hour: (when, home hall, service, within target).
    answers: VecDeque<(Instant, RegionIdx, ServiceIdx, bool)>,
    /// Booths whose connection is down, since when.
    offline: HashMap<BoothIdx, Instant>,
    /// Booths that were ever connected since the start (a booth never seen is not "offline").
    seen: HashSet<BoothIdx>,
    /// A booth came or went, or reported its devices, since the supervisors' booth list was last
    /// sent.
    pub booths_changed: bool,
    /// Each booth's camera and microphone as it last reported them.
    pub devices: HashMap<BoothIdx, (DeviceState, DeviceState)>,
}

/// The state an evaluation reads.
pub struct Situation<'a> {
    pub dir: &'a Directory,
    pub engine: &'a Engine,
    /// The load per (hall, service), as [`Engine::load_snapshot`] gives it.
    pub load: &'a [LoadRow],
    /// Whether a booth is connected now.
    pub online: &'a dyn Fn(BoothIdx) -> bool,
    pub now: Instant,
    /// `now` as Unix seconds (opening hours, when an alert was raised).
    pub unix: u64,
    /// `now` as Unix ms on the caller's timeline (the events' times).
    pub at_ms: i64,
}

impl Alerts {
    /// A ticket's first answer: it counts in its queue's last-hour service level.
    pub fn answered(&mut self, at: Instant, hall: RegionIdx, service: ServiceIdx, within: bool) {
        self.answers.push_back((at, hall, service, within));
    }

    pub fn booth_up(&mut self, booth: BoothIdx) {
        self.booths_changed = true;
        self.seen.insert(booth);
        self.offline.remove(&booth);
    }

    pub fn booth_down(&mut self, booth: BoothIdx, at: Instant) {
        self.booths_changed = true;
        if self.seen.contains(&booth) {
            self.offline.entry(booth).or_insert(at);
        }
    }

    /// Since when a booth seen since the start is offline.
    pub fn offline_since(&self, booth: BoothIdx) -> Option<Instant> {
        self.offline.get(&booth).copied()
    }

    /// A booth's report of its camera and microphone.
    pub fn booth_devices(&mut self, booth: BoothIdx, camera: DeviceState, microphone: DeviceState) {
        if self.devices.insert(booth, (camera, microphone)) != Some((camera, microphone)) {
            self.booths_changed = true;
        }
    }

    /// Works the alerts out for `s`. An alert that stands keeps the time it was raised; its
    /// value goes on.
    pub fn evaluate(&mut self, cfg: &AlertsConfig, s: &Situation<'_>) -> Evaluation {
        let hour = Duration::from_secs(3600);
        while self.answers.front().is_some_and(|(at, ..)| s.now.saturating_duration_since(*at) > hour) {
            self.answers.pop_front();
        }
        let mut found = BTreeMap::new();
        self.queues_over_target(s, &mut found);
        self.service_levels(cfg, s, &mut found);
        clerks_away(cfg, s, &mut found);
        if cfg.is_open(s.unix) {
            self.booths_offline(cfg, s, &mut found);
        }
        self.booth_devices_failing(s, &mut found);

        let changed = found.keys().ne(self.current.keys());
        let mut events = vec![];
        for (subject, (a, _)) in found.iter_mut() {
            match self.current.get(subject) {
                Some((old, _)) => a.since_unix = old.since_unix,
                None => events.push(AlertEvent { at_ms: s.at_ms, raised: true, alert: a.clone() }),
            }
        }
        for (subject, (old, _)) in &self.current {
            if !found.contains_key(subject) {
                events.push(AlertEvent { at_ms: s.at_ms, raised: false, alert: old.clone() });
            }
        }
        self.current = found;
        Evaluation { events, changed }
    }

    /// The standing alerts of `scope` for one supervisor: queues past target first, then low
    /// service levels, clerks, booths; within a kind the longest (or lowest) first.
    pub fn for_scope(&self, dir: &Directory, scope: RegionIdx) -> Vec<Alert> {
        let mut alerts: Vec<Alert> =
            self.current.values().filter(|(_, region)| dir.is_within(*region, scope)).map(|(a, _)| a.clone()).collect();
        alerts.sort_by(|a, b| {
            let urgency = |x: &Alert| if x.kind == AlertKind::ServiceLevelLow { -x.value } else { x.value };
            a.kind.cmp(&b.kind).then(urgency(b).total_cmp(&urgency(a)))
        });
        alerts
    }

    fn queues_over_target(&self, s: &Situation<'_>, found: &mut Found) {
        for row in s.load {
            let (Some(hall), Some(service)) = (row.hall, row.service) else { continue };
            let item = s.dir.service(service);
            if row.waiting == 0 || row.longest_wait <= item.target_answer {
                continue;
            }
            let secs = row.longest_wait.as_secs();
            let target = item.target_answer.as_secs();
            let region = s.dir.region(hall);
            let mut a = alert(
                s,
                AlertKind::QueueOverTarget,
                hall,
                secs as f64,
                format!("{}「{}」最长等待 {secs} 秒，超过目标 {target} 秒", region.name, item.name),
                format!("{} {}: longest wait {secs} s, over the {target} s target", region.id, item.code),
            );
            a.service = Some(ServiceCode::new(item.code.clone()));
            found.insert(Subject::Queue(AlertKind::QueueOverTarget, hall.0, service.0), (a, hall));
        }
    }

    fn service_levels(&self, cfg: &AlertsConfig, s: &Situation<'_>, found: &mut Found) {
        let mut last_hour: BTreeMap<(RegionIdx, ServiceIdx), (u32, u32)> = BTreeMap::new();
        for (_, hall, service, within) in &self.answers {
            let c = last_hour.entry((*hall, *service)).or_default();
            c.0 += 1;
            c.1 += u32::from(*within);
        }
        for ((hall, service), (answered, within)) in last_hour {
            let level = f64::from(within) / f64::from(answered);
            if answered < cfg.service_level_min_answered || level >= cfg.service_level_goal {
                continue;
            }
            let item = s.dir.service(service);
            let region = s.dir.region(hall);
            let pct = (level * 100.0).round();
            let goal = (cfg.service_level_goal * 100.0).round();
            let mut a = alert(
                s,
                AlertKind::ServiceLevelLow,
                hall,
                level,
                format!("{}「{}」近一小时服务水平 {pct}%，低于目标 {goal}%", region.name, item.name),
                format!(
                    "{} {}: service level {pct} % over the last hour, under the {goal} % goal",
                    region.id, item.code
                ),
            );
            a.service = Some(ServiceCode::new(item.code.clone()));
            found.insert(Subject::Queue(AlertKind::ServiceLevelLow, hall.0, service.0), (a, hall));
        }
    }

    fn booths_offline(&self, cfg: &AlertsConfig, s: &Situation<'_>, found: &mut Found) {
        for (booth, since) in &self.offline {
            let secs = s.now.saturating_duration_since(*since).as_secs();
            if secs <= cfg.booth_offline_secs {
                continue;
            }
            let b = s.dir.booth(*booth);
            let mut a = alert(
                s,
                AlertKind::BoothOffline,
                b.region,
                secs as f64,
                format!("{} 离线已 {} 分钟", b.name, secs / 60),
                format!("{} has been offline for {} min", b.id, secs / 60),
            );
            a.booth = Some(b.id.clone());
            found.insert(Subject::Booth(booth.0), (a, b.region));
        }
    }

    fn booth_devices_failing(&self, s: &Situation<'_>, found: &mut Found) {
        for (booth, (camera, microphone)) in &self.devices {
            if !(s.online)(*booth) || (*camera, *microphone) == (DeviceState::Ok, DeviceState::Ok) {
                continue;
            }
            let b = s.dir.booth(*booth);
            let (zh, en) = device_problem(*camera, *microphone);
            let mut a =
                alert(s, AlertKind::BoothDevice, b.region, 0.0, format!("{}：{zh}", b.name), format!("{}: {en}", b.id));
            a.booth = Some(b.id.clone());
            found.insert(Subject::BoothDevice(booth.0), (a, b.region));
        }
    }
}

type Found = BTreeMap<Subject, (Alert, RegionIdx)>;

fn clerks_away(cfg: &AlertsConfig, s: &Situation<'_>, found: &mut Found) {
    for (i, clerk) in s.dir.clerks.iter().enumerate() {
        let c = ClerkIdx(i as u32);
        let routing::ClerkState::Away(reason) = s.engine.clerk_state(c) else { continue };
        if matches!(reason, routing::AwayReason::Assisting | routing::AwayReason::SignedIn) {
            continue;
        }
        let away = s.now.saturating_duration_since(s.engine.clerk_state_since(c)).as_secs();
        if away <= cfg.clerk_away_limit_secs {
            continue;
        }
        let mut a = alert(
            s,
            AlertKind::ClerkAwayLong,
            clerk.hall,
            away as f64,
            format!("{}（{}）已暂离 {} 分钟", clerk.name, clerk.id, away / 60),
            format!("{} has been away for {} min", clerk.id, away / 60),
        );
        a.clerk = Some(clerk.id.clone());
        found.insert(Subject::Clerk(c.0), (a, clerk.hall));
    }
}

fn alert(s: &Situation<'_>, kind: AlertKind, region: RegionIdx, value: f64, zh: String, en: String) -> Alert {
    Alert {
        kind,
        region: RegionId::new(s.dir.region(region).id.clone()),
        service: None,
        clerk: None,
        booth: None,
        since_unix: s.unix,
        value,
        message_zh: zh,
        message_en: en,
    }
}

/// What is wrong with a booth's devices, in Chinese and English.
fn device_problem(camera: DeviceState, microphone: DeviceState) -> (String, String) {
    let word = |d: DeviceState| match d {
        DeviceState::Ok => ("正常", "working"),
        DeviceState::Missing => ("未连接", "missing"),
        DeviceState::Denied => ("无权限", "access denied"),
        DeviceState::Failed => ("无法打开", "failed to open"),
    };
    let (mut zh, mut en) = (vec![], vec![]);
    if camera != DeviceState::Ok {
        zh.push(format!("摄像头{}", word(camera).0));
        en.push(format!("camera {}", word(camera).1));
    }
    if microphone != DeviceState::Ok {
        zh.push(format!("麦克风{}", word(microphone).0));
        en.push(format!("microphone {}", word(microphone).1));
    }
    (zh.join("，"), en.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_hours_are_china_time() {
        let cfg = AlertsConfig::default();
        assert_eq!(cfg.opening_minutes(), Some((510, 1050)));
        // 2026-12-01 09:00 China time is 01:00 UTC.
        assert!(cfg.is_open(1_796_086_800));
        assert!(!cfg.is_open(1_796_086_800 + 9 * 3600));
        let bad = AlertsConfig { opening_hours: "18:00-08:00".into(), ..cfg };
        assert!(bad.check().is_some());
    }
}
