//! Distributed credential stuffing: many sources, many users, one try each, so that no
//! per-source or per-account count ever moves. What does move is the site's login-failure
//! rate, counted here over all workers and compared with its own learned baseline.
//!
//! **State**: one shared-data key, [`RATE_KEY`], 24 bytes (`window_start_ms u64`,
//! `failures u32`, `baseline_x16 u32` (failures per window, fixed point ×16),
//! `windows_learned u32`, `alerted u8`, 3 spare bytes), updated with compare-and-swap:
//! one read and one checked write per login failure, nothing on other requests.
//!
//! **Rule**: at the failure that makes the current window's count exceed the threshold, one
//! alert per window (`authn_login_stuffing_distributed`, key `global`), carrying the count,
//! the window and the baseline. The threshold is `max(min_failures, factor × baseline)`
//! once `warmup_windows` windows have been learned, and `factor × min_failures` before
//! (a Vigil that just started does not know the site's normal, but an attack of that size
//! is not normal anywhere).
//!
//! **Learning**: when a window closes, its count is learned: during the warm-up as the plain
//! mean of the windows so far (a busy site's normal is known after `warmup_windows`), then
//! by an exponentially weighted average (weight 1/8) that rises by at most
//! `max_growth_percent` per window (plus one failure, so a zero baseline can grow); a window
//! that raised the alert is not learned at all. Empty windows in between (no failure at all) are learned as
//! zeros, at most 64 of them.
//!
//! **Evasion**: an attacker who ramps up slowly to poison the baseline must stay under
//! `factor × baseline` in every window while the baseline grows at most by
//! `max_growth_percent` per window: with the baseline's defaults (factor 4, 25% per 60 s
//! window), going from a site's normal 20 failures a minute to 10,000 takes about 28 minutes of
//! steady ramp, during which the per-source and per-account detectors still count every
//! address and name that repeats. Bursts shorter than one window cannot poison it at all.
//!
//! **Time**: failures count when Vigil sees them (the engine's clock in `on_log`); a window
//! starts at the first failure after the previous one ended. A key whose start lies in the
//! future (a clock step back) starts a new window.

use super::{AlertKey, Detector, Found};
use crate::metrics::Metrics;
use crate::policy::Policy;
use crate::shared::{cas_update, Cas, SharedStore, Step};

/// The shared-data key of the global login-failure rate.
pub const RATE_KEY: &str = "vigil.det.v1.rate";

/// Closed windows learned at most at once (a long quiet spell decays the baseline to ~0).
const MAX_CATCH_UP: u64 = 64;

/// The detector's state, as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    /// Start of the current window (ms since the epoch).
    pub window_start_ms: u64,
    /// Failures in the current window.
    pub failures: u32,
    /// Learned failures per window, ×16.
    pub baseline_x16: u32,
    /// Windows learned so far.
    pub learned: u32,
    /// Whether the current window has alerted.
    pub alerted: bool,
}

impl Rate {
    /// Decodes the stored bytes (anything malformed reads as a fresh state).
    pub fn decode(b: &[u8]) -> Rate {
        if b.len() < 21 {
            return Rate::default();
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Rate {
            window_start_ms: crate::envoy::le_u64(&b[..8]).unwrap_or(0),
            failures: u32_at(8),
            baseline_x16: u32_at(12),
            learned: u32_at(16),
            alerted: b[20] != 0,
        }
    }

    /// The stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(24);
        v.extend_from_slice(&self.window_start_ms.to_le_bytes());
        v.extend_from_slice(&self.failures.to_le_bytes());
        v.extend_from_slice(&self.baseline_x16.to_le_bytes());
        v.extend_from_slice(&self.learned.to_le_bytes());
        v.extend_from_slice(&[u8::from(self.alerted), 0, 0, 0]);
        v
    }

    /// The baseline in failures per window (rounded down).
    pub fn baseline(&self) -> u32 {
        self.baseline_x16 / 16
    }

