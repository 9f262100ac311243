//! The driver's side of three-way calls (三方通话, relay mode) beyond the clients' messages (which
//! the desk decides): a guest whose connection went away leaves its call.

use routing::ClerkIdx;

use super::Driver;

impl Driver {
    /// The guest leaves (its connection or the call went away); with `available` it is available
    /// again once the engine's current work is drained (see `Driver::route_all`).
    pub(super) fn leave_call(&mut self, call: u64, available: bool) {
        let effects = self.decide_three_way(|floor, three_way| three_way.leave(floor, call, available));
        self.carry_out_effects(effects);
    }

    /// The call the clerk is a guest of.
    pub(super) fn guest_call(&self, clerk: ClerkIdx) -> Option<u64> {
        self.desk.three_way.guest_call(clerk)
    }
}
