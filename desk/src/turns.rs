//! The desk's turns: it owns the routing engine; the shell feeds it an input (with the input's
//! time), then [`Desk::drain`]s it: every action the engine queued is turned into effects — a
//! ticket's status for its booth (only when it changed), an offer, a call's start and end, the
//! case a finished call opens, the clerk's state — and the inputs those decisions give rise to
//! (a guest back to available when its call ended) are applied once the engine's queue is empty,
//! never in the middle of it, until nothing is left.
//!
//! Time comes in as [`Now`]: the engine's instant and the wall time on the log's timeline (what
//! records are stamped with), so a replay of the same inputs at the same times gives the same
//! effects.

use std::collections::VecDeque;
use std::time::Instant;

use protocol::{CaseOutcome, ErrorCode, Rating, ServerMessage, TicketNotice};
use routing::{Action, BoothIdx, CallId, ClerkIdx, Engine, Input, Reject, ServiceIdx, TicketId};

use crate::alerts::Alerts;
use crate::cases::{Cases, Write};
use crate::clerk_day::ClerkDay;
use crate::clerk_time::ClerkTime;
use crate::convert::{call_end_out, clerk_state_out, reject_code, revoke_out, ticket_end_out};
use crate::effect::Effect;
use crate::shown::{offer_message, RegionPaths, Shown, StatusUpdate};
use crate::staff::Staff;
use crate::status_pace::StatusPace;
use crate::three_way::{Connected, Floor, ThreeWay};
use crate::ticket_log::TicketLog;

/// The time of the input being handled: the engine's instant, and the wall time on the log's
/// timeline (Unix ms).
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub at: Instant,
    pub wall_ms: i64,
}

impl Now {
    /// The wall time in Unix seconds.
    pub fn unix(&self) -> u64 {
        self.wall_ms.max(0) as u64 / 1000
    }
}

/// The engine and every decision above it.
pub struct Desk {
    pub(crate) engine: Engine,
    /// Three-way calls: each call's guest, and open invitations.
    pub three_way: ThreeWay,
    /// Each clerk's call awaiting its wrap-up outcome, and each booth's last served ticket.
    pub cases: Cases,
    /// Each clerk's day so far (the supervisors' clerk list).
    pub clerk_day: ClerkDay,
    /// Where each clerk's signed-in time goes.
    pub clerk_time: ClerkTime,
    /// What each booth was last told of its ticket.
    pub shown: Shown,
    /// Items whose queue changed, and when their waiting tickets' statuses were last refreshed.
    pub pace: StatusPace,
    /// Inputs decided while routing actions, applied once the engine's queue is drained.
    followups: VecDeque<Input>,
    /// Calls go through the server's media relay (three-way calls and transfers need it).
    pub(crate) relayed: bool,
    /// The regions' names as offers show them.
    pub(crate) region_paths: RegionPaths,
    /// The supervisors' alerts, and the booths' devices.
    pub alerts: Alerts,
    /// Each ticket's event log and facts.
    pub ticket_log: TicketLog,
    /// The supervisors and the STUN/TURN servers the decisions read.
    pub(crate) staff: Staff,
}

impl Desk {
    pub fn new(engine: Engine, relayed: bool) -> Self {
        Self {
            region_paths: RegionPaths::new(engine.directory()),
            engine,
            three_way: ThreeWay::default(),
            cases: Cases::default(),
            clerk_day: ClerkDay::default(),
            clerk_time: ClerkTime::default(),
            shown: Shown::default(),
            pace: StatusPace::default(),
            followups: VecDeque::new(),
            relayed,
            alerts: Alerts::default(),
            ticket_log: TicketLog::default(),
            staff: Staff::default(),
        }
    }

    /// Works the supervisors' alerts out from the routing state and `load` (see
    /// [`crate::alerts::Alerts::evaluate`]); `online`: whether a booth is connected now.
    pub fn evaluate_alerts(
        &mut self,
        cfg: &crate::alerts::AlertsConfig,
        load: &[routing::LoadRow],
        online: &dyn Fn(BoothIdx) -> bool,
        now: Now,
    ) -> crate::alerts::Evaluation {
        let situation = crate::alerts::Situation {
            dir: self.engine.directory(),
            engine: &self.engine,
            load,
            online,
            now: now.at,
            unix: now.unix(),
            at_ms: now.wall_ms,
        };
        self.alerts.evaluate(cfg, &situation)
    }

