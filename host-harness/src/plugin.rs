//! Loading and compiling a plugin module, with every hostcall family linked.

use std::path::Path;
use std::sync::Arc;

use wasmtime::{Engine, Linker, Module};

use crate::error::HarnessError;
use crate::state::HostState;

/// A compiled plugin module (compile once, instantiate many VMs).
#[derive(Clone)]
pub struct Plugin {
    pub(crate) engine: Engine,
    pub(crate) module: Module,
    pub(crate) linker: Arc<Linker<HostState>>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").finish_non_exhaustive()
    }
}

impl Plugin {
    /// Reads and compiles a `.wasm` file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, HarnessError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| HarnessError::Load {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            HarnessError::Load { message, .. } => HarnessError::Load {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// Compiles a module from bytes (or WAT text when wasmtime's `wat` feature is on).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HarnessError> {
        let load = |message: String| HarnessError::Load {
            path: "<bytes>".into(),
            message,
        };
        let engine = Engine::default();
        let module = Module::new(&engine, bytes).map_err(|e| load(format!("{e:#}")))?;
        if !module
            .exports()
            .any(|e| e.name().starts_with("proxy_abi_version_"))
        {
            return Err(HarnessError::MissingExport(
                "proxy_abi_version_0_2_1".into(),
            ));
        }
        let mut linker = Linker::new(&engine);
        crate::hostcalls::add_all(&mut linker).map_err(|e| load(e.to_string()))?;
        Ok(Self {
            engine,
            module,
            linker: Arc::new(linker),
        })
    }

    /// Imports the module declares, as `module::name`.
    pub fn imports(&self) -> Vec<String> {
        self.module
            .imports()
            .map(|i| format!("{}::{}", i.module(), i.name()))
            .collect()
    }
}
