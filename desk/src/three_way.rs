//! Three-way calls (三方通话, relay mode): the clerk of a call invites another clerk — by id, or
//! the one the desk picks for a service item — who joins as the call's guest, seen and heard by
//! the booth and the clerk and seeing and hearing both. While it assists, the guest is `away`
//! with reason `assisting` in the routing engine, so it is never offered a ticket; leaving the
//! call (or the call ending) makes it available again. One guest per call; an invitation lasts
//! [`INVITATION_TTL`]. The relay names the guest [`GUEST`]; the parties are told who it is
//! (`party_joined`, `party_left`).
//!
//! The decisions read the engine and the directory ([`Floor`]) and come back as [`Effect`]s; the
//! guest's `away` is the one engine input the shell applies itself, between [`ThreeWay::may_join`]
//! and [`ThreeWay::joined`], because the engine may refuse it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use protocol::{CallId, ErrorCode, IceServer, ServerMessage};
use routing::{ClerkIdx, ClerkState, Directory, Engine, Input};

use crate::effect::Effect;

/// The relay's name for a call's guest.
pub const GUEST: &str = "guest";
/// How long an invitation can be taken up.
pub const INVITATION_TTL: Duration = Duration::from_secs(60);

/// Whom an invitation is for.
#[derive(Debug, Clone, Copy)]
pub enum Invitee<'a> {
    /// The clerk with this id.
    Clerk(&'a str),
    /// A clerk who handles this service item (its code), picked by the desk.
    Service(&'a str),
}

/// What the decisions read: the engine, the directory, whether calls go through the relay, and
/// which clerks have a connection.
pub struct Floor<'a> {
    pub engine: &'a Engine,
    pub directory: &'a Directory,
    pub relayed: bool,
    pub connected: &'a dyn Connected,
}

/// Which clerks have a connection now.
pub trait Connected {
    fn has(&self, clerk: ClerkIdx) -> bool;
}

impl<V, S: std::hash::BuildHasher> Connected for std::collections::HashMap<ClerkIdx, V, S> {
    fn has(&self, clerk: ClerkIdx) -> bool {
        self.contains_key(&clerk)
    }
}

impl Connected for std::collections::BTreeSet<ClerkIdx> {
    fn has(&self, clerk: ClerkIdx) -> bool {
        self.contains(&clerk)
    }
}

/// Each call's guest and each invited clerk's open invitation.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ThreeWay {
    guests: BTreeMap<u64, ClerkIdx>,
    /// Invited clerk → (call, until).
    invitations: BTreeMap<ClerkIdx, (u64, Instant)>,
}

impl ThreeWay {
    /// Invites a clerk into the inviter's call. By service item, the pick is a clerk with that
    /// skill who is signed in, `available` and not invited elsewhere — from the inviter's own hall
    /// if one is, else from any hall — the one available longest. The invited clerk gets
    /// `call_invitation`, the inviter `invitation_sent`.
    pub fn invite(
        &mut self,
        floor: &Floor<'_>,
        inviter: ClerkIdx,
        call: CallId,
        invitee: Invitee<'_>,
        now: Instant,
    ) -> Result<Vec<Effect>, ErrorCode> {
        if !floor.relayed {
            return Err(ErrorCode::WrongState);
        }
        let view = floor.engine.call(routing::CallId(call.0)).ok_or(ErrorCode::NotFound)?;
        if view.clerk != inviter {
            return Err(ErrorCode::Forbidden);
        }
        let dir = floor.directory;
        let invited = match invitee {
            Invitee::Clerk(id) => dir.clerk_idx(id).ok_or(ErrorCode::NotFound)?,
            Invitee::Service(code) => {
                let service = dir.service_idx(code).ok_or(ErrorCode::UnknownService)?;
                self.free_clerk_for(floor, service, inviter, now).ok_or(ErrorCode::WrongState)?
            }
        };
        let free = matches!(floor.engine.clerk_state(invited), ClerkState::Available | ClerkState::Away(_));
        if invited == inviter || !floor.connected.has(invited) || !free || self.guests.contains_key(&call.0) {
            return Err(ErrorCode::WrongState);
        }
        self.invitations.insert(invited, (call.0, now + INVITATION_TTL));
        let (from, booth, to) = (dir.clerk(inviter), dir.booth(view.booth), dir.clerk(invited));
        let invitation = ServerMessage::CallInvitation {
            call,
            from: from.id.clone(),
            from_name: from.name.clone(),
            booth_name: booth.name.clone(),
            service: protocol::ServiceCode::new(dir.service(view.service).code.clone()),
        };
        let sent = ServerMessage::InvitationSent { call, clerk: to.id.clone(), clerk_name: to.name.clone() };
        Ok(vec![Effect::ToClerk(invited, invitation), Effect::ToClerk(inviter, sent)])
    }

    /// The clerk to invite for `service`: see [`ThreeWay::invite`].
    fn free_clerk_for(
        &self,
        floor: &Floor<'_>,
        service: routing::ServiceIdx,
        inviter: ClerkIdx,
        now: Instant,
    ) -> Option<ClerkIdx> {
        let dir = floor.directory;
        let home = dir.clerk(inviter).hall;
        let invited_elsewhere = |c: &ClerkIdx| self.invitations.get(c).is_some_and(|(_, until)| now < *until);
        (0..dir.clerks.len())
            .map(|i| ClerkIdx(i as u32))
            .filter(|c| *c != inviter && dir.clerk(*c).skills.contains(&service))
            .filter(|c| floor.connected.has(*c) && !invited_elsewhere(c))
            .filter(|c| floor.engine.clerk_state(*c) == ClerkState::Available)
            .min_by_key(|c| (dir.clerk(*c).hall != home, floor.engine.clerk_state_since(*c)))
    }

