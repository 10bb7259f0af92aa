//! Sign-in throttling: failed sign-ins are counted per account and per client address (the
//! generic cell rate algorithm of the `governor` crate), and once either runs out, sign-ins for
//! that account or from that address are refused with 429 and `Retry-After` until it has
//! recovered — without hashing anything, so guessing costs the server nothing. Each lock-out
//! is one audit event when it begins and one when it ends, whatever the number of guesses.
//!
//! Only failures count: a person who signs in often is never throttled. The counts live in this
//! process (each replica counts its own), and in real time, not the model's clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use breakglass_core::cmd::tokens::ThrottleKey;
use breakglass_core::ident::Email;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// A budget of failed attempts: `attempts` at once, regained evenly over `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Failures allowed in a burst.
    pub attempts: u32,
    /// The time in which a spent burst is regained.
    pub period: Duration,
}

impl Budget {
    /// Parses `N/DURATION`, e.g. `10/15m`: N failures, regained over the duration.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (n, d) = s.split_once('/').ok_or_else(|| format!("'{s}' is not N/DURATION, e.g. 10/15m"))?;
        let attempts: u32 = n.trim().parse().map_err(|_| format!("'{n}' is not a number of attempts"))?;
        let period = crate::parse_duration(d.trim())?;
        let budget = Self { attempts, period };
        budget.quota().ok_or_else(|| format!("'{s}': give at least 1 attempt over at least 1 second"))?;
        Ok(budget)
    }

    fn quota(&self) -> Option<Quota> {
        let attempts = NonZeroU32::new(self.attempts)?;
        if self.period < Duration::from_secs(1) {
            return None;
        }
        Some(Quota::with_period(self.period / attempts.get())?.allow_burst(attempts))
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed sign-ins per {}s", self.attempts, self.period.as_secs())
    }
}

/// How sign-ins are throttled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Failed sign-ins for one account (by the address typed, whether or not it has one).
    pub per_account: Budget,
    /// Failed sign-ins from one client address.
    pub per_address: Budget,
    /// Off: no throttling at all (for measurements).
    pub enabled: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_account: Budget { attempts: 10, period: Duration::from_secs(15 * 60) },
            per_address: Budget { attempts: 50, period: Duration::from_secs(5 * 60) },
            enabled: true,
        }
    }
}

/// A sign-in refused by the throttle: try again after `retry_after`.
#[derive(Debug)]
pub struct Throttled {
    /// Whether the account or the address is locked out.
    pub kind: &'static str,
    /// When to try again.
    pub retry_after: Duration,
}

/// What changed in the lock-outs: to be recorded in the audit log.
#[derive(Debug, PartialEq, Eq)]
pub enum Lockout {
    /// Sign-ins for the key are refused for `for_`.
    Began {
        /// Which account or address.
        key: ThrottleKey,
        /// How long.
        for_: Duration,
        /// The budget that ran out, described.
        limit: String,
    },
    /// The lock-out ended.
    Ended(ThrottleKey),
}

/// The throttle.
pub struct SignInThrottle {
    inner: RwLock<Inner>,
    /// Keys refused until an instant.
    locked: Mutex<HashMap<ThrottleKey, Instant>>,
}

struct Inner {
    limits: Limits,
    accounts: DefaultKeyedRateLimiter<Email>,
    addresses: DefaultKeyedRateLimiter<String>,
}

impl Inner {
    fn new(limits: Limits) -> Self {
        let quota = |b: Budget| b.quota().unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
        Self {
            accounts: RateLimiter::hashmap(quota(limits.per_account)),
            addresses: RateLimiter::hashmap(quota(limits.per_address)),
            limits,
        }
    }
}

/// The key of a client address: IPv4 as it is, IPv6 by its /64 network (one host usually holds
/// a whole /64, so counting single addresses would let it rotate through them).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

impl SignInThrottle {
    /// A throttle with `limits`.
    pub fn new(limits: Limits) -> Self {
        Self { inner: RwLock::new(Inner::new(limits)), locked: Mutex::new(HashMap::new()) }
    }

