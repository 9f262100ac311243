//! What the desk's decisions read beside the directory: the configured supervisors (whom a
//! supervisor may act on) and the static STUN/TURN servers a guest joining a call is given.

use protocol::IceServer;
use routing::RegionIdx;

/// A configured supervisor, as the desk's decisions read it: who, and the region they oversee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supervisor {
    pub id: String,
    pub scope: RegionIdx,
}

/// The desk's staff configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Staff {
    /// A [`crate::Principal::Supervisor`] is an index into them.
    pub supervisors: Vec<Supervisor>,
    pub ice_servers: Vec<IceServer>,
}
