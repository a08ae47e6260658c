//! # vigil-conformance-probe: what a host shows a plugin, callback by callback
//!
//! A proxy-wasm filter that, at every callback of a request's life (context create, request
//! headers/body/trailers, response headers/body/trailers, log, done, delete), reads what a
//! plugin might read and logs one JSON line (`proxy_log` at info, prefixed [`PREFIX`]):
//!
//! - `cb`, `ctx` and `args`: the callback, its context id and its arguments;
//! - `maps`: status and pairs of the four header/trailer maps;
//! - `hdr`: status and value of the single request headers in [`HEADERS`];
//! - `prop`: status and value of the properties in [`PROPERTIES`];
//! - `body`: status and bytes of the body buffer (body callbacks only);
//! - `mut`: for the request and response header maps, the statuses of `add x-probe`,
//!   `add x-probe-tail`, `replace x-probe`, the map's pairs right after (the order shows
//!   where a replaced header goes), then `remove` of both.
//!
//! A request header `x-probe-action` makes the probe act in `on_request_headers` and record
//! what came of it (an `action` record, then an `http_call_response` record with the
//! callout's headers and body, `callout`): `reply` sends a local reply (403) and pauses;
//! `callout-ok` dispatches an HTTP callout to `demo_upstream` (`GET /hello`) and pauses,
//! resuming the request when the answer comes; `callout-timeout` does the same with `GET
//! /slow` and a 200 ms timeout (the upstream answers after 2 s).
//!
//! `trap` makes the probe trap (a wasm `unreachable`) after an `action` record. The root
//! context records its own lifecycle (`vm_start`, `configure`, `root_done`, `root_delete`)
//! with `vm`, a nonce drawn once per VM instance, so that the records of the canary, the
//! main thread's and each worker's VM can be told apart.
//!
//! Values are strings when they are UTF-8 and `{"hex": ...}` otherwise; integer properties
//! (8 bytes little-endian) are numbers. The probe never panics: it uses raw hostcalls
//! ([`raw`]) and records every status as it comes. Values that differ by nature (times, ids,
//! ports) are recorded as they are: the comparison replaces them.
//!
//! Build: `cargo build --release --target wasm32-wasip1 -p vigil-conformance-probe`.

pub mod raw;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use serde_json::{json, Map, Value};
use std::time::Duration;

#[allow(unsafe_code)]
mod entry {
    proxy_wasm::main! {{
        proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Trace);
        proxy_wasm::set_root_context(|_id| -> Box<dyn proxy_wasm::traits::RootContext> {
            Box::new(crate::ProbeRoot { id: _id })
        });
    }}
}

/// The plugin configuration that makes the probe the queue service (a bootstrap singleton).
pub const SERVICE_CONFIG: &[u8] = b"queue-service";

/// The queue service's `vm_config.vm_id`.
pub const SERVICE_VM_ID: &str = "probe_service";

/// The service's queue.
pub const QUEUE: &str = "probe_queue";

/// A resolve's outcome as a status code (0 found, 1 NotFound, else the error).
fn found(r: &Result<Option<u32>, proxy_wasm::types::Status>) -> u32 {
    match r {
        Ok(Some(_)) => 0,
        Ok(None) => 1,
        Err(e) => *e as u32,
    }
}

/// Every record's log line starts with this.
pub const PREFIX: &str = "PROBE ";

/// Single request headers read at every callback.
pub const HEADERS: [&str; 8] = [
    ":method",
    ":path",
    ":authority",
    "user-agent",
    "x-request-id",
    "x-forwarded-for",
    "cookie",
    "transfer-encoding",
];

/// How a property's bytes are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text (or hex when not UTF-8).
    Str,
    /// 8-byte little-endian integer.
    Int,
}

