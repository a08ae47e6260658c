//! The counters Vigil keeps, and the trait the adapter implements to keep them.
//!
//! Every drop or degradation is counted, by reason: nothing is lost silently. In Envoy these
//! are proxy-wasm counters and gauges, shown on the admin `/stats` page (Envoy prefixes
//! custom wasm metrics with `wasmcustom.`). Names are dotted so that Envoy's tag extraction
//! (`stats_tags`, see the README) can turn the action, the sink and the drop reason into
//! Prometheus labels.

use crate::action::Action;
use crate::detect::table::TableKind;
use crate::policy::SinkKind;

/// Why an alert a detector raised was not emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Suppressed {
    /// Over `detectors.alert_cap_per_window`, over all workers.
    GlobalCap = 0,
    /// A third alert on one request (the access-log sink has two alert slots).
    PerRequest = 1,
}

impl Suppressed {
    /// Every reason, in index order.
    pub const ALL: [Suppressed; 2] = [Suppressed::GlobalCap, Suppressed::PerRequest];

    /// The reason's name in metric names.
    pub fn name(self) -> &'static str {
        match self {
            Suppressed::GlobalCap => "global_cap",
            Suppressed::PerRequest => "per_request",
        }
    }
}

/// Why a sink dropped a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum DropReason {
    /// Envoy's log level drops info lines (`envoy_log`).
    LogLevel = 0,
    /// The host refused the write (a non-OK status).
    HostRefused = 1,
    /// More records on one request than the sink has slots ([`crate::envoy::MAX_RECORDS`]).
    TooManyRecords = 2,
}

impl DropReason {
    /// Every reason, in index order.
    pub const ALL: [DropReason; 3] = [
        DropReason::LogLevel,
        DropReason::HostRefused,
        DropReason::TooManyRecords,
    ];

    /// Whether a sink of `kind` can drop a record for this reason.
    pub fn applies_to(self, kind: SinkKind) -> bool {
        match self {
            DropReason::LogLevel => kind == SinkKind::EnvoyLog,
            DropReason::HostRefused => true,
            DropReason::TooManyRecords => kind == SinkKind::AccessLog,
        }
    }

    /// The reason's name in metric names.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::LogLevel => "log_level",
            DropReason::HostRefused => "host_refused",
            DropReason::TooManyRecords => "too_many_records",
        }
    }
}

/// A counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `vigil.events.<action>`: events produced, by action (alerts included).
    Event(Action),
    /// `vigil.alerts`: alert events produced.
    Alerts,
    /// `vigil.truncations`: field values cut at `output.field_max_bytes`.
    Truncations,
    /// `vigil.body_scan_overflows`: login bodies longer than the scan window.
    BodyScanOverflows,
    /// `vigil.cas_retries`: shared-data compare-and-swap conflicts retried.
    CasRetries,
    /// `vigil.cas_gave_up`: detector updates abandoned after too many conflicts.
    CasGaveUp,
    /// `vigil.alerts_suppressed.<reason>`: alerts a detector raised but Vigil did not emit.
    AlertsSuppressed(Suppressed),
    /// `vigil.detector.<table>.evicted`: live detector entries replaced by a newcomer with as
    /// many live failures ([`crate::detect::table`]).
    DetectorEvicted(TableKind),
    /// `vigil.detector.<table>.refused`: keys not tracked because every entry of their
    /// bucket had more live failures.
    DetectorRefused(TableKind),
    /// `vigil.shared_data_errors`: shared-data reads or writes the host refused (the
    /// detector update is abandoned, never written blindly).
    SharedDataErrors,
    /// `vigil.detector_skipped.no_source_ip`: login failures the detector could not count
    /// because `source.address` was missing or not an IP.
    DetectorNoSourceIp,
    /// `vigil.sink.<sink>.written`: records a sink handed to the host.
    SinkWritten(SinkKind),
    /// `vigil.sink.<sink>.dropped.<reason>`: records a sink could not hand to the host.
    SinkDropped(SinkKind, DropReason),
    /// `vigil.sampled_out.<action>`: events the policy's `output.sample` left out (the
    /// detectors still counted them).
    SampledOut(Action),
    /// `vigil.redactions`: values masked, fingerprinted or dropped from events
    /// ([`crate::redact`]).
    Redactions,
}

const FIXED: usize = 7;
/// Per-table detector metrics (evicted, refused).
const PER_TABLE: usize = 2;
/// Everything before the sinks' metrics.
const BEFORE_SINKS: usize =
    Action::ALL.len() + FIXED + Suppressed::ALL.len() + TableKind::ALL.len() * PER_TABLE;
/// Everything up to the end of the sinks' metrics.
const AFTER_SINKS: usize = BEFORE_SINKS + SinkKind::ALL.len() * (1 + DropReason::ALL.len());

