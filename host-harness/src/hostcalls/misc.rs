//! Context control and the remaining ABI: `proxy_set_effective_context`, `proxy_done`,
//! `proxy_continue_stream`, `proxy_close_stream`,
//! `proxy_send_local_response` and `proxy_get_status` (the gRPC calls: [`super::grpc`]).

use wasmtime::{Caller, Linker};

use super::{deserialize_pairs, hit, link_err, read, read_str, status, write_u32, HostResult};
use crate::abi::Status;
use crate::counting::Hc;
use crate::state::{HostState, LocalResponse};

fn local_response(
    c: &mut Caller<'_, HostState>,
    code: i32,
    det: (i32, i32),
    body: (i32, i32),
    hdr: (i32, i32),
    grpc: i32,
) -> Result<(), Status> {
    let details = read_str(c, det.0, det.1)?;
    let body = read(c, body.0, body.1)?;
    let headers = deserialize_pairs(&read(c, hdr.0, hdr.1)?)
        .ok_or(Status::BadArgument)?
        .into_iter()
        .map(|(k, v)| (String::from_utf8_lossy(&k).to_ascii_lowercase(), v))
        .collect();
    let st = c.data_mut();
    let context_id = st.context();
    let reply = LocalResponse {
        context_id,
        status: code as u32,
        details,
        body,
        headers,
        grpc_status: grpc,
    };
    if let Some(s) = st.stream.as_mut().filter(|s| s.id == context_id) {
        // The first reply wins: it ends the request.
        s.local_reply.get_or_insert_with(|| reply.clone());
    }
    st.local_responses.push(reply);
    Ok(())
}

/// Links the misc family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_set_effective_context",
            |mut c: Caller<'_, HostState>, ctx: i32| -> HostResult {
                hit(&mut c, Hc::SetEffectiveContext);
                let st = c.data_mut();
                let ctx = ctx as u32;
                let known =
                    ctx == st.root_context_id || st.stream.as_ref().is_some_and(|s| s.id == ctx);
                if !known {
                    return Ok(Status::BadArgument.code());
                }
                st.effective_context = Some(ctx);
                Ok(0)
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_done",
            |mut c: Caller<'_, HostState>| -> HostResult {
                hit(&mut c, Hc::Done);
                // Envoy (cpp-host `WasmBase::done`): `Ok` only for a root whose `on_done`
                // answered false at shutdown (pending done); its `on_delete` follows.
                let st = c.data_mut();
                if !st.pending_done {
                    return Ok(status(Err(Status::NotFound)));
                }
                st.pending_done = false;
                st.delete_due = true;
                st.done_calls += 1;
                Ok(0)
            },
        )
        .map_err(link_err)?;
    for (name, h) in [
        ("proxy_continue_stream", Hc::ContinueStream),
        ("proxy_close_stream", Hc::CloseStream),
    ] {
        linker
            .func_wrap(
                "env",
                name,
                move |mut c: Caller<'_, HostState>, ty: i32| -> HostResult {
                    hit(&mut c, h);
                    if !(0..=3).contains(&ty) {
                        return Ok(Status::BadArgument.code());
                    }
                    let st = c.data_mut();
                    st.stream_controls.push(format!("{name}({ty})"));
                    let ctx = st.context();
                    if name == "proxy_continue_stream" && ty == 0 {
                        if let Some(s) = st.stream.as_mut().filter(|s| s.id == ctx) {
                            // Envoy clears `request_headers_` as it resumes, inside the call
                            // (verified: conformance probe).
                            s.resumed_request = true;
                            s.request_live = false;
                        }
                    }
                    Ok(0)
                },
            )
            .map_err(link_err)?;
    }
    linker
        .func_wrap(
            "env",
            "proxy_send_local_response",
            |mut c: Caller<'_, HostState>,
             code: i32,
             dp: i32,
             dl: i32,
             bp: i32,
             bl: i32,
             hp: i32,
             hl: i32,
             grpc: i32|
             -> HostResult {
                hit(&mut c, Hc::SendLocalResponse);
                Ok(status(local_response(
                    &mut c,
                    code,
                    (dp, dl),
                    (bp, bl),
                    (hp, hl),
                    grpc,
                )))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_get_status",
            |mut c: Caller<'_, HostState>, cp: i32, mpp: i32, msp: i32| -> HostResult {
                hit(&mut c, Hc::GetStatus);
                // The last gRPC close's code and message (0 and empty before any).
                let (code, message) = c.data().grpc_status.clone();
                if let Err(s) = write_u32(&mut c, cp, code) {
                    return Ok(s.code());
                }
                Ok(status(super::copy_out(&mut c, &message, mpp, msp)?))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
