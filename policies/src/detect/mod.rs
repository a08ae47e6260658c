//! Attack detectors over login outcomes, shared by every Envoy worker.
//!
//! Each detector is a key, a count and a window; it raises an alert on the request that
//! crosses its threshold, once per window per key, carrying the key, the count and the
//! window:
//!
//! | detector | `event.action` | key | count | policy |
//! |---|---|---|---|---|
//! | brute force per source | `authn_login_fail_max` | source IP, or its IPv6 prefix (`/64` by default) | failures | `brute_force` |
//! | brute force per account | `authn_login_fail_max` | the claimed user name ([`account`]: case folded) | failures, from any source | `detectors.account` |
//! | credential stuffing (*Vigil*) | `authn_login_stuffing` | source | distinct user names failing | `detectors.stuffing` |
//! | success after failures | `authn_login_successafterfail` | source, and account | failures before the success | `detectors.success_after_fail` |
//! | content scanning | `malicious_excess_404` | source | 404s (on every request, also those with no event) | `detectors.signals.excess_404` |
//! | access-control failures (*Vigil*) | `authz_fail_max` | source | `authz_fail` events | `detectors.signals.authz_failures` |
//! | rate-limit storm (*Vigil*) | `excess_rate_limit_storm` | source | rate-limited requests | `detectors.signals.rate_limit_storm` |
//! | attack tool | `malicious_attack_tool` | source | a known tool's user agent (sqlmap, nikto, nuclei, …); once per window, `vigil.alert.confidence: low` (a user agent is trivially changed) | `detectors.signals.attack_tool` |
//! | distributed stuffing (*Vigil*) | `authn_login_stuffing_distributed` | `global` | login failures over all sources, against their own learned baseline ([`distributed`]) | `detectors.distributed` |
//!
//! State is two fixed tables in shared data ([`table`]): one keyed by source (failures and
//! the distinct users failing from it), one by account. Keys are fingerprinted with SipHash
//! under a 128-bit secret every worker agrees on ([`secret`]), so nobody outside can compute
//! which keys share a bucket. Memory per tracked key and the behaviour at the limit are in
//! [`table`].
//!
//! **Baseline thresholds** (`policies/presets/owasp-baseline.json`), and why real users stay
//! below them while an attack crosses them within seconds to minutes:
//! - per source, more than 10 failures in 60 s: a person mistypes a few times a minute at
//!   most, and an office of a few dozen people behind one address rarely fails ten times in
//!   one minute; a password guesser at one request per second crosses it in 11 s. IPv6
//!   sources count per /64, the block one subscriber holds, so rotating addresses in it
//!   changes nothing.
//! - per account, more than 20 failures in 10 min, from any sources: a user with typos and
//!   a password manager retrying a stale password makes well under ten; a distributed guess
//!   at one account from many addresses crosses it in seconds. (Above the per-source
//!   threshold, so one attacker on one address and one account raises the per-source alert
//!   first, not two alerts.)
//! - stuffing, more than 10 distinct names failing from one source in 10 min: behind a
//!   shared address a few people mistype in ten minutes; a stuffing list tries a new name
//!   per request, so even one every 6 s (under the per-source rate) crosses it in about a
//!   minute.
//! - success after failures, a success for a source or account with 5 or more failures in
//!   its window: a user who mistypes two or three times and then gets in raises nothing; a
//!   guess that finally works after a run of failures does.
//! - signals, per source in 60 s: more than 30 404s (a browsing person with broken links
//!   sees a handful; a content scanner thousands a minute), more than 20 access-control
//!   failures (a user without a role retries a few times), more than 50 rate-limited
//!   requests (a client that ignores 429s); an attack tool's user agent on its first
//!   request (a hint, not proof).
//! - the global cap, 100 detector alerts per 60 s: far above a real incident's distinct
//!   keys, and a bound on what minted user names can cost the log pipeline.
//!
//! **Time.** Detectors count by when Vigil sees the outcome (the engine's clock in `on_log`),
//! not by when the request started: a slow request that completes after faster ones is
//! counted when it completes, so windows hold whatever order requests finish in, and on
//! every worker (they read the same wall clock). Times are inserted in order and a newer one
//! is never dropped for an older one.
//!
//! **Global cap.** Per-account keys come from an unverified body, so an attacker could mint
//! keys, and alerts, without end. At most `detectors.alert_cap_per_window` alerts are raised
//! per `detectors.alert_cap_window_seconds` over all workers (a tumbling window in the
//! shared-data key [`CAP_KEY`]); the rest are counted in `vigil.alerts_suppressed.global_cap`.
//! A request carries at most two alerts (Envoy's access-log slots,
//! [`crate::envoy::MAX_RECORDS`]); a third is counted in
//! `vigil.alerts_suppressed.per_request`. A suppressed alert still re-arms its key's window.

