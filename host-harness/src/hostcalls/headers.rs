//! Header/trailer maps, following Envoy's `Context::getConstMap` / `getMap`: a map Envoy
//! has not seen yet is null: `get_header_map_value` and writes return `BadArgument`,
//! `get_header_map_pairs` returns an empty map. A missing header is `NotFound` (ABI 0.2.1).

use wasmtime::{Caller, Linker};

use super::{
    copy_out_with, deserialize_pairs, hit, link_err, read, read_str, serialize_pairs_into, slice,
    status, write_u32, HostResult,
};
use crate::abi::{MapType, Status};
use crate::counting::{map_name, Hc};
use crate::state::{HostState, Stage};
use crate::traffic::Header;

/// The map Envoy would expose read-only to the acting context.
pub(crate) fn const_map(st: &HostState, t: MapType) -> Option<&Vec<Header>> {
    match t {
        MapType::HttpCallResponseHeaders => st.callout.as_ref().map(|c| &c.headers),
        MapType::HttpCallResponseTrailers => st.callout.as_ref().map(|c| &c.trailers),
        MapType::GrpcReceiveInitialMetadata | MapType::GrpcReceiveTrailingMetadata => None,
        _ => {
            let s = st.acting_stream()?;
            match t {
                MapType::HttpRequestHeaders if s.request_live || s.stage == Stage::Log => {
                    Some(&s.request_headers)
                }
                MapType::HttpRequestTrailers => s.request_trailers.as_ref(),
                MapType::HttpResponseHeaders if s.response_live || s.stage == Stage::Log => {
                    s.response_headers.as_ref()
                }
                MapType::HttpResponseTrailers => s.response_trailers.as_ref(),
                _ => None,
            }
        }
    }
}

/// The map Envoy would expose writable to the acting context.
fn mut_map(st: &mut HostState, t: MapType) -> Option<&mut Vec<Header>> {
    let s = st.acting_stream_mut()?;
    match t {
        MapType::HttpRequestHeaders if s.request_live => Some(&mut s.request_headers),
        MapType::HttpRequestTrailers => s.request_trailers.as_mut(),
        MapType::HttpResponseHeaders if s.response_live => s.response_headers.as_mut(),
        MapType::HttpResponseTrailers => s.response_trailers.as_mut(),
        _ => None,
    }
}

fn with_mut(
    c: &mut Caller<'_, HostState>,
    t: i32,
    f: impl FnOnce(&mut Vec<Header>),
) -> Result<(), Status> {
    let t = MapType::from_u32(t as u32).ok_or(Status::BadArgument)?;
    let m = mut_map(c.data_mut(), t).ok_or(Status::BadArgument)?;
    f(m);
    Ok(())
}

fn key_value(
    c: &mut Caller<'_, HostState>,
    kp: i32,
    kl: i32,
    vp: i32,
    vl: i32,
) -> Result<(String, Vec<u8>), Status> {
    Ok((read_str(c, kp, kl)?.to_ascii_lowercase(), read(c, vp, vl)?))
}

