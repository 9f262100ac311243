//! Client messages: the desk decides them ([`desk::Desk::on_message`]) and the driver carries out
//! its effects — except the two kinds whose decision needs what only the shell holds: a
//! supervisor's silent monitoring (its connection, the relay's room; `monitor.rs`) and a document's
//! review (the document registry resolves the id, then the desk decides). A refused message is
//! answered with an `error` and changes nothing.

use desk::effect::Effect;
use desk::messages::DocumentRef;
use protocol::{ClientMessage, ErrorCode, ServerMessage};
use routing::ClerkIdx;
use tracing::info;

use super::{ConnId, Driver, Principal};

impl Driver {
    pub(super) fn on_message(&mut self, conn: ConnId, msg: ClientMessage) {
        let started = std::time::Instant::now();
        let kind = msg.kind();
        self.handle_message(conn, msg);
        if self.reach().counts() {
            let h = crate::metrics::METRICS.messages.get_or_create(&vec![("kind", kind.to_owned())]);
            crate::metrics::observe(&h, started.elapsed());
        }
    }

    fn handle_message(&mut self, conn: ConnId, msg: ClientMessage) {
        let Some(who) = self.conns.get(&conn).map(|c| c.who) else {
            return;
        };
        let result = match (who, &msg) {
            (Principal::Supervisor(sup), ClientMessage::MonitorCall { call }) => self.monitor_call(conn, sup, *call),
            (Principal::Supervisor(_), ClientMessage::StopMonitoring { call }) => self.stop_monitoring(conn, *call),
            (Principal::Supervisor(_), ClientMessage::Sdp { .. } | ClientMessage::IceCandidate { .. }) => {
                self.monitor_signal(conn, &msg)
            }
            (Principal::Clerk(clerk), ClientMessage::ReviewDocument { document, accepted, reason }) => {
                self.review_document(clerk, document, *accepted, reason.clone())
            }
            _ => return self.desk_message(conn, who, &msg),
        };
        if let Err(code) = result {
            self.reply_error(conn, code, &msg);
        }
    }

    /// A message the desk decides ([`desk::Desk::apply`]); what it led to carried out in order. A
    /// refused message is answered first; so is a signal the relay refuses (no room for the call,
    /// or this node does not drive the relay).
    fn desk_message(&mut self, conn: ConnId, who: Principal, msg: &ClientMessage) {
        let applied = self.desk.apply(desk::Event::Message { who, msg }, self.turn_now(), &self.clerk_conn);
        match applied.refused {
            Some(code) => self.reply_error(conn, code, msg),
            None => log_decided(msg, &self.shared.directory, who),
        }
        for effect in applied.effects {
            match effect {
                Effect::ToRelay { call, party, signal } => {
                    if let Err(code) = self.forward_to_relay(call, &party, &signal) {
                        self.reply_error(conn, code, msg);
                    }
                }
                other => self.carry_out_effect(other),
            }
        }
    }

    fn review_document(
        &mut self,
        clerk: ClerkIdx,
        document: &protocol::DocumentId,
        accepted: bool,
        reason: Option<String>,
    ) -> Result<(), ErrorCode> {
        let meta = self.shared.docs.get(document.as_str()).ok_or(ErrorCode::NotFound)?;
        let doc = DocumentRef { id: meta.id.clone(), call: meta.call, doc_type: meta.doc_type };
        let write = self.desk.review_document(clerk, &doc, accepted, reason, self.turn_now())?;
        info!(call = meta.call, document = %meta.id, accepted, "document reviewed");
        self.carry_out_write(write);
        Ok(())
    }

    pub(super) fn document_stored(&mut self, meta: crate::doc_meta::DocMeta) {
        self.shared.docs.remember(&meta);
        let Some(view) = self.desk.engine().call(routing::CallId(meta.call)) else { return };
        let url = format!("/api/documents/{}", meta.id);
        let msg = ServerMessage::DocumentReady {
            call: protocol::CallId(meta.call),
            document: protocol::DocumentId::new(meta.id.clone()),
            doc_type: meta.doc_type,
            width: meta.width,
            height: meta.height,
            bytes: meta.bytes,
            sha256_original: meta.sha256_original.clone(),
            sha256_result: meta.sha256_result.clone(),
            thumbnail_url: format!("{url}/thumbnail"),
            url,
            expires_at_unix: meta.created_unix + self.shared.docs.config.link_ttl_secs,
        };
        self.send_to_clerk(view.clerk, msg);
    }
}

/// The server log's line for a message the desk took, where one is kept (ids only, never a
/// citizen's data).
fn log_decided(msg: &ClientMessage, dir: &routing::Directory, who: Principal) {
    match (msg, who) {
        (ClientMessage::RequestDocument { call, doc_type }, _) => {
            info!(call = call.0, doc_type = doc_type.as_str(), "document requested");
        }
        (ClientMessage::RateService { ticket, rating, .. }, _) => info!(ticket = ticket.0, ?rating, "service rated"),
        (ClientMessage::InviteToCall { call, .. }, Principal::Clerk(c)) => {
            info!(call = call.0, from = %dir.clerk(c).id, "invited to a call");
        }
        (ClientMessage::JoinCall { call }, Principal::Clerk(c)) => {
            info!(call = call.0, guest = %dir.clerk(c).id, "a guest joined the call");
        }
        _ => {}
    }
}
