//! # vigil-envoy-module: Vigil as an Envoy dynamic module
//!
//! The same [`vigil_policies`] engine as the proxy-wasm filter (`plugin/`), adapted to Envoy
//! 1.40's native dynamic-module ABI: Envoy `dlopen`s `libvigil_envoy_module.so` and calls its
//! hooks through plain function pointers, on every worker thread, with no VM in between.
//!
//! - [`ffi`] holds every `unsafe` line: the hand-written ABI declarations and the exported
//!   hooks, each run under `catch_unwind` ([`panics`]). Every other module is
//!   `#![forbid(unsafe_code)]`.
//! - [`exchange`] implements the engine's `Exchange` over the stream's headers and attributes,
//!   as `plugin/src/host.rs` does over proxy-wasm; [`filter`] drives the engine per stream;
//!   [`sinks`] writes records as filter state (`vigil.event.<i>`) or to Envoy's log.
//! - [`store`] is the detectors' shared store: process memory shared by the worker threads,
//!   bounded, with compare-and-swap tokens.
//! - [`config`] parses the policy (`filter_config`) and runs the ABI self-test;
//!   [`abi_check`] compares attribute values with headers on the first live request.
//!
//! Build: `cargo build --profile module -p vigil-envoy-module` →
//! `target/module/libvigil_envoy_module.so` (the `module` profile unwinds panics).

pub mod abi_check;
pub mod config;
pub mod exchange;
pub mod ffi;
pub mod filter;
pub mod panics;
pub mod sinks;
pub mod store;
