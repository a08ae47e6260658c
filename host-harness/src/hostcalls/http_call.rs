//! `proxy_http_call`: recorded as a pending callout of the root context (it outlives the
//! stream that dispatched it), answered from the exchange's `callouts` while the stream
//! waits, or by the test through `Vm::respond_http_call` / `Vm::fail_http_call`. Tokens are
//! Envoy's: 4, 8, 12, …. Unknown cluster, or headers without
//! `:method`, `:path` and `:authority` → `BadArgument`, as in Envoy's `Context::httpCall`.

use wasmtime::{Caller, Linker};

use super::{deserialize_pairs, hit, link_err, read, read_str, status, write_u32, HostResult};
use crate::abi::Status;
use crate::counting::Hc;
use crate::state::{HostState, PendingHttpCall};
use crate::traffic::Header;

pub(crate) fn pairs(raw: &[u8]) -> Result<Vec<Header>, Status> {
    Ok(deserialize_pairs(raw)
        .ok_or(Status::BadArgument)?
        .into_iter()
        .map(|(k, v)| (String::from_utf8_lossy(&k).to_ascii_lowercase(), v))
        .collect())
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    c: &mut Caller<'_, HostState>,
    up: (i32, i32),
    hd: (i32, i32),
    bd: (i32, i32),
    tr: (i32, i32),
    timeout: i32,
    tokp: i32,
) -> Result<(), Status> {
    let cluster = read_str(c, up.0, up.1)?;
    let headers = pairs(&read(c, hd.0, hd.1)?)?;
    let body = read(c, bd.0, bd.1)?;
    let trailers = pairs(&read(c, tr.0, tr.1)?)?;
    if timeout < 0 || !c.data().cfg.clusters.contains(&cluster) {
        return Err(Status::BadArgument);
    }
    for required in [":method", ":path", ":authority"] {
        if !headers.iter().any(|(k, _)| k == required) {
            return Err(Status::BadArgument);
        }
    }
    let st = c.data_mut();
    let step = crate::state::HTTP_CALL_TOKEN_STEP;
    let mut token = st.next_token;
    while token == 0 || st.http_calls.contains_key(&token) {
        token = token.wrapping_add(step);
    }
    st.next_token = token.wrapping_add(step);
    let context_id = st.context();
    st.dispatch_seq += 1;
    let seq = st.dispatch_seq;
    st.http_calls.insert(
        token,
        PendingHttpCall {
            token,
            context_id,
            cluster,
            headers,
            body,
            trailers,
            timeout_ms: timeout as u32,
            seq,
        },
    );
    write_u32(c, tokp, token)
}

/// Links the HTTP callout family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_http_call",
            |mut c: Caller<'_, HostState>,
             upp: i32,
             upl: i32,
             hp: i32,
             hl: i32,
             bp: i32,
             bl: i32,
             tp: i32,
             tl: i32,
             timeout: i32,
             tokp: i32|
             -> HostResult {
                hit(&mut c, Hc::HttpCall);
                Ok(status(dispatch(
                    &mut c,
                    (upp, upl),
                    (hp, hl),
                    (bp, bl),
                    (tp, tl),
                    timeout,
                    tokp,
                )))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
