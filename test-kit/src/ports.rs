//! Free loopback ports for the throwaway servers tests start (Redis, Sentinel, PostgreSQL, coturn,
//! Prometheus, `signaling-server` children).
//!
//! Asking the kernel for port 0 and handing the number to a child is racy: until the child binds
//! it, the port is free, and the kernel gives the ports of that same (ephemeral) range to every
//! outgoing connection the tests make. With tests running in parallel, a client socket took a
//! port a Redis was about to bind, and the Redis never came up. So the ports here come from below
//! the ephemeral range, which the kernel never picks by itself, each at most once per process,
//! from an offset that depends on the process id (two test processes started together do not walk
//! the same ports), and only if TCP and UDP on it can be bound right now.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port handed out: above the usual fixed service ports.
const LOWEST: u32 = 10_000;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The first port of the kernel's ephemeral range (where `bind(0)` and outgoing connections
/// take their ports), 32768 when it cannot be read.
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        .filter(|low| *low > LOWEST + 1_000)
        .unwrap_or(32_768)
}

/// A loopback port nothing listens on (TCP or UDP), never returned before in this process.
pub fn free_port() -> u16 {
    let span = ephemeral_low() - LOWEST;
    let start = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOWEST + (start + n) % span) as u16;
        let tcp = TcpListener::bind(("127.0.0.1", port)).is_ok();
        if tcp && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port below the ephemeral range")
}

/// `127.0.0.1:<free_port()>`.
pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_bindable_below_the_ephemeral_range_and_never_repeat() {
        let ports: Vec<u16> = (0..200).map(|_| free_port()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "no port twice");
        assert!(ports.iter().all(|p| u32::from(*p) >= LOWEST && u32::from(*p) < ephemeral_low()));
        let first = free_addr();
        TcpListener::bind(first).expect("a port handed out can be bound");
    }
}
