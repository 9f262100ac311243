//! The driver's connection registry: who is on which connection, sending to them, replacing and
//! dropping connections, and the outcomes a booth missed while it was away.
//!
//! A send never blocks and never re-enters the engine: it goes to this node's hub (which closes a
//! connection whose queue is full as `too_slow`; its gateway then reports the disconnect, a logged
//! input like any other), or, for a connection on another gateway, to the bus after the commit.

use std::time::Instant;

use desk::booth_outcomes::BoothReach;
use protocol::{CloseReason, ErrorCode, Role, ServerMessage};
use routing::{BoothIdx, ClerkIdx};
use tracing::info;

use super::{ConnId, Driver, Principal};
use crate::bus::{RemoteOut, RemoteWhat};

/// A lost gateway may have been dead this long before it is noticed (its heartbeat's timeout,
/// the router's one-second check, and a margin): outcomes sent to its booths within this window
/// may have gone to nobody.
pub(super) const LOST_GATEWAY_WINDOW: std::time::Duration =
    std::time::Duration::from_millis(crate::role::GATEWAY_TIMEOUT_MS + 2_000);

pub(super) struct Conn {
    pub who: Principal,
    /// The gateway holding the socket (`None`: this node's hub). A connection rebuilt by a
    /// replay of a single node's log is in no hub any more: what is sent to it goes nowhere.
    pub gateway: Option<String>,
}

impl Driver {
    pub(super) fn connect(&mut self, conn: ConnId, who: Principal, gateway: Option<String>) {
        let dir = self.shared.directory.clone();
        let (role, id, name) = match who {
            Principal::Booth(b) => (Role::Booth, dir.booth(b).id.clone(), dir.booth(b).name.clone()),
            Principal::Clerk(c) => (Role::Clerk, dir.clerk(c).id.clone(), dir.clerk(c).name.clone()),
            Principal::Supervisor(s) => {
                let sup = &self.shared.supervisors[s];
                (Role::Supervisor, sup.id.clone(), sup.name.clone())
            }
        };
        self.conns.insert(conn, Conn { who, gateway });
        self.send(
            conn,
            ServerMessage::Welcome {
                protocol_version: protocol::PROTOCOL_VERSION,
                role,
                id: id.clone(),
                display_name: name,
                heartbeat_interval_ms: self.shared.heartbeat_interval.as_millis() as u64,
            },
        );
        info!(conn, role = role.as_str(), id = %id, "connected");
        match who {
            Principal::Booth(booth) => {
                if let Some(old) = self.booth_conn.insert(booth, conn) {
                    self.replace(old);
                }
                // What ended while the booth was away comes first, then its current state.
                for msg in self.outcomes.returned(booth) {
                    self.send(conn, msg);
                }
                self.apply_event(desk::Event::Connected(who));
            }
            Principal::Clerk(clerk) => {
                if let Some(old) = self.clerk_conn.insert(clerk, conn) {
                    self.replace(old);
                }
                self.apply_event(desk::Event::Connected(who));
            }
            Principal::Supervisor(s) => {
                let scope = self.shared.supervisors[s].scope;
                self.greet_supervisor(conn, scope);
            }
        }
    }

    /// A newer connection of the same account took over: close the old one without signing out.
    fn replace(&mut self, old: ConnId) {
        if self.conns.contains_key(&old) {
            self.close_conn(old, CloseReason::Replaced);
            self.conns.remove(&old);
            info!(conn = old, "connection replaced");
        }
    }

    /// Whether `c`'s socket is in this node's hub.
    pub(super) fn is_local(&self, c: &Conn) -> bool {
        self.remote_gateway(c).is_none()
    }

