//! The HTTP/1.1 listener: accepts TCP connections under a total and a per-address cap, sets
//! `TCP_NODELAY`, and serves each with hyper under a header-read timeout that also closes idle
//! keep-alive connections (slowloris, silent sockets). A connection's slot is held by its socket
//! itself, so a WebSocket that outlives its HTTP exchange still counts.
//!
//! At a cap, a new connection is not refused while an older one has not sent a complete request
//! yet: the oldest such connection (of the same address, at the per-address cap) is shed — closed
//! without an answer — and the new one takes its slot. Sockets that connect and send nothing can
//! therefore never lock staff, `/healthz` or logins out; what they can hold is bounded by the
//! header-read timeout.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tower::ServiceExt;
use tracing::{debug, warn};

/// Counts open connections, in total and per client address.
#[derive(Debug)]
pub struct ConnTracker {
    max_total: usize,
    reserved: usize,
    per_ip: usize,
    total: AtomicUsize,
    /// The most open at once since the last [`ConnTracker::take_peak`].
    peak: AtomicUsize,
    by_ip: Mutex<HashMap<IpAddr, usize>>,
    next_id: std::sync::atomic::AtomicU64,
    /// Connections that have not sent a complete request yet, oldest first: their address and the
    /// signal that sheds them.
    waiting: Mutex<std::collections::BTreeMap<u64, (IpAddr, Arc<tokio::sync::Notify>)>>,
}

impl ConnTracker {
    pub fn new(max_total: usize, reserved: usize, per_ip: usize) -> Self {
        Self {
            max_total,
            reserved: reserved.min(max_total.saturating_sub(1)),
            per_ip: per_ip.max(1),
            total: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            by_ip: Mutex::new(HashMap::new()),
            next_id: std::sync::atomic::AtomicU64::new(0),
            waiting: Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    /// Takes a slot for a new connection from `ip`. At a cap, the oldest connection that has not
    /// sent a complete request (from `ip`, at the per-address cap) is shed to make room; `None`
    /// when there is none to shed.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ConnSlot> {
        let mut by_ip = self.by_ip.lock().expect("the tracker's lock is never held across a panic");
        let n = by_ip.get(&ip).copied().unwrap_or(0);
        if n >= self.per_ip && !self.shed_oldest_waiting(Some(ip)) {
            return None;
        }
        if self.total.load(Ordering::Relaxed) >= self.max_total && !self.shed_oldest_waiting(None) {
            return None;
        }
        *by_ip.entry(ip).or_insert(0) += 1;
        let open = self.total.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(open, Ordering::Relaxed);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let shed = Arc::new(tokio::sync::Notify::new());
        self.waiting_lock().insert(id, (ip, shed.clone()));
        Some(ConnSlot { tracker: self.clone(), ip, id, shed })
    }

    fn waiting_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<u64, (IpAddr, Arc<tokio::sync::Notify>)>> {
        self.waiting.lock().expect("the tracker's lock is never held across a panic")
    }

    /// Signals the oldest connection (of `ip`, if given) that has sent no complete request to
    /// close; `false` if there is none. Its slot is freed once its task has dropped the socket,
    /// a moment later: until then the count may stand one over the cap per shed connection.
    fn shed_oldest_waiting(&self, ip: Option<IpAddr>) -> bool {
        let mut waiting = self.waiting_lock();
        let Some(id) = waiting.iter().find(|(_, (from, _))| ip.is_none_or(|ip| ip == *from)).map(|(id, _)| *id) else {
            return false;
        };
        let (from, shed) = waiting.remove(&id).expect("found just now");
        debug!(%from, "shedding a connection that sent no request, for a new one");
        shed.notify_one();
        true
    }

    /// The connection `id` sent a complete request: it is no longer one to shed.
    pub fn requested(&self, id: u64) {
        self.waiting_lock().remove(&id);
    }

    pub fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// The peak of open connections since the last call, restarting from the current count.
    pub fn take_peak(&self) -> usize {
        self.peak.swap(self.open(), Ordering::Relaxed)
    }

    /// Whether only the reserved paths are served now (the general connections are used up).
    pub fn in_reserve(&self) -> bool {
        self.open() > self.max_total - self.reserved
    }

    fn release(&self, ip: IpAddr, id: u64) {
        self.waiting_lock().remove(&id);
        let mut by_ip = self.by_ip.lock().expect("the tracker's lock is never held across a panic");
        if let Some(n) = by_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                by_ip.remove(&ip);
            }
        }
        self.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One admitted connection; the slot is freed when the socket is dropped.
#[derive(Debug)]
pub struct ConnSlot {
    tracker: Arc<ConnTracker>,
    ip: IpAddr,
    id: u64,
    /// Notified when this connection is shed to make room for a new one.
    shed: Arc<tokio::sync::Notify>,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.tracker.release(self.ip, self.id);
    }
}

