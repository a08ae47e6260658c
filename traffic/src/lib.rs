//! Traffic files: JSON Lines, one HTTP exchange per line, replayed through the plugin by the
//! harness (`vigil-harness`) and the policy playground (`vigil-web`), and the request model
//! both present for each exchange ([`model`]). No wasmtime here: this crate also builds for
//! the browser.
//!
//! The first non-blank line names the format and its version: `{"vigil_traffic": 1}`
//! ([`FORMAT_VERSION`]); `vigil replay`, `vigil test` and the harness's library read it and
//! refuse other versions. Every further non-blank line is one exchange, a JSON object (parsing
//! is strict: unknown fields are errors):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `name` | optional string | a label for reports (`vigil hostcalls`); no effect on the exchange |
//! | `time` | string, RFC 3339 (`2026-11-23T09:00:01.000Z`, or an offset like `+01:00`) | request start; becomes `request.time` and the VM clock |
//! | `source` | string `"ip:port"` | downstream peer: `source.address`, `source.port` |
//! | `destination` | optional string `"ip:port"` | listener address (default `127.0.0.1:10000`) |
//! | `request` | object, optional only when `envoy.rejected_by` is `codec` | what the client sent |
//! | `request.method` | string | `:method` |
//! | `request.path` | string | `:path` (with the query) |
//! | `request.scheme` | optional string | `:scheme` (default `https` with `tls`, else `http`) |
//! | `request.protocol` | optional string | `request.protocol` (default `HTTP/1.1`) |
//! | `request.headers` | `[[name, value], ...]` | request headers in order, as the client sent them; `host` becomes `:authority`; the harness applies Envoy's HTTP/1 codec and connection manager (repeated inline headers such as `user-agent` merged with `,`; `transfer-encoding`, `connection`, `keep-alive`, `proxy-connection` and `upgrade` consumed; `connection: close` makes Envoy's response say so: see `vigil_harness::fidelity`) |
//! | `request.body` | optional value, or list of values | the body; a list gives the chunks Envoy's codec delivers one by one (a single value is one chunk) |
//! | `request.trailers` | optional `[[name, value], ...]` | request trailers |
//! | `response.status` | integer | `:status` and `response.code` |
//! | `response.headers` | `[[name, value], ...]` | response headers (optional); for a local reply (`rejected_by`), only the replying filter's own headers: Envoy adds `content-length` and `content-type` itself, and none at all for a codec rejection |
//! | `response.body` | optional value, or list of values | the body, as `request.body`; a local reply's body always comes in one call; a codec rejection's defaults to Envoy's (the status's reason phrase) |
//! | `response.trailers` | optional `[[name, value], ...]` | response trailers |
//! | `expect` | optional list of objects | for `vigil test`: the events this exchange must produce, in order, each by field subset (see `vigil_harness::expect`); `[]`: no event. Other readers ignore it |
//! | `callouts` | optional list of `{"headers": [[name, value], ...], "body": value, "trailers": [...]}` | the answers to the plugin's HTTP callouts and unary gRPC calls, in the order it dispatches them (`headers` include `:status`; for a gRPC call, the upstream's HTTP/2 reply: the message as a length-prefixed frame in `body` and `grpc-status` in `trailers`, or in `headers` for a trailers-only reply). Envoy answers a failed callout too: a timeout is `504` with body `upstream request timeout`, a connection failure a `503`, each with `content-length` and `content-type` (measured: conformance probe). A callout the file does not answer stays pending, as it would until its timeout |
//! | `tls` | optional `{"version": "TLSv1.3", "sni": "...", "local": cert, "peer": cert}`, a cert being `{"subject": "...", "uri_sans": [...], "dns_sans": [...], "sha256": "hex"}` (all optional) | the downstream connection's TLS, as Envoy's `connection.*` properties report it: `mtls` is true when `peer` is given; `tls_version`, `requested_server_name`, `subject_*_certificate`, the first `uri_san_*`/`dns_san_*` and `sha256_peer_certificate_digest` come from here (measured against Envoy with the conformance probe, with and without a client certificate). Absent: a plain connection |
//! | `envoy.rejected_by` | optional `"codec"` or `"filter"` | who answered instead of the upstream. `codec`: Envoy's HTTP codec rejected the request (431 `http1.headers_too_large`, 400 `http1.codec_error`, ...) before any filter: the plugin gets `on_context_create`, `on_log`, `on_done`, `on_delete` only, with no request headers and Envoy's local reply. `filter`: a filter after the plugin answered with a local reply (jwt_authn, RBAC or a rate limiter from the request headers; the buffer filter's 413 after some body): the plugin sees the request headers, then only the body chunks given in `request.body` (give none when the filter answered from the headers), without end of stream, never the trailers, then the local reply. Absent: the request went upstream |
//! | `envoy.request_headers_added` | optional `[[name, value], ...]` | headers that filters after the plugin add to the request (the buffer filter's `content-length` on a chunked request, jwt_authn's `forward_payload_header`, ext_authz's headers): in the request map from `on_log` on, before the router's `x-envoy-expected-rq-timeout-ms` |
//! | `envoy.response_flags` | optional list of short names (`"RL"`, `"UAEX"`, ...) | `response.flags` bitmask |
//! | `envoy.response_code_details` | optional string | `response.code_details` |
//! | `envoy.filter_metadata` | optional object `{ns: {key: value}}` | `metadata.filter_metadata`, as written by filters after the plugin (jwt_authn): visible from `on_log` on |
//! | `envoy.route_name` | optional string | `xds.route_name` (default empty: an unnamed route); none for a codec rejection |
//! | `envoy.cluster_name` | optional string | `xds.cluster_name`; none for a codec rejection |
//! | `envoy.upstream_address` | optional string `"ip:port"` | `upstream.address`, `upstream.port` from the response on |
//!
//! A "value" (header value or body) is either a JSON string (its UTF-8 bytes) or
//! `{"base64": "..."}` for arbitrary bytes.

