//! `proxy_log`, `proxy_get_log_level`.

use wasmtime::{Caller, Linker};

use super::{hit, link_err, slice, status, with_memory, write_u32, HostResult};
use crate::abi::{LogLevel, Status};
use crate::counting::Hc;
use crate::state::{HostState, LogEntry};

/// Links the log family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_log",
            |mut c: Caller<'_, HostState>, level: i32, ptr: i32, len: i32| -> HostResult {
                hit(&mut c, Hc::Log);
                let Some(level) = LogLevel::from_u32(level as u32) else {
                    return Ok(Status::BadArgument.code());
                };
                let r = with_memory(&mut c, |mem, st| {
                    let message = slice(mem, ptr, len)?;
                    // Envoy drops lines below the wasm logger's level.
                    if level >= st.log_level {
                        // `from_utf8` validates ASCII fast; lossy only when needed.
                        let message = match std::str::from_utf8(message) {
                            Ok(m) => m.to_owned(),
                            Err(_) => String::from_utf8_lossy(message).into_owned(),
                        };
                        st.logs.push(LogEntry { level, message });
                    }
                    Ok(())
                });
                Ok(status(r))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_get_log_level",
            |mut c: Caller<'_, HostState>, ptr: i32| -> HostResult {
                hit(&mut c, Hc::GetLogLevel);
                let level = c.data().log_level as u32;
                Ok(status(write_u32(&mut c, ptr, level)))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
