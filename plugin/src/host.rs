//! The policy engine's host traits, implemented over proxy-wasm hostcalls.

use crate::hostcalls::{self, Map, CAS_MISMATCH, OK};
use vigil_policies::exchange::Exchange;
use vigil_policies::metrics::{Metric, Metrics};
use vigil_policies::shared::{SetOutcome, SharedStore};

/// The current stream, read through hostcalls. A hostcall error reads as "absent".
pub struct HostExchange;

impl Exchange for HostExchange {
    fn request_header(&mut self, name: &str) -> Option<Vec<u8>> {
        hostcalls::header(Map::RequestHeaders, name).ok().flatten()
    }

    fn property(&mut self, path: &[&str]) -> Option<Vec<u8>> {
        hostcalls::property(path).ok().flatten()
    }
}

/// Envoy's shared data.
pub struct HostStore;

impl SharedStore for HostStore {
    fn get(&mut self, key: &str) -> Option<(Vec<u8>, u32)> {
        hostcalls::shared_get(key).ok().flatten()
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> SetOutcome {
        match hostcalls::shared_set(key, value, cas) {
            OK => SetOutcome::Ok,
            CAS_MISMATCH => SetOutcome::CasMismatch,
            _ => SetOutcome::Failed,
        }
    }
}

/// Counter ids, indexed by [`Metric::index`]; `None` where the host refused the definition.
#[derive(Debug, Default)]
pub struct HostMetrics {
    ids: Vec<Option<u32>>,
}

impl HostMetrics {
    /// Defines every counter.
    pub fn define() -> HostMetrics {
        HostMetrics {
            ids: Metric::all()
                .into_iter()
                .map(|m| hostcalls::define_counter(&m.name()).ok())
                .collect(),
        }
    }
}

impl Metrics for HostMetrics {
    fn add(&mut self, metric: Metric, n: u64) {
        if let Some(Some(id)) = self.ids.get(metric.index()) {
            let _ = hostcalls::increment(*id, i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
}
