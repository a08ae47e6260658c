//! The browser's entry points (wasm-bindgen): JSON text in, JSON text out.

use wasm_bindgen::prelude::wasm_bindgen;

/// `vigil check`: the policy's errors at their JSON paths, or its explanation
/// ([`crate::check::check`]).
#[wasm_bindgen]
pub fn check(policy: &str) -> String {
    crate::check::check(policy).to_string()
}

/// `vigil replay --format FORMAT` (empty `format`: the policy's own), with per-exchange
/// details ([`crate::replay_json`]).
#[wasm_bindgen]
pub fn replay(policy: &str, traffic: &str, format: &str) -> String {
    let f = (!format.is_empty()).then_some(format);
    crate::replay_json(policy, traffic, f).to_string()
}
