//! The detectors' shared store in the module: one map in process memory, shared by every
//! worker thread (they are threads of one process), with the compare-and-swap semantics of
//! proxy-wasm shared data ([`vigil_policies::shared`]), and bounded: at most [`MAX_KEYS`]
//! keys of at most [`MAX_VALUE_BYTES`] each; a write beyond that is refused (the engine counts
//! it as a shared-data error and never writes blindly).
//!
//! Process-wide, like proxy-wasm shared data for one VM id: counts survive a config reload.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use vigil_policies::shared::{HostRefused, SetOutcome, SharedStore};

/// Most keys the store holds (the brute-force table is a fixed set of keys made at start).
pub const MAX_KEYS: usize = 65_536;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 4_096;

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, (Vec<u8>, u32)>,
    next_cas: u32,
}

/// A bounded, thread-safe key-value store with CAS tokens.
#[derive(Debug, Default)]
pub struct ProcessStore {
    inner: Mutex<Inner>,
}

impl ProcessStore {
    /// The process's store.
    pub fn global() -> &'static ProcessStore {
        static STORE: OnceLock<ProcessStore> = OnceLock::new();
        STORE.get_or_init(ProcessStore::default)
    }

    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        // A panic while holding the lock cannot leave the map half-written (every write is
        // one insert): a poisoned lock is still consistent.
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.map.get(key).cloned()
    }

    fn set(&self, key: &str, value: &[u8], cas: u32) -> SetOutcome {
        if value.len() > MAX_VALUE_BYTES {
            return SetOutcome::Failed;
        }
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match inner.map.get(key) {
            Some((_, cur)) if cas != 0 && cas != *cur => return SetOutcome::CasMismatch,
            None if inner.map.len() >= MAX_KEYS => return SetOutcome::Failed,
            _ => {}
        }
        inner.next_cas = inner.next_cas.wrapping_add(1).max(1);
        let token = inner.next_cas;
        inner.map.insert(key.to_string(), (value.to_vec(), token));
        SetOutcome::Ok
    }
}

/// [`SharedStore`] for the engine, over a [`ProcessStore`].
pub struct StoreRef<'a>(pub &'a ProcessStore);

impl SharedStore for StoreRef<'_> {
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostRefused> {
        Ok(self.0.get(key))
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> SetOutcome {
        self.0.set(key, value, cas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_tokens_refuse_a_stale_write_and_accept_a_fresh_one() {
        let s = ProcessStore::default();
        let mut r = StoreRef(&s);
        assert_eq!(r.get("k"), Ok(None));
        assert_eq!(r.set("k", b"1", 0), SetOutcome::Ok);
        let (_, t) = r.get("k").ok().flatten().unwrap_or_default();
        assert_eq!(r.set("k", b"2", t), SetOutcome::Ok);
        assert_eq!(r.set("k", b"3", t), SetOutcome::CasMismatch);
        assert_eq!(r.get("k").ok().flatten().map(|v| v.0), Some(b"2".to_vec()));
    }

    #[test]
    fn the_store_is_bounded_in_keys_and_value_size() {
        let s = ProcessStore::default();
        let mut r = StoreRef(&s);
        assert_eq!(
            r.set("big", &vec![0; MAX_VALUE_BYTES + 1], 0),
            SetOutcome::Failed
        );
        for i in 0..MAX_KEYS {
            assert_eq!(r.set(&i.to_string(), b"x", 0), SetOutcome::Ok);
        }
        assert_eq!(r.set("one-too-many", b"x", 0), SetOutcome::Failed);
        assert_eq!(
            r.set("0", b"y", 0),
            SetOutcome::Ok,
            "existing keys stay writable"
        );
    }

    #[test]
    fn counting_is_exact_across_threads() {
        let s = std::sync::Arc::new(ProcessStore::default());
        // As with proxy-wasm shared data, a first write (token 0) is unchecked: create first.
        assert_eq!(s.set("n", b"0", 0), SetOutcome::Ok);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        loop {
                            let cur = s.get("n");
                            let (n, t) = cur
                                .map(|(v, t)| {
                                    (String::from_utf8_lossy(&v).parse().unwrap_or(0u64), t)
                                })
                                .unwrap_or((0, 0));
                            if s.set("n", (n + 1).to_string().as_bytes(), t) == SetOutcome::Ok {
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().is_ok());
        }
        assert_eq!(s.get("n").map(|v| v.0), Some(b"2000".to_vec()));
    }
}