/// A TCP stream that owns its connection slot.
struct TrackedStream {
    inner: TcpStream,
    _slot: ConnSlot,
}

impl AsyncRead for TrackedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// How accepted connections are served.
#[derive(Debug, Clone, Copy)]
pub struct ListenOptions {
    /// Headers must arrive within this (also closes idle keep-alive connections).
    pub header_timeout: Duration,
    /// `TCP_NODELAY` (always on but to measure its absence).
    pub nodelay: bool,
}

/// Socket options for an accepted connection: `TCP_NODELAY`, so that a small message right after
/// another (an offer right after a clerk state) goes out at once instead of waiting for the
/// client's delayed ACK (about 40 ms with Nagle's algorithm on).
fn prepare(stream: &TcpStream, nodelay: bool) {
    if let Err(e) = stream.set_nodelay(nodelay) {
        debug!(error = %e, "TCP_NODELAY");
    }
}

/// Serves `app` on `listener` until `stop` fires, then lets open HTTP exchanges finish (up to
/// 5 s). WebSockets are closed by the driver's shutdown before `stop` fires.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tracker: Arc<ConnTracker>,
    options: ListenOptions,
    mut stop: oneshot::Receiver<()>,
) {
    // `shutdown` tells every connection task to finish its exchange; each holds a `done` receiver,
    // so the sender's `closed()` resolves once they all have.
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(());
    let (done, done_rx) = tokio::sync::watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let Some(slot) = tracker.admit(peer.ip()) else {
            debug!(%peer, "connection refused: connection cap reached");
            drop(stream);
            continue;
        };
        prepare(&stream, options.nodelay);
        let (id, shed) = (slot.id, slot.shed.clone());
        let io = TokioIo::new(TrackedStream { inner: stream, _slot: slot });
        let requests = tracker.clone();
        let service = app.clone().map_request(move |mut req: axum::extract::Request<hyper::body::Incoming>| {
            requests.requested(id);
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            req
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(options.header_timeout).keep_alive(true);
        let conn = http.serve_connection(io, TowerToHyperService::new(service)).with_upgrades();
        let (mut shutdown_rx, done_rx) = (shutdown_rx.clone(), done_rx.clone());
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                // Shed for a newer connection before it sent a request: closed without an answer.
                _ = shed.notified() => Ok(()),
                _ = shutdown_rx.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                debug!(error = %e, "connection ended with an error");
            }
            drop(done_rx);
        });
    }
    drop(listener);
    let _ = shutdown.send(());
    drop(done_rx);
    if tokio::time::timeout(Duration::from_secs(5), done.closed()).await.is_err() {
        debug!("some HTTP exchanges were still open at shutdown");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_have_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(!accepted.nodelay().unwrap(), "off by default: the option is ours to set");
        prepare(&accepted, true);
        assert!(accepted.nodelay().unwrap());
        drop(client);
    }

    #[test]
    fn caps_total_and_per_address_and_frees_on_drop() {
        let t = Arc::new(ConnTracker::new(3, 1, 2));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = t.admit(a).unwrap();
        let s2 = t.admit(a).unwrap();
        for s in [&s1, &s2] {
            t.requested(s.id);
        }
        assert!(t.admit(a).is_none(), "per-address cap");
        assert!(!t.in_reserve());
        let s3 = t.admit(b).unwrap();
        t.requested(s3.id);
        assert!(t.in_reserve(), "the last slot is the reserve");
        assert!(t.admit(b).is_none(), "total cap");
        drop(s1);
        assert_eq!(t.open(), 2);
        assert!(t.admit(a).is_some());
    }

    #[tokio::test]
    async fn at_a_cap_the_oldest_connection_without_a_request_is_shed() {
        let t = Arc::new(ConnTracker::new(3, 1, 2));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let silent_a = t.admit(a).unwrap();
        let busy_a = t.admit(a).unwrap();
        t.requested(busy_a.id);
        // The address is at its cap: its silent connection makes room, not the busy one.
        let newer_a = t.admit(a).expect("room made at the per-address cap");
        silent_a.shed.notified().await;
        drop(silent_a);
        // The total cap: the oldest silent connection anywhere goes.
        let _b1 = t.admit(b).unwrap();
        let _b2 = t.admit(b).expect("room made at the total cap");
        newer_a.shed.notified().await;
        drop(newer_a);
        // Only connections that sent requests are left: the cap holds.
        t.requested(_b1.id);
        t.requested(_b2.id);
        assert!(t.admit(b).is_none() && t.admit(a).is_none());
    }
}
