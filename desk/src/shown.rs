//! What booths and clerks are shown of the engine's state: a ticket's status (sent only when it
//! changed since the booth was last told, or with a notice), an offer, a clerk's state. The
//! messages are built from the engine's views at the instant passed in.

use std::time::Instant;

use protocol::{ServerMessage, TicketNotice};
use routing::{ClerkIdx, Directory, Engine, FxMap, OfferId, RegionIdx, TicketId, TicketView};

use crate::convert::{clerk_state_out, priority_out, ticket_state_out};
use crate::ids::short_number;

/// What a booth was last told of its ticket.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct SentStatus {
    pub state: protocol::TicketState,
    pub position: Option<u32>,
    pub estimate: Option<u32>,
}

/// The status each open ticket's booth was last sent.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Shown {
    /// By ticket id (the engine's own numbers: a fast hash, as the engine's maps use).
    last: FxMap<TicketId, SentStatus>,
}

/// A status to send: the booth, the message, and the wait estimate it shows (while waiting).
pub struct StatusUpdate {
    pub ticket: TicketId,
    pub booth: routing::BoothIdx,
    pub message: ServerMessage,
    pub estimate_secs: Option<u32>,
}

impl Shown {
    /// The ticket's status if it changed since the booth was last told (or `notice` is due).
    pub fn status(
        &mut self,
        engine: &Engine,
        ticket: TicketId,
        notice: Option<TicketNotice>,
        at: Instant,
    ) -> Option<StatusUpdate> {
        let view = engine.ticket_view(ticket, at)?;
        self.status_of(engine.directory(), &view, notice)
    }

    /// [`Shown::status`] of a view already taken (a refresh takes a whole item's at once).
    pub fn status_of(
        &mut self,
        dir: &Directory,
        view: &TicketView,
        notice: Option<TicketNotice>,
    ) -> Option<StatusUpdate> {
        let ticket = view.ticket;
        let sent = SentStatus {
            state: ticket_state_out(view.state),
            position: view.position,
            estimate: view.estimated_wait.map(|d| d.as_secs() as u32),
        };
        if notice.is_none() && self.last.get(&ticket) == Some(&sent) {
            return None;
        }
        self.last.insert(ticket, sent);
        let message = ServerMessage::TicketStatus {
            ticket: protocol::TicketId(ticket.0),
            number: short_number(ticket.0),
            service: protocol::ServiceCode::new(dir.service(view.service).code.clone()),
            state: sent.state,
            position: sent.position,
            estimated_wait_secs: sent.estimate,
            waited_secs: view.waited.as_secs() as u32,
            notice,
        };
        let estimate_secs = sent.estimate.filter(|_| sent.state == protocol::TicketState::Waiting);
        Some(StatusUpdate { ticket, booth: view.booth, message, estimate_secs })
    }

    /// Forgets what the ticket's booth was told (it closed, or the next status must go out).
    pub fn forget(&mut self, ticket: TicketId) {
        self.last.remove(&ticket);
    }

    /// (ticket, status) pairs by ticket, for a snapshot.
    pub fn list(&self) -> Vec<(u64, SentStatus)> {
        let mut list: Vec<_> = self.last.iter().map(|(t, s)| (t.0, *s)).collect();
        list.sort_by_key(|s| s.0);
        list
    }

    pub fn restore(list: impl IntoIterator<Item = (u64, SentStatus)>) -> Self {
        Self { last: list.into_iter().map(|(t, s)| (TicketId(t), s)).collect() }
    }
}

/// Every region's [`region_path`], by region index: an offer names its booth's, and the directory
/// never changes under a running desk.
#[derive(Debug, Clone, Default)]
pub struct RegionPaths(Vec<String>);

impl RegionPaths {
    pub fn new(dir: &Directory) -> Self {
        Self((0..dir.regions.len()).map(|r| region_path(dir, RegionIdx(r as u32))).collect())
    }

    fn of(&self, dir: &Directory, r: RegionIdx) -> String {
        self.0.get(r.0 as usize).cloned().unwrap_or_else(|| region_path(dir, r))
    }
}

/// The offer of `ticket` to its clerk (`None` once the ticket is gone).
pub fn offer_message(
    engine: &Engine,
    paths: &RegionPaths,
    offer: OfferId,
    ticket: TicketId,
    at: Instant,
) -> Option<ServerMessage> {
    let view = engine.ticket_view(ticket, at)?;
    let dir = engine.directory();
    let booth = dir.booth(view.booth);
    let service = dir.service(view.service);
    Some(ServerMessage::Offer {
        offer: protocol::OfferId(offer.0),
        ticket: protocol::TicketId(ticket.0),
        service: protocol::ServiceCode::new(service.code.clone()),
        service_name: service.name.clone(),
        booth: protocol::BoothId::new(booth.id.clone()),
        booth_region: protocol::RegionId::new(dir.region(booth.region).id.clone()),
        booth_region_name: paths.of(dir, booth.region),
        priority: priority_out(view.priority),
        waited_secs: view.waited.as_secs() as u32,
        expires_in_ms: engine.config().offer_timeout.as_millis() as u64,
    })
}

/// The clerk's state as the engine has it now, with the wrap-up time left.
pub fn clerk_state_message(engine: &Engine, clerk: ClerkIdx, at: Instant) -> ServerMessage {
    let engine_state = engine.clerk_state(clerk);
    let wrap_up_ends_in_secs = (engine_state == routing::ClerkState::WrapUp).then(|| {
        let elapsed = at.saturating_duration_since(engine.clerk_state_since(clerk));
        engine.config().wrap_up_max.saturating_sub(elapsed).as_secs() as u32
    });
    let (state, reason) = clerk_state_out(engine_state);
    ServerMessage::ClerkState { state, reason, wrap_up_ends_in_secs }
}

/// "东营市 河口区 孤岛镇": the region and its ancestors below the province, top down.
pub fn region_path(dir: &Directory, r: RegionIdx) -> String {
    let mut names: Vec<&str> = dir
        .ancestry(r)
        .filter(|a| dir.region(*a).level != routing::Level::Province)
        .map(|a| dir.region(a).name.as_str())
        .collect();
    names.reverse();
    names.join(" ")
}
