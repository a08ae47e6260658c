//! What the playground's detector chart shows: after each exchange, each detector's largest
//! count over its keys, read from the detectors' real state in the shared store (the
//! tables of `vigil_policies::detect::table`), beside the threshold that raises its alert.

use std::collections::BTreeMap;
use vigil_policies::detect::{account_shape, source_shape, table};
use vigil_policies::policy::Policy;
use vigil_policies::shared::{HostRefused, MemoryStore, SetOutcome, SharedStore};

/// The shared store of one playground run: Envoy's CAS semantics, and the detector table
/// buckets written so far, decoded once per write.
#[derive(Debug, Default)]
pub struct Store {
    inner: MemoryStore,
    /// Bucket-key prefixes of the tables the chart follows.
    prefixes: Vec<String>,
    entries: BTreeMap<String, Vec<table::Entry>>,
}

impl Store {
    /// A store that decodes the buckets of `chart`'s tables as they are written.
    pub fn for_chart(chart: &Chart) -> Store {
        Store {
            prefixes: chart.series.iter().map(|(_, s, _)| prefix(s)).collect(),
            ..Store::default()
        }
    }
}

/// The bucket-key prefix of a table (`vigil.det.v1.source.`).
fn prefix(s: &table::Shape) -> String {
    let k = s.bucket_key(0);
    k.trim_end_matches('0').to_string()
}

impl SharedStore for Store {
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostRefused> {
        self.inner.get(key)
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> SetOutcome {
        let r = self.inner.set(key, value, cas);
        if r == SetOutcome::Ok && self.prefixes.iter().any(|p| key.starts_with(p.as_str())) {
            self.entries.insert(key.to_string(), table::decode(value));
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
                let prefix = prefix(shape);
                store
                    .entries
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(prefix.as_str()))
                    .flat_map(|(_, es)| es)
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
