//! The shared key-value store detectors count in, as the adapter provides it.
//!
//! In Envoy this is proxy-wasm shared data: one store for all workers of a VM id, values
//! versioned by a compare-and-swap token. Keys can't be deleted, so detectors use a fixed
//! table of keys created at start.

/// Result of a compare-and-swap write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    /// Written.
    Ok,
    /// Someone wrote since our read: read again and retry.
    CasMismatch,
    /// The host refused (counted by the caller; never retried).
    Failed,
}

/// The host refused a shared-data read (anything but found / not found).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostRefused;

/// A shared store with compare-and-swap.
pub trait SharedStore {
    /// The value and its CAS token, `Ok(None)` when the key does not exist, `Err` when the
    /// host refused the read (a caller must not take that for "absent" and write blindly).
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostRefused>;
    /// Writes `value` if the key's CAS token is still `cas` (`0` writes unconditionally).
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> SetOutcome;
}

/// An in-memory store with Envoy's CAS semantics (for tests and the pure-Rust engine).
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    map: std::collections::HashMap<String, (Vec<u8>, u32)>,
    next_cas: u32,
}

impl SharedStore for MemoryStore {
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostRefused> {
        Ok(self.map.get(key).cloned())
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> SetOutcome {
        if let Some((_, cur)) = self.map.get(key) {
            if cas != 0 && cas != *cur {
                return SetOutcome::CasMismatch;
            }
        }
        self.next_cas = self.next_cas.wrapping_add(1).max(1);
        self.map
            .insert(key.to_string(), (value.to_vec(), self.next_cas));
        SetOutcome::Ok
    }
}

/// What one read-modify-write step decided from the value it read.
#[derive(Debug)]
pub enum Step<T> {
    /// Write these bytes (compare-and-swap against the read), then answer `T`.
    Write(Vec<u8>, T),
    /// Nothing to write: answer `T` now.
    Done(T),
}

/// How [`cas_update`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Cas<T> {
    /// The step's answer (its write, if any, landed).
    Done(T),
    /// The host refused a read or a write (counted: `vigil.shared_data_errors`).
    HostRefused,
    /// Every attempt met a concurrent write (counted: `vigil.cas_gave_up`).
    GaveUp,
}

/// Attempts a read-modify-write before giving up.
pub const MAX_CAS_ATTEMPTS: u32 = 16;

/// Reads `key`, lets `step` decide from its bytes (empty when absent), writes with
/// compare-and-swap, and on a conflict reads again and retries (`vigil.cas_retries`), up to
/// [`MAX_CAS_ATTEMPTS`]. The one loop every detector's shared state goes through.
pub fn cas_update<T>(
    store: &mut impl SharedStore,
    metrics: &mut impl crate::metrics::Metrics,
    key: &str,
    mut step: impl FnMut(&[u8]) -> Step<T>,
) -> Cas<T> {
    use crate::metrics::Metric;
    for attempt in 0..MAX_CAS_ATTEMPTS {
        if attempt > 0 {
            metrics.add(Metric::CasRetries, 1);
        }
        let (bytes, cas) = match store.get(key) {
            Ok(v) => v.unwrap_or_default(),
            Err(HostRefused) => {
                metrics.add(Metric::SharedDataErrors, 1);
                return Cas::HostRefused;
            }
        };
        match step(&bytes) {
            Step::Done(t) => return Cas::Done(t),
            Step::Write(value, t) => match store.set(key, &value, cas) {
                SetOutcome::Ok => return Cas::Done(t),
                SetOutcome::CasMismatch => continue,
                SetOutcome::Failed => {
                    metrics.add(Metric::SharedDataErrors, 1);
                    return Cas::HostRefused;
                }
            },
        }
    }
    metrics.add(Metric::CasGaveUp, 1);
    Cas::GaveUp
}