mod cap;
pub mod distributed;
pub mod secret;
pub mod siphash;
pub mod table;
mod tools;

pub use cap::{admit, CAP_KEY};
pub use tools::{is_attack_tool, ATTACK_TOOLS};

use crate::metrics::{Metric, Metrics};
use crate::policy::Policy;
use crate::shared::SharedStore;
use siphash::Key;
use std::net::IpAddr;
use table::{Missing, Shape, TableKind, FAIL_MAX, STUFFING, SUCCESS_AFTER_FAIL};

/// Which detector raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    /// Too many failures from one source.
    SourceBruteForce,
    /// Too many failures for one account.
    AccountBruteForce,
    /// Too many distinct users failing from one source.
    Stuffing,
    /// A success from a source that just failed many times.
    SourceSuccessAfterFail,
    /// A success for an account that just failed many times.
    AccountSuccessAfterFail,
    /// Many 404s from one source.
    Excess404,
    /// Many access-control failures from one source.
    AuthzFailures,
    /// Many rate-limited requests from one source.
    RateLimitStorm,
    /// A known attack tool's user agent from a source (once per window).
    AttackTool,
    /// The site's login-failure rate far above its learned baseline ([`distributed`]).
    DistributedStuffing,
}

/// A request's other signal, counted per source ([`on_signal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Signal {
    /// A 404.
    NotFound = 1,
    /// An access-control failure (`authz_fail`).
    AuthzFailure = 2,
    /// A rate-limited request.
    RateLimited = 3,
    /// A known attack tool's user agent.
    AttackTool = 4,
}

/// What an alert is keyed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertKey {
    /// One source IP.
    SourceIp(IpAddr),
    /// An IPv6 prefix (address masked, prefix length).
    SourcePrefix(std::net::Ipv6Addr, u8),
    /// A claimed user name.
    User(Vec<u8>),
    /// Every login failure of the site ([`distributed`]).
    Global,
}

impl AlertKey {
    /// `vigil.alert.key`: what kind of key.
    pub fn kind(&self) -> &'static str {
        match self {
            AlertKey::SourceIp(_) => "source_ip",
            AlertKey::SourcePrefix(..) => "source_prefix",
            AlertKey::User(_) => "user",
            AlertKey::Global => "global",
        }
    }

    /// `vigil.alert.value`: the key itself (`2001:db8::/64` for a prefix).
    pub fn value(&self) -> Vec<u8> {
        match self {
            AlertKey::SourceIp(ip) => ip.to_string().into_bytes(),
            AlertKey::SourcePrefix(p, len) => format!("{p}/{len}").into_bytes(),
            AlertKey::User(u) => u.clone(),
            AlertKey::Global => b"login_failures".to_vec(),
        }
    }
}

/// An alert a detector raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Which detector.
    pub detector: Detector,
    /// Its key.
    pub key: AlertKey,
    /// The count that crossed the threshold (failures, or distinct users).
    pub count: u32,
    /// The window, in seconds.
    pub window_seconds: u32,
    /// The learned baseline the count was compared with (rate detectors only).
    pub baseline: Option<u32>,
}

/// The source key of an address: IPv4 (and IPv4-mapped IPv6) as is, other IPv6 masked to
/// `prefix` bits (128: the address itself).
pub fn source_key(ip: IpAddr, prefix: u8) -> AlertKey {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => AlertKey::SourceIp(IpAddr::V4(v4)),
            None if prefix >= 128 => AlertKey::SourceIp(ip),
            None => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                AlertKey::SourcePrefix((u128::from(v6) & mask).into(), prefix)
            }
        },
        IpAddr::V4(_) => AlertKey::SourceIp(ip),
    }
}

/// Key fingerprints, each in its own domain.
fn fingerprint(secret: &Key, key: &AlertKey) -> u64 {
    siphash::hash(secret, &key_bytes(key))
}

/// A key's bytes, tagged by kind.
fn key_bytes(key: &AlertKey) -> Vec<u8> {
    let mut b = Vec::with_capacity(24);
    match key {
        AlertKey::SourceIp(IpAddr::V4(a)) => {
            b.push(4);
            b.extend_from_slice(&a.octets());
        }
        AlertKey::SourceIp(IpAddr::V6(a)) => {
            b.push(6);
            b.extend_from_slice(&a.octets());
        }
        AlertKey::SourcePrefix(a, len) => {
            b.extend_from_slice(&[7, *len]);
            b.extend_from_slice(&a.octets());
        }
        AlertKey::User(u) => {
            b.push(b'u');
            b.extend_from_slice(u);
        }
        AlertKey::Global => b.push(b'g'),
    }
    b
}