/// Properties read at every callback (dotted; the probe splits them into segments).
pub const PROPERTIES: [(&str, Kind); 46] = [
    ("request.path", Kind::Str),
    ("request.url_path", Kind::Str),
    ("request.host", Kind::Str),
    ("request.scheme", Kind::Str),
    ("request.method", Kind::Str),
    ("request.query", Kind::Str),
    ("request.referer", Kind::Str),
    ("request.useragent", Kind::Str),
    ("request.headers.user-agent", Kind::Str),
    ("request.time", Kind::Int),
    ("request.id", Kind::Str),
    ("request.protocol", Kind::Str),
    ("request.size", Kind::Int),
    ("request.total_size", Kind::Int),
    ("request.duration", Kind::Int),
    ("response.code", Kind::Int),
    ("response.code_details", Kind::Str),
    ("response.flags", Kind::Int),
    ("response.grpc_status", Kind::Int),
    ("response.size", Kind::Int),
    ("response.total_size", Kind::Int),
    ("source.address", Kind::Str),
    ("source.port", Kind::Int),
    ("destination.address", Kind::Str),
    ("destination.port", Kind::Int),
    ("connection.id", Kind::Int),
    ("connection.mtls", Kind::Str),
    ("connection.requested_server_name", Kind::Str),
    ("connection.termination_details", Kind::Str),
    ("connection.tls_version", Kind::Str),
    ("connection.subject_local_certificate", Kind::Str),
    ("connection.subject_peer_certificate", Kind::Str),
    ("connection.dns_san_local_certificate", Kind::Str),
    ("connection.dns_san_peer_certificate", Kind::Str),
    ("connection.uri_san_local_certificate", Kind::Str),
    ("connection.uri_san_peer_certificate", Kind::Str),
    ("connection.sha256_peer_certificate_digest", Kind::Str),
    ("upstream.address", Kind::Str),
    ("upstream.port", Kind::Int),
    ("route_name", Kind::Str),
    ("cluster_name", Kind::Str),
    ("xds.route_name", Kind::Str),
    ("xds.cluster_name", Kind::Str),
    ("plugin_name", Kind::Str),
    ("plugin_root_id", Kind::Str),
    (
        "metadata.filter_metadata.envoy.filters.http.jwt_authn.jwt_payload.sub",
        Kind::Str,
    ),
];

/// The four maps by their proxy-wasm numbers.
const MAPS: [(&str, u32); 4] = [
    ("request_headers", 0),
    ("request_trailers", 1),
    ("response_headers", 2),
    ("response_trailers", 3),
];

/// Property path segments: `metadata.filter_metadata.<filter name with dots>.<key>.<leaf>`
/// keeps the filter name whole.
pub fn segments(path: &str) -> Vec<String> {
    const NS: &str = "envoy.filters.http.jwt_authn";
    if let Some(rest) = path.strip_prefix("metadata.filter_metadata.") {
        if let Some(tail) = rest.strip_prefix(NS) {
            let mut out = vec!["metadata".to_string(), "filter_metadata".into(), NS.into()];
            out.extend(tail.split('.').filter(|s| !s.is_empty()).map(String::from));
            return out;
        }
    }
    if let Some(name) = path.strip_prefix("request.headers.") {
        return vec!["request".into(), "headers".into(), name.into()];
    }
    path.split('.').map(String::from).collect()
}

/// Bytes as a JSON value: a string when UTF-8, else `{"hex": ...}`.
pub fn bytes_value(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => json!(s),
        Err(_) => json!({ "hex": b.iter().map(|x| format!("{x:02x}")).collect::<String>() }),
    }
}

fn status_value(s: u32, v: Value) -> Value {
    if s == 0 {
        json!({ "s": s, "v": v })
    } else {
        json!({ "s": s })
    }
}

fn pairs_value(s: u32, b: &[u8]) -> Value {
    let v = match raw::parse_pairs(b) {
        Some(p) => Value::Array(
            p.iter()
                .map(|(k, v)| json!([bytes_value(k), bytes_value(v)]))
                .collect(),
        ),
        None => json!({ "malformed": bytes_value(b) }),
    };
    status_value(s, v)
}

fn property_value(kind: Kind, s: u32, b: &[u8]) -> Value {
    let v = match (kind, <[u8; 8]>::try_from(b)) {
        (Kind::Int, Ok(a)) => json!(i64::from_le_bytes(a)),
        _ => bytes_value(b),
    };
    status_value(s, v)
}