impl Metric {
    /// Every metric, in index order, for definition at start.
    pub fn all() -> Vec<Metric> {
        let mut v: Vec<Metric> = Action::ALL.iter().map(|a| Metric::Event(*a)).collect();
        v.extend([
            Metric::Alerts,
            Metric::Truncations,
            Metric::BodyScanOverflows,
            Metric::CasRetries,
            Metric::CasGaveUp,
            Metric::SharedDataErrors,
            Metric::DetectorNoSourceIp,
        ]);
        v.extend(Suppressed::ALL.iter().map(|r| Metric::AlertsSuppressed(*r)));
        for t in TableKind::ALL {
            v.push(Metric::DetectorEvicted(t));
            v.push(Metric::DetectorRefused(t));
        }
        for k in SinkKind::ALL {
            v.push(Metric::SinkWritten(k));
            v.extend(DropReason::ALL.iter().map(|r| Metric::SinkDropped(k, *r)));
        }
        v.extend(Action::ALL.iter().map(|a| Metric::SampledOut(*a)));
        v.push(Metric::Redactions);
        v
    }

    /// Whether an adapter defines and reports this metric (a drop reason that cannot happen
    /// to a sink is not).
    pub fn is_reported(self) -> bool {
        match self {
            Metric::SinkDropped(k, r) => r.applies_to(k),
            _ => true,
        }
    }

    /// How many metrics there are.
    pub const COUNT: usize = AFTER_SINKS + Action::ALL.len() + 1;

    /// A dense index in `0..COUNT` (for an adapter's id table).
    pub fn index(self) -> usize {
        let a = Action::ALL.len();
        let per_sink = 1 + DropReason::ALL.len();
        match self {
            Metric::Event(x) => x as usize,
            Metric::Alerts => a,
            Metric::Truncations => a + 1,
            Metric::BodyScanOverflows => a + 2,
            Metric::CasRetries => a + 3,
            Metric::CasGaveUp => a + 4,
            Metric::SharedDataErrors => a + 5,
            Metric::DetectorNoSourceIp => a + 6,
            Metric::AlertsSuppressed(r) => a + FIXED + r as usize,
            Metric::DetectorEvicted(t) => {
                a + FIXED + Suppressed::ALL.len() + t as usize * PER_TABLE
            }
            Metric::DetectorRefused(t) => {
                a + FIXED + Suppressed::ALL.len() + t as usize * PER_TABLE + 1
            }
            Metric::SinkWritten(k) => BEFORE_SINKS + k as usize * per_sink,
            Metric::SinkDropped(k, r) => BEFORE_SINKS + k as usize * per_sink + 1 + r as usize,
            Metric::SampledOut(x) => AFTER_SINKS + x as usize,
            Metric::Redactions => AFTER_SINKS + Action::ALL.len(),
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
            Metric::AlertsSuppressed(r) => format!("vigil.alerts_suppressed.{}", r.name()),
            Metric::DetectorEvicted(t) => format!("vigil.detector.{}.evicted", t.name()),
            Metric::DetectorRefused(t) => format!("vigil.detector.{}.refused", t.name()),
            Metric::SharedDataErrors => "vigil.shared_data_errors".into(),
            Metric::DetectorNoSourceIp => "vigil.detector_skipped.no_source_ip".into(),
            Metric::SinkWritten(k) => format!("vigil.sink.{}.written", k.name()),
            Metric::SinkDropped(k, r) => {
                format!("vigil.sink.{}.dropped.{}", k.name(), r.name())
            }
            Metric::SampledOut(a) => format!("vigil.sampled_out.{}", a.name()),
            Metric::Redactions => "vigil.redactions".into(),
        }
    }
}

/// A gauge: liveness and resource figures a worker refreshes on every heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gauge {
    /// `vigil.sink.<sink>.heartbeat_seconds`: the host clock (Unix seconds) at the sink's last
    /// heartbeat; a value that stops moving means the VM or the sink is dead.
    Heartbeat(SinkKind),
    /// `vigil.last_event_seconds`: when a worker last produced an event (Unix seconds, the
    /// newest over all workers; 0 = never).
    LastEventSeconds,
    /// `vigil.memory_bytes`: the linear memory size of the largest VM.
    MemoryBytes,
}

impl Gauge {
    /// Every gauge, in index order.
    pub fn all() -> Vec<Gauge> {
        let mut v: Vec<Gauge> = SinkKind::ALL.iter().map(|k| Gauge::Heartbeat(*k)).collect();
        v.extend([Gauge::LastEventSeconds, Gauge::MemoryBytes]);
        v
    }

    /// A dense index (for an adapter's id table).
    pub fn index(self) -> usize {
        match self {
            Gauge::Heartbeat(k) => k as usize,
            Gauge::LastEventSeconds => SinkKind::ALL.len(),
            Gauge::MemoryBytes => SinkKind::ALL.len() + 1,
        }
    }

    /// The gauge's name.
    pub fn name(self) -> String {
        match self {
            Gauge::Heartbeat(k) => format!("vigil.sink.{}.heartbeat_seconds", k.name()),
            Gauge::LastEventSeconds => "vigil.last_event_seconds".into(),
            Gauge::MemoryBytes => "vigil.memory_bytes".into(),
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
        assert_eq!(all.len(), Metric::COUNT);
        for (i, m) in all.iter().enumerate() {
            assert_eq!(m.index(), i);
        }
        for (i, g) in Gauge::all().iter().enumerate() {
            assert_eq!(g.index(), i);
        }
        let mut names: Vec<String> = all.iter().map(|m| m.name()).collect();
        names.extend(Gauge::all().iter().map(|g| g.name()));
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
