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