pub mod model;
mod raw;
mod rng;
mod time;
mod tls;

pub use rng::Rng;
pub use time::{http_date, parse_rfc3339};
pub use tls::{Cert, Tls};

use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use thiserror::Error;

use raw::{RawBody, RawBytes, RawExchange, RawRequest};

/// A traffic (JSONL) problem; `line` is 1-based.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{file}:{line}: {message}")]
pub struct TrafficError {
    /// File name as given (or `-` / `<input>`).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A response delivered to `proxy_on_http_call_response` (a traffic file's `callouts`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpCallResponse {
    /// Headers (include `:status`).
    pub headers: Vec<Header>,
    /// Body.
    pub body: Vec<u8>,
    /// Trailers.
    pub trailers: Vec<Header>,
}

/// One header: lower-case name and raw value bytes.
pub type Header = (String, Vec<u8>);

/// The traffic format version this harness reads (the file's first line:
/// `{"vigil_traffic": 1}`).
pub const FORMAT_VERSION: u64 = 1;

/// The first line of a traffic file of this version.
pub const FORMAT_LINE: &str = r#"{"vigil_traffic": 1}"#;

/// Who answered a request instead of the upstream (`envoy.rejected_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RejectedBy {
    /// Envoy's HTTP codec, before any filter: the plugin sees no request at all.
    Codec,
    /// A filter after the plugin: only the body chunks given reach the plugin, without end
    /// of stream.
    Filter,
}

/// Request side of an exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `:method`.
    pub method: String,
    /// `:path` including the query.
    pub path: String,
    /// `:scheme`.
    pub scheme: String,
    /// `request.protocol` (`HTTP/1.1`, `HTTP/2`).
    pub protocol: String,
    /// Headers as sent by the client (names lower-cased, `host` included).
    pub headers: Vec<Header>,
    /// Body (empty: none).
    pub body: Vec<u8>,
    /// The body's chunks, as lengths in order (their sum is `body.len()`; none when empty).
    pub chunks: Vec<usize>,
    /// Trailers.
    pub trailers: Vec<Header>,
}

/// Response side of an exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// `:status`.
    pub status: u16,
    /// Headers (names lower-cased).
    pub headers: Vec<Header>,
    /// Body (empty: none).
    pub body: Vec<u8>,
    /// The body's chunks, as lengths (see [`Request::chunks`]).
    pub chunks: Vec<usize>,
    /// Trailers.
    pub trailers: Vec<Header>,
}

/// Envoy-side stream info of an exchange.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnvoyInfo {
    /// Legacy `response.flags` bitmask.
    pub response_flags: u64,
    /// `response.code_details`.
    pub response_code_details: Option<String>,
    /// `metadata.filter_metadata`.
    pub filter_metadata: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Who answered instead of the upstream, if anyone.
    pub rejected_by: Option<RejectedBy>,
    /// Request headers added by filters after the plugin (visible from `on_log`).
    pub request_headers_added: Vec<Header>,
    /// `xds.route_name`.
    pub route_name: Option<String>,
    /// `xds.cluster_name`.
    pub cluster_name: Option<String>,
    /// `upstream.address`.
    pub upstream_address: Option<String>,
}

