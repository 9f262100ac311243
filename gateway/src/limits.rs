//! Every bound the server puts on what clients may use: the `[limits]` config section with its
//! defaults, the process's descriptor limit, and the token bucket that rate-limits each
//! WebSocket. ARCHITECTURE.md's "Limits" table lists each bound and what a client sees.

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

/// `[limits]`: connection, message, login and upload bounds. All optional.
/// `[limits] records_queue` unless set: the records writer's queue bound (see the server's
/// records writer).
pub const DEFAULT_RECORDS_QUEUE: usize = host::records::MAX_QUEUED;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Open TCP connections at most; 0 = the descriptor limit less 128 (kept for files, peers).
    pub max_connections: usize,
    /// Of `max_connections`, the last this many serve only `/healthz`, `POST /api/login` and the
    /// clerk and supervisor sockets, so staff can still sign in while booths (or a flood) fill the rest.
    pub reserved_connections: usize,
    /// Open TCP connections per client address.
    pub max_connections_per_ip: usize,
    /// A request's headers must arrive within this; an idle keep-alive connection closes after it.
    pub header_timeout_secs: u64,
    /// A small request body (login JSON) must arrive within this.
    pub body_timeout_secs: u64,
    /// A document upload's body must arrive within this (a 20 MiB photo over a slow uplink).
    pub upload_timeout_secs: u64,
    /// A WebSocket must send a valid `hello` within this.
    pub hello_timeout_secs: u64,
    /// WebSockets that have not yet said `hello`, at most; more are refused `503 server_busy`.
    pub max_unauthenticated: usize,
    /// Sustained messages per second per WebSocket (pings included).
    pub messages_per_sec: u32,
    /// Burst of messages a WebSocket may send above the sustained rate.
    pub message_burst: u32,
    /// Messages refused as `rate_limited` on one connection before it is closed (`rate_limited`).
    pub rate_limit_strikes: u32,
    /// Messages queued for a WebSocket that does not read; past this it is closed (`too_slow`).
    pub outbound_queue: usize,
    /// Document uploads being received or processed at once, in all; more are refused `503
    /// server_busy`. 0: sized from the machine's memory (see [`LimitsConfig::effective_max_pending_uploads`]).
    /// Each call has one upload at a time besides.
    pub max_pending_uploads: usize,
    /// An upload that, after `upload_rate_grace_secs`, has sent less than this many bytes a second
    /// on average is closed (`408 request_timeout`): a slow sender cannot hold its slot for the
    /// whole upload timeout.
    pub upload_min_bytes_per_sec: u64,
    pub upload_rate_grace_secs: u64,
    /// Records waiting for the records writer (the database slow or away) at most; past it
    /// `end_wrap_up`, `rate_service`, `review_document` and `force_clerk_state` are refused
    /// `server_busy` and `/healthz` says `records_queue_full`.
    pub records_queue: usize,
    /// Failed logins of one account from one address before back-off starts.
    pub login_free_failures: u32,
    /// Failed logins from one address (any account) before back-off starts.
    pub login_free_failures_per_ip: u32,
    /// Longest back-off for one account from one address, and for one address.
    pub login_max_backoff_secs: u64,
    /// Failed logins of one account from anywhere before its (short) back-off starts.
    pub login_free_failures_per_account: u32,
    /// Longest back-off of an account as a whole: an attacker elsewhere cannot lock its clerk
    /// out for longer than this at a time.
    pub login_account_max_backoff_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: 0,
            reserved_connections: 64,
            max_connections_per_ip: 512,
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            upload_timeout_secs: 120,
            hello_timeout_secs: 10,
            max_unauthenticated: 1024,
            messages_per_sec: 20,
            message_burst: 60,
            rate_limit_strikes: 100,
            outbound_queue: 256,
            max_pending_uploads: 0,
            upload_min_bytes_per_sec: 8 * 1024,
            upload_rate_grace_secs: 10,
            records_queue: DEFAULT_RECORDS_QUEUE,
            login_free_failures: 5,
            login_free_failures_per_ip: 30,
            login_max_backoff_secs: 300,
            login_free_failures_per_account: 20,
            login_account_max_backoff_secs: 30,
        }
    }
}

impl LimitsConfig {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs.max(1))
    }
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs.max(1))
    }
    pub fn upload_timeout(&self) -> Duration {
        Duration::from_secs(self.upload_timeout_secs.max(1))
    }
    pub fn hello_timeout(&self) -> Duration {
        Duration::from_secs(self.hello_timeout_secs.max(1))
    }

    /// `max_connections` with 0 resolved against the process's descriptor limit.
    /// `max_pending_uploads`, or when 0, a quarter of the machine's memory divided by what one
    /// upload may hold (a 20 MiB body, a 160 MiB decode, 32 MiB of output and copies), between 2
    /// and 64.
    pub fn effective_max_pending_uploads(&self) -> usize {
        if self.max_pending_uploads > 0 {
            return self.max_pending_uploads;
        }
        const PER_UPLOAD: u64 = (20 + 160 + 32) * 1024 * 1024;
        ((total_memory_bytes() / 4 / PER_UPLOAD) as usize).clamp(2, 64)
    }

    pub fn upload_rate_grace(&self) -> Duration {
        Duration::from_secs(self.upload_rate_grace_secs)
    }

    pub fn effective_max_connections(&self) -> usize {
        if self.max_connections > 0 {
            return self.max_connections;
        }
        (nofile_limit() as usize).saturating_sub(128).max(self.reserved_connections + 16)
    }
}

/// The machine's memory (`sysinfo`); 1 GiB where it cannot be read.
fn total_memory_bytes() -> u64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sysinfo only writes the struct we pass.
        let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
        if unsafe { libc::sysinfo(&mut info) } == 0 {
            return (info.totalram as u64).saturating_mul(u64::from(info.mem_unit.max(1)));
        }
    }
    1 << 30
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (a default soft limit of 1024 or even 256
/// would cap the booths one node can hold far below what the machine can). Returns the new soft limit.
pub fn raise_nofile_limit() -> u64 {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit/setrlimit only read or write the struct we pass.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return 1024;
            }
            if lim.rlim_cur < lim.rlim_max {
                let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    return lim.rlim_max;
                }
            }
        }
        lim.rlim_cur
    }
    #[cfg(not(unix))]
    {
        1024
    }
}

/// The current soft descriptor limit.
pub fn nofile_limit() -> u64 {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit only writes the struct we pass.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            return lim.rlim_cur;
        }
    }
    1024
}

/// A token bucket: `rate` tokens a second up to `burst`; each message takes one.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self { rate: f64::from(rate.max(1)), burst, tokens: burst, last: now }
    }

    /// Takes a token if one is there.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_the_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 5, t0);
        assert_eq!((0..20).filter(|_| b.take(t0)).count(), 5);
        let later = t0 + Duration::from_millis(500);
        assert_eq!((0..20).filter(|_| b.take(later)).count(), 5, "10/s for half a second");
    }

    #[test]
    fn the_soft_descriptor_limit_is_raised_to_the_hard_one() {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit only writes the struct we pass.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(raise_nofile_limit(), lim.rlim_max);
        assert_eq!(nofile_limit(), lim.rlim_max);
    }

    #[test]
    fn auto_connection_cap_leaves_room_for_the_reserve() {
        let cfg = LimitsConfig::default();
        assert!(cfg.effective_max_connections() > cfg.reserved_connections);
    }
}
