//! Shared queues: register (by this VM's vm_id), resolve (by any vm_id), enqueue, dequeue.
//!
//! As in Envoy 1.40 (verified with the conformance probe, `tests/all/conformance_queue.rs`):
//! the queue belongs to the registering VM's root context, whatever context registers it, and
//! to the last VM that registered it (a bootstrap singleton's canary registers first, the
//! real service last); an empty vm_id in `resolve` means the caller's own. Each enqueue
//! posts one `proxy_on_queue_ready` to the owner (delivered by `Vm::deliver_queue_ready`;
//! [`crate::Harness`] delivers after every request, as the owner's thread would).

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
                let owner = (st.instance, st.root_context_id);
                let id = st.shared.register_queue(&st.cfg.vm_id, &name, owner);
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
                let st = c.data();
                let vm_id = if vm_id.is_empty() {
                    st.cfg.vm_id.clone()
                } else {
                    vm_id
                };
                match st.shared.resolve_queue(&vm_id, &name) {
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
