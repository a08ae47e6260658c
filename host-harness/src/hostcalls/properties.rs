//! `proxy_get_property` / `proxy_set_property`, typed as Envoy's CEL serializer does
//! (`serializeValue` in `source/extensions/common/wasm/context.cc`): strings/bytes raw,
//! int64/uint64/double 8-byte little-endian, bool 1 byte, timestamps int64 nanoseconds,
//! maps and lists in the proxy-wasm pairs serialization. Path segments are joined by `\0`.

use wasmtime::{Caller, Linker};

use super::{copy_out, link_err, read, serialize_pairs, status, HostResult};
use crate::abi::Status;
use crate::state::{HostState, Stage, Stream};

fn s(v: &str) -> Result<Vec<u8>, Status> {
    Ok(v.as_bytes().to_vec())
}

fn i64le(v: i64) -> Result<Vec<u8>, Status> {
    Ok(v.to_le_bytes().to_vec())
}

fn u64le(v: u64) -> Result<Vec<u8>, Status> {
    Ok(v.to_le_bytes().to_vec())
}

/// Serializes a `google.protobuf.Value` (JSON here) as Envoy does once CEL unwrapped it:
/// string → bytes, number → f64 LE, bool → 1 byte, list → pairs of (element, ""),
/// struct → pairs of (key, serialized value), null → `SerializationFailure`.
pub fn serialize_json_value(v: &serde_json::Value) -> Result<Vec<u8>, Status> {
    use serde_json::Value;
    match v {
        Value::String(x) => Ok(x.as_bytes().to_vec()),
        Value::Number(n) => Ok(n
            .as_f64()
            .ok_or(Status::SerializationFailure)?
            .to_le_bytes()
            .to_vec()),
        Value::Bool(b) => Ok(vec![u8::from(*b)]),
        Value::Null => Err(Status::SerializationFailure),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|e| Ok((serialize_json_value(e)?, Vec::new())))
                .collect::<Result<Vec<_>, Status>>()?;
            Ok(serialize_pairs(&items))
        }
        Value::Object(o) => {
            let items = o
                .iter()
                .map(|(k, e)| Ok((k.as_bytes().to_vec(), serialize_json_value(e)?)))
                .collect::<Result<Vec<_>, Status>>()?;
            Ok(serialize_pairs(&items))
        }
    }
}

/// Walks a JSON value by CEL map keys / list indexes.
fn walk<'a>(mut v: &'a serde_json::Value, rest: &[&str]) -> Result<&'a serde_json::Value, Status> {
    for seg in rest {
        v = match v {
            serde_json::Value::Object(o) => o.get(*seg).ok_or(Status::NotFound)?,
            serde_json::Value::Array(a) => {
                let i: usize = seg.parse().map_err(|_| Status::NotFound)?;
                a.get(i).ok_or(Status::NotFound)?
            }
            _ => return Err(Status::NotFound),
        };
    }
    Ok(v)
}

fn header<'a>(h: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_slice())
}

fn port_of(addr: &str) -> i64 {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(0)
}

fn request(st: &Stream, rest: &[&str]) -> Result<Vec<u8>, Status> {
    let x = &st.x;
    let field = *rest.first().ok_or(Status::SerializationFailure)?;
    // Fields backed by the stream info exist even without request headers.
    match field {
        "time" => return i64le(x.time_ns as i64),
        "protocol" => return s(&x.request.protocol),
        _ => {}
    }
    if !(st.request_seen || st.stage == Stage::Log) {
        return Err(Status::NotFound);
    }
    let h = &st.request_headers;
    let hv = |n: &str| header(h, n).map(<[u8]>::to_vec).ok_or(Status::NotFound);
    match field {
        "path" => hv(":path"),
        "url_path" => {
            let p = hv(":path")?;
            let end = p.iter().position(|b| *b == b'?').unwrap_or(p.len());
            Ok(p[..end].to_vec())
        }
        "query" => {
            let p = hv(":path")?;
            Ok(p.iter()
                .position(|b| *b == b'?')
                .map(|i| p[i + 1..].to_vec())
                .unwrap_or_default())
        }
        "host" => hv(":authority"),
        "scheme" => hv(":scheme"),
        "method" => hv(":method"),
        "referer" => hv("referer"),
        "useragent" => hv("user-agent"),
        "id" => hv("x-request-id"),
        "headers" => match rest.get(1) {
            None => Ok(serialize_pairs(h)),
            Some(name) => hv(&name.to_ascii_lowercase()),
        },
        "size" => match header(h, "content-length") {
            Some(v) => std::str::from_utf8(v)
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map_or(Err(Status::NotFound), i64le),
            None => i64le(x.request.body.len() as i64),
        },
        "total_size" => {
            let hs: usize = h.iter().map(|(k, v)| k.len() + v.len()).sum();
            i64le((x.request.body.len() + hs) as i64)
        }
        _ => Err(Status::NotFound),
    }
}

