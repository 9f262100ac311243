//! The per-ticket event log (the `queue_log` of a contact centre): every engine action about a
//! ticket — requested, widened, offered, offer revoked (declined, timed out, …), re-queued,
//! accepted, call ended, closed — and each party's media coming up becomes one row of that
//! ticket's log. The rows of one driver turn go to the records writer as one transaction.
//!
//! `detail` holds ids and reasons only, never a citizen's data.

use std::collections::HashMap;

use routing::{Action, Party, TicketId};
use serde_json::json;
use store::TicketEventRow;

use super::Driver;
use crate::convert::{call_end_out, priority_out, revoke_out, ticket_end_out};
use crate::records::{store_id, Record};

/// Tickets being logged and the rows not yet handed to the writer.
#[derive(Default)]
pub(super) struct EventLog {
    /// Per open ticket: the last sequence number and the booth's region.
    open: HashMap<TicketId, (i64, String)>,
    pending: Vec<TicketEventRow>,
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
            at_ms: store::now_ms(),
            kind: kind.to_owned(),
            detail: detail.to_string(),
        });
    }
}

impl Driver {
    /// Adds the log row of `action`, if it is about a ticket.
    pub(super) fn log_action(&mut self, action: &Action) {
        let dir = self.shared.directory.clone();
        let log = &mut self.events;
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
        let Some(view) = self.engine.call(call) else { return };
        let party = match by {
            Party::Booth(_) => "booth",
            Party::Clerk(_) => "clerk",
        };
        self.events.push(view.ticket, "media_up", json!({"call": call.0, "party": party}));
    }

    /// Hands the batch's rows to the records writer (a replay's rows, all of them, in one
    /// transaction after it; rows already written are skipped).
    pub(super) fn flush_events(&mut self) {
        if !self.events.pending.is_empty() {
            let rows = std::mem::take(&mut self.events.pending);
            self.write_record(Record::Events(rows), None);
        }
    }
}
