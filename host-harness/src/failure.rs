//! What Envoy does when a plugin traps: the stream's local reply, and for the requests after
//! it the plugin's `failure_policy` (fail closed, fail open, or reload after a backoff).
//!
//! Measured in Envoy 1.40 on V8 with the conformance probe trapping in
//! `on_request_headers` (`tests/all/conformance_lifecycle.rs`):
//! - the trapping stream ends with a local reply `503`, `content-length: 0`, no body,
//!   `response_code_details` `wasm_fail_stream`, no response flags, nothing sent upstream,
//!   and no further callback into the VM for that stream (no `on_log`, `on_done`,
//!   `on_delete`); the access loggers still run;
//! - `FAIL_CLOSED` (Envoy's default): every later request on that worker gets the same 503,
//!   without entering the VM;
//! - `FAIL_OPEN`: later requests pass through as if the filter were absent;
//! - `FAIL_RELOAD`: a request within the reload backoff gets the 503 and counts
//!   `wasm.<plugin>.vm_reload_backoff`. The backoff runs from the worker's last load (its
//!   start, or the last reload attempt), not from the trap, and lasts a random 1-2 s in
//!   Envoy (`JitteredLowerBoundBackOffStrategy`, base 1 s, drawn at every check); the
//!   harness uses the lower bound, 1 s. The first request after it reloads the VM (a fresh
//!   instance: `_initialize`, root context 1, `on_vm_start`, `on_configure`; stream context
//!   ids start again at 2), counts `vm_reload_success`, and runs on the new VM;
//! - the failed VM never gets the root's `on_done`/`on_delete`.

/// `PluginConfig.failure_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// `FAIL_CLOSED` (also what `UNSPECIFIED` means): 503 for every later request.
    #[default]
    FailClosed,
    /// `FAIL_OPEN`: later requests bypass the plugin.
    FailOpen,
    /// `FAIL_RELOAD`: reload the VM on the first request after the backoff.
    FailReload,
}

impl FailurePolicy {
    /// Parses Envoy's enum name (`FAIL_CLOSED`, `FAIL_OPEN`, `FAIL_RELOAD`, `UNSPECIFIED`).
    pub fn from_envoy(name: &str) -> Option<Self> {
        match name {
            "FAIL_CLOSED" | "UNSPECIFIED" => Some(Self::FailClosed),
            "FAIL_OPEN" => Some(Self::FailOpen),
            "FAIL_RELOAD" => Some(Self::FailReload),
            _ => None,
        }
    }
}

/// The reload backoff's base interval (Envoy's default `reload_config.backoff`, 1 s; Envoy
/// jitters it, the harness does not).
pub const RELOAD_BACKOFF_NS: u64 = 1_000_000_000;

/// The code details of Envoy's reply to a stream whose VM failed.
pub const WASM_FAIL_STREAM: &str = "wasm_fail_stream";

/// A reply Envoy itself sent for the stream because of the plugin's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostReply {
    /// HTTP status (503).
    pub status: u16,
    /// `response.code_details` (`wasm_fail_stream`).
    pub code_details: &'static str,
}

impl HostReply {
    /// Envoy's reply to a stream whose VM failed.
    pub fn wasm_fail_stream() -> Self {
        HostReply {
            status: 503,
            code_details: WASM_FAIL_STREAM,
        }
    }
}

/// What the failure policy did, as Envoy's `wasm.<plugin>.vm_reload*` counters say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadStats {
    /// Requests refused within the backoff (`vm_reload_backoff`).
    pub backoff: u64,
    /// Reloads that started the new VM (`vm_reload_success`).
    pub success: u64,
    /// Reloads whose new VM refused to start (`vm_reload_failure`).
    pub failure: u64,
}

/// Whether a trap in this callback still lets Envoy answer the stream with its 503 (the
/// response has not started towards the client). Measured for `on_request_headers`; the
/// other request callbacks and `on_response_headers` follow Envoy's filter manager (a local
/// reply is possible until response headers are encoded), unmeasured.
pub fn trap_gets_reply(callback: &str) -> bool {
    matches!(
        callback,
        "proxy_on_context_create"
            | "proxy_on_request_headers"
            | "proxy_on_request_body"
            | "proxy_on_request_trailers"
            | "proxy_on_response_headers"
    )
}
