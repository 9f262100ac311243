//! Supervisors' alerts, worked out once a second from the routing state: a queue whose longest
//! wait passed its item's target; a queue whose last hour answered fewer than the goal's share
//! within target; a clerk away longer than the limit; a booth offline longer than the limit during
//! opening hours; a booth online whose camera or microphone does not work (as it reported). When
//! the set changes, each supervisor gets the alerts of its scope (`alerts`), most urgent first;
//! the change is logged (ids only) and kept in the records store (`alert_events`: raised,
//! cleared). Alerts change no routing state: a replay or a standby works none out.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use protocol::{Alert, AlertKind, DeviceState, RegionId, ServerMessage, ServiceCode};
use routing::{BoothIdx, ClerkIdx, LoadRow, RegionIdx};
use serde::Deserialize;
use tracing::{info, warn};

use super::{ConnId, Driver};

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
}

/// What the alerts remember between ticks.
#[derive(Default)]
pub(super) struct AlertState {
    /// The standing alerts by subject, with when each was raised.
    current: BTreeMap<Subject, Alert>,
    /// First answers of the last hour: (when, home hall, service, within target).
    answers: VecDeque<(Instant, RegionIdx, routing::ServiceIdx, bool)>,
    /// Booths whose connection is down, since when.
    offline: HashMap<BoothIdx, Instant>,
    /// Booths that were ever connected since the start (a booth never seen is not "offline").
    seen: std::collections::HashSet<BoothIdx>,
    /// A booth came or went, or reported its devices, since the supervisors' booth list was last
    /// sent.
    pub(super) booths_changed: bool,
    /// Each booth's camera and microphone as it last reported them.
    pub(super) devices: HashMap<BoothIdx, (DeviceState, DeviceState)>,
}

/// What an alert is about: a queue (kind, hall, service), a clerk, a booth.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Subject {
    Queue(AlertKind, u32, u32),
    Clerk(u32),
    Booth(u32),
    BoothDevice(u32),
}

impl AlertState {
    pub(super) fn answered(&mut self, at: Instant, hall: RegionIdx, service: routing::ServiceIdx, within: bool) {
        self.answers.push_back((at, hall, service, within));
    }

    pub(super) fn booth_up(&mut self, booth: BoothIdx) {
        self.booths_changed = true;
        self.seen.insert(booth);
        self.offline.remove(&booth);
    }

    /// Since when a booth seen since the start is offline.
    pub(super) fn offline_since(&self, booth: BoothIdx) -> Option<Instant> {
        self.offline.get(&booth).copied()
    }

    /// A booth's report of its camera and microphone.
    pub(super) fn booth_devices(&mut self, booth: BoothIdx, camera: DeviceState, microphone: DeviceState) {
        if self.devices.insert(booth, (camera, microphone)) != Some((camera, microphone)) {
            self.booths_changed = true;
        }
    }

    pub(super) fn booth_down(&mut self, booth: BoothIdx, at: Instant) {
        self.booths_changed = true;
        if self.seen.contains(&booth) {
            self.offline.entry(booth).or_insert(at);
        }
    }
}

