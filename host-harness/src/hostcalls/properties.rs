//! `proxy_get_property` / `proxy_set_property`, typed as Envoy's CEL serializer does
//! (`serializeValue` in `source/extensions/common/wasm/context.cc`): strings/bytes raw,
//! int64/uint64/double 8-byte little-endian, bool 1 byte, timestamps int64 nanoseconds,
//! maps and lists in the proxy-wasm pairs serialization. Path segments are joined by `\0`.

use wasmtime::{Caller, Linker};

use super::{
    copy_out_with, hit, link_err, serialize_pairs, slice, status, text, with_memory, HostResult,
};
use crate::abi::Status;
use crate::counting::Hc;
use crate::state::{HostState, Stage, Stream};

/// Envoy's filter-state key prefix for `set_property` values (`CelStateKeyPrefix`).
pub const FILTER_STATE_PREFIX: &str = "wasm.";

/// A property value: borrowed from the VM or the stream, or small and owned.
#[derive(Debug)]
pub(crate) enum Val<'a> {
    Borrowed(&'a [u8]),
    Int([u8; 8]),
    Owned(Vec<u8>),
}

impl Val<'_> {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Val::Borrowed(b) => b,
            Val::Int(b) => b,
            Val::Owned(b) => b,
        }
    }
}

type R<'a> = Result<Val<'a>, Status>;

fn s(v: &str) -> R<'_> {
    Ok(Val::Borrowed(v.as_bytes()))
}

fn i64le(v: i64) -> R<'static> {
    Ok(Val::Int(v.to_le_bytes()))
}

fn u64le(v: u64) -> R<'static> {
    Ok(Val::Int(v.to_le_bytes()))
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
    // Envoy's CEL header maps lower-case the key; stored names are lower case already.
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// A header map's byte size as Envoy counts it (`HeaderMap::byteSize`: names and values).
fn byte_size(h: &[crate::traffic::Header]) -> usize {
    h.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// `response.grpc_status`: the `grpc-status` trailer or header, else Envoy's mapping of the
/// HTTP status (`Grpc::Utility::httpToGrpcStatus`; verified for 200, 401, 403, 431).
fn grpc_status(st: &Stream) -> i64 {
    let given = [&st.response_trailers, &st.response_headers]
        .into_iter()
        .flatten()
        .find_map(|h| header(h, "grpc-status"))
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<i64>().ok());
    given.unwrap_or(match st.x.response.status {
        400 => 13,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502 | 503 | 504 => 14,
        _ => 2,
    })
}

fn port_of(addr: &str) -> i64 {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(0)
}

fn request<'a>(st: &'a Stream, rest: &[&str]) -> R<'a> {
    let x = &*st.x;
    let field = *rest.first().ok_or(Status::SerializationFailure)?;
    // Fields backed by the stream info exist even without request headers.
    match field {
        "time" => return i64le(x.time_ns as i64),
        // Known once the stream is complete (from the start for a codec rejection); the
        // harness's requests take a nominal 1 ms.
        "duration" if st.codec_rejected || matches!(st.stage, Stage::Log | Stage::Done) => {
            return i64le(1_000_000)
        }
        "duration" => return Err(Status::NotFound),
        "protocol" => return s(&x.request.protocol),
        _ => {}
    }
    // Header-backed fields: Envoy's CEL request wrapper reads `request_headers_` (set only
    // while `on_request_headers` runs, or after it paused) or, in `on_log`, the access-log
    // headers.
    if st.codec_rejected || !(st.request_live || st.stage == Stage::Log) {
        return match field {
            // Without the map: the bytes received (verified: conformance probe).
            "size" | "total_size" => i64le(st.received as i64),
            _ => Err(Status::NotFound),
        };
    }
    let h = &st.request_headers;
    let hv = |n: &str| header(h, n).ok_or(Status::NotFound);
    let v = match field {
        "path" => hv(":path")?,
        "url_path" => {
            let p = hv(":path")?;
            let end = p.iter().position(|b| *b == b'?').unwrap_or(p.len());
            &p[..end]
        }
        "query" => {
            let p = hv(":path")?;
            p.iter()
                .position(|b| *b == b'?')
                .map_or(&[][..], |i| &p[i + 1..])
        }
        "host" => hv(":authority")?,
        "scheme" => hv(":scheme")?,
        "method" => hv(":method")?,
        "referer" => hv("referer")?,
        "useragent" => hv("user-agent")?,
        "id" => hv("x-request-id")?,
        "headers" => match rest.get(1) {
            None => return Ok(Val::Owned(serialize_pairs(h))),
            Some(name) => hv(name)?,
        },
        // Envoy's CEL request: the `content-length` header when the map has one, else the
        // body bytes received so far; the total adds the map's byte size while the map
        // exists (verified: conformance probe).
        "size" => {
            return match header(h, "content-length") {
                Some(v) => std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .map_or(Err(Status::NotFound), i64le),
                None => i64le(st.received as i64),
            }
        }
        "total_size" => return i64le((st.received + byte_size(h)) as i64),
        _ => return Err(Status::NotFound),
    };
    Ok(Val::Borrowed(v))
}

