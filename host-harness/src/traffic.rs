//! Traffic files: JSON Lines, one HTTP exchange per line, replayed through the plugin.
//!
//! Each non-blank line is a JSON object (parsing is strict: unknown fields are errors):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `name` | optional string | a label for reports (`vigil hostcalls`); no effect on the exchange |
//! | `time` | string, RFC 3339 (`2026-11-23T09:00:01.000Z`, or an offset like `+01:00`) | request start; becomes `request.time` and the VM clock |
//! | `source` | string `"ip:port"` | downstream peer: `source.address`, `source.port` |
//! | `destination` | optional string `"ip:port"` | listener address (default `127.0.0.1:10000`) |
//! | `request.method` | string | `:method` |
//! | `request.path` | string | `:path` (with the query) |
//! | `request.scheme` | optional string | `:scheme` (default `http`) |
//! | `request.protocol` | optional string | `request.protocol` (default `HTTP/1.1`) |
//! | `request.headers` | `[[name, value], ...]` | request headers in order, as the client sent them; `host` becomes `:authority`; the harness applies Envoy's HTTP/1 codec (repeated inline headers such as `user-agent` merged with `,`, `transfer-encoding` dropped: see [`crate::fidelity`]) |
//! | `request.body` | optional value | request body (one chunk) |
//! | `request.trailers` | optional `[[name, value], ...]` | request trailers |
//! | `response.status` | integer | `:status` and `response.code` |
//! | `response.headers` | `[[name, value], ...]` | response headers (optional) |
//! | `response.body` | optional value | response body (one chunk) |
//! | `response.trailers` | optional `[[name, value], ...]` | response trailers |
//! | `envoy.response_flags` | optional list of short names (`"RL"`, `"UAEX"`, ...) | `response.flags` bitmask |
//! | `envoy.response_code_details` | optional string | `response.code_details` |
//! | `envoy.filter_metadata` | optional object `{ns: {key: value}}` | `metadata.filter_metadata` |
//! | `envoy.skip_request_callbacks` | optional bool | Envoy's codec rejected the request (e.g. 431, 400 `http1.*`): the filter context exists only to log the local reply (`on_context_create`, `on_log`, `on_done`, `on_delete`; no request or response callbacks), `response.*` is set from the start, and in `on_log` the request header map is empty (no `request.*` properties) |
//! | `envoy.route_name` | optional string | `route_name` |
//! | `envoy.cluster_name` | optional string | `cluster_name` |
//!
//! A "value" (header value or body) is either a JSON string (its UTF-8 bytes) or
//! `{"base64": "..."}` for arbitrary bytes.

use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::TrafficError;

/// Bytes given as a UTF-8 string or `{"base64": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum RawBytes {
    Text(String),
    B64 {
        #[serde(rename = "base64")]
        b64: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExchange {
    #[serde(default)]
    name: Option<String>,
    time: String,
    source: String,
    #[serde(default)]
    destination: Option<String>,
    request: RawRequest,
    response: RawResponse,
    #[serde(default)]
    envoy: Option<RawEnvoy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    method: String,
    path: String,
    #[serde(default)]
    scheme: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    headers: Vec<(String, RawBytes)>,
    #[serde(default)]
    body: Option<RawBytes>,
    #[serde(default)]
    trailers: Option<Vec<(String, RawBytes)>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResponse {
    status: u16,
    #[serde(default)]
    headers: Vec<(String, RawBytes)>,
    #[serde(default)]
    body: Option<RawBytes>,
    #[serde(default)]
    trailers: Option<Vec<(String, RawBytes)>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEnvoy {
    #[serde(default)]
    response_flags: Vec<String>,
    #[serde(default)]
    response_code_details: Option<String>,
    #[serde(default)]
    filter_metadata: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    #[serde(default)]
    skip_request_callbacks: bool,
    #[serde(default)]
    route_name: Option<String>,
    #[serde(default)]
    cluster_name: Option<String>,
}

/// One header: lower-case name and raw value bytes.
pub type Header = (String, Vec<u8>);

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
    /// Request callbacks skipped (local reply before the filter chain).
    pub skip_request_callbacks: bool,
    /// `route_name`.
    pub route_name: Option<String>,
    /// `cluster_name`.
    pub cluster_name: Option<String>,
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
}

/// What [`crate::Vm::run`] takes: `&Exchange` (copied once per run) or a shared
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

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str, what: &str) -> Result<u32, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad {what} `{s}`"));
    }
    s.parse().map_err(|_| format!("bad {what} `{s}`"))
}