/// The mutating calls on one map, and its pairs after the replace.
fn mutate(map: u32) -> Value {
    let add = raw::map_add(map, "x-probe", "added");
    let add_tail = raw::map_add(map, "x-probe-tail", "tail");
    let replace = raw::map_replace(map, "x-probe", "replaced");
    let (s, p) = raw::map_pairs(map);
    let pairs = pairs_value(s, &p);
    let remove = raw::map_remove(map, "x-probe");
    let remove_tail = raw::map_remove(map, "x-probe-tail");
    json!({
        "add": add, "add_tail": add_tail, "replace": replace, "pairs": pairs,
        "remove": remove, "remove_tail": remove_tail,
    })
}

/// Builds and logs the record of one callback; `body` is the buffer to read and its size.
pub fn record(ctx: u32, cb: &str, args: Value, body: Option<(u32, usize)>) {
    record_with(ctx, cb, args, body, None);
}

/// [`record`] with an extra `callout` field.
fn record_with(
    ctx: u32,
    cb: &str,
    args: Value,
    body: Option<(u32, usize)>,
    callout: Option<Value>,
) {
    let mut maps = Map::new();
    for (name, t) in MAPS {
        let (s, p) = raw::map_pairs(t);
        maps.insert(name.into(), pairs_value(s, &p));
    }
    let mut hdr = Map::new();
    for name in HEADERS {
        let (s, v) = raw::map_value(0, name);
        hdr.insert(name.into(), status_value(s, bytes_value(&v)));
    }
    let mut prop = Map::new();
    for (path, kind) in PROPERTIES {
        let segs = segments(path);
        let (s, v) = raw::property(segs.join("\0").as_bytes());
        prop.insert(path.into(), property_value(kind, s, &v));
    }
    let mut rec = json!({
        "ctx": ctx, "cb": cb, "args": args, "maps": maps, "hdr": hdr, "prop": prop,
    });
    if let Some((buffer, size)) = body {
        let (s, b) = raw::buffer_bytes(buffer, 0, size);
        rec["body"] = status_value(s, bytes_value(&b));
    }
    if let Some(c) = callout {
        rec["callout"] = c;
    }
    rec["mut"] = json!({ "request_headers": mutate(0), "response_headers": mutate(2) });
    let line = format!("{PREFIX}{rec}");
    raw::log(2, line.as_bytes());
}

/// This VM instance's nonce: drawn once (WASI randomness) when the VM starts, so records
/// tell VM instances apart (the comparison numbers them by first appearance).
fn vm_nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static NONCE: u64 = {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x0070_726f_6265);
            h.finish()
        };
    }
    NONCE.with(|n| *n)
}

/// Logs a root context's lifecycle record: `{"cb", "ctx", "vm", "args"}`.
pub fn record_root(ctx: u32, cb: &str, args: Value) {
    let rec = json!({ "ctx": ctx, "cb": cb, "vm": format!("{:016x}", vm_nonce()), "args": args });
    raw::log(2, format!("{PREFIX}{rec}").as_bytes());
}

/// Root context: records its lifecycle, creates a [`Probe`] per request.
#[derive(Debug, Default)]
pub struct ProbeRoot {
    id: u32,
}

impl Context for ProbeRoot {
    fn on_done(&mut self) -> bool {
        record_root(self.id, "root_done", json!({}));
        true
    }
}

impl Drop for ProbeRoot {
    fn drop(&mut self) {
        record_root(self.id, "root_delete", json!({}));
    }
}

