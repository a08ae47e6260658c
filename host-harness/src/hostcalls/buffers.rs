//! `proxy_get_buffer_bytes`, `proxy_set_buffer_bytes`. Body buffers hold the current chunk
//! during body callbacks; the plugin configuration is readable during `on_configure` only
//! (Envoy's `temp_plugin_`), the VM configuration always.

use wasmtime::{Caller, Linker};

use super::{copy_out_with, hit, link_err, read, status, HostResult};
use crate::abi::{BufferType, Status};
use crate::counting::{buffer_name, Hc};
use crate::state::HostState;

fn buffer(st: &HostState, t: BufferType) -> Option<&[u8]> {
    match t {
        BufferType::VmConfiguration => Some(&st.cfg.vm_config),
        BufferType::PluginConfiguration if st.in_configure => Some(&st.cfg.plugin_config),
        BufferType::HttpCallResponseBody => st.callout.as_ref().map(|c| c.body.as_slice()),
        // Envoy always has this buffer: empty outside a gRPC message (measured: probe).
        BufferType::GrpcReceiveBuffer => Some(st.grpc_message.as_deref().unwrap_or(&[])),
        BufferType::HttpRequestBody => st.acting_stream()?.request_body(),
        BufferType::HttpResponseBody => st.acting_stream()?.response_body(),
        _ => None,
    }
}

/// Links the buffer family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_get_buffer_bytes",
            |mut c: Caller<'_, HostState>,
             t: i32,
             start: i32,
             max: i32,
             pp: i32,
             sp: i32|
             -> HostResult {
                hit(&mut c, Hc::GetBufferBytes);
                copy_out_with(&mut c, pp, sp, |_, st, out| {
                    st.counters.detail(Hc::GetBufferBytes, |k| {
                        k.extend_from_slice(buffer_name(t as u32).as_bytes());
                    });
                    let t = BufferType::from_u32(t as u32).ok_or(Status::NotFound)?;
                    let (start, max) = (start as u32 as usize, max as u32 as usize);
                    let buf = buffer(st, t).ok_or(Status::NotFound)?;
                    let end = start.checked_add(max).ok_or(Status::BadArgument)?;
                    // cpp-host: clamp to the buffer; nothing is written when the length is 0.
                    let end = end.min(buf.len());
                    if end <= start {
                        return Err(Status::Ok);
                    }
                    out.extend_from_slice(&buf[start..end]);
                    Ok(())
                })
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_set_buffer_bytes",
            |mut c: Caller<'_, HostState>,
             t: i32,
             start: i32,
             size: i32,
             dp: i32,
             dl: i32|
             -> HostResult {
                hit(&mut c, Hc::SetBufferBytes);
                let data = match read(&mut c, dp, dl) {
                    Ok(d) => d,
                    Err(s) => return Ok(s.code()),
                };
                let (start, size) = (start as u32 as usize, size as u32 as usize);
                let st = c.data_mut();
                let Some(stream) = st.acting_stream_mut() else {
                    return Ok(Status::NotFound.code());
                };
                let buf = match BufferType::from_u32(t as u32) {
                    Some(BufferType::HttpRequestBody) => stream.body_mut(false),
                    Some(BufferType::HttpResponseBody) => stream.body_mut(true),
                    _ => return Ok(Status::BadArgument.code()),
                };
                let Some(buf) = buf else {
                    return Ok(Status::NotFound.code());
                };
                // Envoy `Buffer::copyFrom`: prepend, replace all, or append only.
                let r = if start == 0 && size == 0 {
                    let mut v = data;
                    v.extend_from_slice(buf);
                    *buf = v;
                    Ok(())
                } else if start == 0 && size >= buf.len() {
                    *buf = data;
                    Ok(())
                } else if start != 0 && start >= buf.len() {
                    buf.extend_from_slice(&data);
                    Ok(())
                } else {
                    Err(Status::BadArgument)
                };
                Ok(status(r))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
