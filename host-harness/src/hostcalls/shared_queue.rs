//! Shared queues: register (by this VM's vm_id), resolve (by any vm_id), enqueue, dequeue.
//! `proxy_on_queue_ready` is delivered by `Vm::deliver_queue_ready`.

use wasmtime::{Caller, Linker};

use super::{copy_out, hit, link_err, read, read_str, status, write_u32, HostResult};
use crate::counting::Hc;
use crate::state::HostState;

/// Links the shared-queue family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_register_shared_queue",
            |mut c: Caller<'_, HostState>, np: i32, nl: i32, idp: i32| -> HostResult {
                hit(&mut c, Hc::RegisterSharedQueue);
                let name = match read_str(&mut c, np, nl) {
                    Ok(n) => n,
                    Err(s) => return Ok(s.code()),
                };
                let st = c.data();
                let id =
                    st.shared
                        .register_queue(&st.cfg.vm_id, &name, (st.instance, st.context()));
                Ok(status(write_u32(&mut c, idp, id)))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_resolve_shared_queue",
            |mut c: Caller<'_, HostState>,
             vp: i32,
             vl: i32,
             np: i32,
             nl: i32,
             idp: i32|
             -> HostResult {
                hit(&mut c, Hc::ResolveSharedQueue);
                let vm_id = match read_str(&mut c, vp, vl) {
                    Ok(n) => n,
                    Err(s) => return Ok(s.code()),
                };
                let name = match read_str(&mut c, np, nl) {
                    Ok(n) => n,
                    Err(s) => return Ok(s.code()),
                };
                match c.data().shared.resolve_queue(&vm_id, &name) {
                    Some(id) => Ok(status(write_u32(&mut c, idp, id))),
                    None => Ok(crate::abi::Status::NotFound.code()),
                }
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_enqueue_shared_queue",
            |mut c: Caller<'_, HostState>, id: i32, vp: i32, vl: i32| -> HostResult {
                hit(&mut c, Hc::EnqueueSharedQueue);
                let value = match read(&mut c, vp, vl) {
                    Ok(v) => v,
                    Err(s) => return Ok(s.code()),
                };
                Ok(status(c.data().shared.enqueue(id as u32, &value)))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_dequeue_shared_queue",
            |mut c: Caller<'_, HostState>, id: i32, vpp: i32, vsp: i32| -> HostResult {
                hit(&mut c, Hc::DequeueSharedQueue);
                let value = match c.data().shared.dequeue(id as u32) {
                    Ok(v) => v,
                    Err(s) => return Ok(s.code()),
                };
                Ok(status(copy_out(&mut c, &value, vpp, vsp)?))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