/// The account a claimed user name counts for: ASCII whitespace trimmed and ASCII case
/// folded, so `Alice`, `alice ` and `ALICE` (one account to most backends) are one key and
/// case variants cannot spread a guess over many counters.
pub fn account(user: &[u8]) -> Vec<u8> {
    user.trim_ascii().to_ascii_lowercase()
}

/// A user's 32-bit fingerprint in a source's set of failing users.
fn user_tag(secret: &Key, user: &[u8]) -> u32 {
    let mut b = Vec::with_capacity(user.len() + 1);
    b.push(b'm');
    b.extend_from_slice(user);
    (siphash::hash(secret, &b) >> 32) as u32
}

/// The source table's shape, if any detector uses it.
pub fn source_shape(p: &Policy) -> Option<Shape> {
    let (bf, d) = (&p.brute_force, &p.detectors);
    (bf.enabled || d.stuffing.enabled || d.success_after_fail.enabled).then(|| Shape {
        kind: TableKind::Source,
        slots: bf.slots,
        window_ms: u64::from(bf.window_seconds) * 1000,
        keep_failures: (bf.max_failures as usize + 1)
            .max(d.success_after_fail.min_failures as usize),
        user_window_ms: u64::from(d.stuffing.window_seconds) * 1000,
        keep_users: if d.stuffing.enabled {
            d.stuffing.max_users as usize + 1
        } else {
            0
        },
    })
}

/// The signal table's shape, if any signal detector runs.
pub fn signal_shape(p: &Policy) -> Option<Shape> {
    let s = &p.detectors.signals;
    s.any().then(|| Shape {
        kind: TableKind::Signal,
        slots: s.slots,
        window_ms: u64::from(s.window_seconds) * 1000,
        keep_failures: s
            .excess_404
            .max(s.authz_failures)
            .max(s.rate_limit_storm)
            .max(1) as usize
            + 1,
        user_window_ms: 0,
        keep_users: 0,
    })
}

/// Counts a request's signal from `source` at `now_ms`; the alert when it crosses its
/// threshold (once per window per source and signal).
pub fn on_signal(
    p: &Policy,
    secret: &Key,
    store: &mut impl SharedStore,
    metrics: &mut impl Metrics,
    signal: Signal,
    source: IpAddr,
    now_ms: u64,
) -> Option<Found> {
    let s = signal_shape(p)?;
    let sig = &p.detectors.signals;
    let (max, detector) = match signal {
        Signal::NotFound => (sig.excess_404, Detector::Excess404),
        Signal::AuthzFailure => (sig.authz_failures, Detector::AuthzFailures),
        Signal::RateLimited => (sig.rate_limit_storm, Detector::RateLimitStorm),
        Signal::AttackTool => (
            u32::from(sig.attack_tool).saturating_sub(1),
            Detector::AttackTool,
        ),
    };
    let on = match signal {
        Signal::AttackTool => sig.attack_tool,
        _ => max > 0,
    };
    if !on {
        return None;
    }
    let key = source_key(source, p.brute_force.ipv6_prefix);
    let mut b = key_bytes(&key);
    b.push(signal as u8);
    let r = table::update(
        &s,
        store,
        metrics,
        siphash::hash(secret, &b),
        now_ms,
        Missing::Insert,
        |e| {
            e.record(&s, now_ms, None);
            let n = e.failures_in_window(&s, now_ms);
            let fire = n > max && e.arm_and_fire(FAIL_MAX, s.window_ms, now_ms);
            (true, fire.then_some(n))
        },
    )??;
    Some(Found {
        detector,
        key,
        count: r,
        window_seconds: seconds(s.window_ms),
        baseline: None,
    })
}

/// The account table's shape, if any detector uses it.
pub fn account_shape(p: &Policy) -> Option<Shape> {
    let d = &p.detectors;
    (d.account.enabled || d.success_after_fail.enabled).then(|| Shape {
        kind: TableKind::Account,
        slots: d.slots,
        window_ms: u64::from(d.account.window_seconds) * 1000,
        keep_failures: (d.account.max_failures as usize + 1)
            .max(d.success_after_fail.min_failures as usize),
        user_window_ms: 0,
        keep_users: 0,
    })
}

/// Creates the tables' buckets and the cap's key (once per worker, at start), so that
/// later updates are checked writes.
pub fn init(p: &Policy, store: &mut impl SharedStore) {
    let mut any = false;
    for s in [source_shape(p), account_shape(p), signal_shape(p)]
        .into_iter()
        .flatten()
    {
        table::init(&s, store);
        any = true;
    }
    if p.detectors.distributed.enabled {
        if let Ok(None) = store.get(distributed::RATE_KEY) {
            let _ = store.set(
                distributed::RATE_KEY,
                &distributed::Rate::default().encode(),
                0,
            );
        }
        any = true;
    }
    if any {
        if let Ok(None) = store.get(CAP_KEY) {
            let _ = store.set(CAP_KEY, &[0; 12], 0);
        }
    }
}