    /// The configured supervisors and the static STUN/TURN servers: what the messages' decisions
    /// read beside the directory.
    pub fn set_staff(&mut self, staff: Staff) {
        self.staff = staff;
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Takes a restored engine (a snapshot's): nothing of the old one's queue is left to route.
    pub fn set_engine(&mut self, engine: Engine) {
        self.region_paths = RegionPaths::new(engine.directory());
        self.engine = engine;
        self.pace.clear_marks();
        self.followups.clear();
    }

    /// What the three-way and transfer decisions read; `connected`: the clerks with a connection.
    pub fn floor<'a>(&'a self, connected: &'a dyn Connected) -> Floor<'a> {
        Floor { engine: &self.engine, directory: self.engine.directory(), relayed: self.relayed, connected }
    }

    /// A three-way decision: it reads the floor and changes the three-way state. Inputs it gives
    /// rise to are kept for the next [`Desk::drain`]; the rest is returned.
    pub fn decide_three_way<R>(
        &mut self,
        connected: &dyn Connected,
        decide: impl FnOnce(&Floor<'_>, &mut ThreeWay) -> R,
    ) -> R {
        let floor =
            Floor { engine: &self.engine, directory: self.engine.directory(), relayed: self.relayed, connected };
        decide(&floor, &mut self.three_way)
    }

    /// An input for the next drain, applied once the engine's queue is empty.
    pub fn follow_up(&mut self, input: Input) {
        self.followups.push_back(input);
    }

    /// Keeps the follow-up inputs among `effects` for the next drain and returns the rest.
    pub fn absorb(&mut self, effects: Vec<Effect>) -> Vec<Effect> {
        let mut out = Vec::with_capacity(effects.len());
        self.absorb_into(effects, &mut out);
        out
    }

    fn absorb_into(&mut self, effects: Vec<Effect>, out: &mut Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::FollowUp(input) => self.followups.push_back(input),
                other => out.push(other),
            }
        }
    }

    /// Feeds one input to the engine, after the timers already due (the input sees what they did;
    /// a replay does the same at the same time, so it decides the same). A refused input queues
    /// nothing of its own.
    pub fn input(&mut self, input: Input, at: Instant) -> Result<(), Reject> {
        self.engine.handle_timeout(at);
        self.engine.handle_input(input, at)
    }

    /// The engine's timers due by `at`.
    pub fn timeout(&mut self, at: Instant) {
        self.engine.handle_timeout(at);
    }

    /// Routes every action queued so far into effects, then applies the inputs those gave rise to
    /// (each after the queue is drained) and routes what those queued, until nothing is left; last,
    /// the statuses of the tickets whose queue changed, when their paced refresh is due. A message for a clerk without a connection
    /// (`connected`) is left out: nobody would receive it. One for an away booth stays (the shell
    /// keeps an outcome for its return).
    pub fn drain(&mut self, now: Now, connected: &dyn Connected) -> Vec<Effect> {
        let mut out = self.route_actions(now, connected);
        out.extend(self.refresh_statuses(now.at));
        out
    }

    /// The first part of [`Desk::drain`]: every queued action routed into effects, and the
    /// follow-up inputs applied, until nothing is left.
    pub fn route_actions(&mut self, now: Now, connected: &dyn Connected) -> Vec<Effect> {
        // An input leads to about 15 effects on a busy floor: room for them up front.
        let mut out = Vec::with_capacity(16);
        loop {
            while let Some(action) = self.engine.poll_action() {
                self.route(action, now, connected, &mut out);
            }
            let Some(input) = self.followups.pop_front() else { break };
            // Refused only if the state moved on meanwhile (the guest signed out): nothing to do.
            let _ = self.input(input, now.at);
        }
        out.retain(|effect| !matches!(effect, Effect::ToClerk(clerk, _) if !connected.has(*clerk)));
        out
    }

    /// The second part of [`Desk::drain`]: when the paced refresh is due ([`crate::status_pace`]),
    /// the status of every open ticket of each item whose queue changed, for the booths whose
    /// status changed since they were last told.
    pub fn refresh_statuses(&mut self, at: Instant) -> Vec<Effect> {
        let mut out = Vec::new();
        for service in self.pace.take_due(at) {
            for view in self.engine.open_views(service, at) {
                if let Some(update) = self.shown.status_of(self.engine.directory(), &view, None) {
                    self.push_update(update, &mut out);
                }
            }
        }
        out
    }

    /// When the shell must wake the desk next, if nothing else comes first: the engine's next
    /// timer, or the paced refresh of waiting tickets' statuses ([`crate::status_pace`]). At that
    /// time it calls [`Desk::timeout`], then [`Desk::drain`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.engine.poll_timeout(), self.pace.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn route(&mut self, action: Action, now: Now, connected: &dyn Connected, out: &mut Vec<Effect>) {
        self.clerk_day.on_action(&action, now.at);
        self.clerk_time.on_action(&action, now.wall_ms, self.engine.directory());
        self.count_first_answer(&action, now);
        self.ticket_log.on_action(&action, self.engine.directory(), now.wall_ms);
        out.push(Effect::Noted(action.clone()));
        match action {
            Action::TicketOpened { ticket, .. } => self.push_status(ticket, None, now.at, out),
            Action::QueueChanged { service } => {
                self.pace.mark(service);
                out.push(Effect::LoadChanged);
            }
            Action::TicketWidened { .. } | Action::TicketServiceChanged { .. } => {}
            Action::OfferMade { offer, ticket, clerk, .. } => {
                if let Some(msg) = offer_message(&self.engine, &self.region_paths, offer, ticket, now.at) {
                    out.push(Effect::ToClerk(clerk, msg));
                }
                self.push_status(ticket, None, now.at, out);
            }
            Action::OfferRevoked { offer, clerk, reason, .. } => {
                let msg = ServerMessage::OfferRevoked { offer: protocol::OfferId(offer.0), reason: revoke_out(reason) };
                out.push(Effect::ToClerk(clerk, msg));
            }
            Action::TicketRequeued { ticket, cause, .. } => {
                let notice = match cause {
                    routing::RequeueCause::OfferNotTaken => None,
                    routing::RequeueCause::ClerkLost => Some(TicketNotice::ClerkLostRequeued),
                    routing::RequeueCause::MediaFailed => Some(TicketNotice::MediaFailedRequeued),
                    routing::RequeueCause::Transferred => Some(TicketNotice::Transferred),
                };
                self.shown.forget(ticket);
                self.push_status(ticket, notice, now.at, out);
            }
            Action::CallStarted { call, ticket, .. } => {
                // The call is live unless a later input already ended it (then its end follows).
                if self.engine.call(call).is_some() {
                    out.push(Effect::CallStarted { call: call.0, to_clerk: true, to_booth: true, open_media: true });
                }
                self.push_status(ticket, None, now.at, out);
            }
            Action::CallEnded { call, ticket, booth, clerk, service, reason } => {
                out.push(Effect::CallEnded { call: call.0 });
                let reason = call_end_out(reason);
                self.open_case(call, ticket, booth, clerk, service, reason, now, out);
                let msg = ServerMessage::CallEnded {
                    call: protocol::CallId(call.0),
                    ticket: protocol::TicketId(ticket.0),
                    reason,
                };
                out.push(Effect::ToBooth(booth, msg.clone()));
                if let Some(guest) = self.three_way.guest_of(call.0) {
                    out.push(Effect::ToClerk(guest, msg.clone()));
                    let left =
                        self.decide_three_way(connected, |floor, three_way| three_way.leave(floor, call.0, true));
                    self.absorb_into(left, out);
                }
                out.push(Effect::ToClerk(clerk, msg));
            }
            Action::CallTransferred { call, ticket, booth, service, from, to } => {
                // The first clerk's part is a case of its own (its wrap-up records it).
                let reason = protocol::CallEndReason::Transferred;
                self.open_case(call, ticket, booth, from, service, reason, now, out);
                let effects = self.decide_three_way(connected, |floor, three_way| {
                    crate::transfer::transferred(floor, three_way, call, ticket, booth, from, to)
                });
                self.absorb_into(effects, out);
            }
            Action::TicketClosed { ticket, booth, reason, .. } => {
                if reason == routing::TicketEndReason::Served {
                    self.cases.served(booth, ticket);
                }
                self.shown.forget(ticket);
                let mut msg = ServerMessage::ticket_closed(protocol::TicketId(ticket.0), ticket_end_out(reason));
                if let ServerMessage::TicketClosed { case, .. } = &mut msg {
                    // The case the call opened (its clerk is in wrap-up): its number goes on the
                    // citizen's receipt.
                    *case = self.cases.receipt_case(ticket);
                }
                out.push(Effect::ToBooth(booth, msg));
            }
            Action::ClerkStateChanged { clerk, state } => {
                if state != routing::ClerkState::WrapUp {
                    out.extend(self.close_case_with_draft(clerk, now));
                }
                out.push(Effect::LoadChanged);
                // The state this action carries, not the engine's current one: an available clerk
                // may already hold the next offer, and the console must see both steps.
                let wrap_up_ends_in_secs =
                    (state == routing::ClerkState::WrapUp).then(|| self.engine.config().wrap_up_max.as_secs() as u32);
                let (state, reason) = clerk_state_out(state);
                out.push(Effect::ToClerk(clerk, ServerMessage::ClerkState { state, reason, wrap_up_ends_in_secs }));
            }
        }
    }

