//! Conversions between the engine's types and the wire protocol's. The engine never sees serde;
//! the protocol never sees engine indices.

use protocol as p;
use routing as r;

pub fn priority_in(x: p::Priority) -> r::Priority {
    match x {
        p::Priority::Normal => r::Priority::Normal,
        p::Priority::Elderly => r::Priority::Elderly,
        p::Priority::Appointment => r::Priority::Appointment,
    }
}

pub fn priority_out(x: r::Priority) -> p::Priority {
    match x {
        r::Priority::Normal => p::Priority::Normal,
        r::Priority::Elderly => p::Priority::Elderly,
        r::Priority::Appointment => p::Priority::Appointment,
    }
}

pub fn away_in(x: p::AwayReason) -> r::AwayReason {
    match x {
        p::AwayReason::SignedIn => r::AwayReason::SignedIn,
        p::AwayReason::Break => r::AwayReason::Break,
        p::AwayReason::Meal => r::AwayReason::Meal,
        p::AwayReason::Meeting => r::AwayReason::Meeting,
        p::AwayReason::Training => r::AwayReason::Training,
        p::AwayReason::Paperwork => r::AwayReason::Paperwork,
        p::AwayReason::MissedOffers => r::AwayReason::MissedOffers,
        p::AwayReason::Supervisor => r::AwayReason::Supervisor,
        p::AwayReason::Disconnected => r::AwayReason::Disconnected,
        p::AwayReason::Assisting => r::AwayReason::Assisting,
    }
}

pub fn away_out(x: r::AwayReason) -> p::AwayReason {
    match x {
        r::AwayReason::SignedIn => p::AwayReason::SignedIn,
        r::AwayReason::Break => p::AwayReason::Break,
        r::AwayReason::Meal => p::AwayReason::Meal,
        r::AwayReason::Meeting => p::AwayReason::Meeting,
        r::AwayReason::Training => p::AwayReason::Training,
        r::AwayReason::Paperwork => p::AwayReason::Paperwork,
        r::AwayReason::MissedOffers => p::AwayReason::MissedOffers,
        r::AwayReason::Supervisor => p::AwayReason::Supervisor,
        r::AwayReason::Disconnected => p::AwayReason::Disconnected,
        r::AwayReason::Assisting => p::AwayReason::Assisting,
    }
}

/// A clerk state and, when away, the reason.
pub fn clerk_state_out(x: r::ClerkState) -> (p::ClerkState, Option<p::AwayReason>) {
    match x {
        r::ClerkState::Offline => (p::ClerkState::Offline, None),
        r::ClerkState::Available => (p::ClerkState::Available, None),
        r::ClerkState::Offered => (p::ClerkState::Offered, None),
        r::ClerkState::InCall => (p::ClerkState::InCall, None),
        r::ClerkState::WrapUp => (p::ClerkState::WrapUp, None),
        r::ClerkState::Away(reason) => (p::ClerkState::Away, Some(away_out(reason))),
    }
}

pub fn ticket_state_out(x: r::TicketState) -> p::TicketState {
    match x {
        r::TicketState::Waiting => p::TicketState::Waiting,
        r::TicketState::Offered => p::TicketState::Offered,
        r::TicketState::Connected => p::TicketState::Connected,
    }
}

pub fn ticket_end_out(x: r::TicketEndReason) -> p::TicketEndReason {
    match x {
        r::TicketEndReason::Served => p::TicketEndReason::Served,
        r::TicketEndReason::Cancelled => p::TicketEndReason::Cancelled,
        r::TicketEndReason::BoothLost => p::TicketEndReason::BoothLost,
        r::TicketEndReason::NoClerk => p::TicketEndReason::NoClerk,
        r::TicketEndReason::Expired => p::TicketEndReason::Expired,
        r::TicketEndReason::ServerShutdown => p::TicketEndReason::ServerShutdown,
    }
}

pub fn call_end_out(x: r::CallEndReason) -> p::CallEndReason {
    match x {
        r::CallEndReason::HungUpByBooth => p::CallEndReason::HungUpByBooth,
        r::CallEndReason::HungUpByClerk => p::CallEndReason::HungUpByClerk,
        r::CallEndReason::BoothLost => p::CallEndReason::BoothLost,
        r::CallEndReason::ClerkLost => p::CallEndReason::ClerkLost,
        r::CallEndReason::MediaFailed => p::CallEndReason::MediaFailed,
        r::CallEndReason::Requeued => p::CallEndReason::Requeued,
        r::CallEndReason::ServerShutdown => p::CallEndReason::ServerShutdown,
    }
}

pub fn revoke_out(x: r::OfferRevokeReason) -> p::OfferRevokeReason {
    match x {
        r::OfferRevokeReason::Timeout => p::OfferRevokeReason::Timeout,
        r::OfferRevokeReason::Declined => p::OfferRevokeReason::Declined,
        r::OfferRevokeReason::CancelledByCitizen => p::OfferRevokeReason::CancelledByCitizen,
        r::OfferRevokeReason::BoothLost => p::OfferRevokeReason::BoothLost,
        r::OfferRevokeReason::BoothAway => p::OfferRevokeReason::BoothAway,
        r::OfferRevokeReason::Expired => p::OfferRevokeReason::Expired,
        r::OfferRevokeReason::ClerkLost => p::OfferRevokeReason::ClerkLost,
        r::OfferRevokeReason::ServerShutdown => p::OfferRevokeReason::ServerShutdown,
    }
}

/// The error code a rejected engine input maps to.
pub fn reject_code(x: r::Reject) -> p::ErrorCode {
    match x {
        r::Reject::UnknownBooth | r::Reject::UnknownClerk => p::ErrorCode::Forbidden,
        r::Reject::UnknownService | r::Reject::ServiceNotOffered => p::ErrorCode::UnknownService,
        r::Reject::TicketAlreadyOpen => p::ErrorCode::TicketAlreadyOpen,
        r::Reject::NoSuchTicket | r::Reject::NoSuchOffer | r::Reject::NoSuchCall => p::ErrorCode::NotFound,
        r::Reject::WrongState => p::ErrorCode::WrongState,
        r::Reject::ShutDown => p::ErrorCode::ShuttingDown,
    }
}

pub fn level_out(l: r::Level) -> p::RegionLevel {
    match l {
        r::Level::Province => p::RegionLevel::Province,
        r::Level::City => p::RegionLevel::City,
        r::Level::County => p::RegionLevel::County,
        r::Level::Town => p::RegionLevel::Town,
        r::Level::Village => p::RegionLevel::Village,
    }
}
