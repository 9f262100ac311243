//! The driver's side of handing a citizen on (转接): `transfer_call` is checked by the desk
//! ([`desk::transfer::check`]) and applied by the engine (`TransferCall`); what follows the
//! engine's `CallTransferred` is the desk's ([`desk::transfer::transferred`]), routed with the
//! other actions. `requeue_call`: the call ends and the ticket waits at the head of another
//! service item's queue (the engine's actions say the rest).

use desk::convert::reject_code;
use protocol::{CallId, ErrorCode, ServiceCode};
use routing::{ClerkIdx, Input};

use super::Driver;

impl Driver {
    pub(super) fn transfer_call(&mut self, clerk: ClerkIdx, call: CallId, to: &str) -> Result<(), ErrorCode> {
        let to = desk::transfer::check(&self.floor(), &self.desk.three_way, call.0, to)?;
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
}
