//! Typed errors of the harness library.

use thiserror::Error;

/// Any failure of the harness library.
#[derive(Debug, Error)]
pub enum HarnessError {
    /// The module could not be read or compiled.
    #[error("cannot load plugin {path}: {message}")]
    Load {
        /// File path.
        path: String,
        /// Cause.
        message: String,
    },
    /// The module imports something neither Envoy nor the harness provides.
    #[error("plugin imports unknown function `{module}::{name}` (Envoy does not provide it)")]
    UnknownImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// A required export is missing or has the wrong type.
    #[error("plugin export `{0}` is missing or has an unexpected signature")]
    MissingExport(String),
    /// Instantiation failed.
    #[error("cannot instantiate plugin: {0}")]
    Instantiate(String),
    /// The wasm code trapped (Envoy would mark the VM failed).
    #[error("wasm trap in {callback}: {message}")]
    Trap {
        /// Callback that trapped.
        callback: String,
        /// Trap message.
        message: String,
    },
    /// The VM failed earlier and cannot run callbacks anymore.
    #[error("VM failed earlier: {0}")]
    VmFailed(String),
    /// The VM was used before `start()` succeeded.
    #[error("VM not started (call start() first and check it returned true)")]
    NotStarted,
    /// No pending HTTP callout with that token.
    #[error("no pending HTTP call with token {0}")]
    UnknownHttpCall(u32),
    /// No pending unary gRPC call with that token.
    #[error("no pending gRPC call with token {0}")]
    UnknownGrpcCall(u32),
    /// A traffic file problem.
    #[error(transparent)]
    Traffic(#[from] TrafficError),
    /// An I/O problem.
    #[error("{0}")]
    Io(String),
}

pub use vigil_traffic::TrafficError;
