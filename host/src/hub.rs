//! The connection hub: the WebSockets this node terminates, by connection id. The WebSocket task
//! registers its connection here once `hello` is accepted; whoever routes — the engine host on
//! this node, or the cluster's router through this node's outbound stream — delivers through the
//! hub, never to a socket directly.
//!
//! A delivery never blocks. A connection whose queue is full (a client that does not read) is
//! closed `too_slow` and forgotten at once; its WebSocket task then reports the disconnect like any
//! other, so the router signs it out through the usual, logged path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use protocol::{CloseReason, ServerMessage};
use tokio::sync::{mpsc, Notify};
use tracing::warn;

pub type ConnId = u64;

/// What a connection's writer is asked to do, in order.
#[derive(Debug)]
pub enum Outbound {
    Msg(ServerMessage),
    /// Close after the messages queued before it (graceful shutdown).
    Close(CloseReason),
}

/// Closes a connection's socket from outside its task, even when its queue is full.
#[derive(Debug, Default)]
pub struct CloseSignal {
    reason: OnceLock<CloseReason>,
    notify: Notify,
}

impl CloseSignal {
    /// Asks the connection to close with `reason`; the first reason given wins.
    pub fn close(&self, reason: CloseReason) {
        let _ = self.reason.set(reason);
        self.notify.notify_one();
    }

    /// Resolves once [`CloseSignal::close`] was called.
    pub async fn closed(&self) -> CloseReason {
        loop {
            if let Some(r) = self.reason.get() {
                return *r;
            }
            self.notify.notified().await;
        }
    }
}

/// The two ends the hub holds of a connection: its outbound queue and its close signal.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    pub tx: mpsc::Sender<Outbound>,
    pub close: Arc<CloseSignal>,
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    /// Not a connection of this node (any more): nothing to do.
    Unknown,
    /// Its queue was full or closed: the connection is being closed as `too_slow`.
    Dropped,
}

/// This node's open WebSockets.
#[derive(Debug, Default)]
pub struct Hub {
    conns: Mutex<HashMap<ConnId, ConnHandle>>,
}

impl Hub {
    pub fn register(&self, conn: ConnId, handle: ConnHandle) {
        self.lock().insert(conn, handle);
    }

    /// The connection's task ended: forget it (its queue's sender goes, which ends its writer).
    pub fn unregister(&self, conn: ConnId) {
        self.lock().remove(&conn);
    }

    /// Queues `msg` for `conn`, never waiting.
    pub fn deliver(&self, conn: ConnId, msg: ServerMessage) -> Delivery {
        let mut conns = self.lock();
        let Some(handle) = conns.get(&conn) else { return Delivery::Unknown };
        match handle.tx.try_send(Outbound::Msg(msg)) {
            Ok(()) => Delivery::Queued,
            Err(e) => {
                // A client that cannot keep up is disconnected rather than allowed to grow memory.
                warn!(conn, error = %e, "outbound queue full or closed; dropping connection");
                handle.close.close(CloseReason::TooSlow);
                conns.remove(&conn);
                Delivery::Dropped
            }
        }
    }

    /// Closes `conn` at once with `reason` (a newer connection replaced it, or it is too slow).
    pub fn close(&self, conn: ConnId, reason: CloseReason) {
        if let Some(handle) = self.lock().remove(&conn) {
            handle.close.close(reason);
        }
    }

    /// Closes `conn` after what is queued for it (shutdown); at once if its queue is full.
    pub fn close_after_queued(&self, conn: ConnId, reason: CloseReason) {
        if let Some(handle) = self.lock().remove(&conn) {
            if handle.tx.try_send(Outbound::Close(reason)).is_err() {
                handle.close.close(reason);
            }
        }
    }

    /// Every open connection of this node.
    pub fn connections(&self) -> Vec<ConnId> {
        let mut all: Vec<ConnId> = self.lock().keys().copied().collect();
        all.sort_unstable();
        all
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnId, ConnHandle>> {
        // A panic while holding this lock leaves the map consistent (every change is one call).
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(capacity: usize) -> (ConnHandle, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity);
        (ConnHandle { tx, close: Arc::default() }, rx)
    }

    #[tokio::test]
    async fn a_full_queue_closes_the_connection_as_too_slow_and_forgets_it() {
        let hub = Hub::default();
        let (h, mut rx) = handle(1);
        let close = h.close.clone();
        hub.register(7, h);
        assert_eq!(hub.deliver(7, ServerMessage::Pong { seq: 1 }), Delivery::Queued);
        assert_eq!(hub.deliver(7, ServerMessage::Pong { seq: 2 }), Delivery::Dropped);
        assert_eq!(close.closed().await, CloseReason::TooSlow);
        assert_eq!(hub.deliver(7, ServerMessage::Pong { seq: 3 }), Delivery::Unknown);
        assert!(matches!(rx.try_recv(), Ok(Outbound::Msg(ServerMessage::Pong { seq: 1 }))));
        assert!(hub.is_empty());
    }

    #[tokio::test]
    async fn closing_after_queued_keeps_the_order() {
        let hub = Hub::default();
        let (h, mut rx) = handle(4);
        hub.register(1, h);
        hub.deliver(1, ServerMessage::Pong { seq: 1 });
        hub.close_after_queued(1, CloseReason::ServerShutdown);
        assert!(matches!(rx.try_recv(), Ok(Outbound::Msg(_))));
        assert!(matches!(rx.try_recv(), Ok(Outbound::Close(CloseReason::ServerShutdown))));
        assert_eq!(hub.connections(), Vec::<ConnId>::new());
    }
}
