//! A fixed, set-associative table of detector entries in shared data, one per key kind.
//!
//! **Layout.** A table is `slots` shared-data keys (`vigil.det.v1.<table>.<n>`), all created
//! empty at start because shared-data keys cannot be deleted. Each key is a bucket of up to
//! [`WAYS`] entries, so two detector keys landing in one bucket live side by side instead of
//! evicting each other. An entry is found by its 64-bit keyed fingerprint
//! ([`super::siphash`] under the shared secret): the bucket is chosen from its high bits,
//! the whole fingerprint is the tag. Without the secret nobody can compute which addresses
//! or user names share a bucket.
//!
//! **Bytes.** Bucket: `u8 version=2 | u8 n | n × entry`, little-endian. Entry:
//! `u64 fingerprint | 3 × u64 alerted_at_ms (fail_max, stuffing, success_after_fail) |
//! u16 f | f × u64 failure_ms (ascending) | u8 u | u × (u32 user fingerprint, u64 last_ms)`,
//! i.e. `35 + 8 f + 12 u` bytes. `f` is at most the table's `keep_failures` (the threshold
//! plus one), `u` at most `keep_users`. With the baseline: a source entry is at most
//! `35 + 8·11 + 12·11 = 255` bytes, an account entry `35 + 8·21 = 203`; a full bucket 4×
//! that plus 2, so the whole source table (1024 buckets) is at most about 1 MB of Envoy
//! heap, the account table (1024) about 0.8 MB. Values shrink again as times age out.
//!
//! **At the limit.** A newcomer takes a free way, else the way whose entry has the fewest
//! live failures (distinct users, for stuffing) in its window, the oldest first: a stale
//! entry (nothing live) is replaced silently; a live one only if it has no more than the
//! newcomer (counted, `vigil.detector.<table>.evicted`). So a flood of one-failure keys can
//! only displace other one-failure keys: an attacker's count of two or more survives any
//! flood. When every way holds more than the newcomer, the newcomer is not tracked
//! (`vigil.detector.<table>.refused`); it gets in once a way goes stale. The limit that
//! remains: capacity is `4 × slots` keys, so a flood of more distinct keys than that per
//! window can still displace a *new* attacker's first failure before its second arrives
//! (about three newcomers in its bucket between two of its failures: with the baseline's
//! 1024 buckets and one guess a second, thousands of fresh addresses a second). Such a
//! flood shows as a steep rise of `vigil.detector.<table>.evicted`; raise `slots` to push
//! the limit up (memory above).
//!
//! **Time.** Entries count by when Vigil saw each failure (the caller's clock at `on_log`).
//! Times are inserted in order, and trimming drops the *oldest*: a time from a slower worker
//! or a clock a little behind never pushes out a newer one. A failure "in the window" is one
//! less than `window` old; a time ahead of `now` (another worker's clock) counts as live.
//!
//! **Updates** are compare-and-swap: a conflict re-reads and retries (`vigil.cas_retries`),
//! up to [`MAX_CAS_ATTEMPTS`], then gives up (`vigil.cas_gave_up`). A read or write the
//! host refuses abandons the update (`vigil.shared_data_errors`): a refused read is never
//! taken for an empty bucket.

use crate::metrics::{Metric, Metrics};
use crate::shared::{cas_update, Cas, SharedStore, Step};

/// Entries per bucket.
pub const WAYS: usize = 4;

/// CAS attempts before an update is abandoned.
pub use crate::shared::MAX_CAS_ATTEMPTS;

/// The alert kinds an entry remembers the last alert of (index into [`Entry::alerted`]).
pub const FAIL_MAX: usize = 0;
/// Credential stuffing (source entries).
pub const STUFFING: usize = 1;
/// Success after failures.
pub const SUCCESS_AFTER_FAIL: usize = 2;

const VERSION: u8 = 2;

/// Which keys a table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum TableKind {
    /// Source addresses (an IP, or an IPv6 prefix).
    Source = 0,
    /// Claimed user names.
    Account = 1,
    /// A source's other signals (404s, access-control failures, rate limits, attack
    /// tools), each in its own key.
    Signal = 2,
}

impl TableKind {
    /// Every table, in index order.
    pub const ALL: [TableKind; 3] = [TableKind::Source, TableKind::Account, TableKind::Signal];

    /// The table's name in keys and metric names.
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Source => "source",
            TableKind::Account => "account",
            TableKind::Signal => "signal",
        }
    }
}

/// A table's size and what its entries keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Which table.
    pub kind: TableKind,
    /// Buckets (shared-data keys).
    pub slots: u32,
    /// Failures count within this window.
    pub window_ms: u64,
    /// Failure times kept per entry (the newest).
    pub keep_failures: usize,
    /// Distinct users count within this window.
    pub user_window_ms: u64,
    /// Distinct user fingerprints kept per entry (0: none).
    pub keep_users: usize,
}

impl Shape {
    /// The shared-data key of bucket `n`.
    pub fn bucket_key(&self, n: u32) -> String {
        format!("vigil.det.v1.{}.{n}", self.kind.name())
    }