    /// Whether `clerk` may join `call` now: invited to it and not expired (`forbidden`), the call
    /// live (`not_found`) and without a guest (`wrong_state`). Changes nothing.
    pub fn may_join(&self, floor: &Floor<'_>, clerk: ClerkIdx, call: CallId, now: Instant) -> Result<(), ErrorCode> {
        if !floor.relayed {
            return Err(ErrorCode::WrongState);
        }
        match self.invitations.get(&clerk) {
            Some((c, until)) if *c == call.0 && now < *until => {}
            _ => return Err(ErrorCode::Forbidden),
        }
        floor.engine.call(routing::CallId(call.0)).ok_or(ErrorCode::NotFound)?;
        if self.guests.contains_key(&call.0) {
            return Err(ErrorCode::WrongState);
        }
        Ok(())
    }

    /// `clerk` joined `call` (after [`ThreeWay::may_join`], and the engine took its `away`): the
    /// guest is told `call_joined`, the booth and the clerk `party_joined`, the relay lets it in.
    pub fn joined(
        &mut self,
        floor: &Floor<'_>,
        clerk: ClerkIdx,
        call: CallId,
        ice_servers: &[IceServer],
    ) -> Vec<Effect> {
        let Some(view) = floor.engine.call(routing::CallId(call.0)) else { return vec![] };
        self.invitations.remove(&clerk);
        self.guests.insert(call.0, clerk);
        let dir = floor.directory;
        let guest = dir.clerk(clerk);
        let welcome = ServerMessage::CallJoined {
            call,
            booth_name: dir.booth(view.booth).name.clone(),
            clerk: dir.clerk(view.clerk).id.clone(),
            clerk_name: dir.clerk(view.clerk).name.clone(),
            ice_servers: ice_servers.to_vec(),
        };
        let joined = ServerMessage::PartyJoined {
            call,
            party: GUEST.into(),
            id: guest.id.clone(),
            display_name: guest.name.clone(),
        };
        vec![
            Effect::ToClerk(clerk, welcome),
            Effect::ToBooth(view.booth, joined.clone()),
            Effect::ToClerk(view.clerk, joined),
            Effect::RelayJoin { call: call.0, party: GUEST.into(), publish: true },
        ]
    }

    /// The guest of `call` leaves (asked to, or its connection or the call went away). The relay
    /// drops it, the booth and the clerk are told if the call is still live, and with `available`
    /// the guest becomes available again (after the engine's current work).
    pub fn leave(&mut self, floor: &Floor<'_>, call: u64, available: bool) -> Vec<Effect> {
        let Some(guest) = self.guests.remove(&call) else { return vec![] };
        let mut effects = vec![Effect::RelayLeave { call, party: GUEST.into() }];
        if let Some(view) = floor.engine.call(routing::CallId(call)) {
            let left = ServerMessage::PartyLeft {
                call: CallId(call),
                party: GUEST.into(),
                id: floor.directory.clerk(guest).id.clone(),
            };
            effects.push(Effect::ToBooth(view.booth, left.clone()));
            effects.push(Effect::ToClerk(view.clerk, left));
        }
        if available {
            effects.push(Effect::FollowUp(Input::ClerkSetAvailable { clerk: guest }));
        }
        effects
    }

    /// The call was handed to `to`: an invitation of `to` is void, and if `to` was the call's
    /// guest it is its clerk now, a guest no more (`true`: the relay drops its guest connection).
    pub fn taken_over(&mut self, call: u64, to: ClerkIdx) -> bool {
        self.invitations.remove(&to);
        let was_guest = self.guests.get(&call) == Some(&to);
        if was_guest {
            self.guests.remove(&call);
        }
        was_guest
    }

    /// The guest of `call`, if it has one.
    pub fn guest_of(&self, call: u64) -> Option<ClerkIdx> {
        self.guests.get(&call).copied()
    }

    /// The call the clerk is a guest of.
    pub fn guest_call(&self, clerk: ClerkIdx) -> Option<u64> {
        self.guests.iter().find(|(_, g)| **g == clerk).map(|(call, _)| *call)
    }

    /// For the snapshot: (call, guest) and (clerk, call, nanoseconds after `base` until which the
    /// invitation holds), in order.
    pub fn snapshot(&self, base: Instant) -> ThreeWaySnapshot {
        ThreeWaySnapshot {
            guests: self.guests.iter().map(|(call, c)| (*call, c.0)).collect(),
            invitations: self
                .invitations
                .iter()
                .map(|(c, (call, until))| (c.0, *call, until.saturating_duration_since(base).as_nanos() as u64))
                .collect(),
        }
    }

    /// Back from a snapshot taken with the same `base`.
    pub fn restore(base: Instant, snap: &ThreeWaySnapshot) -> Self {
        ThreeWay {
            guests: snap.guests.iter().map(|(call, c)| (*call, ClerkIdx(*c))).collect(),
            invitations: snap
                .invitations
                .iter()
                .map(|(c, call, until)| (ClerkIdx(*c), (*call, base + Duration::from_nanos(*until))))
                .collect(),
        }
    }
}

/// [`ThreeWay`] in a snapshot.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ThreeWaySnapshot {
    pub guests: Vec<(u64, u32)>,
    pub invitations: Vec<(u32, u64, u64)>,
}