    /// A status for a booth; the first wait estimate it shows goes into the ticket's facts.
    fn push_update(&mut self, update: StatusUpdate, out: &mut Vec<Effect>) {
        if let Some(secs) = update.estimate_secs {
            self.ticket_log.note_estimate(update.ticket, secs);
        }
        out.push(Effect::ToBooth(update.booth, update.message));
    }

    /// A ticket's first answer counts in its queue's last-hour service level (the alerts').
    fn count_first_answer(&mut self, action: &Action, now: Now) {
        let Action::CallStarted { ticket, .. } = *action else { return };
        let Some(f) = self.ticket_log.facts(ticket).filter(|f| f.answered_ms.is_none()) else { return };
        let within = now.wall_ms - f.requested_ms <= f.target_secs * 1000;
        let dir = self.engine.directory();
        if let (Some(hall), Some(service)) = (dir.region_idx(&f.home_hall), dir.service_idx(&f.service)) {
            self.alerts.answered(now.at, hall, service, within);
        }
    }

    /// The booth's ticket's status, if it changed since the booth was last told (or a notice is due).
    pub(crate) fn push_status(
        &mut self,
        ticket: TicketId,
        notice: Option<TicketNotice>,
        at: Instant,
        out: &mut Vec<Effect>,
    ) {
        if let Some(update) = self.shown.status(&self.engine, ticket, notice, at) {
            self.push_update(update, out);
        }
    }

