//! `proxy_get_shared_data`, `proxy_set_shared_data` (namespaced by vm_id, as cpp-host).

use wasmtime::{Caller, Linker};

use super::{
    copy_out_with, hit, link_err, slice, status, text, with_memory, write_u32, HostResult,
};
use crate::counting::Hc;
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
                hit(&mut c, Hc::GetSharedData);
                let mut cas = 0;
                let r = copy_out_with(&mut c, vpp, vsp, |mem, st, out| {
                    let key = text(slice(mem, kp, kl)?);
                    cas = st.shared.get_into(&st.cfg.vm_id, &key, out)?;
                    Ok(())
                })?;
                if r != 0 {
                    return Ok(r);
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
                hit(&mut c, Hc::SetSharedData);
                let r = with_memory(&mut c, |mem, st| {
                    let key = text(slice(mem, kp, kl)?);
                    let value = slice(mem, vp, vl)?;
                    st.shared.set(&st.cfg.vm_id, &key, value, cas as u32)
                });
                Ok(status(r))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
