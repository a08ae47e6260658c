//! Panics never cross into Envoy: every hook runs under `catch_unwind` ([`crate::ffi`]); a
//! caught panic is counted here (and on `/stats` as `vigil.module.panics` when the stream is
//! known), logged once per panic through Envoy's log, and the request passes untouched.
#![forbid(unsafe_code)]

use crate::ffi::{self, Level};
use std::sync::atomic::{AtomicU64, Ordering};

static PANICS: AtomicU64 = AtomicU64::new(0);

/// A hook's panic was caught.
pub fn caught(_hook: &'static str) {
    PANICS.fetch_add(1, Ordering::Relaxed);
}

/// Panics caught since the module was loaded.
pub fn count() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// Replaces Rust's panic message on stderr with one line in Envoy's log (no request data:
/// only the code location).
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        ffi::log(
            Level::Error,
            &format!("vigil: panic caught at {at}; the request passes, Vigil skips it"),
        );
    }));
}
