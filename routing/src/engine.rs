//! The engine: state, the `handle_input` / `poll_action` / `poll_timeout` surface, and the
//! handling of every input and timer. Matching itself lives in `matching.rs`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clerk_index::ClerkIndex;
use crate::directory::{BoothIdx, ClerkIdx, Directory, RegionIdx, ServiceIdx};
use crate::fxhash::FxMap;
use crate::model::*;
use crate::tickets::Tickets;
pub(crate) use crate::tickets::{Phase, QueueKey, TicketRec};
use crate::timers::{Timer, Timers};

pub mod snapshot;
mod words;

/// Timeouts and limits. Per-service thresholds live in the directory's `Service`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long a clerk has to accept an offer.
    pub offer_timeout: Duration,
    /// Missed (timed-out) offers in a row after which a clerk goes away(missed_offers).
    pub max_missed_offers: u32,
    /// How long a disconnected booth keeps its ticket.
    pub booth_grace: Duration,
    /// How long a disconnected clerk keeps a call (and wrap-up, and availability) before being
    /// signed out.
    pub clerk_grace: Duration,
    /// Wrap-up ends by itself after this long.
    pub wrap_up_max: Duration,
    /// A ticket still waiting after this long is closed as expired.
    pub max_wait: Duration,
    /// A waiting ticket whose whole pool has nobody signed in is closed as no_clerk after this.
    pub no_clerk_grace: Duration,
    /// A call whose media is not up on both sides by then ends as media_failed.
    pub media_timeout: Duration,
    /// The first ticket id; ids count up from it (lets engines of several runs or nodes number
    /// apart: the server passes a base unique to its start).
    pub first_ticket: u64,
    /// The first call id, likewise.
    pub first_call: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            offer_timeout: Duration::from_secs(20),
            max_missed_offers: 2,
            booth_grace: Duration::from_secs(30),
            clerk_grace: Duration::from_secs(15),
            wrap_up_max: Duration::from_secs(120),
            max_wait: Duration::from_secs(30 * 60),
            no_clerk_grace: Duration::from_secs(60),
            media_timeout: Duration::from_secs(15),
            first_ticket: 1,
            first_call: 1,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ClerkRec {
    pub state: ClerkState,
    pub since: Instant,
    /// Tie-breaker among clerks idle since the same instant: earlier first.
    pub idle_seq: u64,
    pub missed: u32,
    pub epoch: u64,
    /// The service and talk time of the call being wrapped up, for the handling-time average.
    pub wrapping: Option<(ServiceIdx, Duration)>,
    /// Whether the clerk's connection is up (meaningful while signed in).
    pub connected: bool,
    /// Bumped at each disconnect and return: a grace timer of another epoch is stale.
    pub grace_epoch: u64,
    /// Held as `Away(Disconnected)`: becomes available again on return.
    pub resume_available: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct BoothRec {
    pub ticket: Option<TicketId>,
    pub connected: bool,
    pub epoch: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct OfferRec {
    pub ticket: TicketId,
    pub clerk: ClerkIdx,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct CallRec {
    pub ticket: TicketId,
    pub booth: BoothIdx,
    pub clerk: ClerkIdx,
    pub started_at: Instant,
    pub booth_media: bool,
    pub clerk_media: bool,
    /// Times the call was handed to another clerk (`TransferCall`).
    pub handovers: u32,
}

/// The sans-IO routing engine. See the crate documentation.
pub struct Engine {
    pub(crate) dir: Arc<Directory>,
    pub(crate) cfg: EngineConfig,
    /// Open tickets, behind their phase gate (`tickets.rs`).
    pub(crate) tickets: Tickets,
    pub(crate) clerks: Vec<ClerkRec>,
    pub(crate) booths: Vec<BoothRec>,
    pub(crate) offers: FxMap<OfferId, OfferRec>,
    pub(crate) calls: FxMap<CallId, CallRec>,
    pub(crate) idx: ClerkIndex,
    steps_cache: FxMap<(RegionIdx, ServiceIdx), Arc<[Vec<RegionIdx>]>>,
    pub(crate) timers: Timers,
    actions: VecDeque<Action>,
    /// Exponentially weighted average handling time (talk + wrap-up) per service, in seconds.
    pub(crate) aht_secs: Vec<f64>,
    /// Per (home hall, service): tickets answered, and of those within the service's target
    /// answer time, since the engine started (the service level's numerator and denominator).
    pub(crate) answered: FxMap<(RegionIdx, ServiceIdx), (u32, u32)>,
    next_ticket: u64,
    next_offer: u64,
    next_call: u64,
    next_order: i64,
    next_head_order: i64,
    next_idle_seq: u64,
    last_now: Option<Instant>,
    shut_down: bool,
    /// Violations found by the opt-in audit (`enable_audit`); `None` when off.
    pub(crate) audit: Option<Vec<String>>,
}

impl Engine {
    pub fn new(dir: Arc<Directory>, cfg: EngineConfig, now: Instant) -> Self {
        let first_call = cfg.first_call;
        let clerks = (0..dir.clerks.len())
            .map(|_| ClerkRec {
                state: ClerkState::Offline,
                since: now,
                idle_seq: 0,
                missed: 0,
                epoch: 0,
                wrapping: None,
                connected: false,
                grace_epoch: 0,
                resume_available: false,
            })
            .collect();
        let aht_secs = dir.services.iter().map(|s| s.expected_handle.as_secs_f64().max(1.0)).collect();
        Self {
            booths: vec![BoothRec::default(); dir.booths.len()],
            clerks,
            aht_secs,
            next_ticket: cfg.first_ticket,
            dir,
            cfg,
            tickets: Tickets::default(),
            offers: FxMap::default(),
            calls: FxMap::default(),
            idx: ClerkIndex::default(),
            steps_cache: FxMap::default(),
            answered: FxMap::default(),
            timers: Timers::default(),
            actions: VecDeque::new(),
            next_offer: 1,
            next_call: first_call,
            next_order: 0,
            next_head_order: -1,
            next_idle_seq: 0,
            last_now: Some(now),
            shut_down: false,
            audit: None,
        }
    }

    pub fn directory(&self) -> &Arc<Directory> {
        &self.dir
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Applies one input to the state as it stands. On `Err` nothing changed and no action was
    /// queued. Timers are not fired here: a caller whose [`Engine::poll_timeout`] has passed calls
    /// [`Engine::handle_timeout`] first, so the input sees what those deadlines did (the server's
    /// driver does so before every input, and logs the timer run as it does).
    pub fn handle_input(&mut self, input: Input, now: Instant) -> Result<(), Reject> {
        if self.shut_down {
            return Err(Reject::ShutDown);
        }
        let now = self.clamp_time(now);
        match input {
            Input::ClerkSignIn { clerk } => self.clerk_sign_in(clerk, now),
            Input::ClerkSignOut { clerk } => self.clerk_sign_out(clerk, now),
            Input::ClerkDisconnected { clerk } => self.clerk_disconnected(clerk, now),
            Input::ClerkSetAvailable { clerk } => self.clerk_set_available(clerk, now),
            Input::ClerkSetAway { clerk, reason } => self.clerk_set_away(clerk, reason, now),
            Input::EndWrapUp { clerk } => self.end_wrap_up(clerk, now),
            Input::AcceptOffer { clerk, offer } => self.accept_offer(clerk, offer, now),
            Input::DeclineOffer { clerk, offer } => self.decline_offer(clerk, offer, now),
            Input::BoothConnected { booth } => self.booth_connected(booth, now),
            Input::BoothDisconnected { booth } => self.booth_disconnected(booth, now),
            Input::RequestService { booth, service, priority } => self.request_service(booth, service, priority, now),
            Input::CancelTicket { booth, ticket } => self.cancel_ticket(booth, ticket, now),
            Input::HangUp { call, by } => self.hang_up(call, by, now),
            Input::MediaConnected { call, by } => self.media_connected(call, by),
            Input::MediaFailed { call, by } => {
                self.call_party(call, by)?;
                self.media_failed(call, now);
                Ok(())
            }
            Input::TransferCall { call, from, to } => self.transfer_call(call, from, to, now),
            Input::RequeueCall { call, clerk, service } => self.requeue_call(call, clerk, service, now),
            Input::Shutdown => {
                self.shutdown();
                Ok(())
            }
        }
    }

    /// The id counters and flags, for [`Engine::describe`].
    pub(crate) fn counters(&self) -> String {
        format!(
            "ticket {} offer {} call {} order {} head {} idle {} last {:?} shut {}",
            self.next_ticket,
            self.next_offer,
            self.next_call,
            self.next_order,
            self.next_head_order,
            self.next_idle_seq,
            self.last_now.is_some(),
            self.shut_down
        )
    }

    /// Next queued action, in the order the engine decided them.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When `handle_timeout` should next be called (may be early; never late).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.clamp_time(now);
        while let Some(timer) = self.timers.pop_due(now) {
            self.fire(timer, now);
        }
    }

    /// Time never runs backwards inside the engine: an earlier `now` is taken as the last one.
    fn clamp_time(&mut self, now: Instant) -> Instant {
        let now = match self.last_now {
            Some(last) if last > now => last,
            _ => now,
        };
        self.last_now = Some(now);
        now
    }

    pub(crate) fn emit(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    fn clerk_checked(&self, clerk: ClerkIdx) -> Result<(), Reject> {
        if (clerk.0 as usize) < self.clerks.len() {
            Ok(())
        } else {
            Err(Reject::UnknownClerk)
        }
    }

    fn booth_checked(&self, booth: BoothIdx) -> Result<(), Reject> {
        if (booth.0 as usize) < self.booths.len() {
            Ok(())
        } else {
            Err(Reject::UnknownBooth)
        }
    }

    // ---- clerks -------------------------------------------------------------------------

    fn clerk_sign_in(&mut self, clerk: ClerkIdx, now: Instant) -> Result<(), Reject> {
        self.clerk_checked(clerk)?;
        let c = &mut self.clerks[clerk.0 as usize];
        if c.state != ClerkState::Offline {
            if !c.connected {
                // Back within the grace period: the call, wrap-up or state goes on.
                c.connected = true;
                c.grace_epoch += 1;
                if std::mem::take(&mut c.resume_available) && c.state == ClerkState::Away(AwayReason::Disconnected) {
                    self.clerk_set_available(clerk, now)?;
                }
            }
            return Ok(()); // A second console of a connected clerk changes nothing.
        }
        c.connected = true;
        c.resume_available = false;
        self.set_clerk_state(clerk, ClerkState::Away(AwayReason::SignedIn), now);
        Ok(())
    }

    fn clerk_disconnected(&mut self, clerk: ClerkIdx, now: Instant) -> Result<(), Reject> {
        self.clerk_checked(clerk)?;
        let c = &mut self.clerks[clerk.0 as usize];
        if c.state == ClerkState::Offline || !c.connected {
            return Ok(());
        }
        c.connected = false;
        c.grace_epoch += 1;
        let epoch = c.grace_epoch;
        match c.state {
            ClerkState::Available => {
                c.resume_available = true;
                self.set_clerk_state(clerk, ClerkState::Away(AwayReason::Disconnected), now);
            }
            ClerkState::Offered => {
                c.resume_available = true;
                let ticket = self.revoke_offer_of_lost_clerk(clerk);
                self.set_clerk_state(clerk, ClerkState::Away(AwayReason::Disconnected), now);
                self.return_to_waiting(ticket, RequeueCause::OfferNotTaken, now);
            }
            // A call or wrap-up goes on; an away clerk stays away.
            _ => {}
        }
        self.timers.schedule(now + self.cfg.clerk_grace, Timer::ClerkGrace { clerk, epoch });
        Ok(())
    }

    /// Withdraws the offer of a clerk whose connection is gone (`clerk_lost`); returns its ticket.
    fn revoke_offer_of_lost_clerk(&mut self, clerk: ClerkIdx) -> TicketId {
        let offer = self.offer_of_clerk(clerk).expect("an offered clerk has exactly one offer");
        let rec = self.offers.remove(&offer).expect("offer_of_clerk returned a live offer");
        self.emit(Action::OfferRevoked { offer, ticket: rec.ticket, clerk, reason: OfferRevokeReason::ClerkLost });
        rec.ticket
    }

    fn clerk_sign_out(&mut self, clerk: ClerkIdx, now: Instant) -> Result<(), Reject> {
        self.clerk_checked(clerk)?;
        match self.clerks[clerk.0 as usize].state {
            ClerkState::Offline => return Ok(()),
            ClerkState::Offered => {
                let ticket = self.revoke_offer_of_lost_clerk(clerk);
                self.set_clerk_state(clerk, ClerkState::Offline, now);
                self.return_to_waiting(ticket, RequeueCause::OfferNotTaken, now);
            }
            ClerkState::InCall => {
                let call = self.call_of_clerk(clerk).expect("an in-call clerk has exactly one call");
                let rec = self.calls.remove(&call).expect("call_of_clerk returned a live call");
                let service = self.tickets[&rec.ticket].service();
                self.emit(Action::CallEnded {
                    call,
                    ticket: rec.ticket,
                    booth: rec.booth,
                    clerk,
                    service,
                    reason: CallEndReason::ClerkLost,
                });
                self.set_clerk_state(clerk, ClerkState::Offline, now);
                self.return_to_waiting(rec.ticket, RequeueCause::ClerkLost, now);
            }
            _ => {
                self.finish_wrap_up_average(clerk, now);
                self.set_clerk_state(clerk, ClerkState::Offline, now);
            }
        }
        self.after_sign_out(clerk, now);
        Ok(())
    }

    fn clerk_set_available(&mut self, clerk: ClerkIdx, now: Instant) -> Result<(), Reject> {
        self.clerk_checked(clerk)?;
        match self.clerks[clerk.0 as usize].state {
            ClerkState::Available => Ok(()),
            ClerkState::Away(_) | ClerkState::WrapUp => {
                self.finish_wrap_up_average(clerk, now);
                self.clerks[clerk.0 as usize].missed = 0;
                self.set_clerk_state(clerk, ClerkState::Available, now);
                self.try_match_clerk(clerk, now);
                Ok(())
            }
            ClerkState::Offline | ClerkState::Offered | ClerkState::InCall => Err(Reject::WrongState),
        }
    }

    fn clerk_set_away(&mut self, clerk: ClerkIdx, reason: AwayReason, now: Instant) -> Result<(), Reject> {
        self.clerk_checked(clerk)?;
        match self.clerks[clerk.0 as usize].state {
            ClerkState::Available | ClerkState::Away(_) | ClerkState::WrapUp => {
                // Set away on purpose: not made available again when a dropped connection returns.
                self.clerks[clerk.0 as usize].resume_available = false;
                self.finish_wrap_up_average(clerk, now);
                self.set_clerk_state(clerk, ClerkState::Away(reason), now);
                Ok(())
            }
            ClerkState::Offline | ClerkState::Offered | ClerkState::InCall => Err(Reject::WrongState),
        }
    }

    fn end_wrap_up(&mut self, clerk: ClerkIdx, now: Instant) -> Result<(), Reject> {
        self.clerk_checked(clerk)?;
        if self.clerks[clerk.0 as usize].state != ClerkState::WrapUp {
            return Err(Reject::WrongState);
        }
        self.clerk_set_available(clerk, now)
    }

    /// Folds the finished call's talk + wrap-up time into the service's handling-time average.
    fn finish_wrap_up_average(&mut self, clerk: ClerkIdx, now: Instant) {
        let rec = &mut self.clerks[clerk.0 as usize];
        if rec.state != ClerkState::WrapUp {
            return;
        }
        if let Some((service, talk)) = rec.wrapping.take() {
            let handled = (talk + now.saturating_duration_since(rec.since)).as_secs_f64();
            let avg = &mut self.aht_secs[service.0 as usize];
            *avg = 0.8 * *avg + 0.2 * handled.max(1.0);
        }
    }

    fn accept_offer(&mut self, clerk: ClerkIdx, offer: OfferId, now: Instant) -> Result<(), Reject> {
        self.clerk_checked(clerk)?;
        match self.offers.get(&offer) {
            Some(rec) if rec.clerk == clerk => {}
            _ => return Err(Reject::NoSuchOffer),
        }
        let rec = self.offers.remove(&offer).expect("checked just above");
        let call = CallId(self.next_call);
        self.next_call += 1;
        self.tickets.set_phase(rec.ticket, Phase::Connected { call, clerk });
        let t = self.tickets.get_mut(&rec.ticket).expect("an offer always points at an open ticket");
        let (booth, service) = (t.booth, t.service());
        if !t.answered {
            t.answered = true;
            let within = now.saturating_duration_since(t.enqueued_at) <= self.dir.service(service).target_answer;
            let counts = self.answered.entry((t.home(), service)).or_default();
            counts.0 += 1;
            counts.1 += u32::from(within);
        }
        self.calls.insert(
            call,
            CallRec {
                ticket: rec.ticket,
                booth,
                clerk,
                started_at: now,
                booth_media: false,
                clerk_media: false,
                handovers: 0,
            },
        );
        self.timers.schedule(now + self.cfg.media_timeout, Timer::MediaTimeout { call });
        self.clerks[clerk.0 as usize].missed = 0;
        self.set_clerk_state(clerk, ClerkState::InCall, now);
        self.emit(Action::CallStarted { call, ticket: rec.ticket, booth, clerk, service });
        Ok(())
    }

    fn decline_offer(&mut self, clerk: ClerkIdx, offer: OfferId, now: Instant) -> Result<(), Reject> {
        self.clerk_checked(clerk)?;
        match self.offers.get(&offer) {
            Some(rec) if rec.clerk == clerk => {}
            _ => return Err(Reject::NoSuchOffer),
        }
        let rec = self.offers.remove(&offer).expect("checked just above");
        self.emit(Action::OfferRevoked { offer, ticket: rec.ticket, clerk, reason: OfferRevokeReason::Declined });
        self.tickets.get_mut(&rec.ticket).expect("an offer points at an open ticket").excluded.push(clerk);
        self.set_clerk_state(clerk, ClerkState::Available, now);
        self.return_to_waiting(rec.ticket, RequeueCause::OfferNotTaken, now);
        self.try_match_clerk(clerk, now);
        Ok(())
    }

    // ---- booths and tickets -------------------------------------------------------------

    fn booth_connected(&mut self, booth: BoothIdx, now: Instant) -> Result<(), Reject> {
        self.booth_checked(booth)?;
        let b = &mut self.booths[booth.0 as usize];
        let was_away = !b.connected;
        b.connected = true;
        b.epoch += 1; // Invalidates a pending grace timer.
        let Some(ticket) = b.ticket.filter(|_| was_away) else {
            return Ok(());
        };
        // A held ticket rejoins the queue with the key it always kept, and may be offered now.
        self.tickets.set_present(ticket, true);
        let t = &self.tickets[&ticket];
        if t.phase() == Phase::Waiting {
            let service = t.service();
            self.emit(Action::QueueChanged { service });
            self.try_match_ticket(ticket, now);
        }
        Ok(())
    }

    /// The booth keeps its ticket and place for the grace period, but nobody is at the other end
    /// of its connection: its ticket is held out of matching (an outstanding offer is withdrawn)
    /// until the booth is back. A live call goes on: media does not depend on signaling.
    fn booth_disconnected(&mut self, booth: BoothIdx, now: Instant) -> Result<(), Reject> {
        self.booth_checked(booth)?;
        let grace = self.cfg.booth_grace;
        let b = &mut self.booths[booth.0 as usize];
        let was_connected = b.connected;
        b.connected = false;
        b.epoch += 1;
        let Some(ticket) = b.ticket else {
            return Ok(());
        };
        let epoch = b.epoch;
        self.timers.schedule(now + grace, Timer::BoothGrace { booth, epoch });
        if !was_connected {
            return Ok(());
        }
        self.tickets.set_present(ticket, false);
        let t = &self.tickets[&ticket];
        match t.phase() {
            Phase::Waiting => {
                self.emit(Action::QueueChanged { service: t.service() });
            }
            Phase::Offered { offer, clerk } => {
                self.offers.remove(&offer);
                self.emit(Action::OfferRevoked { offer, ticket, clerk, reason: OfferRevokeReason::BoothAway });
                self.tickets.set_phase(ticket, Phase::Waiting);
                self.emit(Action::QueueChanged { service: self.tickets[&ticket].service() });
                self.resume_widening(ticket, now);
                self.set_clerk_state(clerk, ClerkState::Available, now);
                self.try_match_clerk(clerk, now);
            }
            Phase::Connected { .. } => {}
        }
        Ok(())
    }

    fn request_service(
        &mut self,
        booth: BoothIdx,
        service: ServiceIdx,
        priority: Priority,
        now: Instant,
    ) -> Result<(), Reject> {
        self.booth_checked(booth)?;
        if service.0 as usize >= self.dir.services.len() {
            return Err(Reject::UnknownService);
        }
        let b = &self.booths[booth.0 as usize];
        if b.ticket.is_some() {
            return Err(Reject::TicketAlreadyOpen);
        }
        if !b.connected {
            return Err(Reject::WrongState);
        }
        let region = self.dir.booth(booth).region;
        let steps = self.steps_for(region, service);
        if steps.is_empty() {
            return Err(Reject::ServiceNotOffered);
        }
        let ticket = TicketId(self.next_ticket);
        self.next_ticket += 1;
        let key = QueueKey::new(priority, self.next_order);
        self.next_order += 1;
        self.tickets.open(ticket, TicketRec::new(booth, service, priority, key, now, steps));
        self.booths[booth.0 as usize].ticket = Some(ticket);
        self.emit(Action::TicketOpened { ticket, booth, service, priority });
        self.timers.schedule(now + self.cfg.max_wait, Timer::TicketExpiry { ticket, epoch: 0 });
        self.skip_empty_steps(ticket, now);
        if !self.pool_has_signed_in(ticket) {
            // Nobody anywhere can serve it: say so now rather than let the citizen wait.
            self.close_ticket(ticket, TicketEndReason::NoClerk);
            return Ok(());
        }
        self.schedule_widen(ticket);
        self.emit(Action::QueueChanged { service });
        self.try_match_ticket(ticket, now);
        Ok(())
    }

    fn cancel_ticket(&mut self, booth: BoothIdx, ticket: TicketId, now: Instant) -> Result<(), Reject> {
        self.booth_checked(booth)?;
        let phase = match self.tickets.get(&ticket) {
            Some(t) if t.booth == booth => t.phase(),
            _ => return Err(Reject::NoSuchTicket),
        };
        match phase {
            Phase::Waiting => {}
            Phase::Offered { offer, clerk } => {
                self.offers.remove(&offer);
                self.emit(Action::OfferRevoked { offer, ticket, clerk, reason: OfferRevokeReason::CancelledByCitizen });
                self.set_clerk_state(clerk, ClerkState::Available, now);
            }
            // A connected citizen ends the call with hang_up, which records it as served.
            Phase::Connected { .. } => return Err(Reject::WrongState),
        }
        self.close_ticket(ticket, TicketEndReason::Cancelled);
        if let Phase::Offered { clerk, .. } = phase {
            self.try_match_clerk(clerk, now);
        }
        Ok(())
    }

    /// The call, if `by` is one of its two parties.
    fn call_party(&self, call: CallId, by: Party) -> Result<CallRec, Reject> {
        match self.calls.get(&call) {
            Some(rec) if by == Party::Booth(rec.booth) || by == Party::Clerk(rec.clerk) => Ok(*rec),
            _ => Err(Reject::NoSuchCall),
        }
    }

    fn media_connected(&mut self, call: CallId, by: Party) -> Result<(), Reject> {
        self.call_party(call, by)?;
        let rec = self.calls.get_mut(&call).expect("checked by call_party");
        match by {
            Party::Booth(_) => rec.booth_media = true,
            Party::Clerk(_) => rec.clerk_media = true,
        }
        Ok(())
    }

    /// Ends a call whose media did not work: nobody was served, so the clerk goes straight back
    /// to available (and is not offered this ticket again) and the ticket returns to the head.
    fn media_failed(&mut self, call: CallId, now: Instant) {
        let rec = self.calls.remove(&call).expect("media_failed is only called for live calls");
        let service = self.tickets[&rec.ticket].service();
        self.emit(Action::CallEnded {
            call,
            ticket: rec.ticket,
            booth: rec.booth,
            clerk: rec.clerk,
            service,
            reason: CallEndReason::MediaFailed,
        });
        self.tickets.get_mut(&rec.ticket).expect("a call points at an open ticket").excluded.push(rec.clerk);
        self.set_clerk_state(rec.clerk, ClerkState::Available, now);
        self.return_to_waiting(rec.ticket, RequeueCause::MediaFailed, now);
        self.try_match_clerk(rec.clerk, now);
    }

    fn hang_up(&mut self, call: CallId, by: Party, now: Instant) -> Result<(), Reject> {
        let rec = self.call_party(call, by)?;
        let reason = match by {
            Party::Booth(_) => CallEndReason::HungUpByBooth,
            Party::Clerk(_) => CallEndReason::HungUpByClerk,
        };
        self.end_call(call, rec, reason, now);
        self.close_ticket(rec.ticket, TicketEndReason::Served);
        Ok(())
    }

    /// Ends a call whose ticket will be closed by the caller; the clerk goes to wrap-up.
    fn end_call(&mut self, call: CallId, rec: CallRec, reason: CallEndReason, now: Instant) {
        self.calls.remove(&call);
        let service = self.tickets[&rec.ticket].service();
        self.emit(Action::CallEnded { call, ticket: rec.ticket, booth: rec.booth, clerk: rec.clerk, service, reason });
        self.start_wrap_up(rec.clerk, service, now.saturating_duration_since(rec.started_at), now);
    }

    /// The clerk's part of a call is over: wrap-up, ending by itself after `wrap_up_max`.
    fn start_wrap_up(&mut self, clerk: ClerkIdx, service: ServiceIdx, talk: Duration, now: Instant) {
        self.set_clerk_state(clerk, ClerkState::WrapUp, now);
        let c = &mut self.clerks[clerk.0 as usize];
        c.wrapping = Some((service, talk));
        let epoch = c.epoch;
        self.timers.schedule(now + self.cfg.wrap_up_max, Timer::WrapUpEnd { clerk, epoch });
    }

    /// Hands a live call to another clerk; see [`Input::TransferCall`].
    fn transfer_call(&mut self, call: CallId, from: ClerkIdx, to: ClerkIdx, now: Instant) -> Result<(), Reject> {
        self.clerk_checked(to)?;
        let rec = self.call_party(call, Party::Clerk(from))?;
        let target = &self.clerks[to.0 as usize];
        let free = matches!(target.state, ClerkState::Available | ClerkState::Away(AwayReason::Assisting));
        if to == from || !free || !target.connected {
            return Err(Reject::WrongState);
        }
        let service = self.tickets[&rec.ticket].service();
        let c = self.calls.get_mut(&call).expect("checked by call_party");
        c.clerk = to;
        // The new clerk's part starts now: its talk time, and its media must come up in time.
        c.started_at = now;
        c.clerk_media = false;
        c.handovers += 1;
        self.tickets.set_phase(rec.ticket, Phase::Connected { call, clerk: to });
        self.timers.schedule(now + self.cfg.media_timeout, Timer::MediaTimeout { call });
        self.emit(Action::CallTransferred { call, ticket: rec.ticket, booth: rec.booth, service, from, to });
        self.start_wrap_up(from, service, now.saturating_duration_since(rec.started_at), now);
        self.clerks[to.0 as usize].missed = 0;
        self.set_clerk_state(to, ClerkState::InCall, now);
        Ok(())
    }

    /// Ends a call and puts its ticket at the head of another service's queue; see
    /// [`Input::RequeueCall`].
    fn requeue_call(&mut self, call: CallId, clerk: ClerkIdx, service: ServiceIdx, now: Instant) -> Result<(), Reject> {
        let rec = self.call_party(call, Party::Clerk(clerk))?;
        if service.0 as usize >= self.dir.services.len() {
            return Err(Reject::UnknownService);
        }
        let region = self.dir.booth(rec.booth).region;
        let steps = self.steps_for(region, service);
        if steps.is_empty() {
            return Err(Reject::ServiceNotOffered);
        }
        self.end_call(call, rec, CallEndReason::Requeued, now);
        let from = self.tickets[&rec.ticket].service();
        self.tickets.move_to_service(rec.ticket, service, steps);
        let t = self.tickets.get_mut(&rec.ticket).expect("a call points at an open ticket");
        // In the new queue its widening counts from now (the wait shown starts again too).
        t.enqueued_at = now;
        // Nobody has declined it for the new service; the clerk who sent it on is not asked again.
        t.excluded = vec![clerk];
        self.emit(Action::TicketServiceChanged { ticket: rec.ticket, booth: rec.booth, from, to: service });
        self.emit(Action::QueueChanged { service: from });
        // Waiting again: its widening starts afresh from `enqueued_at` (`resume_widening`).
        self.return_to_waiting(rec.ticket, RequeueCause::Transferred, now);
        Ok(())
    }

    /// Removes an open ticket for good and tells the booth why.
    pub(crate) fn close_ticket(&mut self, ticket: TicketId, reason: TicketEndReason) {
        let t = self.tickets.close(ticket);
        self.booths[t.booth.0 as usize].ticket = None;
        self.emit(Action::TicketClosed { ticket, booth: t.booth, service: t.service(), reason });
        self.emit(Action::QueueChanged { service: t.service() });
    }

    fn shutdown(&mut self) {
        let mut open: Vec<TicketId> = self.tickets.keys().copied().collect();
        open.sort();
        for ticket in open {
            match self.tickets[&ticket].phase() {
                Phase::Waiting => {}
                Phase::Offered { offer, clerk } => {
                    self.offers.remove(&offer);
                    self.emit(Action::OfferRevoked { offer, ticket, clerk, reason: OfferRevokeReason::ServerShutdown });
                }
                Phase::Connected { call, clerk } => {
                    let (booth, service) = (self.tickets[&ticket].booth, self.tickets[&ticket].service());
                    self.calls.remove(&call);
                    let reason = CallEndReason::ServerShutdown;
                    self.emit(Action::CallEnded { call, ticket, booth, clerk, service, reason });
                }
            }
            self.close_ticket(ticket, TicketEndReason::ServerShutdown);
        }
        self.timers.clear();
        self.shut_down = true;
    }

    // ---- timers -------------------------------------------------------------------------

    fn fire(&mut self, timer: Timer, now: Instant) {
        match timer {
            Timer::Widen { ticket, to_step } => {
                // A ticket moved to another item's queue (`RequeueCall`) starts its widening
                // afresh: a timer of its old schedule that is not due on the new one is stale.
                let due = |t: &TicketRec| {
                    let thresholds = &self.dir.service(t.service()).widen_after;
                    now >= t.enqueued_at + thresholds[(to_step - 1).min(thresholds.len() - 1)]
                };
                // Only a waiting ticket widens: one offered or in a call catches up on what it
                // missed when it waits again (`resume_widening`).
                let waiting = |t: &TicketRec| t.phase() == Phase::Waiting;
                if self.tickets.get(&ticket).is_some_and(|t| t.step() + 1 == to_step && due(t) && waiting(t)) {
                    self.widen(ticket, WidenCause::Threshold, now);
                    self.skip_empty_steps(ticket, now);
                    self.schedule_widen(ticket);
                    self.try_match_ticket(ticket, now);
                }
            }
            Timer::OfferExpiry { offer } => {
                if let Some(rec) = self.offers.remove(&offer) {
                    self.offer_timed_out(offer, rec, now);
                }
            }
            Timer::BoothGrace { booth, epoch } => {
                let b = &self.booths[booth.0 as usize];
                if b.connected || b.epoch != epoch {
                    return;
                }
                if let Some(ticket) = b.ticket {
                    self.booth_lost(ticket, now);
                }
            }
            Timer::ClerkGrace { clerk, epoch } => {
                let c = &self.clerks[clerk.0 as usize];
                if !c.connected && c.grace_epoch == epoch && c.state != ClerkState::Offline {
                    self.clerk_sign_out(clerk, now).expect("a known clerk can always be signed out");
                }
            }
            Timer::WrapUpEnd { clerk, epoch } => {
                let c = &self.clerks[clerk.0 as usize];
                if c.state == ClerkState::WrapUp && c.epoch == epoch {
                    self.clerk_set_available(clerk, now).expect("a clerk in wrap-up may always become available");
                }
            }
            Timer::TicketExpiry { ticket, epoch } => {
                if self.tickets.get(&ticket).is_some_and(|t| t.phase() == Phase::Waiting && t.expiry_epoch == epoch) {
                    self.close_ticket(ticket, TicketEndReason::Expired);
                }
            }
            Timer::MediaTimeout { call } => {
                // A transfer restarts the call's media deadline; an earlier timer is stale then.
                let due = |c: &CallRec| now >= c.started_at + self.cfg.media_timeout;
                if self.calls.get(&call).is_some_and(|c| !(c.booth_media && c.clerk_media) && due(c)) {
                    self.media_failed(call, now);
                }
            }
            Timer::NoClerk { ticket } => {
                if self.tickets.get(&ticket).is_some_and(|t| t.phase() == Phase::Waiting)
                    && !self.pool_has_signed_in(ticket)
                {
                    self.close_ticket(ticket, TicketEndReason::NoClerk);
                }
            }
        }
    }

    fn offer_timed_out(&mut self, offer: OfferId, rec: OfferRec, now: Instant) {
        let clerk = rec.clerk;
        self.emit(Action::OfferRevoked { offer, ticket: rec.ticket, clerk, reason: OfferRevokeReason::Timeout });
        self.tickets.get_mut(&rec.ticket).expect("an offer points at an open ticket").excluded.push(clerk);
        let c = &mut self.clerks[clerk.0 as usize];
        c.missed += 1;
        let next = if c.missed >= self.cfg.max_missed_offers {
            ClerkState::Away(AwayReason::MissedOffers)
        } else {
            ClerkState::Available
        };
        self.set_clerk_state(clerk, next, now);
        self.return_to_waiting(rec.ticket, RequeueCause::OfferNotTaken, now);
        self.try_match_clerk(clerk, now);
    }

    fn booth_lost(&mut self, ticket: TicketId, now: Instant) {
        match self.tickets[&ticket].phase() {
            Phase::Waiting => {}
            Phase::Offered { offer, clerk } => {
                self.offers.remove(&offer);
                self.emit(Action::OfferRevoked { offer, ticket, clerk, reason: OfferRevokeReason::BoothLost });
                self.set_clerk_state(clerk, ClerkState::Available, now);
                self.close_ticket(ticket, TicketEndReason::BoothLost);
                self.try_match_clerk(clerk, now);
                return;
            }
            Phase::Connected { call, .. } => {
                let rec = self.calls[&call];
                self.end_call(call, rec, CallEndReason::BoothLost, now);
            }
        }
        self.close_ticket(ticket, TicketEndReason::BoothLost);
    }

    pub(crate) fn offer_of_clerk(&self, clerk: ClerkIdx) -> Option<OfferId> {
        self.offers.iter().find(|(_, r)| r.clerk == clerk).map(|(id, _)| *id)
    }

    pub(crate) fn call_of_clerk(&self, clerk: ClerkIdx) -> Option<CallId> {
        self.calls.iter().find(|(_, r)| r.clerk == clerk).map(|(id, _)| *id)
    }

    fn steps_for(&mut self, region: RegionIdx, service: ServiceIdx) -> Arc<[Vec<RegionIdx>]> {
        let dir = &self.dir;
        self.steps_cache.entry((region, service)).or_insert_with(|| dir.widening_steps(region, service).into()).clone()
    }

    pub(crate) fn next_offer_id(&mut self) -> OfferId {
        let id = OfferId(self.next_offer);
        self.next_offer += 1;
        id
    }

    pub(crate) fn next_head_order(&mut self) -> i64 {
        let order = self.next_head_order;
        self.next_head_order -= 1;
        order
    }

    pub(crate) fn next_idle_seq(&mut self) -> u64 {
        self.next_idle_seq += 1;
        self.next_idle_seq
    }
}