/// One HTTP exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// Optional label (`name` in the traffic file).
    pub name: Option<String>,
    /// 1-based line in its traffic file (0 when parsed alone by [`parse_exchange`]).
    pub line: usize,
    /// Nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// Downstream `"ip:port"`.
    pub source: String,
    /// Local `"ip:port"`.
    pub destination: String,
    /// Request.
    pub request: Request,
    /// Response.
    pub response: Response,
    /// Stream info.
    pub envoy: EnvoyInfo,
    /// Answers to the plugin's HTTP callouts, in dispatch order.
    pub callouts: Vec<HttpCallResponse>,
    /// The downstream connection's TLS (`None`: plain).
    pub tls: Option<Tls>,
    /// The events expected of this exchange (`vigil test`), if any.
    pub expect: Option<Vec<serde_json::Value>>,
}

/// What `vigil_harness::Vm::run` takes: `&Exchange` (copied once per run) or a shared
/// `Arc<Exchange>` / `&Arc<Exchange>` (no copy).
pub trait SharedExchange {
    /// The exchange behind an `Arc`.
    fn into_shared(self) -> Arc<Exchange>;
}

impl SharedExchange for &Exchange {
    fn into_shared(self) -> Arc<Exchange> {
        Arc::new(self.clone())
    }
}

impl SharedExchange for Arc<Exchange> {
    fn into_shared(self) -> Arc<Exchange> {
        self
    }
}

impl SharedExchange for &Arc<Exchange> {
    fn into_shared(self) -> Arc<Exchange> {
        Arc::clone(self)
    }
}

/// Envoy's legacy response flag short names, in `ResponseFlag` bit order.
pub const RESPONSE_FLAGS: [&str; 30] = [
    "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC",
    "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO", "DR",
    "UDO",
];

/// Maps a short response flag name (`RL`) to its legacy bit (`0x800`).
pub fn response_flag_bit(name: &str) -> Option<u64> {
    RESPONSE_FLAGS
        .iter()
        .position(|f| *f == name)
        .map(|i| 1u64 << i)
}

fn bytes(v: RawBytes, what: &str) -> Result<Vec<u8>, String> {
    match v {
        RawBytes::Text(s) => Ok(s.into_bytes()),
        RawBytes::B64 { b64 } => base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| format!("{what}: invalid base64: {e}")),
    }
}

fn headers(v: Vec<(String, RawBytes)>, what: &str) -> Result<Vec<Header>, String> {
    v.into_iter()
        .map(|(k, val)| {
            if k.is_empty() {
                return Err(format!("{what}: empty header name"));
            }
            let b = bytes(val, &format!("{what} `{k}`"))?;
            Ok((k.to_ascii_lowercase(), b))
        })
        .collect()
}

fn check_addr(s: &str, what: &str) -> Result<(), String> {
    let (_, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{what} `{s}` must be \"ip:port\""))?;
    port.parse::<u16>()
        .map_err(|_| format!("{what} `{s}` has an invalid port"))?;
    Ok(())
}

fn body(v: Option<RawBody>, what: &str) -> Result<(Vec<u8>, Vec<usize>), String> {
    let parts = match v {
        None => Vec::new(),
        Some(RawBody::One(b)) => vec![bytes(b, what)?],
        Some(RawBody::Chunks(c)) => c
            .into_iter()
            .enumerate()
            .map(|(i, b)| bytes(b, &format!("{what} chunk {i}")))
            .collect::<Result<_, _>>()?,
    };
    if parts.iter().any(Vec::is_empty) && parts.len() > 1 {
        return Err(format!(
            "{what}: a chunk is empty (Envoy delivers no empty data chunk but the last)"
        ));
    }
    let chunks = parts.iter().map(Vec::len).filter(|n| *n > 0).collect();
    Ok((parts.concat(), chunks))
}

fn request(raw: RawRequest, tls: bool) -> Result<Request, String> {
    if raw.method.is_empty() || !raw.path.starts_with('/') {
        return Err("request.method must be non-empty and request.path must start with `/`".into());
    }
    let (body, chunks) = body(raw.body, "request body")?;
    Ok(Request {
        method: raw.method,
        path: raw.path,
        // Envoy's `:scheme` follows the connection: `https` over TLS.
        scheme: raw
            .scheme
            .unwrap_or_else(|| if tls { "https" } else { "http" }.into()),
        protocol: raw.protocol.unwrap_or_else(|| "HTTP/1.1".into()),
        headers: headers(raw.headers, "request header")?,
        body,
        chunks,
        trailers: headers(raw.trailers.unwrap_or_default(), "request trailer")?,
    })
}