fn seconds(ms: u64) -> u32 {
    u32::try_from(ms / 1000).unwrap_or(u32::MAX)
}

/// Records a login failure seen at `now_ms`; returns the alerts it raises, most important
/// first (source brute force, account brute force, stuffing).
pub fn on_failure(
    p: &Policy,
    secret: &Key,
    store: &mut impl SharedStore,
    metrics: &mut impl Metrics,
    source: Option<IpAddr>,
    user: Option<&[u8]>,
    now_ms: u64,
) -> Vec<Found> {
    let mut found = Vec::new();
    let d = &p.detectors;
    let user = user.map(account).filter(|u| !u.is_empty());
    if let Some(s) = source_shape(p) {
        match source {
            Some(ip) => {
                let key = source_key(ip, p.brute_force.ipv6_prefix);
                let tag = user.as_deref().map(|u| user_tag(secret, u));
                let bf = &p.brute_force;
                let r = table::update(
                    &s,
                    store,
                    metrics,
                    fingerprint(secret, &key),
                    now_ms,
                    Missing::Insert,
                    |e| {
                        e.record(&s, now_ms, tag);
                        let mut out = Vec::new();
                        let n = e.failures_in_window(&s, now_ms);
                        if bf.enabled
                            && n > bf.max_failures
                            && e.arm_and_fire(FAIL_MAX, s.window_ms, now_ms)
                        {
                            out.push((Detector::SourceBruteForce, n, s.window_ms));
                        }
                        let u = e.users_in_window(&s, now_ms);
                        if d.stuffing.enabled
                            && u > d.stuffing.max_users
                            && e.arm_and_fire(STUFFING, s.user_window_ms, now_ms)
                        {
                            out.push((Detector::Stuffing, u, s.user_window_ms));
                        }
                        (true, out)
                    },
                );
                found.extend(
                    r.unwrap_or_default()
                        .into_iter()
                        .map(|(detector, count, w)| Found {
                            detector,
                            key: key.clone(),
                            count,
                            window_seconds: seconds(w),
                            baseline: None,
                        }),
                );
            }
            None => metrics.add(Metric::DetectorNoSourceIp, 1),
        }
    }
    if let (Some(s), Some(user)) = (account_shape(p), user) {
        let key = AlertKey::User(user);
        let max = d.account.max_failures;
        let on = d.account.enabled;
        let r = table::update(
            &s,
            store,
            metrics,
            fingerprint(secret, &key),
            now_ms,
            Missing::Insert,
            |e| {
                e.record(&s, now_ms, None);
                let n = e.failures_in_window(&s, now_ms);
                let fire = on && n > max && e.arm_and_fire(FAIL_MAX, s.window_ms, now_ms);
                (true, fire.then_some(n))
            },
        );
        if let Some(Some(count)) = r {
            let f = Found {
                detector: Detector::AccountBruteForce,
                key,
                count,
                window_seconds: seconds(s.window_ms),
                baseline: None,
            };
            // Before stuffing: a named victim matters more.
            let at = found
                .iter()
                .position(|f| f.detector == Detector::Stuffing)
                .unwrap_or(found.len());
            found.insert(at, f);
        }
    }
    found
}

/// Checks a login success seen at `now_ms` against its source's and account's recent
/// failures; returns the alerts it raises (source first). Only reads, unless it alerts.
pub fn on_success(
    p: &Policy,
    secret: &Key,
    store: &mut impl SharedStore,
    metrics: &mut impl Metrics,
    source: Option<IpAddr>,
    user: Option<&[u8]>,
    now_ms: u64,
) -> Vec<Found> {
    let saf = &p.detectors.success_after_fail;
    if !saf.enabled {
        return Vec::new();
    }
    let mut found = Vec::new();
    let checks = [
        (
            source_shape(p),
            source.map(|ip| source_key(ip, p.brute_force.ipv6_prefix)),
            Detector::SourceSuccessAfterFail,
        ),
        (
            account_shape(p),
            user.map(account)
                .filter(|u| !u.is_empty())
                .map(AlertKey::User),
            Detector::AccountSuccessAfterFail,
        ),
    ];
    for (shape, key, detector) in checks {
        let (Some(s), Some(key)) = (shape, key) else {
            continue;
        };
        let r = table::update(
            &s,
            store,
            metrics,
            fingerprint(secret, &key),
            now_ms,
            Missing::Skip,
            |e| {
                let n = e.failures_in_window(&s, now_ms);
                let fire = n >= saf.min_failures
                    && e.arm_and_fire(SUCCESS_AFTER_FAIL, s.window_ms, now_ms);
                (fire, fire.then_some(n))
            },
        );
        if let Some(Some(count)) = r {
            found.push(Found {
                detector,
                key,
                count,
                window_seconds: seconds(s.window_ms),
                baseline: None,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests;