    /// The most bytes one entry takes (`35 + 8 f + 12 u`).
    pub fn max_entry_bytes(&self) -> usize {
        35 + 8 * self.keep_failures + 12 * self.keep_users
    }

    /// The most bytes the whole table takes in shared data (every bucket full).
    pub fn max_table_bytes(&self) -> usize {
        self.slots as usize * (2 + WAYS * self.max_entry_bytes())
    }

    /// The bucket of a fingerprint (multiply-shift of its high half: uniform, no modulo bias
    /// worth the name).
    pub fn bucket_of(&self, fp: u64) -> u32 {
        (((fp >> 32) * u64::from(self.slots.max(1))) >> 32) as u32
    }
}

/// One tracked key.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key's keyed fingerprint.
    pub fp: u64,
    /// When each alert kind last fired for this key (ms; 0: never).
    pub alerted: [u64; 3],
    /// Failure times, ascending.
    pub failures: Vec<u64>,
    /// Distinct users (fingerprint, last failure time), for stuffing.
    pub users: Vec<(u32, u64)>,
}

fn live(t: u64, now: u64, window: u64) -> bool {
    now.saturating_sub(t) < window
}

impl Entry {
    /// Drops what is out of its window.
    pub fn prune(&mut self, s: &Shape, now: u64) {
        self.failures.retain(|&t| live(t, now, s.window_ms));
        self.users.retain(|&(_, t)| live(t, now, s.user_window_ms));
    }

    /// Records a failure seen at `now`, by `user` (a fingerprint) if known.
    pub fn record(&mut self, s: &Shape, now: u64, user: Option<u32>) {
        self.prune(s, now);
        let at = self.failures.partition_point(|&t| t <= now);
        self.failures.insert(at, now);
        if self.failures.len() > s.keep_failures {
            let extra = self.failures.len() - s.keep_failures;
            self.failures.drain(..extra);
        }
        if let (Some(u), true) = (user, s.keep_users > 0) {
            match self.users.iter_mut().find(|(f, _)| *f == u) {
                Some(e) => e.1 = e.1.max(now),
                None => {
                    self.users.push((u, now));
                    if self.users.len() > s.keep_users {
                        // Forget the user seen longest ago.
                        if let Some(i) = (0..self.users.len()).min_by_key(|&i| self.users[i].1) {
                            self.users.remove(i);
                        }
                    }
                }
            }
        }
    }

    /// Failures within the window.
    pub fn failures_in_window(&self, s: &Shape, now: u64) -> u32 {
        let n = self
            .failures
            .iter()
            .filter(|&&t| live(t, now, s.window_ms))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Distinct users within the user window.
    pub fn users_in_window(&self, s: &Shape, now: u64) -> u32 {
        let n = self
            .users
            .iter()
            .filter(|&&(_, t)| live(t, now, s.user_window_ms))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// What the entry is worth keeping for: its live failures, or live distinct users.
    pub fn score(&self, s: &Shape, now: u64) -> u32 {
        self.failures_in_window(s, now)
            .max(self.users_in_window(s, now))
    }

    fn last_seen(&self) -> u64 {
        let u = self.users.iter().map(|u| u.1).max().unwrap_or(0);
        self.failures.last().copied().unwrap_or(0).max(u)
    }

    /// Whether alert `kind` may fire (never fired, or not within `window_ms`); if so, marks
    /// it fired at `now`.
    pub fn arm_and_fire(&mut self, kind: usize, window_ms: u64, now: u64) -> bool {
        let Some(at) = self.alerted.get_mut(kind) else {
            return false;
        };
        let armed = *at == 0 || now.saturating_sub(*at) >= window_ms;
        if armed {
            *at = now.max(1);
        }
        armed
    }

    fn encode_into(&self, v: &mut Vec<u8>) {
        v.extend_from_slice(&self.fp.to_le_bytes());
        for a in self.alerted {
            v.extend_from_slice(&a.to_le_bytes());
        }
        let nf = self.failures.len().min(usize::from(u16::MAX));
        v.extend_from_slice(&(nf as u16).to_le_bytes());
        for t in &self.failures[..nf] {
            v.extend_from_slice(&t.to_le_bytes());
        }
        let nu = self.users.len().min(usize::from(u8::MAX));
        v.push(nu as u8);
        for (u, t) in &self.users[..nu] {
            v.extend_from_slice(&u.to_le_bytes());
            v.extend_from_slice(&t.to_le_bytes());
        }
    }
}

/// A bucket's entries; bytes that are not a bucket decode as an empty one.
pub fn decode(b: &[u8]) -> Vec<Entry> {
    fn u64_at(b: &[u8], i: &mut usize) -> Option<u64> {
        let v = crate::envoy::le_u64(b.get(*i..*i + 8)?)?;
        *i += 8;
        Some(v)
    }
    let parse = || -> Option<Vec<Entry>> {
        if *b.first()? != VERSION {
            return None;
        }
        let n = usize::from(*b.get(1)?).min(WAYS);
        let mut i = 2;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let fp = u64_at(b, &mut i)?;
            let alerted = [u64_at(b, &mut i)?, u64_at(b, &mut i)?, u64_at(b, &mut i)?];
            let nf = usize::from(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]));
            i += 2;
            let failures = (0..nf)
                .map(|_| u64_at(b, &mut i))
                .collect::<Option<Vec<_>>>()?;
            let nu = usize::from(*b.get(i)?);
            i += 1;
            let mut users = Vec::with_capacity(nu);
            for _ in 0..nu {
                let u = u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?);
                i += 4;
                users.push((u, u64_at(b, &mut i)?));
            }
            out.push(Entry {
                fp,
                alerted,
                failures,
                users,
            });
        }
        Some(out)
    };
    parse().unwrap_or_default()
}

