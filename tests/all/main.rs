//! Vigil's integration tests, one binary: golden scenarios through the wasmtime harness,
//! end-to-end tests through a real Envoy, and consistency checks.

mod chain;
mod conformance;
mod conformance_lifecycle;
mod conformance_queue;
mod conformance_wasi;
mod consistency;
mod detectors;
mod e2e_bad_policy;
mod e2e_baseline;
mod e2e_brute_force;
mod e2e_configs;
mod e2e_detectors;
mod e2e_hostile;
mod e2e_module;
mod e2e_parity;
mod e2e_routes;
mod fidelity;
mod formats;
mod golden_scenarios;
mod playground;
