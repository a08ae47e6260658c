//! Process-wide state shared by every VM, as Envoy workers share it: shared data (with
//! cpp-host CAS semantics), shared queues and stats (custom metrics).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::abi::{MetricType, Status};

/// Counters of shared-data operations, for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedDataStats {
    /// `proxy_get_shared_data` calls.
    pub gets: u64,
    /// `proxy_set_shared_data` calls (successful or not).
    pub sets: u64,
    /// Sets rejected with `CasMismatch`.
    pub cas_mismatches: u64,
}

/// Value of a custom metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricValue {
    /// Counter value.
    Counter(u64),
    /// Gauge value.
    Gauge(i64),
    /// Recorded histogram samples.
    Histogram(Vec<u64>),
}

#[derive(Debug)]
pub(crate) struct Queue {
    pub(crate) vm_id: String,
    pub(crate) name: String,
    /// Instance number of the VM that registered it, and its context.
    pub(crate) owner: (u64, u32),
    pub(crate) items: VecDeque<Vec<u8>>,
    /// `on_queue_ready` notifications not yet delivered.
    pub(crate) ready: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    /// vm_id -> key -> (value, cas)
    data: HashMap<String, HashMap<String, (Vec<u8>, u32)>>,
    next_cas: u32,
    pub(crate) stats: SharedDataStats,
    pub(crate) queues: BTreeMap<u32, Queue>,
    queue_names: HashMap<(String, String), u32>,
    next_queue: u32,
    pub(crate) metrics: BTreeMap<String, MetricValue>,
    next_instance: u64,
}

/// Shared state of all VMs of one "Envoy process". Cheap to clone (an `Arc`).
#[derive(Debug, Clone, Default)]
pub struct SharedData {
    inner: Arc<Mutex<Inner>>,
}