/// A bucket's bytes.
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + entries.len() * 64);
    v.push(VERSION);
    v.push(entries.len().min(WAYS) as u8);
    for e in entries.iter().take(WAYS) {
        e.encode_into(&mut v);
    }
    v
}

/// Creates every bucket that does not exist yet (once per worker, at start).
pub fn init(s: &Shape, store: &mut impl SharedStore) {
    let empty = encode(&[]);
    for n in 0..s.slots {
        let key = s.bucket_key(n);
        if let Ok(None) = store.get(&key) {
            let _ = store.set(&key, &empty, 0);
        }
    }
}

/// What [`update`] does when the key has no entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Create one (a failure).
    Insert,
    /// Do nothing (a success only reads).
    Skip,
}

/// Applies `f` to the entry of `fp` and writes the bucket back when `f` says so (the first
/// value); returns `f`'s second value, or `None` when the entry is missing (with
/// [`Missing::Skip`]), refused, or the store failed. Every outcome is counted.
pub fn update<R>(
    s: &Shape,
    store: &mut impl SharedStore,
    metrics: &mut impl Metrics,
    fp: u64,
    now: u64,
    missing: Missing,
    mut f: impl FnMut(&mut Entry) -> (bool, R),
) -> Option<R> {
    // One copy of the loop for every caller (the .wasm budget): `f` goes in as a `dyn`, and
    // its value comes back through `out` (a retry overwrites it).
    let mut out = None;
    let done = update_entry(s, store, metrics, fp, now, missing, &mut |e| {
        let (write, r) = f(e);
        out = Some(r);
        write
    });
    if done {
        out
    } else {
        None
    }
}

/// [`update`]'s loop: `true` when `f`'s entry was read (and written back if it said so).
#[inline(never)]
fn update_entry(
    s: &Shape,
    store: &mut impl SharedStore,
    metrics: &mut impl Metrics,
    fp: u64,
    now: u64,
    missing: Missing,
    f: &mut dyn FnMut(&mut Entry) -> bool,
) -> bool {
    /// What one attempt did with the bucket.
    enum Out {
        /// The entry was read (and written back if `f` said so).
        Read,
        /// Read, written, and a live entry evicted for it.
        Evicted,
        /// No entry to read (`Missing::Skip`).
        Absent,
        /// A full bucket whose entries all outrank the new one.
        Refused,
    }
    let key = s.bucket_key(s.bucket_of(fp));
    let done = cas_update(store, metrics, &key, |bytes| {
        let mut entries = decode(bytes);
        let mut evicted = false;
        match entries.iter().position(|e| e.fp == fp) {
            Some(i) => {
                if !f(&mut entries[i]) {
                    return Step::Done(Out::Read);
                }
            }
            None if missing == Missing::Skip => return Step::Done(Out::Absent),
            None => {
                let mut new = Entry {
                    fp,
                    ..Entry::default()
                };
                f(&mut new);
                if entries.len() < WAYS {
                    entries.push(new);
                } else {
                    let mine = new.score(s, now);
                    let victim = (0..entries.len())
                        .min_by_key(|&i| (entries[i].score(s, now), entries[i].last_seen()));
                    let Some(v) = victim else {
                        return Step::Done(Out::Absent);
                    };
                    let theirs = entries[v].score(s, now);
                    if theirs > mine {
                        return Step::Done(Out::Refused);
                    }
                    evicted = theirs > 0;
                    entries[v] = new;
                }
            }
        }
        for e in &mut entries {
            e.prune(s, now);
        }
        let out = if evicted { Out::Evicted } else { Out::Read };
        Step::Write(encode(&entries), out)
    });
    match done {
        Cas::Done(Out::Read) => true,
        Cas::Done(Out::Evicted) => {
            metrics.add(Metric::DetectorEvicted(s.kind), 1);
            true
        }
        Cas::Done(Out::Refused) => {
            metrics.add(Metric::DetectorRefused(s.kind), 1);
            false
        }
        Cas::Done(Out::Absent) | Cas::HostRefused | Cas::GaveUp => false,
    }
}

#[cfg(test)]
mod tests;
