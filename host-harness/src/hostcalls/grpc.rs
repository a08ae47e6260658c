//! The gRPC family. Unary calls (`proxy_grpc_call`) are emulated as Envoy 1.40 runs them
//! (measured with the conformance probe through Envoy's own gRPC client): tokens 5, 9, 13, …
//! (HTTP callouts count apart: 4, 8, …); the call is answered from the exchange's
//! `callouts` in dispatch order, or by [`crate::Vm::respond_grpc_call`]. Streams
//! (`proxy_grpc_stream`) are not: `InternalFailure`.

use wasmtime::{Caller, Linker};

use super::http_call::pairs;
use super::{hit, link_err, read, read_str, status, write_u32, HostResult};
use crate::abi::Status;
use crate::counting::Hc;
use crate::state::{HostState, PendingGrpcCall, HTTP_CALL_TOKEN_STEP};

/// `(ptr, len)` of a guest buffer.
type Buf = (i32, i32);

#[allow(clippy::too_many_arguments)] // the ABI's own argument list
fn dispatch(
    c: &mut Caller<'_, HostState>,
    service: Buf,
    name: Buf,
    method: Buf,
    metadata: Buf,
    message: Buf,
    timeout: i32,
    tokp: i32,
) -> Result<(), Status> {
    let cluster = read_str(c, service.0, service.1)?;
    let service_name = read_str(c, name.0, name.1)?;
    let method = read_str(c, method.0, method.1)?;
    let metadata = pairs(&read(c, metadata.0, metadata.1)?)?;
    let message = read(c, message.0, message.1)?;
    if timeout < 0 || !c.data().cfg.clusters.contains(&cluster) {
        return Err(Status::BadArgument);
    }
    let st = c.data_mut();
    let mut token = st.last_grpc_token;
    loop {
        token = token.wrapping_add(HTTP_CALL_TOKEN_STEP);
        if !st.grpc_calls.contains_key(&token) {
            break;
        }
    }
    st.last_grpc_token = token;
    st.dispatch_seq += 1;
    let call = PendingGrpcCall {
        token,
        context_id: st.context(),
        cluster,
        service: service_name,
        method,
        metadata,
        message,
        timeout_ms: timeout as u32,
        seq: st.dispatch_seq,
    };
    st.grpc_calls.insert(token, call);
    write_u32(c, tokp, token)
}

/// Links the gRPC family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_grpc_call",
            |mut c: Caller<'_, HostState>,
             sp: i32,
             sl: i32,
             np: i32,
             nl: i32,
             mp: i32,
             ml: i32,
             hp: i32,
             hl: i32,
             bp: i32,
             bl: i32,
             timeout: i32,
             tokp: i32|
             -> HostResult {
                hit(&mut c, Hc::GrpcCall);
                Ok(status(dispatch(
                    &mut c,
                    (sp, sl),
                    (np, nl),
                    (mp, ml),
                    (hp, hl),
                    (bp, bl),
                    timeout,
                    tokp,
                )))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_grpc_stream",
            |mut c: Caller<'_, HostState>,
             _a: i32,
             _b: i32,
             _d: i32,
             _e: i32,
             _f: i32,
             _g: i32,
             _h: i32,
             _i: i32,
             _tok: i32|
             -> HostResult {
                hit(&mut c, Hc::GrpcStream);
                Ok(Status::InternalFailure.code())
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_grpc_send",
            |mut c: Caller<'_, HostState>, _t: i32, _p: i32, _l: i32, _e: i32| -> HostResult {
                hit(&mut c, Hc::GrpcSend);
                Ok(Status::NotFound.code())
            },
        )
        .map_err(link_err)?;
    // Cancel or close a pending unary call: it is dropped, no callback follows.
    for (name, h) in [
        ("proxy_grpc_cancel", Hc::GrpcCancel),
        ("proxy_grpc_close", Hc::GrpcClose),
    ] {
        linker
            .func_wrap(
                "env",
                name,
                move |mut c: Caller<'_, HostState>, t: i32| -> HostResult {
                    hit(&mut c, h);
                    let removed = c.data_mut().grpc_calls.remove(&(t as u32)).is_some();
                    Ok(if removed { 0 } else { Status::NotFound.code() })
                },
            )
            .map_err(link_err)?;
    }
    Ok(())
}
