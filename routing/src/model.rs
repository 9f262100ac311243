//! The engine's vocabulary: inputs it accepts, actions it emits, states, reasons and rejections.
//!
//! These are plain Rust types, not wire types: the server converts them to and from `protocol`.

use crate::directory::{BoothIdx, ClerkIdx, ServiceIdx};

/// A queue ticket, numbered from 1 in order of arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TicketId(pub u64);
/// One offer of one ticket to one clerk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OfferId(pub u64);
/// One call between a booth and a clerk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// Priority class; a higher class is always served first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Priority {
    #[default]
    Normal,
    /// Elderly or disabled citizen.
    Elderly,
    /// Booked appointment.
    Appointment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClerkState {
    Offline,
    Available,
    Offered,
    InCall,
    WrapUp,
    Away(AwayReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AwayReason {
    SignedIn,
    Break,
    Meal,
    Meeting,
    Training,
    Paperwork,
    MissedOffers,
    Supervisor,
    /// The clerk's connection dropped; within the grace period the clerk is held here and becomes
    /// available again on return.
    Disconnected,
    /// In another clerk's call as its invited third party (三方通话): offered nothing meanwhile.
    Assisting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketState {
    Waiting,
    Offered,
    Connected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketEndReason {
    Served,
    Cancelled,
    BoothLost,
    NoClerk,
    Expired,
    ServerShutdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallEndReason {
    HungUpByBooth,
    HungUpByClerk,
    BoothLost,
    /// The clerk disconnected; the ticket was re-queued at the head (`clerk_lost_requeued`).
    ClerkLost,
    /// The media path never came up (or failed for good); the ticket was re-queued at the head.
    MediaFailed,
    /// The clerk sent the citizen to another service's queue, at its head (`RequeueCall`).
    Requeued,
    ServerShutdown,
}

/// Why a ticket went back to waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequeueCause {
    /// An offer was declined, timed out or its clerk left: the ticket keeps its place.
    OfferNotTaken,
    /// The clerk disconnected mid-call: back to the head.
    ClerkLost,
    /// The call's media never connected: back to the head.
    MediaFailed,
    /// The clerk sent the citizen to another service's queue: to its head.
    Transferred,
}

impl RequeueCause {
    pub fn at_head(self) -> bool {
        !matches!(self, RequeueCause::OfferNotTaken)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferRevokeReason {
    Timeout,
    /// The clerk declined it.
    Declined,
    CancelledByCitizen,
    BoothLost,
    /// The booth's connection dropped; the ticket keeps its place, held until the booth is back.
    BoothAway,
    Expired,
    /// The clerk disconnected while the offer was out.
    ClerkLost,
    ServerShutdown,
}

/// Who did something to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    Booth(BoothIdx),
    Clerk(ClerkIdx),
}

/// Why a ticket's pool widened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WidenCause {
    /// Its waited time reached the service's threshold for this step.
    Threshold,
    /// Nobody with the skill was signed in at the previous step.
    EmptyStep,
}

/// Everything that can happen to the engine. The current time travels beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A clerk's console connected: offline → away(signed_in).
    ClerkSignIn {
        clerk: ClerkIdx,
    },
    /// A clerk's console is gone. An offer goes back; a call ends and its ticket goes to the head.
    ClerkSignOut {
        clerk: ClerkIdx,
    },
    /// The clerk's connection dropped. A call goes on (media does not depend on signaling), a
    /// wrap-up goes on, an offer is withdrawn and an available clerk is held out of matching; if
    /// the clerk has not signed in again within `clerk_grace`, it is signed out.
    ClerkDisconnected {
        clerk: ClerkIdx,
    },
    ClerkSetAvailable {
        clerk: ClerkIdx,
    },
    ClerkSetAway {
        clerk: ClerkIdx,
        reason: AwayReason,
    },
    EndWrapUp {
        clerk: ClerkIdx,
    },
    AcceptOffer {
        clerk: ClerkIdx,
        offer: OfferId,
    },
    DeclineOffer {
        clerk: ClerkIdx,
        offer: OfferId,
    },
    /// The booth's connection is up (first time or after a drop: ends its grace period).
    BoothConnected {
        booth: BoothIdx,
    },
    /// The booth's connection dropped: its ticket is held for the grace period.
    BoothDisconnected {
        booth: BoothIdx,
    },
    RequestService {
        booth: BoothIdx,
        service: ServiceIdx,
        priority: Priority,
    },
    CancelTicket {
        booth: BoothIdx,
        ticket: TicketId,
    },
    HangUp {
        call: CallId,
        by: Party,
    },
    /// A party's media is up. The call must be up on both sides before its media timeout.
    MediaConnected {
        call: CallId,
        by: Party,
    },
    /// A party's media failed for good: the call ends and the ticket goes back to the head.
    MediaFailed {
        call: CallId,
        by: Party,
    },
    /// The call's clerk hands it to another clerk (转接), who must be connected and available or
    /// assisting in a call (a three-way call's guest: the warm transfer). The call goes on with
    /// the same id and ticket; `from` goes to wrap-up (its part is a case of its own), `to` is in
    /// the call and must bring its media up within the media timeout.
    TransferCall {
        call: CallId,
        from: ClerkIdx,
        to: ClerkIdx,
    },
    /// The call's clerk sends the citizen to another service item's queue, at its head (the
    /// citizen asked for the wrong item) — first of its priority class, as every re-queue. Its
    /// pool widens on the new item's schedule, counted from the re-queue. The call ends (`requeued`), the clerk goes to wrap-up,
    /// and the same ticket waits for the new service, first in line.
    RequeueCall {
        call: CallId,
        clerk: ClerkIdx,
        service: ServiceIdx,
    },
    /// Close everything with `server_shutdown`.
    Shutdown,
}

/// What the engine asks its driver to do or tell. Drained with `poll_action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    TicketOpened {
        ticket: TicketId,
        booth: BoothIdx,
        service: ServiceIdx,
        priority: Priority,
    },
    /// Positions or estimates of this service's waiting tickets may have changed.
    QueueChanged {
        service: ServiceIdx,
    },
    TicketWidened {
        ticket: TicketId,
        step: usize,
        cause: WidenCause,
    },
    OfferMade {
        offer: OfferId,
        ticket: TicketId,
        clerk: ClerkIdx,
        booth: BoothIdx,
        service: ServiceIdx,
    },
    OfferRevoked {
        offer: OfferId,
        ticket: TicketId,
        clerk: ClerkIdx,
        reason: OfferRevokeReason,
    },
    /// The ticket returned to waiting after an offer or call that did not complete.
    TicketRequeued {
        ticket: TicketId,
        booth: BoothIdx,
        cause: RequeueCause,
    },
    CallStarted {
        call: CallId,
        ticket: TicketId,
        booth: BoothIdx,
        clerk: ClerkIdx,
        service: ServiceIdx,
    },
    CallEnded {
        call: CallId,
        ticket: TicketId,
        booth: BoothIdx,
        clerk: ClerkIdx,
        service: ServiceIdx,
        reason: CallEndReason,
    },
    /// The call went from one clerk to another (`TransferCall`); it goes on.
    CallTransferred {
        call: CallId,
        ticket: TicketId,
        booth: BoothIdx,
        service: ServiceIdx,
        from: ClerkIdx,
        to: ClerkIdx,
    },
    /// The ticket now waits for another service item (`RequeueCall`); `TicketRequeued` follows.
    TicketServiceChanged {
        ticket: TicketId,
        booth: BoothIdx,
        from: ServiceIdx,
        to: ServiceIdx,
    },
    TicketClosed {
        ticket: TicketId,
        booth: BoothIdx,
        service: ServiceIdx,
        reason: TicketEndReason,
    },
    ClerkStateChanged {
        clerk: ClerkIdx,
        state: ClerkState,
    },
}

/// Why an input was refused. A refused input changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("unknown booth")]
    UnknownBooth,
    #[error("unknown clerk")]
    UnknownClerk,
    #[error("unknown service item")]
    UnknownService,
    #[error("no hall may serve this service item for this booth")]
    ServiceNotOffered,
    #[error("the booth already has an open ticket")]
    TicketAlreadyOpen,
    #[error("no such ticket for this booth")]
    NoSuchTicket,
    #[error("no such offer for this clerk")]
    NoSuchOffer,
    #[error("no such call for this party")]
    NoSuchCall,
    #[error("not possible in the current state")]
    WrongState,
    #[error("the engine is shut down")]
    ShutDown,
}