impl RootContext for ProbeRoot {
    fn on_vm_start(&mut self, vm_configuration_size: usize) -> bool {
        record_root(
            self.id,
            "vm_start",
            json!({ "size": vm_configuration_size }),
        );
        true
    }

    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        record_root(
            self.id,
            "configure",
            json!({ "size": plugin_configuration_size }),
        );
        let (_, config) = raw::buffer_bytes(7, 0, plugin_configuration_size);
        if config == SERVICE_CONFIG {
            // The queue service: register the queue, then resolve it by an empty vm_id
            // (which means this VM's own).
            let registered = proxy_wasm::hostcalls::register_shared_queue(QUEUE);
            let own = proxy_wasm::hostcalls::resolve_shared_queue("", QUEUE);
            let args = json!({
                "status": status_code(registered.err()),
                "resolve_own": found(&own),
            });
            record_root(self.id, "queue_register", args);
        }
        true
    }

    fn on_queue_ready(&mut self, _queue_id: u32) {
        let mut items = Vec::new();
        let token = match proxy_wasm::hostcalls::resolve_shared_queue("", QUEUE) {
            Ok(Some(t)) => t,
            _ => return record_root(self.id, "queue_ready", json!({ "resolve": "failed" })),
        };
        while let Ok(Some(item)) = proxy_wasm::hostcalls::dequeue_shared_queue(token) {
            items.push(bytes_value(&item));
        }
        record_root(self.id, "queue_ready", json!({ "items": items }));
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        record(context_id, "context_create", json!({}), None);
        Some(Box::new(Probe { ctx: context_id }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request's probe; dropping it (`proxy_on_delete`) writes the `delete` record.
#[derive(Debug)]
pub struct Probe {
    ctx: u32,
}

impl Probe {
    /// Acts on `x-probe-action`; `Pause` when it did.
    fn act(&mut self) -> Action {
        let (s, what) = raw::map_value(0, "x-probe-action");
        if s != 0 {
            return Action::Continue;
        }
        let (status, token) = match what.as_slice() {
            b"enqueue" => {
                // Resolve the service's queue (by its vm_id, and by an empty one, which means
                // this VM's own: not found here), then enqueue this request's id.
                let own = proxy_wasm::hostcalls::resolve_shared_queue("", QUEUE);
                let token = proxy_wasm::hostcalls::resolve_shared_queue(SERVICE_VM_ID, QUEUE);
                let (_, id) = raw::map_value(0, "x-request-id");
                let enqueued = match &token {
                    Ok(Some(t)) => status_code(
                        proxy_wasm::hostcalls::enqueue_shared_queue(*t, Some(&id)).err(),
                    ),
                    _ => 1,
                };
                let args = json!({
                    "what": "enqueue", "resolve_own": found(&own),
                    "resolve": found(&token), "enqueue": enqueued,
                });
                record(self.ctx, "action", args, None);
                return Action::Continue;
            }
            b"metrics" => {
                record(self.ctx, "action", metrics(), None);
                return Action::Continue;
            }
            b"foreign" => {
                record(self.ctx, "action", foreign(), None);
                return Action::Continue;
            }
            b"trap" => {
                record(self.ctx, "action", json!({ "what": "trap" }), None);
                trap()
            }
            b"reply" => {
                let s = proxy_wasm::hostcalls::send_http_response(
                    403,
                    vec![("x-probe", "reply")],
                    Some(b"probe reply"),
                );
                (status_code(s.err()), None)
            }
            b"callout-ok" | b"callout-timeout" => {
                let (path, timeout) = if what == b"callout-ok" {
                    ("/hello", Duration::from_secs(5))
                } else {
                    ("/slow", Duration::from_millis(200))
                };
                let r = self.dispatch_http_call(
                    "demo_upstream",
                    vec![
                        (":method", "GET"),
                        (":path", path),
                        (":authority", "vigil.test"),
                    ],
                    None,
                    vec![],
                    timeout,
                );
                match r {
                    Ok(t) => (0, Some(t)),
                    Err(e) => (status_code(Some(e)), None),
                }
            }
            b"grpc-ok" | b"grpc-denied" | b"grpc-unauth" => {
                // A unary call through Envoy's gRPC client to the demo upstream: a message
                // and status 0 in trailers (Echo, authorized), status 7 in the headers alone
                // (Admin, unauthorized), status 16 in trailers (Echo, unauthorized).
                let service = if what == b"grpc-denied" {
                    "demo.Admin"
                } else {
                    "demo.Echo"
                };
                let metadata: Vec<(&str, &[u8])> = if what == b"grpc-ok" {
                    vec![("authorization", b"Bearer demo-opaque-token")]
                } else {
                    vec![]
                };
                let r = self.dispatch_grpc_call(
                    "grpc_loopback",
                    service,
                    "Say",
                    metadata,
                    Some(b"\x0a\x02hi"),
                    Duration::from_secs(5),
                );
                match r {
                    Ok(t) => (0, Some(t)),
                    Err(e) => (status_code(Some(e)), None),
                }
            }
            _ => return Action::Continue,
        };
        let args = json!({ "what": bytes_value(&what), "status": status, "token": token });
        record(self.ctx, "action", args, None);
        Action::Pause
    }
}

/// Defines one metric of each type (and names twice), then uses them: the ids and every
/// status, for the `metrics` action.
fn metrics() -> Value {
    let def = |kind: u32, name: &str| {
        let (s, id) = raw::define_metric(kind, name);
        (
            if s == 0 {
                json!(id)
            } else {
                json!({ "err": s })
            },
            id,
        )
    };
    let (c, ci) = def(0, "probe.counter");
    let (g, gi) = def(1, "probe.gauge");
    let (h, hi) = def(2, "probe.histogram");
    let (c2, _) = def(0, "probe.counter");
    let (gc, _) = def(0, "probe.gauge");
    let (bad, _) = def(7, "probe.bad_type");
    let get = |id: u32| match raw::get_metric(id) {
        (0, v) => json!(v),
        (s, _) => json!({ "err": s }),
    };
    json!({
        "what": "metrics",
        "ids": { "counter": c, "gauge": g, "histogram": h, "counter_again": c2,
                 "gauge_name_as_counter": gc, "bad_type": bad },
        "counter": { "inc1": raw::increment_metric(ci, 1), "inc0": raw::increment_metric(ci, 0),
                     "inc_neg": raw::increment_metric(ci, -1), "record5": raw::record_metric(ci, 5) },
        "gauge": { "record7": raw::record_metric(gi, 7), "inc_neg": raw::increment_metric(gi, -2) },
        "histogram": { "record3": raw::record_metric(hi, 3), "inc1": raw::increment_metric(hi, 1),
                       "get": get(hi) },
        "unknown": { "get": get(0xfff0), "inc": raw::increment_metric(0xfff0, 1),
                     "record": raw::record_metric(0xfff0, 1) },
    })
}

/// Calls Envoy's foreign functions with empty arguments, and an unknown one: the statuses,
/// for the `foreign` action.
fn foreign() -> Value {
    let names = [
        "set_envoy_filter_state",
        "declare_property",
        "clear_route_cache",
        "compress",
        "uncompress",
        "verify_signature",
        "sign",
        "expr_create",
        "expr_evaluate",
        "expr_delete",
        "no_such_function",
    ];
    let mut out = Map::new();
    for n in names {
        let (s, r) = raw::call_foreign_function(n, b"");
        out.insert(n.into(), json!({ "s": s, "len": r.len() }));
    }
    // `proxy_done` outside a shutdown: NotFound in Envoy (no root is pending done).
    let done = raw::done();
    json!({ "what": "foreign", "calls": out, "done": done })
}

/// Traps the VM (a wasm `unreachable`), as a plugin bug would.
#[allow(unsafe_code)]
fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::unreachable()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::process::abort()
    }
}

/// The ABI code of a hostcall's outcome (`0` for Ok).
fn status_code(e: Option<proxy_wasm::types::Status>) -> u32 {
    e.map_or(0, |e| e as u32)
}

impl Drop for Probe {
    fn drop(&mut self) {
        record(self.ctx, "delete", json!({}), None);
    }
}

impl Context for Probe {
    fn on_done(&mut self) -> bool {
        record(self.ctx, "done", json!({}), None);
        true
    }

    fn on_grpc_call_response(&mut self, token: u32, status_code: u32, size: usize) {
        record_grpc(self.ctx, token, status_code, size);
    }

    fn on_http_call_response(&mut self, token: u32, n: usize, body_size: usize, trailers: usize) {
        let args =
            json!({ "token": token, "headers": n, "body_size": body_size, "trailers": trailers });
        record_callout(self.ctx, args, body_size);
        let resumed = status_code(proxy_wasm::hostcalls::resume_http_request().err());
        record(self.ctx, "resume", json!({ "status": resumed }), None);
    }
}

/// The `grpc_call_response` record: the token, the status the SDK passes (0 for a message,
/// else `on_grpc_close`'s), the message (the receive buffer) and `proxy_get_status`.
fn record_grpc(ctx: u32, token: u32, code: u32, size: usize) {
    let (bs, b) = raw::buffer_bytes(5, 0, size);
    let (gs, gcode, gmessage) = raw::get_status();
    let detail = json!({ "s": gs, "code": gcode, "message": bytes_value(&gmessage) });
    let args = json!({ "token": token, "status": code, "size": size,
                       "message": status_value(bs, bytes_value(&b)), "grpc_status": detail });
    record(ctx, "grpc_call_response", args, None);
    let resumed = status_code(proxy_wasm::hostcalls::resume_http_request().err());
    record(ctx, "resume", json!({ "status": resumed }), None);
}

/// The `http_call_response` record: the usual fields, and the callout's response headers
/// and body (`callout`).
fn record_callout(ctx: u32, args: Value, body_size: usize) {
    let (hs, h) = raw::map_pairs(6);
    let (bs, b) = raw::buffer_bytes(4, 0, body_size);
    let callout =
        json!({ "headers": pairs_value(hs, &h), "body": status_value(bs, bytes_value(&b)) });
    record_with(ctx, "http_call_response", args, None, Some(callout));
}

impl HttpContext for Probe {
    fn on_http_request_headers(&mut self, n: usize, eos: bool) -> Action {
        let args = json!({ "headers": n, "end_of_stream": eos });
        record(self.ctx, "request_headers", args, None);
        self.act()
    }

    fn on_http_request_body(&mut self, size: usize, eos: bool) -> Action {
        let args = json!({ "body_size": size, "end_of_stream": eos });
        record(self.ctx, "request_body", args, Some((0, size)));
        Action::Continue
    }

    fn on_http_request_trailers(&mut self, n: usize) -> Action {
        record(self.ctx, "request_trailers", json!({ "trailers": n }), None);
        Action::Continue
    }

    fn on_http_response_headers(&mut self, n: usize, eos: bool) -> Action {
        let args = json!({ "headers": n, "end_of_stream": eos });
        record(self.ctx, "response_headers", args, None);
        Action::Continue
    }

    fn on_http_response_body(&mut self, size: usize, eos: bool) -> Action {
        let args = json!({ "body_size": size, "end_of_stream": eos });
        record(self.ctx, "response_body", args, Some((1, size)));
        Action::Continue
    }

    fn on_http_response_trailers(&mut self, n: usize) -> Action {
        record(
            self.ctx,
            "response_trailers",
            json!({ "trailers": n }),
            None,
        );
        Action::Continue
    }

    fn on_log(&mut self) {
        record(self.ctx, "log", json!({}), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_segments() {
        assert_eq!(segments("request.path"), ["request", "path"]);
        assert_eq!(
            segments("request.headers.user-agent"),
            ["request", "headers", "user-agent"]
        );
        assert_eq!(
            segments("metadata.filter_metadata.envoy.filters.http.jwt_authn.jwt_payload.sub"),
            [
                "metadata",
                "filter_metadata",
                "envoy.filters.http.jwt_authn",
                "jwt_payload",
                "sub"
            ]
        );
    }

    #[test]
    fn values() {
        assert_eq!(bytes_value(b"ab"), json!("ab"));
        assert_eq!(bytes_value(&[0xc0]), json!({"hex": "c0"}));
        assert_eq!(
            property_value(Kind::Int, 0, &200i64.to_le_bytes()),
            json!({"s": 0, "v": 200})
        );
        assert_eq!(property_value(Kind::Str, 1, b""), json!({"s": 1}));
    }
}