    /// Learns one closed window's count: during the warm-up the plain mean of the windows
    /// so far (so a busy site's normal is known at once), after it an exponentially weighted
    /// average (weight 1/8) that rises by at most `max_growth_percent` (+1 failure) per
    /// window.
    fn learn(&mut self, count: u32, warmup: u32, max_growth_percent: u32) {
        let old = u64::from(self.baseline_x16);
        let target = u64::from(count) * 16;
        let next = if self.learned < warmup {
            let n = u64::from(self.learned);
            (old * n + target) / (n + 1)
        } else {
            let cap = old + old * u64::from(max_growth_percent) / 100 + 16;
            ((old * 7 + target) / 8).min(cap)
        };
        self.baseline_x16 = u32::try_from(next).unwrap_or(u32::MAX);
        self.learned = self.learned.saturating_add(1);
    }

    /// Moves to the window holding `now_ms`, learning the windows that closed.
    fn roll(&mut self, now_ms: u64, window_ms: u64, warmup: u32, max_growth_percent: u32) {
        let fresh = self.window_start_ms == 0 || self.window_start_ms > now_ms;
        if fresh {
            *self = Rate {
                window_start_ms: now_ms,
                ..*self
            };
            self.failures = 0;
            self.alerted = false;
            return;
        }
        let elapsed = (now_ms - self.window_start_ms) / window_ms.max(1);
        if elapsed == 0 {
            return;
        }
        if !self.alerted {
            self.learn(self.failures, warmup, max_growth_percent);
        }
        for _ in 1..elapsed.min(MAX_CATCH_UP) {
            self.learn(0, warmup, max_growth_percent);
        }
        self.window_start_ms = now_ms;
        self.failures = 0;
        self.alerted = false;
    }
}

/// Counts one login failure seen at `now_ms`; the alert when it crosses the threshold.
pub fn on_failure(
    p: &Policy,
    store: &mut impl SharedStore,
    metrics: &mut impl Metrics,
    now_ms: u64,
) -> Option<Found> {
    let d = &p.detectors.distributed;
    if !d.enabled {
        return None;
    }
    let window_ms = u64::from(d.window_seconds) * 1000;
    let counted = cas_update(store, metrics, RATE_KEY, |bytes| {
        let mut r = Rate::decode(bytes);
        r.roll(now_ms, window_ms, d.warmup_windows, d.max_growth_percent);
        r.failures = r.failures.saturating_add(1);
        let threshold = if r.learned >= d.warmup_windows {
            d.min_failures.max(
                u32::try_from(u64::from(d.factor) * u64::from(r.baseline_x16) / 16)
                    .unwrap_or(u32::MAX),
            )
        } else {
            d.min_failures.saturating_mul(d.factor)
        };
        let fire = !r.alerted && r.failures > threshold;
        if fire {
            r.alerted = true;
        }
        let found = fire.then(|| Found {
            detector: Detector::DistributedStuffing,
            key: AlertKey::Global,
            count: r.failures,
            window_seconds: d.window_seconds,
            baseline: Some(r.baseline()),
        });
        Step::Write(r.encode(), found)
    });
    match counted {
        Cas::Done(found) => found,
        Cas::HostRefused | Cas::GaveUp => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn state_round_trips_and_garbage_reads_as_fresh() {
        let r = Rate {
            window_start_ms: 1_795_000_000_123,
            failures: 7,
            baseline_x16: 321,
            learned: 9,
            alerted: true,
        };
        assert_eq!(Rate::decode(&r.encode()), r);
        assert_eq!(Rate::decode(b"short"), Rate::default());
    }

    #[test]
    fn a_slow_ramp_moves_the_baseline_by_at_most_the_growth_cap() {
        let mut r = Rate {
            baseline_x16: 20 * 16,
            learned: 10,
            ..Rate::default()
        };
        // A window of 100,000 failures (an attack that alerted would not be learned at all;
        // this is one that stayed just under the threshold) moves the baseline by 25% + 1.
        r.learn(100_000, 5, 25);
        assert_eq!(r.baseline(), 26);
        // During the warm-up the mean is taken as it is.
        let mut w = Rate::default();
        for c in [400, 600] {
            w.learn(c, 5, 25);
        }
        assert_eq!(w.baseline(), 500);
    }
}