    /// The other gateway holding `c`'s socket, or `None` when it is in this node's hub.
    fn remote_gateway<'a>(&self, c: &'a Conn) -> Option<&'a str> {
        c.gateway.as_deref().filter(|g| *g != self.shared.gateway)
    }

    /// Closes a connection's socket, wherever it is (not while rebuilding: the world is cut off).
    fn close_conn(&mut self, conn: ConnId, reason: CloseReason) {
        let Some(c) = self.conns.get(&conn).filter(|_| self.reach().sends()) else { return };
        match self.remote_gateway(c).map(str::to_owned) {
            Some(gateway) => self.remote.push(RemoteOut { gateway, conn, what: RemoteWhat::Close(reason) }),
            None => self.shared.hub.close(conn, reason),
        }
    }

    /// A gateway stopped answering: every connection it held is gone, as if each had dropped.
    pub(super) fn gateway_lost(&mut self, gateway: &str) {
        let mut gone: Vec<ConnId> =
            self.conns.iter().filter(|(_, c)| c.gateway.as_deref() == Some(gateway)).map(|(id, _)| *id).collect();
        gone.sort_unstable();
        info!(gateway, connections = gone.len(), "gateway lost: its connections are gone");
        for conn in gone {
            // What its booths were sent while the gateway may already have been dead went to an
            // outbound stream nobody reads: kept for them as missed, sent when they come back
            // wherever they come back (before their current state).
            if let Some(Principal::Booth(booth)) = self.conns.get(&conn).map(|c| c.who) {
                if self.booth_conn.get(&booth) == Some(&conn) {
                    self.outcomes.gateway_lost(booth, self.now);
                }
            }
            self.disconnect(conn);
        }
    }

    /// The gateways other than this node's that hold connections now.
    pub(super) fn remote_gateways(&self) -> std::collections::BTreeSet<String> {
        self.conns.values().filter_map(|c| self.remote_gateway(c)).map(str::to_owned).collect()
    }

    pub(super) fn disconnect(&mut self, conn: ConnId) {
        self.monitor_gone(conn);
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        info!(conn, "disconnected");
        match c.who {
            Principal::Booth(booth) if self.booth_conn.get(&booth) == Some(&conn) => {
                self.booth_conn.remove(&booth);
                self.apply_event(desk::Event::Disconnected(c.who));
            }
            Principal::Clerk(clerk) if self.clerk_conn.get(&clerk) == Some(&conn) => {
                self.clerk_conn.remove(&clerk);
                self.apply_event(desk::Event::Disconnected(c.who));
            }
            _ => {}
        }
    }

    /// Queues `msg` for `conn`. With the applied log on, it waits in the outbox until the batch is
    /// committed ([`Driver::deliver_outbox`]). Never blocks and never re-enters the engine; a
    /// replay sends nothing.
    pub(super) fn send(&mut self, conn: ConnId, msg: ServerMessage) {
        if !self.reach().sends() {
            return;
        }
        if self.log.is_some() {
            self.outbox.push((conn, msg));
        } else {
            self.send_now(conn, msg);
        }
    }

    /// Sends what the committed batch said, in order.
    pub(super) fn deliver_outbox(&mut self) {
        for (conn, msg) in std::mem::take(&mut self.outbox) {
            self.send_now(conn, msg);
        }
    }

    /// To this node's hub (which closes a connection too slow to take it), or to the bus for a
    /// connection on another gateway.
    fn send_now(&mut self, conn: ConnId, msg: ServerMessage) {
        let Some(c) = self.conns.get(&conn) else { return };
        // Only a message for another gateway copies the gateway's name.
        match self.remote_gateway(c).map(str::to_owned) {
            Some(gateway) => self.remote.push(RemoteOut { gateway, conn, what: RemoteWhat::Msg(msg) }),
            None => {
                self.shared.hub.deliver(conn, msg);
            }
        }
    }

    /// Sends to the booth's connection; an outcome (`call_ended`, `ticket_closed`) that finds the
    /// booth away is kept for it until it returns (or its grace period is long past).
    /// (The desk's [`desk::booth_outcomes`] decides.)
    pub(super) fn send_to_booth(&mut self, booth: BoothIdx, msg: ServerMessage) {
        let conn = self.booth_conn.get(&booth).copied();
        let reach = match conn.and_then(|conn| self.conns.get(&conn)) {
            None if conn.is_none() => BoothReach::Away,
            Some(c) if !self.is_local(c) => BoothReach::Remote,
            _ => BoothReach::Local,
        };
        if let (true, Some(conn)) = (self.outcomes.to_booth(booth, reach, &msg, self.now), conn) {
            self.send(conn, msg);
        }
    }

    pub(super) fn send_to_clerk(&mut self, clerk: ClerkIdx, msg: ServerMessage) {
        if let Some(conn) = self.clerk_conn.get(&clerk).copied() {
            self.send(conn, msg);
        }
    }

    pub(super) fn reply_error(&mut self, conn: ConnId, code: ErrorCode, msg: &protocol::ClientMessage) {
        tracing::debug!(conn, ?code, kind = msg.kind(), "request refused");
        self.send(conn, ServerMessage::error(code, Some(msg.kind())));
    }

    /// Forgets missed outcomes older than twice the booth grace period (the booth is not coming back
    /// for them; its next ticket starts fresh).
    pub(super) fn expire_missed(&mut self, now: Instant) {
        self.outcomes.expire(now, self.desk.engine().config().booth_grace * 2);
    }
}