impl SharedData {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked mid-operation; the data is
        // still structurally valid.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn new_instance(&self) -> u64 {
        let mut g = self.lock();
        g.next_instance += 1;
        g.next_instance
    }

    /// `proxy_get_shared_data`: value and CAS, or `NotFound`. Namespaced by `vm_id`.
    pub fn get(&self, vm_id: &str, key: &str) -> Result<(Vec<u8>, u32), Status> {
        let mut g = self.lock();
        g.stats.gets += 1;
        g.data
            .get(vm_id)
            .and_then(|m| m.get(key))
            .cloned()
            .ok_or(Status::NotFound)
    }

    /// [`Self::get`] appending the value to `out`; returns the CAS.
    pub(crate) fn get_into(
        &self,
        vm_id: &str,
        key: &str,
        out: &mut Vec<u8>,
    ) -> Result<u32, Status> {
        let mut g = self.lock();
        g.stats.gets += 1;
        let (v, cas) = g
            .data
            .get(vm_id)
            .and_then(|m| m.get(key))
            .ok_or(Status::NotFound)?;
        out.extend_from_slice(v);
        Ok(*cas)
    }

    /// `proxy_set_shared_data`: `cas == 0` is unchecked; otherwise it must match the current
    /// CAS of an existing key (a missing key is inserted whatever the CAS, as cpp-host does).
    pub fn set(&self, vm_id: &str, key: &str, value: &[u8], cas: u32) -> Result<(), Status> {
        let mut g = self.lock();
        let Inner {
            data,
            next_cas,
            stats,
            ..
        } = &mut *g;
        stats.sets += 1;
        // cpp-host: nextCas() returns cas_ (starting at 1) then increments, skipping 0.
        let mut take_cas = || {
            if *next_cas == 0 {
                *next_cas = 1;
            }
            let c = *next_cas;
            *next_cas = next_cas.wrapping_add(1);
            c
        };
        // An existing key is overwritten in place (no allocation on the hot path).
        if let Some(slot) = data.get_mut(vm_id).and_then(|m| m.get_mut(key)) {
            if cas != 0 && cas != slot.1 {
                stats.cas_mismatches += 1;
                return Err(Status::CasMismatch);
            }
            slot.0.clear();
            slot.0.extend_from_slice(value);
            slot.1 = take_cas();
            return Ok(());
        }
        let new_cas = take_cas();
        data.entry(vm_id.to_string())
            .or_default()
            .insert(key.to_string(), (value.to_vec(), new_cas));
        Ok(())
    }

    /// Operation counters.
    pub fn stats(&self) -> SharedDataStats {
        self.lock().stats
    }

    /// All keys and values of one `vm_id` namespace, sorted by key.
    pub fn snapshot(&self, vm_id: &str) -> BTreeMap<String, Vec<u8>> {
        self.lock()
            .data
            .get(vm_id)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
            .unwrap_or_default()
    }

    /// Registers (or re-registers, idempotently) a queue; returns its token.
    pub(crate) fn register_queue(&self, vm_id: &str, name: &str, owner: (u64, u32)) -> u32 {
        let mut g = self.lock();
        let key = (vm_id.to_string(), name.to_string());
        if let Some(&id) = g.queue_names.get(&key) {
            if let Some(q) = g.queues.get_mut(&id) {
                q.owner = owner;
            }
            return id;
        }
        g.next_queue += 1;
        let id = g.next_queue;
        g.queue_names.insert(key, id);
        g.queues.insert(
            id,
            Queue {
                vm_id: vm_id.to_string(),
                name: name.to_string(),
                owner,
                items: VecDeque::new(),
                ready: 0,
            },
        );
        id
    }

    /// Resolves a queue registered by `vm_id` under `name`.
    pub fn resolve_queue(&self, vm_id: &str, name: &str) -> Option<u32> {
        self.lock()
            .queue_names
            .get(&(vm_id.to_string(), name.to_string()))
            .copied()
    }

    /// Enqueues from outside a VM (or from a hostcall).
    pub fn enqueue(&self, token: u32, value: &[u8]) -> Result<(), Status> {
        let mut g = self.lock();
        let q = g.queues.get_mut(&token).ok_or(Status::NotFound)?;
        q.items.push_back(value.to_vec());
        q.ready += 1;
        Ok(())
    }

    /// Dequeues: `NotFound` for an unknown token, `Empty` for an empty queue.
    pub fn dequeue(&self, token: u32) -> Result<Vec<u8>, Status> {
        let mut g = self.lock();
        let q = g.queues.get_mut(&token).ok_or(Status::NotFound)?;
        q.items.pop_front().ok_or(Status::Empty)
    }

    /// Items waiting in a queue.
    pub fn queue_len(&self, token: u32) -> Option<usize> {
        self.lock().queues.get(&token).map(|q| q.items.len())
    }

    /// `(vm_id, name)` of a queue token.
    pub fn queue_name(&self, token: u32) -> Option<(String, String)> {
        self.lock()
            .queues
            .get(&token)
            .map(|q| (q.vm_id.clone(), q.name.clone()))
    }

    /// Takes the pending `on_queue_ready` notifications of queues owned by `instance`.
    pub(crate) fn take_ready(&self, instance: u64) -> Vec<(u32, u32)> {
        let mut g = self.lock();
        let mut out = Vec::new();
        for (id, q) in g.queues.iter_mut() {
            if q.owner.0 == instance {
                for _ in 0..q.ready {
                    out.push((q.owner.1, *id));
                }
                q.ready = 0;
            }
        }
        out
    }

    /// Creates a metric if absent (stats are process-wide in Envoy: the same name in two
    /// workers is the same stat).
    pub(crate) fn define_metric(&self, kind: MetricType, name: &str) {
        let mut g = self.lock();
        g.metrics.entry(name.to_string()).or_insert(match kind {
            MetricType::Counter => MetricValue::Counter(0),
            MetricType::Gauge => MetricValue::Gauge(0),
            MetricType::Histogram => MetricValue::Histogram(Vec::new()),
        });
    }

    pub(crate) fn with_metric<R>(
        &self,
        name: &str,
        f: impl FnOnce(&mut MetricValue) -> R,
    ) -> Option<R> {
        self.lock().metrics.get_mut(name).map(f)
    }

    /// All custom metrics by raw name (Envoy shows them in `/stats` as
    /// `wasmcustom.<name>`).
    pub fn metrics(&self) -> BTreeMap<String, MetricValue> {
        self.lock().metrics.clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cas_semantics() {
        let s = SharedData::new();
        assert_eq!(s.get("vm", "k"), Err(Status::NotFound));
        // First insert with any cas succeeds.
        s.set("vm", "k", b"1", 77).unwrap();
        let (v, cas) = s.get("vm", "k").unwrap();
        assert_eq!((v.as_slice(), cas), (&b"1"[..], 1));
        assert_eq!(s.set("vm", "k", b"2", cas + 5), Err(Status::CasMismatch));
        s.set("vm", "k", b"2", cas).unwrap();
        assert_eq!(s.set("vm", "k", b"3", cas), Err(Status::CasMismatch));
        s.set("vm", "k", b"4", 0).unwrap();
        assert_eq!(s.get("vm", "k").unwrap(), (b"4".to_vec(), 3));
        // Namespaced by vm_id.
        assert_eq!(s.get("other", "k"), Err(Status::NotFound));
        let st = s.stats();
        assert_eq!(st.cas_mismatches, 2);
        assert_eq!(st.sets, 5);
        // Shared through clones.
        let c = s.clone();
        assert_eq!(c.get("vm", "k").unwrap().0, b"4");
    }

    #[test]
    fn queues() {
        let s = SharedData::new();
        assert_eq!(s.resolve_queue("drain", "q"), None);
        let id = s.register_queue("drain", "q", (1, 1));
        assert_eq!(s.register_queue("drain", "q", (1, 1)), id);
        assert_eq!(s.resolve_queue("drain", "q"), Some(id));
        assert_eq!(s.dequeue(id), Err(Status::Empty));
        assert_eq!(s.dequeue(id + 9), Err(Status::NotFound));
        s.enqueue(id, b"x").unwrap();
        assert_eq!(s.take_ready(1), vec![(1, id)]);
        assert_eq!(s.dequeue(id).unwrap(), b"x");
    }
}