/// Parses an RFC 3339 timestamp into nanoseconds since the Unix epoch.
pub fn parse_rfc3339(s: &str) -> Result<u64, String> {
    let err = |m: String| format!("invalid time `{s}`: {m}");
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(err("expected YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)".into()));
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(err("expected HH:MM:SS".into()));
    }
    let year = num(&s[0..4], "year").map_err(err)?;
    let month = num(&s[5..7], "month").map_err(err)?;
    let day = num(&s[8..10], "day").map_err(err)?;
    let hour = num(&s[11..13], "hour").map_err(err)?;
    let min = num(&s[14..16], "minute").map_err(err)?;
    let sec = num(&s[17..19], "second").map_err(err)?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) {
        return Err(err("month out of range".into()));
    }
    if day < 1 || day > mdays[(month - 1) as usize] {
        return Err(err("day out of range".into()));
    }
    if hour > 23 || min > 59 || sec > 60 {
        return Err(err("time of day out of range".into()));
    }
    let mut rest = &s[19..];
    let mut nanos: u64 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return Err(err("fraction must have 1 to 9 digits".into()));
        }
        let digits = &frac[..n];
        nanos = u64::from(num(digits, "fraction").map_err(err)?) * 10u64.pow(9 - n as u32);
        rest = &frac[n..];
    }
    let offset_secs: i64 = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            if &rest[3..4] != ":" {
                return Err(err("bad offset".into()));
            }
            let oh = i64::from(num(&rest[1..3], "offset hour").map_err(err)?);
            let om = i64::from(num(&rest[4..6], "offset minute").map_err(err)?);
            if oh > 23 || om > 59 {
                return Err(err("offset out of range".into()));
            }
            let v = oh * 3600 + om * 60;
            if rest.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return Err(err("expected `Z` or an offset `+HH:MM`".into())),
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec) - offset_secs;
    if secs < 0 {
        return Err(err("before 1970".into()));
    }
    Ok(secs as u64 * 1_000_000_000 + nanos)
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

/// Parses one traffic line (without the file/line context).
pub fn parse_exchange(line: &str) -> Result<Exchange, String> {
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
    if raw.request.method.is_empty() || !raw.request.path.starts_with('/') {
        return Err("request.method must be non-empty and request.path must start with `/`".into());
    }
    Ok(Exchange {
        name: raw.name,
        line: 0,
        time_ns,
        source: raw.source,
        destination,
        request: Request {
            method: raw.request.method,
            path: raw.request.path,
            scheme: raw.request.scheme.unwrap_or_else(|| "http".into()),
            protocol: raw.request.protocol.unwrap_or_else(|| "HTTP/1.1".into()),
            headers: headers(raw.request.headers, "request header")?,
            body: raw
                .request
                .body
                .map(|b| bytes(b, "request body"))
                .transpose()?
                .unwrap_or_default(),
            trailers: headers(raw.request.trailers.unwrap_or_default(), "request trailer")?,
        },
        response: Response {
            status: raw.response.status,
            headers: headers(raw.response.headers, "response header")?,
            body: raw
                .response
                .body
                .map(|b| bytes(b, "response body"))
                .transpose()?
                .unwrap_or_default(),
            trailers: headers(
                raw.response.trailers.unwrap_or_default(),
                "response trailer",
            )?,
        },
        envoy: EnvoyInfo {
            response_flags: flags,
            response_code_details: envoy.response_code_details,
            filter_metadata: envoy.filter_metadata,
            skip_request_callbacks: envoy.skip_request_callbacks,
            route_name: envoy.route_name,
            cluster_name: envoy.cluster_name,
        },
    })
}

/// Parses a whole traffic file; blank lines are skipped; the first error wins.
pub fn parse_traffic(file: &str, text: &str) -> Result<Vec<Exchange>, TrafficError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut x = parse_exchange(line).map_err(|message| TrafficError {
            file: file.to_string(),
            line: i + 1,
            message,
        })?;
        x.line = i + 1;
        out.push(x);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"time": "2026-11-23T09:00:01.000Z", "source": "203.0.113.7:40001", "request": {"method": "POST", "path": "/login?x=1", "headers": [["Host","a"], ["user-agent",{"base64":"wKc="}]], "body": "pw"}, "response": {"status": 401, "headers": [["content-type","text/plain"]]}, "envoy": {"response_flags": ["RL", "UAEX"], "filter_metadata": {"ns": {"key": {"leaf": "v"}}}}}"#;

    #[test]
    fn parses_full_line() {
        let x = parse_exchange(LINE).unwrap();
        assert_eq!(x.request.headers[0], ("host".into(), b"a".to_vec()));
        assert_eq!(x.request.headers[1].1, vec![0xC0, 0xA7]);
        assert_eq!(x.request.body, b"pw");
        assert_eq!(x.envoy.response_flags, 0x800 | 0x1000);
        assert_eq!(x.time_ns, 1_795_424_401_000_000_000);
    }

    #[test]
    fn flags_map_to_bits() {
        assert_eq!(response_flag_bit("LH"), Some(1));
        assert_eq!(response_flag_bit("RL"), Some(0x800));
        assert_eq!(response_flag_bit("RLSE"), Some(0x2000));
        assert_eq!(response_flag_bit("UDO"), Some(0x2000_0000));
        assert_eq!(response_flag_bit("XX"), None);
    }

    #[test]
    fn times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00").unwrap(), 0);
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00.5Z").unwrap(),
            951_868_800_500_000_000
        );
        assert!(parse_rfc3339("2026-02-30T00:00:00Z").is_err());
        assert!(parse_rfc3339("2026-11-23 09:00").is_err());
        assert!(parse_rfc3339("2026-11-23T09:00:00").is_err());
    }

    #[test]
    fn strict_and_line_numbers() {
        let bad = LINE.replace("\"source\"", "\"sauce\"");
        let text = format!("{LINE}\n\n{bad}\n");
        let e = parse_traffic("t.jsonl", &text).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.to_string().starts_with("t.jsonl:3: "), "{e}");
        let unk = LINE.replace("\"RL\"", "\"NOPE\"");
        let e = parse_traffic("t", &unk).unwrap_err();
        assert!(e.message.contains("NOPE"));
    }
}
