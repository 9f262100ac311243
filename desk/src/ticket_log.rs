//! The per-ticket event log (the `queue_log` of a contact centre) and each ticket's facts: every
//! engine action about a ticket — requested, widened, offered, offer revoked (declined, timed out,
//! …), re-queued, accepted, call ended, transferred, closed — and each party's media coming up
//! becomes one row of that ticket's log ([`TicketEventRow`]); the rows of one turn go to the
//! records writer as one transaction ([`TicketLog::take_rows`]).
//!
//! Beside the log, each open ticket's facts are gathered as its actions go by (asked, first
//! answered and by which hall, calls' durations, re-queues, the first estimate shown); when it
//! closes they become its `ticket_facts` row ([`TicketFactRow`]), what the historical reports add
//! up. Times are the log's timeline (`Now::wall_ms`), so a replay writes the same ones. `detail`
//! holds ids and reasons only, never a citizen's data.

use routing::{Action, Directory, FxMap, Party, TicketId};
use serde::{Deserialize, Serialize};

use crate::convert::{call_end_out, priority_out, revoke_out, ticket_end_out};
use crate::ids::store_id;

/// One step in a ticket's life. `detail` is a JSON object (ids of parties, reasons, steps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEventRow {
    pub ticket_id: String,
    /// Order within the ticket.
    pub seq: i64,
    /// The booth's region: who may read the ticket's log follows from it.
    pub booth_region: String,
    pub at_ms: i64,
    pub kind: String,
    pub detail: String,
}

/// One closed ticket. No personal data: ids, times and reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFactRow {
    pub ticket_id: String,
    pub booth: String,
    pub booth_region: String,
    /// The hall nearest the booth that serves the item (the first hall it was offered to).
    pub home_hall: String,
    /// The item the citizen asked for.
    pub service: String,
    pub requested_ms: i64,
    /// The first time a clerk accepted it.
    pub answered_ms: Option<i64>,
    pub answered_hall: Option<String>,
    pub answered_clerk: Option<String>,
    /// The item's target answer time, in seconds, when the ticket was opened.
    pub target_secs: i64,
    pub closed_ms: i64,
    /// The ticket's end reason (`served`, `cancelled`, `booth_lost`, `no_clerk`, …).
    pub outcome: String,
    /// Its calls' durations, summed.
    pub talk_ms: i64,
    /// Times it went back to the queue because its clerk was lost or its media failed.
    pub requeues: i64,
    /// The first wait estimate the booth was shown, in seconds.
    pub estimate_secs: Option<i64>,
}
/// What the Prometheus counters count of the actions (the shell counts them when it is live).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    /// A ticket's first answer, by the answering clerk's hall.
    Answered {
        hall: String,
        service: String,
    },
    /// A ticket that ended unanswered, cancelled or with its booth gone, by its home hall.
    Abandoned {
        hall: String,
        service: String,
    },
    Offer {
        service: String,
    },
    OfferTimeout {
        service: String,
    },
}

/// An open ticket's log as a snapshot keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenTicketLog {
    pub ticket: u64,
    /// The last event's sequence number.
    pub seq: i64,
    pub booth_region: String,
    pub facts: Option<TicketFactRow>,
    /// When its current call started (Unix ms).
    pub call_started_ms: Option<i64>,
}

/// Tickets being logged and the rows not yet handed to the writer.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TicketLog {
    /// Per open ticket: the last sequence number, the booth's region and the ticket's store id.
    open: FxMap<TicketId, (i64, String, String)>,
    pending: Vec<TicketEventRow>,
    /// Per open ticket: its facts so far, and when its current call started.
    facts: FxMap<TicketId, (TicketFactRow, Option<i64>)>,
    closed: Vec<TicketFactRow>,
    /// What the counters count, since the shell last took it.
    counted: Vec<Counted>,
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

/// A row's `detail`, a JSON object written field by field: each value serialized straight into
/// the text (no intermediate `serde_json::Value`: a row is written for most engine actions, and
/// building a map for each doubled the desk's cost per input). Keys are given in alphabetical
/// order, the order `serde_json`'s maps have always written them in the stored rows.
struct Detail(Vec<u8>);

impl Detail {
    fn new() -> Self {
        let mut buf = Vec::with_capacity(96);
        buf.push(b'{');
        Detail(buf)
    }