fn response<'a>(st: &'a Stream, rest: &[&str]) -> R<'a> {
    let x = &*st.x;
    let field = *rest.first().ok_or(Status::SerializationFailure)?;
    // The flags live in the stream info from the start (0 until something sets one).
    if field == "flags" {
        let flags = if st.stage == Stage::Request {
            0
        } else {
            x.envoy.response_flags
        };
        return u64le(flags);
    }
    let live = st.response_live || st.stage == Stage::Log;
    // Body bytes sent downstream so far, plus the map's byte size while it exists: from the
    // stream's start (verified: conformance probe).
    match field {
        "size" => return i64le(st.sent as i64),
        "total_size" => {
            let h = if live {
                st.response_headers.as_deref()
            } else {
                None
            };
            return i64le((st.sent + h.map_or(0, byte_size)) as i64);
        }
        _ => {}
    }
    if st.response_headers.is_none() {
        return Err(Status::NotFound);
    }
    match field {
        "code" => i64le(i64::from(x.response.status)),
        "code_details" => x
            .envoy
            .response_code_details
            .as_deref()
            .map_or(Err(Status::NotFound), s),
        "grpc_status" => i64le(grpc_status(st)),
        name @ ("headers" | "trailers") => {
            let h = if name != "headers" {
                &st.response_trailers
            } else if st.response_live || st.stage == Stage::Log {
                &st.response_headers
            } else {
                &None
            };
            let h = h.as_deref().ok_or(Status::NotFound)?;
            match rest.get(1) {
                None => Ok(Val::Owned(serialize_pairs(h))),
                Some(n) => header(h, n).map(Val::Borrowed).ok_or(Status::NotFound),
            }
        }
        _ => Err(Status::NotFound),
    }
}

fn metadata<'a>(st: &'a Stream, rest: &[&str]) -> R<'a> {
    // The traffic's metadata is written by filters after the plugin (jwt_authn behind it):
    // a namespace exists once the request headers have passed on (not at context creation,
    // not in `on_request_headers`, not while they are paused). Verified for jwt_authn with
    // the conformance probe; the whole `filter_metadata` map is not narrowed (unmeasured).
    if st.stage == Stage::Request && (st.request_live || !st.request_seen) && rest.len() >= 2 {
        return Err(Status::NotFound);
    }
    let fm = &st.x.envoy.filter_metadata;
    let obj = |m: &std::collections::BTreeMap<String, serde_json::Value>| {
        serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    };
    match rest {
        // The Metadata message itself would be protobuf bytes: not emulated (empty).
        [] => Ok(Val::Borrowed(&[])),
        ["filter_metadata"] => {
            let items = fm
                .iter()
                .map(|(ns, m)| Ok((ns.as_bytes(), serialize_json_value(&obj(m))?)))
                .collect::<Result<Vec<_>, Status>>()?;
            Ok(Val::Owned(serialize_pairs(&items)))
        }
        ["filter_metadata", ns, tail @ ..] => {
            let m = fm.get(*ns).ok_or(Status::NotFound)?;
            match tail {
                [] => serialize_json_value(&obj(m)).map(Val::Owned),
                [key, more @ ..] => match walk(m.get(*key).ok_or(Status::NotFound)?, more)? {
                    serde_json::Value::String(v) => s(v),
                    v => serialize_json_value(v).map(Val::Owned),
                },
            }
        }
        _ => Err(Status::NotFound),
    }
}

