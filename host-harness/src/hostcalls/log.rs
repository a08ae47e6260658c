//! `proxy_log`, `proxy_get_log_level`.

use wasmtime::{Caller, Linker};

use super::{link_err, read_str, status, write_u32, HostResult};
use crate::abi::{LogLevel, Status};
use crate::state::{HostState, LogEntry};

/// Links the log family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_log",
            |mut c: Caller<'_, HostState>, level: i32, ptr: i32, len: i32| -> HostResult {
                let Some(level) = LogLevel::from_u32(level as u32) else {
                    return Ok(Status::BadArgument.code());
                };
                let message = match read_str(&mut c, ptr, len) {
                    Ok(m) => m,
                    Err(s) => return Ok(s.code()),
                };
                let st = c.data_mut();
                // Envoy drops lines below the wasm logger's level.
                if level >= st.log_level {
                    st.logs.push(LogEntry { level, message });
                }
                Ok(0)
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_get_log_level",
            |mut c: Caller<'_, HostState>, ptr: i32| -> HostResult {
                let level = c.data().log_level as u32;
                Ok(status(write_u32(&mut c, ptr, level)))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
