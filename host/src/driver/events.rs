//! The shell of the desk's per-ticket event log ([`desk::ticket_log`]): each batch's rows, and the
//! facts of the tickets that closed in it, go to the records writer as one transaction (with the
//! clerks' closed stretches of time); what the Prometheus counters count of the actions is added
//! to them while the driver is live (not while it rebuilds its state from the log).

use desk::ticket_log::Counted;

use super::Driver;
use crate::records::Record;

impl Driver {
    /// Hands the batch's rows to the records writer (a replay's rows, all of them, in one
    /// transaction after it; rows already written are skipped).
    pub(super) fn flush_events(&mut self) {
        let (rows, facts) = self.desk.ticket_log.take_rows();
        if !rows.is_empty() || !facts.is_empty() {
            self.write_record(Record::Events(rows, facts), None);
        }
        let stretches = self.desk.clerk_time.take_closed();
        if !stretches.is_empty() {
            self.write_record(Record::ClerkTime(stretches), None);
        }
    }

    /// Adds what the desk counted of the last drain's actions to the metrics, if this driver counts.
    pub(super) fn count_actions(&mut self) {
        use crate::metrics::{labels, METRICS};
        let counted = self.desk.ticket_log.take_counted();
        if !self.reach().counts() {
            return;
        }
        for c in counted {
            match c {
                Counted::Answered { hall, service } => {
                    METRICS.answers.get_or_create(&labels(&[("hall", &hall), ("service", &service)])).inc();
                }
                Counted::Abandoned { hall, service } => {
                    METRICS.abandons.get_or_create(&labels(&[("hall", &hall), ("service", &service)])).inc();
                }
                Counted::Offer { service } => {
                    METRICS.offers.get_or_create(&labels(&[("service", &service)])).inc();
                }
                Counted::OfferTimeout { service } => {
                    METRICS.offer_timeouts.get_or_create(&labels(&[("service", &service)])).inc();
                }
            }
        }
    }
}
