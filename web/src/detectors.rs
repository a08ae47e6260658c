//! What the playground's detector chart shows: after each exchange, each detector's largest
//! count over its keys, read from the detectors' real state in the shared store (the
//! tables of `vigil_policies::detect::table`), beside the threshold that raises its alert.

use std::collections::{BTreeSet, HashMap};
use vigil_policies::detect::{account_shape, source_shape, table};
use vigil_policies::policy::Policy;
use vigil_policies::shared::{HostRefused, MemoryStore, SetOutcome, SharedStore};

/// The shared store of one playground run: Envoy's CAS semantics, and the keys written.
#[derive(Debug, Default)]
pub struct Store {
    inner: MemoryStore,
    values: HashMap<String, Vec<u8>>,
    touched: BTreeSet<String>,
}

impl SharedStore for Store {
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostRefused> {
        self.inner.get(key)
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> SetOutcome {
        let r = self.inner.set(key, value, cas);
        if r == SetOutcome::Ok && !value.is_empty() {
            self.values.insert(key.to_string(), value.to_vec());
            self.touched.insert(key.to_string());
        }
        r
    }
}

/// One detector the chart follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// Its name on the chart.
    pub name: &'static str,
    /// Its alert fires above this count.
    pub threshold: u32,
}

#[derive(Debug, Clone, Copy)]
enum Count {
    Failures,
    Users,
}

/// The detectors of a policy the chart can follow.
#[derive(Debug)]
pub struct Chart {
    series: Vec<(Series, table::Shape, Count)>,
}

impl Chart {
    /// The followed detectors of `p` (the enabled brute-force and stuffing detectors).
    pub fn new(p: &Policy) -> Chart {
        let mut series = Vec::new();
        let d = &p.detectors;
        if let Some(s) = source_shape(p) {
            if p.brute_force.enabled {
                let threshold = p.brute_force.max_failures;
                let name = "login failures per source";
                series.push((Series { name, threshold }, s, Count::Failures));
            }
            if d.stuffing.enabled {
                let threshold = d.stuffing.max_users;
                let name = "failing users per source";
                series.push((Series { name, threshold }, s, Count::Users));
            }
        }
        if let Some(s) = account_shape(p).filter(|_| d.account.enabled) {
            let threshold = d.account.max_failures;
            let name = "login failures per account";
            series.push((Series { name, threshold }, s, Count::Failures));
        }
        Chart { series }
    }

    /// The followed detectors.
    pub fn series(&self) -> Vec<Series> {
        self.series.iter().map(|(s, _, _)| s.clone()).collect()
    }

    /// Each detector's largest count at `now_ms`, in [`Chart::series`] order.
    pub fn counts(&self, store: &Store, now_ms: u64) -> Vec<u32> {
        self.series
            .iter()
            .map(|(_, shape, count)| {
                let prefix = shape.bucket_key(0);
                let prefix = prefix.trim_end_matches('0');
                store
                    .touched
                    .iter()
                    .filter(|k| k.starts_with(prefix))
                    .filter_map(|k| store.values.get(k))
                    .flat_map(|v| table::decode(v))
                    .map(|e| match count {
                        Count::Failures => e.failures_in_window(shape, now_ms),
                        Count::Users => e.users_in_window(shape, now_ms),
                    })
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }
}
