//! The per-ticket event log (the `queue_log` of a contact centre): every engine action about a
//! ticket — requested, widened, offered, offer revoked (declined, timed out, …), re-queued,
//! accepted, call ended, closed — and each party's media coming up becomes one row of that
//! ticket's log. The rows of one driver turn go to the records writer as one transaction.
//!
//! `detail` holds ids and reasons only, never a citizen's data.
//!
//! Beside the log, each open ticket's facts are gathered as its actions go by (asked, first
//! answered and by which hall, calls' durations, re-queues, the first estimate shown); when it
//! closes they become its `ticket_facts` row, what the historical reports add up. Their times
//! are the driver's timeline, so a replay (or a test in virtual time) writes the same ones.

use std::collections::HashMap;

use routing::{Action, Party, TicketId};
use serde_json::json;
use store::{TicketEventRow, TicketFactRow};

use host::snapshot::OpenTicketLog;

use super::Driver;
use crate::records::{store_id, Record};
use desk::convert::{call_end_out, priority_out, revoke_out, ticket_end_out};

/// Tickets being logged and the rows not yet handed to the writer.
#[derive(Default)]
pub(super) struct EventLog {
    /// Per open ticket: the last sequence number and the booth's region.
    open: HashMap<TicketId, (i64, String)>,
    pending: Vec<TicketEventRow>,
    /// The current input's time on the log's timeline (Unix ms): what its events are stamped
    /// with, so a replay stamps the same.
    at_ms: i64,
    /// Per open ticket: its facts so far, and when its current call started.
    facts: HashMap<TicketId, (TicketFactRow, Option<i64>)>,
    closed: Vec<TicketFactRow>,
}

impl EventLog {
    /// Open tickets' logs and facts, by ticket (nothing pending: between batches).
    pub(super) fn open_list(&self) -> Vec<OpenTicketLog> {
        let mut list: Vec<OpenTicketLog> = self
            .open
            .iter()
            .map(|(t, (seq, region))| {
                let (facts, call_started_ms) = match self.facts.get(t) {
                    Some((f, at)) => (Some(f.clone()), *at),
                    None => (None, None),
                };
                OpenTicketLog { ticket: t.0, seq: *seq, booth_region: region.clone(), facts, call_started_ms }
            })
            .collect();
        list.sort_by_key(|l| l.ticket);
        list
    }

    /// Takes a snapshot's open logs (what was pending went to the writer before).
    pub(super) fn restore(&mut self, list: &[OpenTicketLog]) {
        self.open = list.iter().map(|l| (TicketId(l.ticket), (l.seq, l.booth_region.clone()))).collect();
        self.facts =
            list.iter().filter_map(|l| Some((TicketId(l.ticket), (l.facts.clone()?, l.call_started_ms)))).collect();
    }

    /// The first wait estimate the booth was shown (later ones do not replace it).
    pub(super) fn note_estimate(&mut self, ticket: TicketId, secs: u32) {
        if let Some((f, _)) = self.facts.get_mut(&ticket) {
            f.estimate_secs.get_or_insert(i64::from(secs));
        }
    }
}

