//! The detectors' 128-bit secret, agreed by every worker through shared data.
//!
//! Each Envoy worker runs its own VM, started alone, and every one must fingerprint a key
//! the same way or their counts would never meet. The secret lives in the shared-data key
//! [`SECRET_KEY`]: a VM reads it; if it is absent, writes its own fresh random bytes (the
//! adapter's, e.g. WASI `random_get`) and then reads the key back and uses what is stored,
//! since another VM may have written in between. A first insert is unchecked in proxy-wasm
//! (CAS 0 overwrites), so two VMs that both saw "absent" can each write; the later write
//! wins in the store, and the earlier VM adopts it at its next [`agree`] (the plugin calls it
//! on every heartbeat tick, one shared-data read). A stored value that is not 16 bytes is
//! replaced with a checked write.
//!
//! Shared data outlives configuration reloads, so a reload keeps the secret and the counts.

use super::siphash::Key;
use crate::shared::{SetOutcome, SharedStore};

/// The shared-data key of the secret.
pub const SECRET_KEY: &str = "vigil.secret.v1";

/// The secret could not be read or written (the host refused); use a local one for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the detectors' shared secret could not be agreed through shared data ({0})")]
pub struct NotAgreed(pub &'static str);

/// Returns the stored secret, storing `fresh` first if there is none.
pub fn agree(store: &mut impl SharedStore, fresh: [u8; 16]) -> Result<Key, NotAgreed> {
    for _ in 0..super::table::MAX_CAS_ATTEMPTS {
        let cas = match store.get(SECRET_KEY) {
            Err(_) => return Err(NotAgreed("read refused")),
            Ok(Some((v, cas))) => match <[u8; 16]>::try_from(v.as_slice()) {
                Ok(k) => return Ok(Key(k)),
                Err(_) => cas,
            },
            Ok(None) => 0,
        };
        match store.set(SECRET_KEY, &fresh, cas) {
            // Read back: what is stored now is what every VM uses.
            SetOutcome::Ok | SetOutcome::CasMismatch => continue,
            SetOutcome::Failed => return Err(NotAgreed("write refused")),
        }
    }
    Err(NotAgreed("too many conflicts"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::shared::{HostRefused, MemoryStore};

    #[test]
    fn the_first_vm_writes_and_every_other_reads_it_back() {
        let mut s = MemoryStore::default();
        assert_eq!(agree(&mut s, [1; 16]), Ok(Key([1; 16])));
        assert_eq!(agree(&mut s, [2; 16]), Ok(Key([1; 16])));
    }

    /// A store where another VM's unchecked insert lands between our read and our write.
    struct Racing {
        inner: MemoryStore,
        raced: bool,
    }

    impl SharedStore for Racing {
        fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostRefused> {
            self.inner.get(key)
        }
        fn set(&mut self, key: &str, value: &[u8], cas: u32) -> SetOutcome {
            let r = self.inner.set(key, value, cas);
            if !self.raced {
                self.raced = true;
                // The other VM's write lands after ours: it wins in the store.
                self.inner.set(key, &[9; 16], 0);
            }
            r
        }
    }

    #[test]
    fn a_vm_uses_what_is_stored_after_its_write_not_what_it_wrote() {
        let mut s = Racing {
            inner: MemoryStore::default(),
            raced: false,
        };
        assert_eq!(agree(&mut s, [1; 16]), Ok(Key([9; 16])));
    }

    #[test]
    fn a_malformed_value_is_replaced_and_refusals_are_errors() {
        let mut s = MemoryStore::default();
        s.set(SECRET_KEY, b"short", 0);
        assert_eq!(agree(&mut s, [3; 16]), Ok(Key([3; 16])));
        struct Refuse;
        impl SharedStore for Refuse {
            fn get(&mut self, _: &str) -> Result<Option<(Vec<u8>, u32)>, HostRefused> {
                Err(HostRefused)
            }
            fn set(&mut self, _: &str, _: &[u8], _: u32) -> SetOutcome {
                SetOutcome::Failed
            }
        }
        assert!(agree(&mut Refuse, [3; 16]).is_err());
    }
}