    /// Adds `"key": value`; `key` is a plain ASCII word (never escaped).
    fn field(mut self, key: &str, value: &impl Serialize) -> Self {
        if self.0.len() > 1 {
            self.0.push(b',');
        }
        self.0.push(b'"');
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b"\":");
        // Writing into a Vec cannot fail, and these values (numbers, strings, unit enums) always serialize.
        serde_json::to_writer(&mut self.0, value).expect("a detail value serializes");
        self
    }

    fn done(mut self) -> String {
        self.0.push(b'}');
        String::from_utf8(self.0).expect("serde_json writes UTF-8")
    }
}

/// A protocol value's wire word (`served`, `booth_lost`, …).
fn word<T: Serialize>(v: T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

impl TicketLog {
    /// Open tickets' logs and facts, by ticket (nothing pending: between batches).
    pub fn open_list(&self) -> Vec<OpenTicketLog> {
        let mut list: Vec<OpenTicketLog> = self
            .open
            .iter()
            .map(|(t, (seq, region, _))| {
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
    pub fn restore(&mut self, list: &[OpenTicketLog]) {
        self.open =
            list.iter().map(|l| (TicketId(l.ticket), (l.seq, l.booth_region.clone(), store_id(l.ticket)))).collect();
        self.facts =
            list.iter().filter_map(|l| Some((TicketId(l.ticket), (l.facts.clone()?, l.call_started_ms)))).collect();
    }

    /// The first wait estimate the booth was shown (later ones do not replace it).
    pub fn note_estimate(&mut self, ticket: TicketId, secs: u32) {
        if let Some((f, _)) = self.facts.get_mut(&ticket) {
            f.estimate_secs.get_or_insert(i64::from(secs));
        }
    }

    /// The rows of the turns since the last call, and the facts of the tickets that closed in
    /// them, for the records writer.
    pub fn take_rows(&mut self) -> (Vec<TicketEventRow>, Vec<TicketFactRow>) {
        (std::mem::take(&mut self.pending), std::mem::take(&mut self.closed))
    }

    /// What the counters count of the actions since the last call (the shell adds it to its
    /// metrics when it is live, and drops it while it rebuilds its state from the log).
    pub fn take_counted(&mut self) -> Vec<Counted> {
        std::mem::take(&mut self.counted)
    }

    /// A ticket's facts so far, if it is open.
    pub fn facts(&self, ticket: TicketId) -> Option<&TicketFactRow> {
        self.facts.get(&ticket).map(|(f, _)| f)
    }

    fn push(&mut self, ticket: TicketId, at_ms: i64, kind: &str, detail: Detail) {
        let Some((seq, region, id)) = self.open.get_mut(&ticket) else { return };
        *seq += 1;
        self.pending.push(TicketEventRow {
            ticket_id: id.clone(),
            seq: *seq,
            booth_region: region.clone(),
            at_ms,
            kind: kind.to_owned(),
            detail: detail.done(),
        });
    }

    /// A party of `ticket`'s live call `call` reported its media up.
    pub fn media_up(&mut self, ticket: TicketId, call: u64, by: Party, at_ms: i64) {
        let party = match by {
            Party::Booth(_) => "booth",
            Party::Clerk(_) => "clerk",
        };
        self.push(ticket, at_ms, "media_up", Detail::new().field("call", &call).field("party", &party));
    }

    /// Adds the log row of `action`, if it is about a ticket, and folds it into the ticket's
    /// facts (and what the counters count of it).
    pub fn on_action(&mut self, action: &Action, dir: &Directory, at_ms: i64) {
        let mut counted = std::mem::take(&mut self.counted);
        self.gather_facts(action, dir, at_ms, &mut counted);
        self.counted = counted;
        match *action {
            Action::TicketOpened { ticket, booth, service, priority } => {
                let region = dir.region(dir.booth(booth).region).id.clone();
                self.open.insert(ticket, (0, region, store_id(ticket.0)));
                let detail = Detail::new()
                    .field("booth", &dir.booth(booth).id)
                    .field("priority", &priority_out(priority))
                    .field("service", &dir.service(service).code);
                self.push(ticket, at_ms, "requested", detail);
            }
            Action::TicketWidened { ticket, step, cause } => {
                let detail = Detail::new().field("cause", &snake(cause)).field("step", &step);
                self.push(ticket, at_ms, "widened", detail);
            }
            Action::OfferMade { offer, ticket, clerk, .. } => {
                let detail = Detail::new().field("clerk", &dir.clerk(clerk).id).field("offer", &offer.0);
                self.push(ticket, at_ms, "offered", detail);
            }
            Action::OfferRevoked { offer, ticket, clerk, reason } => {
                let detail = Detail::new()
                    .field("clerk", &dir.clerk(clerk).id)
                    .field("offer", &offer.0)
                    .field("reason", &revoke_out(reason));
                self.push(ticket, at_ms, "offer_revoked", detail);
            }
            Action::TicketRequeued { ticket, cause, .. } => {
                self.push(ticket, at_ms, "requeued", Detail::new().field("cause", &snake(cause)));
            }
            Action::CallStarted { call, ticket, clerk, .. } => {
                let detail = Detail::new()
                    .field("call", &call.0)
                    .field("clerk", &dir.clerk(clerk).id)
                    .field("hall", &dir.region(dir.clerk(clerk).hall).id);
                self.push(ticket, at_ms, "accepted", detail);
            }
            Action::CallEnded { call, ticket, reason, .. } => {
                let detail = Detail::new().field("call", &call.0).field("reason", &call_end_out(reason));
                self.push(ticket, at_ms, "call_ended", detail);
            }
            Action::CallTransferred { call, ticket, from, to, .. } => {
                let detail = Detail::new()
                    .field("call", &call.0)
                    .field("from", &dir.clerk(from).id)
                    .field("hall", &dir.region(dir.clerk(to).hall).id)
                    .field("to", &dir.clerk(to).id);
                self.push(ticket, at_ms, "transferred", detail);
            }
            Action::TicketServiceChanged { ticket, from, to, .. } => {
                let detail = Detail::new().field("from", &dir.service(from).code).field("to", &dir.service(to).code);
                self.push(ticket, at_ms, "service_changed", detail);
            }
            Action::TicketClosed { ticket, reason, .. } => {
                self.push(ticket, at_ms, "closed", Detail::new().field("reason", &ticket_end_out(reason)));
                self.open.remove(&ticket);
            }
            Action::QueueChanged { .. } | Action::ClerkStateChanged { .. } => {}
        }
    }

    /// Folds an action into its ticket's facts; a closed ticket's go to `closed`.
    fn gather_facts(&mut self, action: &Action, dir: &Directory, now_ms: i64, counted: &mut Vec<Counted>) {
        match *action {
            Action::TicketOpened { ticket, booth, service, .. } => {
                let b = dir.booth(booth);
                // The first hall its widening reaches: the booth's nearest region at a level the
                // item is served at (as `Directory::widening_steps` starts, without building them).
                let levels = &dir.service(service).levels;
                let home = dir.ancestry(b.region).find(|r| levels.contains(&dir.region(*r).level));
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
                        let hall = dir.region(c.hall).id.clone();
                        counted.push(Counted::Answered { hall: hall.clone(), service: f.service.clone() });
                        f.answered_ms = Some(now_ms);
                        f.answered_hall = Some(hall);
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
                    f.outcome = word(ticket_end_out(reason));
                    let abandoned = matches!(f.outcome.as_str(), "cancelled" | "booth_lost") && f.answered_ms.is_none();
                    if abandoned {
                        counted.push(Counted::Abandoned { hall: f.home_hall.clone(), service: f.service.clone() });
                    }
                    self.closed.push(f);
                }
            }
            Action::OfferMade { service, .. } => {
                counted.push(Counted::Offer { service: dir.service(service).code.clone() });
            }
            Action::OfferRevoked { ticket, reason: routing::OfferRevokeReason::Timeout, .. } => {
                if let Some((f, _)) = self.facts.get(&ticket) {
                    counted.push(Counted::OfferTimeout { service: f.service.clone() });
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn details_are_written_as_serde_json_writes_its_maps() {
        let written = Detail::new()
            .field("call", &4_294_967_297u64)
            .field("from", &"clerk-\"hekou\"-1")
            .field("hall", &"河口区")
            .field("to", &"clerk-2")
            .done();
        let expected =
            json!({"to": "clerk-2", "call": 4_294_967_297u64, "hall": "河口区", "from": "clerk-\"hekou\"-1"});
        assert_eq!(written, expected.to_string());
        let reason = Detail::new().field("reason", &ticket_end_out(routing::TicketEndReason::BoothLost)).done();
        assert_eq!(reason, r#"{"reason":"booth_lost"}"#);
        assert_eq!(word(ticket_end_out(routing::TicketEndReason::Served)), "served");
    }
}