/// `OfferNotTaken` → `offer_not_taken`: engine-only reasons in the log's words.
fn snake(debug: impl std::fmt::Debug) -> String {
    let mut out = String::new();
    for (i, c) in format!("{debug:?}").chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A protocol value's wire word.
fn wire<T: serde::Serialize>(v: T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

impl EventLog {
    fn push(&mut self, ticket: TicketId, kind: &str, detail: serde_json::Value) {
        let Some((seq, region)) = self.open.get_mut(&ticket) else { return };
        *seq += 1;
        self.pending.push(TicketEventRow {
            ticket_id: store_id(ticket.0),
            seq: *seq,
            booth_region: region.clone(),
            at_ms: self.at_ms,
            kind: kind.to_owned(),
            detail: detail.to_string(),
        });
    }
}

impl Driver {
    /// Adds the log row of `action`, if it is about a ticket.
    pub(super) fn log_action(&mut self, action: &Action) {
        let dir = self.shared.directory.clone();
        let now_ms = self.timeline_ms();
        // A first answer counts in the last hour's service level (the supervisors' alerts).
        if let Action::CallStarted { ticket, .. } = *action {
            if let Some((f, _)) = self.events.facts.get(&ticket).filter(|(f, _)| f.answered_ms.is_none()) {
                let within = now_ms - f.requested_ms <= f.target_secs * 1000;
                let service = dir.service_idx(&f.service);
                if let (Some(hall), Some(service)) = (dir.region_idx(&f.home_hall), service) {
                    self.desk.alerts.answered(self.now, hall, service, within);
                }
            }
        }
        self.events.gather_facts(action, &dir, now_ms, self.reach().counts());
        let log = &mut self.events;
        log.at_ms = now_ms;
        match *action {
            Action::TicketOpened { ticket, booth, service, priority } => {
                let region = dir.region(dir.booth(booth).region).id.clone();
                log.open.insert(ticket, (0, region));
                let detail = json!({"booth": dir.booth(booth).id, "service": dir.service(service).code,
                                    "priority": wire(priority_out(priority))});
                log.push(ticket, "requested", detail);
            }
            Action::TicketWidened { ticket, step, cause } => {
                log.push(ticket, "widened", json!({"step": step, "cause": snake(cause)}));
            }
            Action::OfferMade { offer, ticket, clerk, .. } => {
                log.push(ticket, "offered", json!({"offer": offer.0, "clerk": dir.clerk(clerk).id}));
            }
            Action::OfferRevoked { offer, ticket, clerk, reason } => {
                let detail =
                    json!({"offer": offer.0, "clerk": dir.clerk(clerk).id, "reason": wire(revoke_out(reason))});
                log.push(ticket, "offer_revoked", detail);
            }
            Action::TicketRequeued { ticket, cause, .. } => {
                log.push(ticket, "requeued", json!({"cause": snake(cause)}));
            }
            Action::CallStarted { call, ticket, clerk, .. } => {
                let detail =
                    json!({"call": call.0, "clerk": dir.clerk(clerk).id, "hall": dir.region(dir.clerk(clerk).hall).id});
                log.push(ticket, "accepted", detail);
            }
            Action::CallEnded { call, ticket, reason, .. } => {
                log.push(ticket, "call_ended", json!({"call": call.0, "reason": wire(call_end_out(reason))}));
            }
            Action::CallTransferred { call, ticket, from, to, .. } => {
                let detail = json!({"call": call.0, "from": dir.clerk(from).id, "to": dir.clerk(to).id,
                                    "hall": dir.region(dir.clerk(to).hall).id});
                log.push(ticket, "transferred", detail);
            }
            Action::TicketServiceChanged { ticket, from, to, .. } => {
                let detail = json!({"from": dir.service(from).code, "to": dir.service(to).code});
                log.push(ticket, "service_changed", detail);
            }
            Action::TicketClosed { ticket, reason, .. } => {
                log.push(ticket, "closed", json!({"reason": wire(ticket_end_out(reason))}));
                log.open.remove(&ticket);
            }
            Action::QueueChanged { .. } | Action::ClerkStateChanged { .. } => {}
        }
    }

    /// A party reported its media up on a live call.
    pub(super) fn log_media_up(&mut self, call: routing::CallId, by: Party) {
        let Some(view) = self.desk.engine().call(call) else { return };
        let party = match by {
            Party::Booth(_) => "booth",
            Party::Clerk(_) => "clerk",
        };
        self.events.push(view.ticket, "media_up", json!({"call": call.0, "party": party}));
    }

    /// Hands the batch's rows to the records writer (a replay's rows, all of them, in one
    /// transaction after it; rows already written are skipped).
    pub(super) fn flush_events(&mut self) {
        if !self.events.pending.is_empty() || !self.events.closed.is_empty() {
            let rows = std::mem::take(&mut self.events.pending);
            let facts = std::mem::take(&mut self.events.closed);
            self.write_record(Record::Events(rows, facts), None);
        }
        let stretches = self.desk.clerk_time.take_closed();
        if !stretches.is_empty() {
            self.write_record(Record::ClerkTime(stretches), None);
        }
    }
}

impl EventLog {
    /// Folds an action into its ticket's facts; a closed ticket's go to `closed`.
    /// `count`: also count it in the Prometheus metrics (live, not while rebuilding).
    fn gather_facts(&mut self, action: &Action, dir: &routing::Directory, now_ms: i64, count: bool) {
        use crate::metrics::{labels, METRICS};
        match *action {
            Action::TicketOpened { ticket, booth, service, .. } => {
                let b = dir.booth(booth);
                let home = dir.widening_steps(b.region, service).first().and_then(|s| s.first().copied());
                let fact = TicketFactRow {
                    ticket_id: store_id(ticket.0),
                    booth: b.id.clone(),
                    booth_region: dir.region(b.region).id.clone(),
                    home_hall: dir.region(home.unwrap_or(b.region)).id.clone(),
                    service: dir.service(service).code.clone(),
                    requested_ms: now_ms,
                    answered_ms: None,
                    answered_hall: None,
                    answered_clerk: None,
                    target_secs: dir.service(service).target_answer.as_secs() as i64,
                    closed_ms: now_ms,
                    outcome: String::new(),
                    talk_ms: 0,
                    requeues: 0,
                    estimate_secs: None,
                };
                self.facts.insert(ticket, (fact, None));
            }
            Action::CallStarted { ticket, clerk, .. } => {
                if let Some((f, call_at)) = self.facts.get_mut(&ticket) {
                    if f.answered_ms.is_none() {
                        let c = dir.clerk(clerk);
                        if count {
                            let hall = &dir.region(c.hall).id;
                            METRICS.answers.get_or_create(&labels(&[("hall", hall), ("service", &f.service)])).inc();
                        }
                        f.answered_ms = Some(now_ms);
                        f.answered_hall = Some(dir.region(c.hall).id.clone());
                        f.answered_clerk = Some(c.id.clone());
                    }
                    *call_at = Some(now_ms);
                }
            }
            Action::CallEnded { ticket, .. } => {
                if let Some((f, call_at)) = self.facts.get_mut(&ticket) {
                    if let Some(at) = call_at.take() {
                        f.talk_ms += now_ms - at;
                    }
                }
            }
            Action::TicketRequeued { ticket, cause, .. } => {
                let lost = matches!(cause, routing::RequeueCause::ClerkLost | routing::RequeueCause::MediaFailed);
                if let (Some((f, _)), true) = (self.facts.get_mut(&ticket), lost) {
                    f.requeues += 1;
                }
            }
            Action::TicketClosed { ticket, reason, .. } => {
                if let Some((mut f, _)) = self.facts.remove(&ticket) {
                    f.closed_ms = now_ms;
                    f.outcome = wire(ticket_end_out(reason)).as_str().unwrap_or_default().to_owned();
                    let abandoned = matches!(f.outcome.as_str(), "cancelled" | "booth_lost") && f.answered_ms.is_none();
                    if count && abandoned {
                        let key = labels(&[("hall", &f.home_hall), ("service", &f.service)]);
                        METRICS.abandons.get_or_create(&key).inc();
                    }
                    self.closed.push(f);
                }
            }
            Action::OfferMade { service, .. } if count => {
                METRICS.offers.get_or_create(&labels(&[("service", &dir.service(service).code)])).inc();
            }
            Action::OfferRevoked { ticket, reason: routing::OfferRevokeReason::Timeout, .. } if count => {
                if let Some((f, _)) = self.facts.get(&ticket) {
                    METRICS.offer_timeouts.get_or_create(&labels(&[("service", &f.service)])).inc();
                }
            }
            _ => {}
        }
    }
}
