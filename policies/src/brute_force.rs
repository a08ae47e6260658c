//! Brute-force detection: a sliding window of login failures per source IP, shared by all
//! Envoy workers through a fixed table of shared-data slots.
//!
//! Each source IP hashes (FNV-1a) to one of `brute_force.slots` keys (`vigil.bf.v1.<n>`),
//! created empty at start because shared-data keys cannot be deleted. A slot holds its
//! owner IP, the time of its last alert and the newest `max_failures + 1` failure times.
//! A failure from another IP in a slot whose owner is still active evicts that owner
//! (counted in `vigil.evictions`); a stale owner is replaced silently.
//!
//! When a failure makes the count within `window_seconds` exceed `max_failures`, and no
//! alert was raised for that IP within the last window, the detector reports an alert
//! (the 11th failure, with the baseline's 10). One alert per window, then re-armed.
//!
//! Updates are compare-and-swap: a conflict re-reads and retries (`vigil.cas_retries`), up
//! to [`MAX_CAS_ATTEMPTS`], then gives up (`vigil.cas_gave_up`). A read or write the host
//! refuses abandons the update (`vigil.shared_data_errors`): a refused read is never taken
//! for an empty slot and overwritten.
//!
//! Slot layout (little-endian): `u8 version=1 | u8 ip_len | ip bytes | u64 alerted_at_ms |
//! u16 n | n × u64 failure_ms`, oldest first.

use crate::metrics::{Metric, Metrics};
use crate::policy::BruteForce;
use crate::shared::{SetOutcome, SharedStore};

/// CAS attempts before an update is abandoned.
pub const MAX_CAS_ATTEMPTS: u32 = 16;

/// An alert raised by a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// Failures counted within the window (including this one).
    pub count: u32,
    /// The window length.
    pub window_seconds: u32,
}

#[derive(Debug, Default, PartialEq)]
struct Slot {
    owner: Vec<u8>,
    alerted_at_ms: u64,
    failures: Vec<u64>,
}

impl Slot {
    fn decode(b: &[u8]) -> Slot {
        let parse = || -> Option<Slot> {
            if *b.first()? != 1 {
                return None;
            }
            let ip_len = *b.get(1)? as usize;
            let owner = b.get(2..2 + ip_len)?.to_vec();
            let mut i = 2 + ip_len;
            let alerted_at_ms = crate::envoy::le_u64(b.get(i..i + 8)?)?;
            i += 8;
            let n = u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?) as usize;
            i += 2;
            let failures = (0..n)
                .map(|k| crate::envoy::le_u64(b.get(i + 8 * k..i + 8 * k + 8)?))
                .collect::<Option<Vec<_>>>()?;
            Some(Slot {
                owner,
                alerted_at_ms,
                failures,
            })
        };
        parse().unwrap_or_default()
    }

    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(12 + self.owner.len() + 8 * self.failures.len());
        v.push(1);
        v.push(self.owner.len() as u8);
        v.extend_from_slice(&self.owner);
        v.extend_from_slice(&self.alerted_at_ms.to_le_bytes());
        v.extend_from_slice(&(self.failures.len() as u16).to_le_bytes());
        for f in &self.failures {
            v.extend_from_slice(&f.to_le_bytes());
        }
        v
    }
}

/// The shared-data key of slot `n`.
pub fn slot_key(n: u32) -> String {
    format!("vigil.bf.v1.{n}")
}

fn fnv1a(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5u32, |h, &x| {
        (h ^ u32::from(x)).wrapping_mul(0x0100_0193)
    })
}

/// Creates every slot that does not exist yet (call once per worker at start).
pub fn init_slots(cfg: &BruteForce, store: &mut impl SharedStore) {
    if !cfg.enabled {
        return;
    }
    let empty = Slot::default().encode();
    for n in 0..cfg.slots {
        let key = slot_key(n);
        if let Ok(None) = store.get(&key) {
            let _ = store.set(&key, &empty, 0);
        }
    }
}

