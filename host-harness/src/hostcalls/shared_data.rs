//! `proxy_get_shared_data`, `proxy_set_shared_data` (namespaced by vm_id, as cpp-host).

use wasmtime::{Caller, Linker};

use super::{copy_out, link_err, read, read_str, status, write_u32, HostResult};
use crate::state::HostState;

/// Links the shared-data family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_get_shared_data",
            |mut c: Caller<'_, HostState>,
             kp: i32,
             kl: i32,
             vpp: i32,
             vsp: i32,
             casp: i32|
             -> HostResult {
                let key = match read_str(&mut c, kp, kl) {
                    Ok(k) => k,
                    Err(s) => return Ok(s.code()),
                };
                let (value, cas) = match c.data().shared.get(&c.data().cfg.vm_id, &key) {
                    Ok(v) => v,
                    Err(s) => return Ok(s.code()),
                };
                if let Err(s) = copy_out(&mut c, &value, vpp, vsp)? {
                    return Ok(s.code());
                }
                Ok(status(write_u32(&mut c, casp, cas)))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_set_shared_data",
            |mut c: Caller<'_, HostState>,
             kp: i32,
             kl: i32,
             vp: i32,
             vl: i32,
             cas: i32|
             -> HostResult {
                let key = match read_str(&mut c, kp, kl) {
                    Ok(k) => k,
                    Err(s) => return Ok(s.code()),
                };
                let value = match read(&mut c, vp, vl) {
                    Ok(v) => v,
                    Err(s) => return Ok(s.code()),
                };
                let st = c.data();
                Ok(status(st.shared.set(
                    &st.cfg.vm_id,
                    &key,
                    &value,
                    cas as u32,
                )))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