impl Driver {
    /// Works the alerts out; on a change, logs it and tells the supervisors.
    pub(super) fn check_alerts(&mut self, snapshot: &[LoadRow]) {
        if self.replaying || self.is_standby() {
            return;
        }
        let now = self.now;
        let unix = self.wall_unix();
        let cfg = self.shared.alerts.clone();
        let dir = self.shared.directory.clone();
        let hour = std::time::Duration::from_secs(3600);
        while self.alerts.answers.front().is_some_and(|(at, ..)| now.saturating_duration_since(*at) > hour) {
            self.alerts.answers.pop_front();
        }
        let mut found: BTreeMap<Subject, (Alert, RegionIdx)> = BTreeMap::new();
        let alert = |kind, region: RegionIdx, value: f64, zh: String, en: String| Alert {
            kind,
            region: RegionId::new(dir.region(region).id.clone()),
            service: None,
            clerk: None,
            booth: None,
            since_unix: unix,
            value,
            message_zh: zh,
            message_en: en,
        };
        for row in snapshot {
            let (Some(hall), Some(service)) = (row.hall, row.service) else { continue };
            let item = dir.service(service);
            if row.waiting > 0 && row.longest_wait > item.target_answer {
                let secs = row.longest_wait.as_secs();
                let mut a = alert(
                    AlertKind::QueueOverTarget,
                    hall,
                    secs as f64,
                    format!(
                        "{}「{}」最长等待 {} 秒，超过目标 {} 秒",
                        dir.region(hall).name,
                        item.name,
                        secs,
                        item.target_answer.as_secs()
                    ),
                    format!(
                        "{} {}: longest wait {secs} s, over the {} s target",
                        dir.region(hall).id,
                        item.code,
                        item.target_answer.as_secs()
                    ),
                );
                a.service = Some(ServiceCode::new(item.code.clone()));
                found.insert(Subject::Queue(AlertKind::QueueOverTarget, hall.0, service.0), (a, hall));
            }
        }
        let mut last_hour: HashMap<(RegionIdx, routing::ServiceIdx), (u32, u32)> = HashMap::new();
        for (_, hall, service, within) in &self.alerts.answers {
            let c = last_hour.entry((*hall, *service)).or_default();
            c.0 += 1;
            c.1 += u32::from(*within);
        }
        for ((hall, service), (answered, within)) in last_hour {
            let level = f64::from(within) / f64::from(answered);
            if answered >= cfg.service_level_min_answered && level < cfg.service_level_goal {
                let item = dir.service(service);
                let pct = (level * 100.0).round();
                let goal = (cfg.service_level_goal * 100.0).round();
                let mut a = alert(
                    AlertKind::ServiceLevelLow,
                    hall,
                    level,
                    format!("{}「{}」近一小时服务水平 {pct}%，低于目标 {goal}%", dir.region(hall).name, item.name),
                    format!(
                        "{} {}: service level {pct} % over the last hour, under the {goal} % goal",
                        dir.region(hall).id,
                        item.code
                    ),
                );
                a.service = Some(ServiceCode::new(item.code.clone()));
                found.insert(Subject::Queue(AlertKind::ServiceLevelLow, hall.0, service.0), (a, hall));
            }
        }
        for (i, clerk) in dir.clerks.iter().enumerate() {
            let c = ClerkIdx(i as u32);
            let routing::ClerkState::Away(reason) = self.engine.clerk_state(c) else { continue };
            if matches!(reason, routing::AwayReason::Assisting | routing::AwayReason::SignedIn) {
                continue;
            }
            let away = now.saturating_duration_since(self.engine.clerk_state_since(c)).as_secs();
            if away > cfg.clerk_away_limit_secs {
                let mut a = alert(
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
        if in_opening_hours(&cfg, unix) {
            for (booth, since) in &self.alerts.offline {
                let secs = now.saturating_duration_since(*since).as_secs();
                if secs > cfg.booth_offline_secs {
                    let b = dir.booth(*booth);
                    let mut a = alert(
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
        }
        for (booth, (camera, microphone)) in &self.alerts.devices {
            if !self.booth_conn.contains_key(booth) || (*camera, *microphone) == (DeviceState::Ok, DeviceState::Ok) {
                continue;
            }
            let b = dir.booth(*booth);
            let (zh, en) = device_problem(*camera, *microphone);
            let mut a =
                alert(AlertKind::BoothDevice, b.region, 0.0, format!("{}：{zh}", b.name), format!("{}: {en}", b.id));
            a.booth = Some(b.id.clone());
            found.insert(Subject::BoothDevice(booth.0), (a, b.region));
        }
        // An alert that stands keeps the time it was raised; its value goes on.
        let changed = found.keys().ne(self.alerts.current.keys());
        let at_ms = self.timeline_ms();
        let mut history = vec![];
        for (subject, (a, _)) in found.iter_mut() {
            if let Some(old) = self.alerts.current.get(subject) {
                a.since_unix = old.since_unix;
            } else {
                warn!(kind = ?a.kind, region = %a.region, service = ?a.service, clerk = ?a.clerk, booth = ?a.booth, "alert raised");
                history.push(alert_event(at_ms, "raised", a));
            }
        }
        for (subject, old) in &self.alerts.current {
            if !found.contains_key(subject) {
                info!(kind = ?old.kind, region = %old.region, "alert cleared");
                history.push(alert_event(at_ms, "cleared", old));
            }
        }
        if !history.is_empty() {
            self.write_record(crate::records::Record::Alerts(history), None);
        }
        let regions: Vec<(Subject, RegionIdx)> = found.iter().map(|(s, (_, r))| (s.clone(), *r)).collect();
        self.alerts.current = found.into_iter().map(|(s, (a, _))| (s, a)).collect();
        if changed {
            self.alert_regions = regions;
            for (conn, scope) in self.supervisor_conns() {
                self.send_alerts(conn, scope);
            }
        }
    }

    /// The alerts of `scope` to one supervisor: queues past target first, then low service
    /// levels, clerks, booths; within a kind the longest first.
    pub(super) fn send_alerts(&mut self, conn: ConnId, scope: RegionIdx) {
        let dir = self.shared.directory.clone();
        let mut alerts: Vec<Alert> = self
            .alert_regions
            .iter()
            .filter(|(_, region)| dir.is_within(*region, scope))
            .filter_map(|(subject, _)| self.alerts.current.get(subject).cloned())
            .collect();
        alerts.sort_by(|a, b| {
            let urgency = |x: &Alert| if x.kind == AlertKind::ServiceLevelLow { -x.value } else { x.value };
            a.kind.cmp(&b.kind).then(urgency(b).total_cmp(&urgency(a)))
        });
        self.send(conn, ServerMessage::Alerts { alerts });
    }
}

/// An alert's history row.
fn alert_event(at_ms: i64, event: &str, a: &Alert) -> store::AlertEventRow {
    let word = serde_json::to_value(a.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    store::AlertEventRow {
        at_ms,
        event: event.to_owned(),
        kind: word,
        region: a.region.to_string(),
        service: a.service.as_ref().map(|s| s.to_string()),
        clerk: a.clerk.clone(),
        booth: a.booth.clone(),
        since_ms: a.since_unix as i64 * 1000,
        value_milli: (a.value * 1000.0).round() as i64,
        message_zh: a.message_zh.clone(),
        message_en: a.message_en.clone(),
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

/// Whether `unix` falls within the opening hours (China time).
fn in_opening_hours(cfg: &AlertsConfig, unix: u64) -> bool {
    let Some((from, to)) = cfg.opening_minutes() else { return false };
    let minute = ((unix + 8 * 3600) % 86_400 / 60) as u32;
    (from..to).contains(&minute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_hours_are_china_time() {
        let cfg = AlertsConfig::default();
        assert_eq!(cfg.opening_minutes(), Some((510, 1050)));
        // 2026-12-01 09:00 China time is 01:00 UTC.
        assert!(in_opening_hours(&cfg, 1_796_086_800));
        assert!(!in_opening_hours(&cfg, 1_796_086_800 + 9 * 3600));
        let bad = AlertsConfig { opening_hours: "18:00-08:00".into(), ..cfg };
        assert!(bad.check().is_some());
    }
}
