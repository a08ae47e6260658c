//! # vigil-plugin: Vigil's proxy-wasm filter
//!
//! A thin adapter over [`vigil_policies`]: it reads what the policy needs through
//! non-panicking `*_bytes`-style hostcalls ([`hostcalls`]), hands it to the engine, and
//! hands the engine's typed events to the policy's sinks ([`sinks`]): filter state for
//! Envoy's access loggers, or Envoy's log. Counters and gauges go to proxy-wasm metrics
//! (`vigil.*`; Envoy shows them as `wasmcustom.vigil.*`), batched and flushed on a tick.
//!
//! Build: `cargo build --release --target wasm32-wasip1 -p vigil-plugin` →
//! `target/wasm32-wasip1/release/vigil_plugin.wasm`.
//!
//! Configuration: the plugin configuration is a policy (JSON, see
//! `vigil_policies::policy`); empty means the OWASP baseline. A bad policy makes
//! `on_configure` return false after logging, at level error, a line naming the JSON path of
//! the problem, so Envoy rejects the filter config.

pub mod abi;
mod dispatch;
pub mod filter;
pub mod host;
pub mod hostcalls;
pub mod sinks;
