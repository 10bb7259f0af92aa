//! Sign-in throttling: failed sign-ins are counted per account and per client address (the
//! generic cell rate algorithm of the `governor` crate), and once either runs out, sign-ins for
//! that account or from that address are refused with 429 and `Retry-After` until it has
//! recovered — without hashing anything, so guessing costs the server nothing. Each lock-out
//! is one audit event when it begins and one when it ends, whatever the number of guesses.
//!
//! Only failures count: a person who signs in often is never throttled. So that guesses cannot
//! race past the count, an account has one sign-in being checked at a time and an address a few
//! ([`Attempt`]); a verdict is counted even when its client has hung up. An account's lock-out
//! does not apply from an address that signed in to it successfully in the last week, so that
//! guessing from elsewhere cannot lock its owner out. The counts live in this process (each
//! replica counts its own), and in real time, not the model's clock.

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
    /// Not locked out: as many sign-ins as allowed at once are being checked already.
    pub busy: bool,
}

/// Sign-ins being checked at once for one account.
const IN_FLIGHT_PER_ACCOUNT: usize = 1;
/// Sign-ins being checked at once from one address.
const IN_FLIGHT_PER_ADDRESS: usize = 4;
/// How long a successful sign-in exempts its (account, address) pair from the account's lock-out.
const KNOWN_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most (account, address) pairs remembered; past it the oldest are forgotten.
const MAX_KNOWN: usize = 100_000;

/// A sign-in admitted for checking: holds its place among those in flight until dropped.
pub struct Attempt<'a> {
    throttle: &'a SignInThrottle,
    keys: Vec<ThrottleKey>,
}

impl std::fmt::Debug for Attempt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt").field("keys", &self.keys).finish()
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut flying = self.throttle.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(n) = flying.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    flying.remove(key);
                }
            }
        }
    }
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
    /// Sign-ins being checked, per key.
    in_flight: Mutex<HashMap<ThrottleKey, usize>>,
    /// (account, address) pairs that signed in successfully, and when.
    known: Mutex<HashMap<(Email, String), Instant>>,
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
        Self {
            inner: RwLock::new(Inner::new(limits)),
            locked: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            known: Mutex::new(HashMap::new()),
        }
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

    /// Refuses a sign-in from `address` for `account` while either is locked out (the account's
    /// lock-out not applying from an address it signed in from lately), or while as many of
    /// their sign-ins as allowed are being checked already; else admits it for checking.
    pub fn admit(&self, address: Option<&str>, account: Option<&Email>) -> Result<Attempt<'_>, Throttled> {
        let mut attempt = Attempt { throttle: self, keys: Vec::new() };
        if !self.inner.read().unwrap_or_else(|p| p.into_inner()).limits.enabled {
            return Ok(attempt);
        }
        let now = Instant::now();
        let known = match (account, address) {
            (Some(e), Some(a)) => self
                .known
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&(e.clone(), a.to_owned()))
                .is_some_and(|at| now.duration_since(*at) < KNOWN_FOR),
            _ => false,
        };
        let address = address.map(|a| ThrottleKey::Address(a.to_owned()));
        let account = account.cloned().map(ThrottleKey::Account);
        {
            let locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
            let lockable = [address.as_ref(), account.as_ref().filter(|_| !known)];
            for key in lockable.into_iter().flatten() {
                if let Some(until) = locked.get(key).filter(|u| **u > now) {
                    return Err(Throttled { kind: key.kind(), retry_after: *until - now, busy: false });
                }
            }
        }
        let mut flying = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        for key in [&address, &account].into_iter().flatten() {
            let most = if matches!(key, ThrottleKey::Account(_)) {
                IN_FLIGHT_PER_ACCOUNT
            } else {
                IN_FLIGHT_PER_ADDRESS
            };
            if flying.get(key).copied().unwrap_or(0) >= most {
                return Err(Throttled { kind: key.kind(), retry_after: Duration::from_secs(1), busy: true });
            }
        }
        for key in [address, account].into_iter().flatten() {
            *flying.entry(key.clone()).or_insert(0) += 1;
            attempt.keys.push(key);
        }
        Ok(attempt)
    }

    /// Notes a successful sign-in: the account's lock-outs no longer apply from this address.
    pub fn succeeded(&self, address: Option<&str>, account: &Email) {
        let Some(address) = address else { return };
        let now = Instant::now();
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= MAX_KNOWN {
            known.retain(|_, at| now.duration_since(*at) < KNOWN_FOR);
            if known.len() >= MAX_KNOWN {
                let oldest = known.iter().min_by_key(|(_, at)| **at).map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    known.remove(&k);
                }
            }
        }
        known.insert((account.clone(), address.to_owned()), now);
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
            match locked.get(&key) {
                Some(u) if *u > now => return,
                // Over but not swept yet: it ends here, so that every beginning has its end.
                Some(_) => began.push(Lockout::Ended(key.clone())),
                None => {}
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
        let now = Instant::now();
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, at| now.duration_since(*at) < KNOWN_FOR);
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
    fn one_sign_in_per_account_is_checked_at_a_time_so_guesses_cannot_race_the_count() {
        let t = SignInThrottle::default();
        let bob = email("bob@example.com");
        let first = t.admit(Some("10.0.0.1"), Some(&bob)).unwrap();
        let second = t.admit(Some("10.0.0.2"), Some(&bob)).unwrap_err();
        assert!(second.busy && second.kind == "account", "{second:?}");
        // An address has a few in flight, whatever the accounts.
        let held: Vec<_> =
            (0..3).map(|n| t.admit(Some("10.0.0.1"), Some(&email(&format!("u{n}@x.io")))).unwrap()).collect();
        let more = t.admit(Some("10.0.0.1"), Some(&email("u9@x.io"))).unwrap_err();
        assert!(more.busy && more.kind == "address", "{more:?}");
        drop((first, held));
        assert!(t.admit(Some("10.0.0.2"), Some(&bob)).is_ok(), "released when dropped");
    }

    #[test]
    fn an_account_locked_out_by_guesses_elsewhere_still_signs_in_from_where_it_did_before() {
        let t = SignInThrottle::new(Limits {
            per_account: Budget { attempts: 2, period: Duration::from_secs(600) },
            per_address: Budget { attempts: 100, period: Duration::from_secs(60) },
            enabled: true,
        });
        let bob = email("bob@example.com");
        t.succeeded(Some("10.0.0.1"), &bob);
        for _ in 0..3 {
            t.failed(Some("203.0.113.9"), Some(&bob));
        }
        assert_eq!(t.admit(Some("203.0.113.9"), Some(&bob)).unwrap_err().kind, "account");
        assert!(t.admit(Some("10.0.0.1"), Some(&bob)).is_ok(), "bob's own address is not locked out");
        assert_eq!(t.admit(Some("10.0.0.2"), Some(&bob)).unwrap_err().kind, "account");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::7".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_eq!(address_key("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3");
    }
}