fn response(st: &Stream, rest: &[&str]) -> Result<Vec<u8>, Status> {
    if st.stage == Stage::Request {
        return Err(Status::NotFound);
    }
    let x = &st.x;
    match *rest.first().ok_or(Status::SerializationFailure)? {
        "code" => i64le(i64::from(x.response.status)),
        "code_details" => x
            .envoy
            .response_code_details
            .as_deref()
            .map_or(Err(Status::NotFound), s),
        "flags" => u64le(x.envoy.response_flags),
        "size" => i64le(x.response.body.len() as i64),
        "total_size" => {
            let hs: usize = st
                .response_headers
                .iter()
                .flatten()
                .map(|(k, v)| k.len() + v.len())
                .sum();
            i64le((x.response.body.len() + hs) as i64)
        }
        "headers" => {
            let h = st.response_headers.as_deref().ok_or(Status::NotFound)?;
            match rest.get(1) {
                None => Ok(serialize_pairs(h)),
                Some(n) => header(h, &n.to_ascii_lowercase())
                    .map(<[u8]>::to_vec)
                    .ok_or(Status::NotFound),
            }
        }
        "trailers" => {
            let h = st.response_trailers.as_deref().ok_or(Status::NotFound)?;
            match rest.get(1) {
                None => Ok(serialize_pairs(h)),
                Some(n) => header(h, n).map(<[u8]>::to_vec).ok_or(Status::NotFound),
            }
        }
        _ => Err(Status::NotFound),
    }
}

fn metadata(st: &Stream, rest: &[&str]) -> Result<Vec<u8>, Status> {
    let fm = &st.x.envoy.filter_metadata;
    match rest {
        // The Metadata message itself would be protobuf bytes: not emulated (empty).
        [] => Ok(Vec::new()),
        ["filter_metadata"] => {
            let items = fm
                .iter()
                .map(|(ns, m)| {
                    let obj = serde_json::Value::Object(
                        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    );
                    Ok((ns.as_bytes().to_vec(), serialize_json_value(&obj)?))
                })
                .collect::<Result<Vec<_>, Status>>()?;
            Ok(serialize_pairs(&items))
        }
        ["filter_metadata", ns, tail @ ..] => {
            let m = fm.get(*ns).ok_or(Status::NotFound)?;
            match tail {
                [] => serialize_json_value(&serde_json::Value::Object(
                    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                )),
                [key, more @ ..] => {
                    serialize_json_value(walk(m.get(*key).ok_or(Status::NotFound)?, more)?)
                }
            }
        }
        _ => Err(Status::NotFound),
    }
}

fn peer(addr: &str, rest: &[&str]) -> Result<Vec<u8>, Status> {
    match rest {
        ["address"] => s(addr),
        ["port"] => i64le(port_of(addr)),
        _ => Err(Status::NotFound),
    }
}

/// Resolves a property path (segments) for the acting context.
pub fn lookup(st: &HostState, path: &[&str]) -> Result<Vec<u8>, Status> {
    let (top, rest) = path.split_first().ok_or(Status::NotFound)?;
    let stream = st.acting_stream();
    match *top {
        "plugin_name" => s(&st.cfg.plugin_name),
        "plugin_root_id" => s(&st.cfg.root_id),
        "plugin_vm_id" => s(&st.cfg.vm_id),
        "listener_direction" => i64le(0),
        "node" => match rest {
            [] | ["id"] | ["cluster"] => Ok(Vec::new()),
            _ => Err(Status::NotFound),
        },
        "xds" => match (rest, stream) {
            (["route_name"], Some(x)) => s(x.x.envoy.route_name.as_deref().unwrap_or("")),
            (["cluster_name"], Some(x)) => {
                x.x.envoy
                    .cluster_name
                    .as_deref()
                    .map_or(Err(Status::NotFound), s)
            }
            (["node"] | ["node", "id"] | ["node", "cluster"], _) => Ok(Vec::new()),
            _ => Err(Status::NotFound),
        },
        _ => {
            let st = stream.ok_or(Status::NotFound)?;
            match *top {
                "request" => request(st, rest),
                "response" => response(st, rest),
                "metadata" => metadata(st, rest),
                "source" => peer(&st.x.source, rest),
                "destination" => peer(&st.x.destination, rest),
                "connection_id" => u64le(u64::from(st.id)),
                "route_name" => s(st.x.envoy.route_name.as_deref().unwrap_or("")),
                "cluster_name" => {
                    st.x.envoy
                        .cluster_name
                        .as_deref()
                        .map_or(Err(Status::NotFound), s)
                }
                "connection" => match rest {
                    ["id"] => u64le(u64::from(st.id)),
                    ["mtls"] => Ok(vec![0]),
                    ["requested_server_name"] => Ok(Vec::new()),
                    _ => Err(Status::NotFound),
                },
                other => match (st.filter_state.get(other), rest) {
                    (Some(v), []) => Ok(v.clone()),
                    _ => Err(Status::NotFound),
                },
            }
        }
    }
}

/// Links the property family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_get_property",
            |mut c: Caller<'_, HostState>, pp: i32, pl: i32, vpp: i32, vsp: i32| -> HostResult {
                let raw = match read(&mut c, pp, pl) {
                    Ok(r) => r,
                    Err(s) => return Ok(s.code()),
                };
                let path = String::from_utf8_lossy(&raw).into_owned();
                let segs: Vec<&str> = path.split('\0').collect();
                match lookup(c.data(), &segs) {
                    Ok(v) => Ok(status(copy_out(&mut c, &v, vpp, vsp)?)),
                    Err(s) => Ok(s.code()),
                }
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_set_property",
            |mut c: Caller<'_, HostState>, pp: i32, pl: i32, vp: i32, vl: i32| -> HostResult {
                let (path, value) = match (read(&mut c, pp, pl), read(&mut c, vp, vl)) {
                    (Ok(p), Ok(v)) => (String::from_utf8_lossy(&p).into_owned(), v),
                    (Err(s), _) | (_, Err(s)) => return Ok(s.code()),
                };
                // Envoy stores it as filter state `wasm.<path>`; no stream info → NotFound.
                let r = match c.data_mut().acting_stream_mut() {
                    Some(st) => {
                        st.filter_state.insert(path, value);
                        Ok(())
                    }
                    None => Err(Status::NotFound),
                };
                Ok(status(r))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
