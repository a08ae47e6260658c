//! The policy engine's host traits over proxy-wasm hostcalls, and Vigil's batched metrics.

use crate::hostcalls::{self, Map, MetricKind, CAS_MISMATCH, OK};
use std::cell::Cell;
use vigil_policies::exchange::Exchange;
use vigil_policies::metrics::{Gauge, Metric, Metrics};
use vigil_policies::policy::SinkKind;
use vigil_policies::shared::{HostRefused, SetOutcome, SharedStore};

/// The current stream, read through hostcalls. A hostcall error reads as "absent".
pub struct HostExchange;

impl Exchange for HostExchange {
    fn request_header(&mut self, name: &str) -> Option<Vec<u8>> {
        hostcalls::header(Map::RequestHeaders, name).ok().flatten()
    }

    fn request_header_pairs(&mut self) -> Option<Vec<u8>> {
        hostcalls::header_pairs(Map::RequestHeaders).ok().flatten()
    }

    fn response_header(&mut self, name: &str) -> Option<Vec<u8>> {
        hostcalls::header(Map::ResponseHeaders, name).ok().flatten()
    }

    fn response_trailer(&mut self, name: &str) -> Option<Vec<u8>> {
        hostcalls::header(Map::ResponseTrailers, name)
            .ok()
            .flatten()
    }

    fn property(&mut self, path: &[&str]) -> Option<Vec<u8>> {
        hostcalls::property(path).ok().flatten()
    }

    fn now_ns(&mut self) -> u64 {
        hostcalls::now_ns()
    }
}

/// Envoy's shared data.
pub struct HostStore;

impl SharedStore for HostStore {
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostRefused> {
        hostcalls::shared_get(key).map_err(|_| HostRefused)
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> SetOutcome {
        match hostcalls::shared_set(key, value, cas) {
            OK => SetOutcome::Ok,
            CAS_MISMATCH => SetOutcome::CasMismatch,
            _ => SetOutcome::Failed,
        }
    }
}

/// Vigil's counters and gauges. Counting is a memory add (no hostcall on the request
/// path); [`Counters::flush`] hands the sums to the host on every heartbeat tick and when the
/// VM shuts down. Cells, not a `RefCell`: counting can never fail to borrow.
#[derive(Debug)]
pub struct Counters {
    ids: Vec<Option<u32>>,
    pending: Vec<Cell<u64>>,
    gauge_ids: Vec<Option<u32>>,
}

impl Counters {
    /// Defines every counter, and the gauges of the configured `sinks`. Returns them and the
    /// names the host refused (to be reported once, at start: a metric the host refuses
    /// cannot count anything).
    pub fn define(sinks: &[SinkKind]) -> (Counters, Vec<String>) {
        let mut refused = Vec::new();
        let mut define = |kind, name: String| match hostcalls::define_metric(kind, &name) {
            Ok(id) => Some(id),
            Err(_) => {
                refused.push(name);
                None
            }
        };
        let ids = Metric::all()
            .into_iter()
            .map(|m| {
                m.is_reported()
                    .then(|| define(MetricKind::Counter, m.name()))
                    .flatten()
            })
            .collect();
        let gauge_ids = Gauge::all()
            .into_iter()
            .map(|g| match g {
                // A heartbeat only for the sinks in use: a gauge stuck at 0 would read "dead".
                Gauge::Heartbeat(k) if !sinks.contains(&k) => None,
                g => define(MetricKind::Gauge, g.name()),
            })
            .collect();
        let c = Counters {
            ids,
            pending: (0..Metric::COUNT).map(|_| Cell::new(0)).collect(),
            gauge_ids,
        };
        (c, refused)
    }

    /// Counts into the pending sums.
    pub fn add(&self, metric: Metric, n: u64) {
        if let Some(c) = self.pending.get(metric.index()) {
            c.set(c.get().saturating_add(n));
        }
    }

    /// Hands every pending sum to the host.
    pub fn flush(&self) {
        for (c, id) in self.pending.iter().zip(&self.ids) {
            let n = c.get();
            if n == 0 {
                continue;
            }
            if let Some(id) = id {
                // A refused increment stays pending and is retried at the next flush.
                if hostcalls::increment(*id, i64::try_from(n).unwrap_or(i64::MAX)) == OK {
                    c.set(0);
                }
            }
        }
    }

    /// Sets a gauge.
    pub fn set_gauge(&self, gauge: Gauge, value: u64) {
        if let Some(Some(id)) = self.gauge_ids.get(gauge.index()) {
            let _ = hostcalls::record(*id, value);
        }
    }

    /// Raises a gauge to `value` if it is lower. Envoy's gauges are process-wide, shared by
    /// every worker's VM: a maximum is what "the newest event" and "the largest VM" mean.
    pub fn raise_gauge(&self, gauge: Gauge, value: u64) {
        if let Some(Some(id)) = self.gauge_ids.get(gauge.index()) {
            if hostcalls::metric_value(*id).is_ok_and(|cur| cur < value) {
                let _ = hostcalls::record(*id, value);
            }
        }
    }
}

/// [`Metrics`] for the engine, over [`Counters`].
pub struct Count<'a>(pub &'a Counters);

impl Metrics for Count<'_> {
    fn add(&mut self, metric: Metric, n: u64) {
        self.0.add(metric, n);
    }
}
