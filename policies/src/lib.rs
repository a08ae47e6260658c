//! # vigil-policies: Vigil's brain
//!
//! Pure Rust, with no proxy-wasm and no wasmtime dependency: the policy schema
//! ([`policy`], presets in [`presets`]), classification of request/response facts into
//! events ([`classify`]), the event vocabulary ([`action`]) and model ([`event`]), the
//! encoders ([`encode`]: Elastic Common Schema in [`ecs`]) over safe string encoding
//! ([`escape`]), Envoy's byte-level facts ([`envoy`]), identity
//! and redaction ([`identity`], [`body_scan`], [`fingerprint`]), and detectors
//! ([`detect`]). Hosts plug in through small traits: [`exchange::Exchange`] (what a
//! request looked like), [`shared::SharedStore`] (cross-worker counters) and
//! [`metrics::Metrics`] (counters). [`engine::Engine`] ties them together.

pub mod action;
pub mod body_scan;
pub mod cef;
pub mod chain;
pub mod classify;
pub mod detect;
pub mod ecs;
pub mod encode;
pub mod engine;
pub mod envoy;
pub mod escape;
pub mod event;
pub mod exchange;
pub mod explain;
pub mod fingerprint;
pub mod headers;
pub mod identity;
mod json;
mod jsonw;
pub mod metrics;
pub mod ocsf;
pub mod owasp;
pub mod pattern;
pub mod policy;
pub mod presets;
pub mod redact;
pub mod route;
pub mod rules;
pub mod shared;
pub mod time;

pub use engine::{Engine, RequestState};
pub use policy::{Policy, PolicyError};
