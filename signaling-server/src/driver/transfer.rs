//! The driver's side of handing a citizen on (转接): `transfer_call` is checked by the desk
//! ([`desk::transfer::check`]), applied by the engine (`TransferCall`), and what follows is the
//! desk's ([`desk::transfer::transferred`]) — the driver writes the first clerk's case and
//! carries out the effects. `requeue_call`: the call ends and the ticket waits at the head of
//! another service item's queue (the engine's actions say the rest).

use protocol::{CallId, ErrorCode, ServiceCode};
use routing::{BoothIdx, ClerkIdx, Input, ServiceIdx, TicketId};

use super::Driver;
use crate::convert::reject_code;

impl Driver {
    pub(super) fn transfer_call(&mut self, clerk: ClerkIdx, call: CallId, to: &str) -> Result<(), ErrorCode> {
        let to = desk::transfer::check(&self.floor(), &self.three_way, call.0, to)?;
        self.input(Input::TransferCall { call: routing::CallId(call.0), from: clerk, to }).map_err(reject_code)
    }

    pub(super) fn requeue_call(
        &mut self,
        clerk: ClerkIdx,
        call: CallId,
        service: &ServiceCode,
    ) -> Result<(), ErrorCode> {
        let service = self.shared.directory.service_idx(service.as_str()).ok_or(ErrorCode::UnknownService)?;
        self.input(Input::RequeueCall { call: routing::CallId(call.0), clerk, service }).map_err(reject_code)
    }

    /// The engine moved the call from `from` to `to`: tell everyone, move the media.
    pub(super) fn on_call_transferred(
        &mut self,
        call: routing::CallId,
        ticket: TicketId,
        booth: BoothIdx,
        service: ServiceIdx,
        from: ClerkIdx,
        to: ClerkIdx,
    ) {
        // The first clerk's part is a case of its own (its wrap-up records it).
        self.open_case(call, ticket, booth, from, service, protocol::CallEndReason::Transferred);
        let effects = self.decide_three_way(|floor, three_way| {
            desk::transfer::transferred(floor, three_way, call, ticket, booth, from, to)
        });
        if let Some(media) = self.media_calls.get_mut(&call.0) {
            media.clerks.push(to);
        }
        self.carry_out_effects(effects);
    }
}