/// Records one login failure from `ip` at `now_ms`; returns the alert it raises, if any.
pub fn record_failure(
    cfg: &BruteForce,
    store: &mut impl SharedStore,
    metrics: &mut impl Metrics,
    ip: &[u8],
    now_ms: u64,
) -> Option<Alert> {
    if !cfg.enabled || ip.is_empty() || ip.len() > 255 {
        return None;
    }
    let window_ms = u64::from(cfg.window_seconds) * 1000;
    let keep = cfg.max_failures as usize + 1;
    let key = slot_key(fnv1a(ip) % cfg.slots.max(1));
    for attempt in 0..MAX_CAS_ATTEMPTS {
        if attempt > 0 {
            metrics.add(Metric::CasRetries, 1);
        }
        let (bytes, cas) = match store.get(&key) {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => {
                metrics.add(Metric::SharedDataErrors, 1);
                return None;
            }
        };
        let mut slot = Slot::decode(&bytes);
        let mut evicted = false;
        if slot.owner != ip {
            let live = slot
                .failures
                .last()
                .is_some_and(|&t| now_ms.saturating_sub(t) < window_ms);
            evicted = !slot.owner.is_empty() && live;
            slot = Slot {
                owner: ip.to_vec(),
                ..Slot::default()
            };
        }
        slot.failures
            .retain(|&t| now_ms.saturating_sub(t) < window_ms && t <= now_ms);
        slot.failures.push(now_ms);
        if slot.failures.len() > keep {
            let extra = slot.failures.len() - keep;
            slot.failures.drain(..extra);
        }
        let count = slot.failures.len() as u32;
        let armed =
            slot.alerted_at_ms == 0 || now_ms.saturating_sub(slot.alerted_at_ms) >= window_ms;
        let alert = count > cfg.max_failures && armed;
        if alert {
            slot.alerted_at_ms = now_ms.max(1);
        }
        match store.set(&key, &slot.encode(), cas) {
            SetOutcome::Ok => {
                if evicted {
                    metrics.add(Metric::Evictions, 1);
                }
                return alert.then_some(Alert {
                    count,
                    window_seconds: cfg.window_seconds,
                });
            }
            SetOutcome::CasMismatch => continue,
            SetOutcome::Failed => {
                metrics.add(Metric::SharedDataErrors, 1);
                return None;
            }
        }
    }
    metrics.add(Metric::CasGaveUp, 1);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::MemoryMetrics;
    use crate::shared::MemoryStore;

    fn cfg(slots: u32) -> BruteForce {
        BruteForce {
            enabled: true,
            max_failures: 10,
            window_seconds: 60,
            slots,
        }
    }

    #[test]
    fn eleventh_failure_alerts_once_per_window_then_rearms() {
        let c = cfg(8);
        let (mut s, mut m) = (MemoryStore::default(), MemoryMetrics::default());
        init_slots(&c, &mut s);
        let mut alerts = vec![];
        for i in 0..30u64 {
            if let Some(a) =
                record_failure(&c, &mut s, &mut m, b"203.0.113.7", 1_000_000 + i * 1000)
            {
                alerts.push((i, a));
            }
        }
        assert_eq!(
            alerts,
            vec![(
                10,
                Alert {
                    count: 11,
                    window_seconds: 60
                }
            )]
        );
        // 60 s after the alert, still failing: re-armed.
        let a = record_failure(&c, &mut s, &mut m, b"203.0.113.7", 1_000_000 + 70_000);
        assert_eq!(
            a,
            Some(Alert {
                count: 11,
                window_seconds: 60
            })
        );
    }

    #[test]
    fn slow_failures_never_alert() {
        let c = cfg(8);
        let (mut s, mut m) = (MemoryStore::default(), MemoryMetrics::default());
        for i in 0..50u64 {
            assert_eq!(
                record_failure(&c, &mut s, &mut m, b"198.51.100.1", i * 6_001),
                None
            );
        }
    }

    #[test]
    fn a_live_slot_taken_by_another_ip_is_an_eviction() {
        let c = cfg(1);
        let (mut s, mut m) = (MemoryStore::default(), MemoryMetrics::default());
        record_failure(&c, &mut s, &mut m, b"10.0.0.1", 1000);
        record_failure(&c, &mut s, &mut m, b"10.0.0.2", 2000);
        assert_eq!(m.0.get("vigil.evictions"), Some(&1));
        record_failure(&c, &mut s, &mut m, b"10.0.0.3", 200_000);
        assert_eq!(m.0.get("vigil.evictions"), Some(&1));
    }

    /// A store whose host refuses every read, or every write.
    struct Refusing {
        reads: bool,
    }

    impl SharedStore for Refusing {
        fn get(&mut self, _: &str) -> Result<Option<(Vec<u8>, u32)>, crate::shared::HostRefused> {
            if self.reads {
                Err(crate::shared::HostRefused)
            } else {
                Ok(Some((Vec::new(), 7)))
            }
        }
        fn set(&mut self, _: &str, _: &[u8], cas: u32) -> SetOutcome {
            assert_ne!(cas, 0, "a refused read must never lead to a blind write");
            SetOutcome::Failed
        }
    }

    #[test]
    fn host_refusals_are_shared_data_errors_not_cas_give_ups() {
        let c = cfg(8);
        for reads in [true, false] {
            let mut m = MemoryMetrics::default();
            let r = record_failure(&c, &mut Refusing { reads }, &mut m, b"10.0.0.1", 1000);
            assert_eq!(r, None);
            assert_eq!(m.0.get("vigil.shared_data_errors"), Some(&1));
            assert_eq!(m.0.get("vigil.cas_gave_up"), None);
        }
    }

    #[test]
    fn slot_round_trips() {
        let slot = Slot {
            owner: b"::1".to_vec(),
            alerted_at_ms: 5,
            failures: vec![1, 2, 3],
        };
        assert_eq!(Slot::decode(&slot.encode()), slot);
        assert_eq!(Slot::decode(b"garbage"), Slot::default());
    }
}
