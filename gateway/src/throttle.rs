//! Login throttling: exponential back-off after failed logins, kept per (account, address), per
//! address and per account. The first two can grow long (up to `login_max_backoff_secs`); the
//! account-wide one stays short (`login_account_max_backoff_secs`) so an attacker guessing from
//! elsewhere cannot keep the real clerk out for long. While a key is backing off its logins are
//! refused without checking the secret, so a right guess during the back-off does not work.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use protocol::Role;
use tokio::time::Instant;

use crate::limits::LimitsConfig;

/// Keys idle this long are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Entries kept at most per kind of key; the oldest go first when full.
const MAX_ENTRIES: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    blocked_until: Instant,
    last: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Rule {
    free: u32,
    max_backoff: Duration,
}

impl Rule {
    /// Back-off after the `failures`-th failure: none for the free ones, then 1 s, 2 s, 4 s, …
    fn backoff(self, failures: u32) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let exp = (failures - self.free).min(20);
        Duration::from_secs(1u64 << exp).min(self.max_backoff)
    }
}

#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Entry>,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Self { entries: HashMap::new() }
    }
}

impl<K: std::hash::Hash + Eq + Clone> Table<K> {
    fn blocked(&self, key: &K, now: Instant) -> Option<Duration> {
        let e = self.entries.get(key)?;
        (e.blocked_until > now).then(|| e.blocked_until - now)
    }

    fn fail(&mut self, key: K, rule: Rule, now: Instant) {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&key) {
            self.entries.retain(|_, e| now.saturating_duration_since(e.last) < FORGET_AFTER);
            if self.entries.len() >= MAX_ENTRIES {
                let oldest = self.entries.iter().min_by_key(|(_, e)| e.last).map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.entries.remove(&k);
                }
            }
        }
        let e = self.entries.entry(key).or_insert(Entry { failures: 0, blocked_until: now, last: now });
        if now.saturating_duration_since(e.last) >= FORGET_AFTER {
            e.failures = 0;
        }
        e.failures += 1;
        e.last = now;
        e.blocked_until = now + rule.backoff(e.failures);
    }

    fn clear(&mut self, key: &K) {
        self.entries.remove(key);
    }
}

type Account = (Role, String);

/// The three back-off tables behind one lock (a login takes it twice, briefly).
pub struct LoginThrottle {
    pair: Rule,
    ip: Rule,
    account: Rule,
    tables: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    pair: Table<(Account, IpAddr)>,
    ip: Table<IpAddr>,
    account: Table<Account>,
}

impl LoginThrottle {
    pub fn new(cfg: &LimitsConfig) -> Self {
        let long = Duration::from_secs(cfg.login_max_backoff_secs.max(1));
        Self {
            pair: Rule { free: cfg.login_free_failures.max(1), max_backoff: long },
            ip: Rule { free: cfg.login_free_failures_per_ip.max(1), max_backoff: long },
            account: Rule {
                free: cfg.login_free_failures_per_account.max(1),
                max_backoff: Duration::from_secs(cfg.login_account_max_backoff_secs.max(1)),
            },
            tables: Mutex::new(Tables::default()),
        }
    }

    /// `Err(wait)` while any key of this attempt is backing off.
    pub fn check(&self, role: Role, id: &str, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let t = self.tables.lock().expect("the throttle's lock is never held across a panic");
        let account = (role, id.to_owned());
        let wait =
            [t.pair.blocked(&(account.clone(), ip), now), t.ip.blocked(&ip, now), t.account.blocked(&account, now)]
                .into_iter()
                .flatten()
                .max();
        wait.map_or(Ok(()), Err)
    }

    pub fn failed(&self, role: Role, id: &str, ip: IpAddr, now: Instant) {
        let mut t = self.tables.lock().expect("the throttle's lock is never held across a panic");
        let account = (role, id.to_owned());
        t.pair.fail((account.clone(), ip), self.pair, now);
        t.ip.fail(ip, self.ip, now);
        t.account.fail(account, self.account, now);
    }

    /// A right secret clears the account's record (and this address's record for it).
    pub fn succeeded(&self, role: Role, id: &str, ip: IpAddr) {
        let mut t = self.tables.lock().expect("the throttle's lock is never held across a panic");
        let account = (role, id.to_owned());
        t.pair.clear(&(account.clone(), ip));
        t.account.clear(&account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> LimitsConfig {
        LimitsConfig { login_free_failures: 3, login_free_failures_per_account: 5, ..LimitsConfig::default() }
    }

    #[test]
    fn backs_off_exponentially_after_the_free_failures() {
        let th = LoginThrottle::new(&cfg());
        let (ip, now) = ("10.1.1.1".parse().unwrap(), Instant::now());
        for _ in 0..2 {
            th.failed(Role::Clerk, "c", ip, now);
            assert!(th.check(Role::Clerk, "c", ip, now).is_ok());
        }
        th.failed(Role::Clerk, "c", ip, now);
        assert_eq!(th.check(Role::Clerk, "c", ip, now), Err(Duration::from_secs(1)));
        th.failed(Role::Clerk, "c", ip, now);
        assert_eq!(th.check(Role::Clerk, "c", ip, now), Err(Duration::from_secs(2)));
        assert!(th.check(Role::Clerk, "c", ip, now + Duration::from_secs(2)).is_ok());
        assert!(th.check(Role::Clerk, "other", ip, now).is_ok(), "another account from the same address");
    }

    #[test]
    fn an_attacker_elsewhere_locks_the_account_out_only_briefly() {
        let th = LoginThrottle::new(&cfg());
        let now = Instant::now();
        let attacker: IpAddr = "10.9.9.9".parse().unwrap();
        for _ in 0..40 {
            th.failed(Role::Clerk, "c", attacker, now);
        }
        let clerk: IpAddr = "10.1.1.1".parse().unwrap();
        let wait = th.check(Role::Clerk, "c", clerk, now).unwrap_err();
        assert!(wait <= Duration::from_secs(30), "account-wide back-off is capped: {wait:?}");
        assert!(th.check(Role::Clerk, "c", attacker, now).unwrap_err() > Duration::from_secs(30));
    }
}