fn peer<'a>(addr: &'a str, rest: &[&str]) -> R<'a> {
    match rest {
        ["address"] => s(addr),
        ["port"] => i64le(port_of(addr)),
        _ => Err(Status::NotFound),
    }
}

/// A `set_property` value by the name it was set under (Envoy's key without `wasm.`).
fn wasm_state<'a>(st: &'a Stream, name: &str) -> Option<&'a [u8]> {
    let p = FILTER_STATE_PREFIX.as_bytes();
    st.filter_state
        .iter()
        .find(|(k, _)| {
            k.len() == p.len() + name.len() && k.starts_with(p) && k.ends_with(name.as_bytes())
        })
        .map(|(_, v)| v.as_slice())
}

/// Resolves a property path (segments) for the acting context, borrowing where it can.
pub(crate) fn lookup_val<'a>(st: &'a HostState, path: &[&str]) -> R<'a> {
    let (top, rest) = path.split_first().ok_or(Status::NotFound)?;
    let stream = st.acting_stream();
    match *top {
        "plugin_name" => s(&st.cfg.plugin_name),
        "plugin_root_id" => s(&st.cfg.root_id),
        "plugin_vm_id" => s(&st.cfg.vm_id),
        "listener_direction" => i64le(0),
        "node" => match rest {
            [] | ["id"] | ["cluster"] => Ok(Val::Borrowed(&[])),
            _ => Err(Status::NotFound),
        },
        // The route and cluster: chosen before the filter's first callback; none for a codec
        // rejection (verified: conformance probe).
        "xds" => match (rest, stream.filter(|x| !x.codec_rejected)) {
            (["route_name"], Some(x)) => s(x.x.envoy.route_name.as_deref().unwrap_or("")),
            (["cluster_name"], Some(x)) => {
                x.x.envoy
                    .cluster_name
                    .as_deref()
                    .map_or(Err(Status::NotFound), s)
            }
            (["node"] | ["node", "id"] | ["node", "cluster"], _) => Ok(Val::Borrowed(&[])),
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
                // `route_name`, `cluster_name`: moved under `xds.` in 1.40 (NotFound).
                "upstream" => match &st.x.envoy.upstream_address {
                    Some(a) if st.response_headers.is_some() => peer(a, rest),
                    _ => Err(Status::NotFound),
                },
                "connection" => match rest {
                    ["id"] => u64le(u64::from(st.id)),
                    [name] => connection(st.x.tls.as_ref(), name),
                    _ => Err(Status::NotFound),
                },
                // CEL `filter_state[key]`: a `set_property` value by its full key.
                "filter_state" => match rest {
                    [key] => st
                        .filter_state(key.as_bytes())
                        .map(Val::Borrowed)
                        .ok_or(Status::NotFound),
                    // The map itself cannot be listed (serialization fails).
                    [] => Err(Status::SerializationFailure),
                    _ => Err(Status::NotFound),
                },
                // Envoy's last resort: filter state `wasm.<name>` (bytes; no deeper path).
                other => match (wasm_state(st, other), rest) {
                    (Some(v), []) => Ok(Val::Borrowed(v)),
                    _ => Err(Status::NotFound),
                },
            }
        }
    }
}

