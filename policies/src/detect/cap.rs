//! The global alert cap: at most `alert_cap_per_window` alerts per window over all workers,
//! one shared-data key, so that a flood cannot turn into a flood of alerts.

use crate::metrics::{Metric, Metrics, Suppressed};
use crate::policy::Policy;
use crate::shared::{cas_update, Cas, SharedStore, Step};

/// The shared-data key of the global alert cap: `u64 window_start_ms | u32 alerts`.
pub const CAP_KEY: &str = "vigil.det.v1.cap";

/// Takes one alert from the global budget; `false` (counted) when it is spent. A store that
/// refuses or keeps conflicting lets the alert through (counted as such): the cap must not
/// silence alerts because shared data is unwell.
pub fn admit(
    p: &Policy,
    store: &mut impl SharedStore,
    metrics: &mut impl Metrics,
    now_ms: u64,
) -> bool {
    let d = &p.detectors;
    let window = u64::from(d.alert_cap_window_seconds) * 1000;
    let admitted = cas_update(store, metrics, CAP_KEY, |bytes| {
        let start = bytes.get(..8).and_then(crate::envoy::le_u64).unwrap_or(0);
        let n = bytes
            .get(8..12)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes);
        let (start, n) =
            if now_ms.saturating_sub(start) >= window || start > now_ms.saturating_add(window) {
                (now_ms, 0)
            } else {
                (start, n)
            };
        if n >= d.alert_cap_per_window {
            return Step::Done(false);
        }
        let mut v = start.to_le_bytes().to_vec();
        v.extend_from_slice(&(n + 1).to_le_bytes());
        Step::Write(v, true)
    });
    match admitted {
        Cas::Done(false) => {
            metrics.add(Metric::AlertsSuppressed(Suppressed::GlobalCap), 1);
            false
        }
        // Admitted, or the store is unwell (counted): the cap never silences an alert.
        Cas::Done(true) | Cas::HostRefused | Cas::GaveUp => true,
    }
}
