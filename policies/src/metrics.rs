//! The counters Vigil keeps, and the trait the adapter implements to keep them.
//!
//! Every drop or degradation is counted: nothing is lost silently. In Envoy these are
//! proxy-wasm counters, shown on the admin `/stats` page (Envoy prefixes custom wasm
//! metrics with `wasmcustom.`).

use crate::action::Action;

/// A counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `vigil.events.<action>`: events emitted, by action (alerts included).
    Event(Action),
    /// `vigil.alerts`: alert events emitted.
    Alerts,
    /// `vigil.truncations`: field values cut at `output.field_max_bytes`.
    Truncations,
    /// `vigil.body_scan_overflows`: login bodies longer than the scan window.
    BodyScanOverflows,
    /// `vigil.cas_retries`: shared-data compare-and-swap conflicts retried.
    CasRetries,
    /// `vigil.cas_gave_up`: detector updates abandoned after too many conflicts.
    CasGaveUp,
    /// `vigil.evictions`: brute-force slots taken over from another live source.
    Evictions,
    /// `vigil.events_suppressed`: events not written because the host's log level drops them.
    EventsSuppressed,
    /// `vigil.events_failed`: events the host refused to log.
    EventsFailed,
}

impl Metric {
    /// Every metric, for definition at start.
    pub fn all() -> Vec<Metric> {
        let mut v: Vec<Metric> = Action::ALL.iter().map(|a| Metric::Event(*a)).collect();
        v.extend([
            Metric::Alerts,
            Metric::Truncations,
            Metric::BodyScanOverflows,
            Metric::CasRetries,
            Metric::CasGaveUp,
            Metric::Evictions,
            Metric::EventsSuppressed,
            Metric::EventsFailed,
        ]);
        v
    }

    /// A dense index (for an adapter's id table).
    pub fn index(self) -> usize {
        match self {
            Metric::Event(a) => a as usize,
            Metric::Alerts => Action::ALL.len(),
            Metric::Truncations => Action::ALL.len() + 1,
            Metric::BodyScanOverflows => Action::ALL.len() + 2,
            Metric::CasRetries => Action::ALL.len() + 3,
            Metric::CasGaveUp => Action::ALL.len() + 4,
            Metric::Evictions => Action::ALL.len() + 5,
            Metric::EventsSuppressed => Action::ALL.len() + 6,
            Metric::EventsFailed => Action::ALL.len() + 7,
        }
    }

    /// The metric's name.
    pub fn name(self) -> String {
        match self {
            Metric::Event(a) => format!("vigil.events.{}", a.name()),
            Metric::Alerts => "vigil.alerts".into(),
            Metric::Truncations => "vigil.truncations".into(),
            Metric::BodyScanOverflows => "vigil.body_scan_overflows".into(),
            Metric::CasRetries => "vigil.cas_retries".into(),
            Metric::CasGaveUp => "vigil.cas_gave_up".into(),
            Metric::Evictions => "vigil.evictions".into(),
            Metric::EventsSuppressed => "vigil.events_suppressed".into(),
            Metric::EventsFailed => "vigil.events_failed".into(),
        }
    }
}

/// Where counters go.
pub trait Metrics {
    /// Adds `n` to a counter.
    fn add(&mut self, metric: Metric, n: u64);
}

/// Counters in memory (tests, and hosts without metrics).
#[derive(Debug, Default, Clone)]
pub struct MemoryMetrics(pub std::collections::BTreeMap<String, u64>);

impl Metrics for MemoryMetrics {
    fn add(&mut self, metric: Metric, n: u64) {
        *self.0.entry(metric.name()).or_default() += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_dense_and_unique() {
        let all = Metric::all();
        for (i, m) in all.iter().enumerate() {
            assert_eq!(m.index(), i);
        }
    }
}