/// `connection.<name>` of a downstream connection with `tls` (`None`: plain): on a plain
/// connection `mtls` is false, the SNI empty and the certificate facts NotFound; over TLS
/// without a client certificate the peer's subject is empty and its other facts NotFound
/// (measured: conformance probe).
fn connection<'a>(tls: Option<&'a vigil_traffic::Tls>, name: &str) -> Result<Val<'a>, Status> {
    let text = |s: &'a str| Ok(Val::Borrowed(s.as_bytes()));
    let first = |v: &'a [String]| v.first().map_or(Err(Status::NotFound), |s| text(s));
    let peer = tls.and_then(|t| t.peer.as_ref());
    let local = tls.and_then(|t| t.local.as_ref());
    match name {
        "mtls" => Ok(Val::Borrowed(if peer.is_some() { &[1] } else { &[0] })),
        "requested_server_name" => text(tls.map_or("", |t| t.sni.as_str())),
        "tls_version" => tls.map_or(Err(Status::NotFound), |t| text(&t.version)),
        "subject_local_certificate" => local.map_or(Err(Status::NotFound), |c| text(&c.subject)),
        // Over TLS without a client certificate: empty, not NotFound (measured).
        "subject_peer_certificate" => match (tls, peer) {
            (_, Some(c)) => text(&c.subject),
            (Some(_), None) => text(""),
            (None, None) => Err(Status::NotFound),
        },
        "uri_san_local_certificate" => local.map_or(Err(Status::NotFound), |c| first(&c.uri_sans)),
        "uri_san_peer_certificate" => peer.map_or(Err(Status::NotFound), |c| first(&c.uri_sans)),
        "dns_san_local_certificate" => local.map_or(Err(Status::NotFound), |c| first(&c.dns_sans)),
        "dns_san_peer_certificate" => peer.map_or(Err(Status::NotFound), |c| first(&c.dns_sans)),
        "sha256_peer_certificate_digest" => peer.map_or(Err(Status::NotFound), |c| text(&c.sha256)),
        _ => Err(Status::NotFound),
    }
}

/// Resolves a property path (segments) for the acting context.
pub fn lookup(st: &HostState, path: &[&str]) -> Result<Vec<u8>, Status> {
    lookup_val(st, path).map(|v| v.bytes().to_vec())
}

/// Splits a `\0`-joined path (lossy UTF-8) and runs `f` on its segments.
fn with_segments<T>(raw: &[u8], f: impl FnOnce(&[&str]) -> T) -> T {
    let path = text(raw);
    let path: &str = &path;
    let mut segs: [&str; 16] = [""; 16];
    let mut n = 0;
    for seg in path.split('\0') {
        if n == segs.len() {
            let all: Vec<&str> = path.split('\0').collect();
            return f(&all);
        }
        segs[n] = seg;
        n += 1;
    }
    f(&segs[..n])
}

/// Counting key of a property path: segments joined with `.`.
fn path_key(k: &mut Vec<u8>, raw: &[u8]) {
    k.extend(raw.iter().map(|b| if *b == 0 { b'.' } else { *b }));
}

/// Links the property family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    linker
        .func_wrap(
            "env",
            "proxy_get_property",
            |mut c: Caller<'_, HostState>, pp: i32, pl: i32, vpp: i32, vsp: i32| -> HostResult {
                hit(&mut c, Hc::GetProperty);
                copy_out_with(&mut c, vpp, vsp, |mem, st, out| {
                    let raw = slice(mem, pp, pl)?;
                    st.counters.detail(Hc::GetProperty, |k| path_key(k, raw));
                    with_segments(raw, |segs| {
                        out.extend_from_slice(lookup_val(st, segs)?.bytes());
                        Ok(())
                    })
                })
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            "env",
            "proxy_set_property",
            |mut c: Caller<'_, HostState>, pp: i32, pl: i32, vp: i32, vl: i32| -> HostResult {
                hit(&mut c, Hc::SetProperty);
                // Envoy (`Context::setProperty`): no stream info (root context) → NotFound;
                // else filter state `wasm.<path>` (the raw path, `\0`s included), created
                // with the default mutable bytes prototype or overwritten.
                let r = with_memory(&mut c, |mem, st| {
                    let path = slice(mem, pp, pl)?;
                    let value = slice(mem, vp, vl)?;
                    st.counters.detail(Hc::SetProperty, |k| path_key(k, path));
                    let stream = st.acting_stream_mut().ok_or(Status::NotFound)?;
                    let mut key = Vec::with_capacity(FILTER_STATE_PREFIX.len() + path.len());
                    key.extend_from_slice(FILTER_STATE_PREFIX.as_bytes());
                    key.extend_from_slice(path);
                    stream.set_filter_state(key, value.to_vec());
                    Ok(())
                });
                Ok(status(r))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