/// Parses one exchange line (without the file/line context).
pub fn parse_exchange(line: &str) -> Result<Exchange, String> {
    if serde_json::from_str::<FormatLine>(line).is_ok() {
        return Err("a format line (`vigil_traffic`) only starts a file".into());
    }
    let raw: RawExchange = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let time_ns = parse_rfc3339(&raw.time)?;
    check_addr(&raw.source, "source")?;
    let destination = raw.destination.unwrap_or_else(|| "127.0.0.1:10000".into());
    check_addr(&destination, "destination")?;
    let envoy = raw.envoy.unwrap_or_default();
    let mut flags = 0u64;
    for f in &envoy.response_flags {
        flags |= response_flag_bit(f).ok_or_else(|| format!("unknown response flag `{f}`"))?;
    }
    let codec = envoy.rejected_by == Some(RejectedBy::Codec);
    let request = match raw.request {
        Some(r) => request(r, raw.tls.is_some())?,
        None if codec => Request {
            method: String::new(),
            path: String::new(),
            scheme: "http".into(),
            protocol: "HTTP/1.1".into(),
            headers: Vec::new(),
            body: Vec::new(),
            chunks: Vec::new(),
            trailers: Vec::new(),
        },
        None => return Err("missing `request` (only a codec rejection may omit it)".into()),
    };
    let response_headers = headers(raw.response.headers, "response header")?;
    if codec && !response_headers.is_empty() {
        return Err(
            "a codec rejection's response has Envoy's own headers: give no `response.headers`"
                .into(),
        );
    }
    let (mut response_body, mut response_chunks) = body(raw.response.body, "response body")?;
    if codec && response_body.is_empty() {
        response_body = model::reason_phrase(raw.response.status)
            .as_bytes()
            .to_vec();
    }
    if envoy.rejected_by.is_some() && !response_body.is_empty() {
        // A local reply's body comes in one call.
        response_chunks = vec![response_body.len()];
    }
    Ok(Exchange {
        name: raw.name,
        line: 0,
        time_ns,
        source: raw.source,
        destination,
        request,
        response: Response {
            status: raw.response.status,
            headers: response_headers,
            body: response_body,
            chunks: response_chunks,
            trailers: headers(
                raw.response.trailers.unwrap_or_default(),
                "response trailer",
            )?,
        },
        tls: raw.tls,
        expect: match raw.expect {
            Some(list) if list.iter().any(|v| !v.is_object()) => {
                return Err("`expect` must be a list of objects (field subsets)".into())
            }
            other => other,
        },
        callouts: raw
            .callouts
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let what = format!("callouts[{i}]");
                Ok(HttpCallResponse {
                    headers: headers(c.headers, &what)?,
                    body: c
                        .body
                        .map(|b| bytes(b, &what))
                        .transpose()?
                        .unwrap_or_default(),
                    trailers: headers(c.trailers, &what)?,
                })
            })
            .collect::<Result<_, String>>()?,
        envoy: EnvoyInfo {
            response_flags: flags,
            response_code_details: envoy.response_code_details,
            filter_metadata: envoy.filter_metadata,
            rejected_by: envoy.rejected_by,
            request_headers_added: headers(
                envoy.request_headers_added,
                "envoy.request_headers_added",
            )?,
            route_name: envoy.route_name,
            cluster_name: envoy.cluster_name,
            upstream_address: envoy.upstream_address,
        },
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatLine {
    vigil_traffic: u64,
}

fn check_format_line(line: &str) -> Result<(), String> {
    match serde_json::from_str::<FormatLine>(line) {
        Ok(f) if f.vigil_traffic == FORMAT_VERSION => Ok(()),
        Ok(f) => Err(format!(
            "traffic format version {} is not supported (this harness reads version {FORMAT_VERSION})",
            f.vigil_traffic
        )),
        Err(_) => Err(format!(
            "a traffic file starts with its format line `{FORMAT_LINE}`"
        )),
    }
}

/// Parses a whole traffic file: the format line, then one exchange per non-blank line; the
/// first error wins.
pub fn parse_traffic(file: &str, text: &str) -> Result<Vec<Exchange>, TrafficError> {
    let mut out = Vec::new();
    let mut format_seen = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |message| TrafficError {
            file: file.to_string(),
            line: i + 1,
            message,
        };
        if !format_seen {
            check_format_line(line).map_err(err)?;
            format_seen = true;
            continue;
        }
        let mut x = parse_exchange(line).map_err(err)?;
        x.line = i + 1;
        out.push(x);
    }
    if !format_seen {
        return Err(TrafficError {
            file: file.to_string(),
            line: 1,
            message: format!("empty traffic file (it starts with `{FORMAT_LINE}`)"),
        });
    }
    Ok(out)
}

/// A traffic file's text for `lines` (exchange lines), format line first.
pub fn with_format_line<I, S>(lines: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = String::from(FORMAT_LINE);
    out.push('\n');
    for l in lines {
        out.push_str(l.as_ref());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