    /// Replaces the limits (forgetting what was counted).
    pub fn configure(&self, limits: Limits) {
        *self.inner.write().unwrap_or_else(|p| p.into_inner()) = Inner::new(limits);
        self.locked.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).limits.clone()
    }

    /// Refuses a sign-in from `address` for `account` while either is locked out.
    pub fn admit(&self, address: Option<&str>, account: Option<&Email>) -> Result<(), Throttled> {
        if !self.inner.read().unwrap_or_else(|p| p.into_inner()).limits.enabled {
            return Ok(());
        }
        let now = Instant::now();
        let locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        let keys =
            [address.map(|a| ThrottleKey::Address(a.to_owned())), account.cloned().map(ThrottleKey::Account)];
        for key in keys.into_iter().flatten() {
            if let Some(until) = locked.get(&key).filter(|u| **u > now) {
                return Err(Throttled { kind: key.kind(), retry_after: *until - now });
            }
        }
        Ok(())
    }

    /// Counts a failed sign-in; returns the lock-outs it began (none, or one for the address
    /// and/or one for the account).
    pub fn failed(&self, address: Option<&str>, account: Option<&Email>) -> Vec<Lockout> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        if !inner.limits.enabled {
            return Vec::new();
        }
        let clock = DefaultClock::default();
        let now = Instant::now();
        let mut began = Vec::new();
        let mut locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        let mut lock = |key: ThrottleKey, refused: Option<Duration>, budget: Budget| {
            let Some(wait) = refused else { return };
            // At least a second, so that Retry-After (whole seconds) never says 0.
            let wait = wait.max(Duration::from_secs(1));
            if locked.get(&key).is_some_and(|u| *u > now) {
                return;
            }
            locked.insert(key.clone(), now + wait);
            began.push(Lockout::Began { key, for_: wait, limit: budget.to_string() });
        };
        if let Some(a) = address {
            let refused =
                inner.addresses.check_key(&a.to_owned()).err().map(|n| n.wait_time_from(clock.now()));
            lock(ThrottleKey::Address(a.to_owned()), refused, inner.limits.per_address);
        }
        if let Some(e) = account {
            let refused = inner.accounts.check_key(e).err().map(|n| n.wait_time_from(clock.now()));
            lock(ThrottleKey::Account(e.clone()), refused, inner.limits.per_account);
        }
        began
    }

    /// Ends the lock-outs that are over, forgets counts that no longer matter, and returns the
    /// lock-outs that ended. The sweeper calls it every second.
    pub fn sweep(&self) -> Vec<Lockout> {
        let now = Instant::now();
        let mut ended = Vec::new();
        self.locked.lock().unwrap_or_else(|p| p.into_inner()).retain(|key, until| {
            let over = *until <= now;
            if over {
                ended.push(Lockout::Ended(key.clone()));
            }
            !over
        });
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        inner.accounts.retain_recent();
        inner.addresses.retain_recent();
        ended
    }

    /// How many accounts and addresses the throttle holds counts for (bounded by `sweep`).
    pub fn tracked(&self) -> usize {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        inner.accounts.len() + inner.addresses.len()
    }
}

impl Default for SignInThrottle {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    #[test]
    fn budgets_parse_and_describe_themselves() {
        let b = Budget::parse("10/15m").unwrap();
        assert_eq!(b, Budget { attempts: 10, period: Duration::from_secs(900) });
        assert_eq!(b.to_string(), "10 failed sign-ins per 900s");
        for bad in ["10", "x/1m", "0/1m", "10/0s", "10/banana"] {
            assert!(Budget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_lockout_begins_once_refuses_and_ends() {
        let t = SignInThrottle::new(Limits {
            per_account: Budget { attempts: 3, period: Duration::from_secs(3) },
            per_address: Budget { attempts: 100, period: Duration::from_secs(60) },
            enabled: true,
        });
        let bob = email("bob@example.com");
        for _ in 0..3 {
            assert!(t.admit(Some("10.0.0.1"), Some(&bob)).is_ok());
            assert_eq!(t.failed(Some("10.0.0.1"), Some(&bob)), vec![]);
        }
        let began = t.failed(Some("10.0.0.1"), Some(&bob));
        assert!(
            matches!(&began[..], [Lockout::Began { key: ThrottleKey::Account(e), .. }] if *e == bob),
            "{began:?}"
        );
        let refused = t.admit(Some("10.0.0.2"), Some(&bob)).unwrap_err();
        assert_eq!(refused.kind, "account");
        assert!(refused.retry_after >= Duration::from_millis(500), "{refused:?}");
        // Other accounts are not concerned; more failures begin nothing new.
        assert!(t.admit(Some("10.0.0.1"), Some(&email("ann@example.com"))).is_ok());
        assert_eq!(t.failed(Some("10.0.0.1"), Some(&bob)), vec![]);
        assert_eq!(t.sweep(), vec![]);
        std::thread::sleep(refused.retry_after + Duration::from_millis(50));
        assert_eq!(t.sweep(), vec![Lockout::Ended(ThrottleKey::Account(bob.clone()))]);
        assert!(t.admit(Some("10.0.0.1"), Some(&bob)).is_ok());
    }

    #[test]
    fn addresses_lock_out_whatever_account_they_try() {
        let t = SignInThrottle::new(Limits {
            per_account: Budget { attempts: 100, period: Duration::from_secs(60) },
            per_address: Budget { attempts: 2, period: Duration::from_secs(60) },
            enabled: true,
        });
        t.failed(Some("10.0.0.9"), Some(&email("a@example.com")));
        t.failed(Some("10.0.0.9"), Some(&email("b@example.com")));
        let began = t.failed(Some("10.0.0.9"), Some(&email("c@example.com")));
        assert!(
            matches!(&began[..], [Lockout::Began { key: ThrottleKey::Address(a), .. }] if a == "10.0.0.9")
        );
        assert_eq!(t.admit(Some("10.0.0.9"), Some(&email("d@example.com"))).unwrap_err().kind, "address");
        assert!(t.admit(Some("10.0.0.8"), Some(&email("d@example.com"))).is_ok());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::7".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_eq!(address_key("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3");
    }
}