/// Links the header-map family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_get_header_map_value",
            |mut c: Caller<'_, HostState>,
             t: i32,
             kp: i32,
             kl: i32,
             vpp: i32,
             vsp: i32|
             -> HostResult {
                hit(&mut c, Hc::GetHeaderMapValue);
                copy_out_with(&mut c, vpp, vsp, |mem, st, out| {
                    let key = slice(mem, kp, kl)?;
                    st.counters.detail(Hc::GetHeaderMapValue, |k| {
                        k.extend_from_slice(map_name(t as u32).as_bytes());
                        k.push(b' ');
                        k.extend(key.iter().map(u8::to_ascii_lowercase));
                    });
                    let t = MapType::from_u32(t as u32).ok_or(Status::BadArgument)?;
                    let m = const_map(st, t).ok_or(Status::BadArgument)?;
                    // Envoy lower-cases the key; stored names are lower case.
                    let (_, v) = m
                        .iter()
                        .find(|(k, _)| k.as_bytes().eq_ignore_ascii_case(key))
                        .ok_or(Status::NotFound)?;
                    out.extend_from_slice(v);
                    Ok(())
                })
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_get_header_map_pairs",
            |mut c: Caller<'_, HostState>, t: i32, pp: i32, sp: i32| -> HostResult {
                hit(&mut c, Hc::GetHeaderMapPairs);
                copy_out_with(&mut c, pp, sp, |_, st, out| {
                    st.counters.detail(Hc::GetHeaderMapPairs, |k| {
                        k.extend_from_slice(map_name(t as u32).as_bytes());
                    });
                    let t = MapType::from_u32(t as u32).ok_or(Status::BadArgument)?;
                    if let Some(m) = const_map(st, t).filter(|m| !m.is_empty()) {
                        serialize_pairs_into(out, m);
                    }
                    Ok(())
                })
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_set_header_map_pairs",
            |mut c: Caller<'_, HostState>, t: i32, p: i32, l: i32| -> HostResult {
                hit(&mut c, Hc::SetHeaderMapPairs);
                let raw = match read(&mut c, p, l) {
                    Ok(r) => r,
                    Err(s) => return Ok(s.code()),
                };
                let Some(pairs) = deserialize_pairs(&raw) else {
                    return Ok(Status::BadArgument.code());
                };
                Ok(status(with_mut(&mut c, t, |m| {
                    *m = pairs
                        .into_iter()
                        .map(|(k, v)| (String::from_utf8_lossy(&k).to_ascii_lowercase(), v))
                        .collect();
                })))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_add_header_map_value",
            |mut c: Caller<'_, HostState>,
             t: i32,
             kp: i32,
             kl: i32,
             vp: i32,
             vl: i32|
             -> HostResult {
                hit(&mut c, Hc::AddHeaderMapValue);
                let (k, v) = match key_value(&mut c, kp, kl, vp, vl) {
                    Ok(kv) => kv,
                    Err(s) => return Ok(s.code()),
                };
                Ok(status(with_mut(&mut c, t, |m| m.push((k, v)))))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_replace_header_map_value",
            |mut c: Caller<'_, HostState>,
             t: i32,
             kp: i32,
             kl: i32,
             vp: i32,
             vl: i32|
             -> HostResult {
                hit(&mut c, Hc::ReplaceHeaderMapValue);
                let (k, v) = match key_value(&mut c, kp, kl, vp, vl) {
                    Ok(kv) => kv,
                    Err(s) => return Ok(s.code()),
                };
                // Envoy's `setCopy`: every value of the key is removed and the new one
                // appended at the end (verified with the conformance probe).
                Ok(status(with_mut(&mut c, t, |m| {
                    m.retain(|(n, _)| *n != k);
                    m.push((k, v));
                })))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_remove_header_map_value",
            |mut c: Caller<'_, HostState>, t: i32, kp: i32, kl: i32| -> HostResult {
                hit(&mut c, Hc::RemoveHeaderMapValue);
                let k = match read_str(&mut c, kp, kl) {
                    Ok(k) => k.to_ascii_lowercase(),
                    Err(s) => return Ok(s.code()),
                };
                Ok(status(with_mut(&mut c, t, |m| m.retain(|(n, _)| *n != k))))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_get_header_map_size",
            |mut c: Caller<'_, HostState>, t: i32, sp: i32| -> HostResult {
                hit(&mut c, Hc::GetHeaderMapSize);
                let Some(t) = MapType::from_u32(t as u32) else {
                    return Ok(Status::BadArgument.code());
                };
                let size = match mut_map(c.data_mut(), t) {
                    None => return Ok(Status::BadArgument.code()),
                    Some(m) => m.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>(),
                };
                Ok(status(write_u32(&mut c, sp, size as u32)))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