    // ---- cases and ratings -----------------------------------------------------------------

    /// A call ended (or was handed on): if its clerk goes into wrap-up, the case waits for its
    /// outcome. A case the clerk still held is written as it is.
    #[allow(clippy::too_many_arguments)]
    fn open_case(
        &mut self,
        call: CallId,
        ticket: TicketId,
        booth: BoothIdx,
        clerk: ClerkIdx,
        service: ServiceIdx,
        reason: protocol::CallEndReason,
        now: Now,
        out: &mut Vec<Effect>,
    ) {
        if !crate::cases::opens_case(reason) {
            return;
        }
        let dir = self.engine.directory();
        let (b, c) = (dir.booth(booth), dir.clerk(clerk));
        let case = protocol::rest::CaseRecord {
            id: self.case_id(call, reason),
            call: call.0,
            ticket: ticket.0,
            service: dir.service(service).code.clone(),
            booth: b.id.clone(),
            booth_region: dir.region(b.region).id.clone(),
            clerk: c.id.clone(),
            hall: dir.region(c.hall).id.clone(),
            call_end: reason,
            ended_unix: now.unix(),
            outcome: CaseOutcome::NotRecorded,
            note: None,
            recorded_unix: 0,
            rating: None,
            rating_reason: None,
        };
        if let Some(replaced) = self.cases.open(clerk, case, now.unix()) {
            out.push(Effect::Write(Box::new(replaced)));
        }
    }

    /// A call's case number: the call's id for the clerk who finished it; a clerk who handed it
    /// on (`transferred`) gets `<call>.<n>` for the n-th handover.
    fn case_id(&self, call: CallId, reason: protocol::CallEndReason) -> String {
        let id = crate::ids::store_id(call.0);
        match self.engine.call(call) {
            Some(view) if reason == protocol::CallEndReason::Transferred => format!("{id}.{}", view.handovers),
            _ => id,
        }
    }

    /// The clerk ends wrap-up with an outcome and a note. A bad note changes nothing.
    pub fn end_wrap_up(
        &mut self,
        clerk: ClerkIdx,
        outcome: Option<CaseOutcome>,
        note: Option<&str>,
        now: Now,
    ) -> Result<Option<Write>, ErrorCode> {
        let note = crate::cases::checked_note(note)?;
        self.input(Input::EndWrapUp { clerk }, now.at).map_err(reject_code)?;
        let outcome = outcome.unwrap_or(CaseOutcome::NotRecorded);
        Ok(self.cases.close(clerk, outcome, note.map(str::to_owned), now.unix()))
    }

    /// Wrap-up ended without `end_wrap_up`: the case is written with the clerk's draft, if any.
    pub fn close_case_with_draft(&mut self, clerk: ClerkIdx, now: Now) -> Option<Effect> {
        self.cases.close_with_draft(clerk, now.unix()).map(|w| Effect::Write(Box::new(w)))
    }

    /// A booth rates its last served ticket, once (一事一评); a bad rating counts on the clerk's day.
    pub fn rate_service(
        &mut self,
        booth: BoothIdx,
        ticket: TicketId,
        rating: Rating,
        reason: Option<protocol::RatingReason>,
        now: Now,
    ) -> Result<Write, ErrorCode> {
        let booth_id = self.engine.directory().booth(booth).id.clone();
        let write = self.cases.rate(booth, &booth_id, ticket, rating, reason, now.unix())?;
        let bad = matches!(rating, Rating::Dissatisfied | Rating::VeryDissatisfied);
        self.clerk_day.rated(ticket, bad);
        Ok(write)
    }
}
