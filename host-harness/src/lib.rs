//! Vigil host harness: a wasmtime host for proxy-wasm ABI 0.2.1 plugins that emulates
//! Envoy 1.40, to run the same `.wasm` Envoy loads (wasm32-wasip1, Rust SDK 0.2.5).
//!
//! ```no_run
//! use vigil_harness::{Plugin, SharedData, Vm, VmOptions, traffic};
//! # fn main() -> Result<(), vigil_harness::HarnessError> {
//! let plugin = Plugin::load("target/wasm32-wasip1/release/vigil_plugin.wasm")?;
//! let shared = SharedData::new();
//! let mut vm = Vm::new(&plugin, VmOptions { shared: shared.clone(), ..VmOptions::default() })?;
//! assert!(vm.start()?);
//! let xs = traffic::parse_traffic("t.jsonl", traffic::FORMAT_LINE)?;
//! for x in &xs {
//!     let out = vm.run(x)?;
//!     assert!(out.vm_failed.is_none());
//! }
//! let events = vm.take_events();
//! # let _ = events; Ok(()) }
//! ```
//!
//! See [`fidelity`] for what each hostcall does compared with Envoy.

pub mod abi;
pub mod access_log;
pub mod counting;
pub mod error;
pub mod exchange;
pub mod expect;
pub mod failure;
pub mod fidelity;
mod grpc;
pub mod harness;
pub mod hostcalls;
mod lifecycle;
mod pause;
pub mod plugin;
pub mod shared;
pub mod state;
mod stream_headers;
pub mod trace;
pub use vigil_traffic as traffic;
pub mod vm;

pub use abi::{Action, LogLevel, MetricType, Status};
pub use access_log::AccessLogger;
pub use counting::Category;
pub use error::{HarnessError, TrafficError};
pub use failure::{FailurePolicy, HostReply, ReloadStats};
pub use harness::Harness;
pub use shared::{MetricValue, SharedData, SharedDataStats};
pub use state::{
    HostState, HttpCallResponse, LocalResponse, LogEntry, PendingGrpcCall, PendingHttpCall,
};
pub use traffic::Exchange;
pub use vm::{is_event, ExchangeOutcome, Plugin, Vm, VmOptions};
