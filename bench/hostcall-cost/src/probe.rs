//! The probe's configuration: which hostcall, with which argument, how many times, where.
//!
//! The plugin configuration is JSON, e.g.
//! `{"call":"get_property","arg":"response.code","n":20,"in":"on_log"}`:
//!
//! | `call` | `arg` | notes |
//! |---|---|---|
//! | `none` | – | no call (`n` ignored) |
//! | `get_property` | a path: `"response.code"` (split on `.`) or `["metadata", "filter_metadata", "envoy.filters.http.jwt_authn", "jwt_payload", "sub"]` | |
//! | `get_header_map_value` | a header name | `"map": "request"` (default) or `"response"` |
//! | `get_header_map_pairs` | – | `"map"` as above |
//! | `set_property` | the key, one segment (`"vigil.event.0"` is filter state `wasm.vigil.event.0`) | `"size"`: value bytes (800) |
//! | `get_shared_data` | the key (`"probe.key"`) | the key is set at start |
//! | `set_shared_data` | the key | CAS 0 (unconditional), `"size"` bytes (8) |
//! | `cas_shared_data` | the key | one get + one set with its CAS: a detector's update |
//! | `increment_metric` | – | a counter `probe.counter` |
//! | `proxy_log` | – | level `"level"` (2 = info), `"size"` bytes (800) |
//! | `get_current_time_nanoseconds`, `get_log_level` | – | |
//! | `get_buffer_bytes` | – | the request body, in `on_request_body` |
//!
//! `in` is one of `on_request_headers`, `on_request_body`, `on_response_headers`, `on_log`
//! (default: `on_request_body` for `get_buffer_bytes`, else `on_log`).

use serde_json::Value;

/// Where the calls are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `on_http_request_headers`
    RequestHeaders,
    /// `on_http_request_body`
    RequestBody,
    /// `on_http_response_headers`
    ResponseHeaders,
    /// `on_log`
    Log,
}

/// One kind of hostcall, with its arguments prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// No call.
    None,
    /// `proxy_get_property(path)`; the path serialized (segments joined by `\0`).
    GetProperty(Vec<u8>),
    /// `proxy_get_header_map_value(map, name)`.
    GetHeader(u32, Vec<u8>),
    /// `proxy_get_header_map_pairs(map)`.
    GetPairs(u32),
    /// `proxy_set_property(path, value)`.
    SetProperty(Vec<u8>, Vec<u8>),
    /// `proxy_get_shared_data(key)`.
    GetShared(Vec<u8>),
    /// `proxy_set_shared_data(key, value, 0)`.
    SetShared(Vec<u8>, Vec<u8>),
    /// `proxy_get_shared_data(key)` then `proxy_set_shared_data(key, value, cas)`.
    CasShared(Vec<u8>, Vec<u8>),
    /// `proxy_increment_metric(probe.counter, 1)`.
    IncrementMetric,
    /// `proxy_log(level, message)`.
    Log(u32, Vec<u8>),
    /// `proxy_get_current_time_nanoseconds`.
    Time,
    /// `proxy_get_log_level`.
    LogLevel,
    /// `proxy_get_buffer_bytes(request body, 0, body size)`.
    RequestBody,
}

/// A parsed probe configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The call.
    pub call: Call,
    /// Calls per request.
    pub n: u32,
    /// Where.
    pub phase: Phase,
}

impl Default for Probe {
    fn default() -> Probe {
        Probe {
            call: Call::None,
            n: 0,
            phase: Phase::Log,
        }
    }
}

/// The shared-data key used when none is given (set at start).
pub const DEFAULT_SHARED_KEY: &str = "probe.key";

/// A value of `size` bytes: printable, JSON-ish, like an event line.
pub fn filler(size: usize) -> Vec<u8> {
    let (head, tail) = (b"{\"probe\":\"", b"\"}");
    if size < head.len() + tail.len() {
        return vec![b'a'; size];
    }
    let mut v = head.to_vec();
    while v.len() < size - tail.len() {
        v.push(b'a' + (v.len() % 26) as u8);
    }
    v.extend_from_slice(tail);
    v
}

fn str_arg<'a>(cfg: &'a Value, default: &'a str) -> &'a str {
    cfg.get("arg").and_then(Value::as_str).unwrap_or(default)
}

fn size_arg(cfg: &Value, default: usize) -> usize {
    cfg.get("size")
        .and_then(Value::as_u64)
        .map_or(default, |s| s.min(1 << 20) as usize)
}

fn map_arg(cfg: &Value) -> Result<u32, String> {
    match cfg.get("map").and_then(Value::as_str).unwrap_or("request") {
        "request" => Ok(0),
        "response" => Ok(2),
        other => Err(format!("map: `{other}` is not `request` or `response`")),
    }
}

/// Serializes a property path: a string splits on `split` (if any), an array is taken as is.
fn path_arg(cfg: &Value, split: Option<char>) -> Result<Vec<u8>, String> {
    let segments: Vec<String> = match cfg.get("arg") {
        Some(Value::String(s)) => match split {
            Some(c) => s.split(c).map(str::to_owned).collect(),
            None => vec![s.clone()],
        },
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or("arg: every path segment must be a string")?,
        _ => return Err("arg: a property path (string or array of strings) is required".into()),
    };
    Ok(segments.join("\0").into_bytes())
}

impl Probe {
    /// Parses a configuration; empty means `none`.
    pub fn parse(bytes: &[u8]) -> Result<Probe, String> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Probe::default());
        }
        let cfg: Value = serde_json::from_slice(bytes).map_err(|e| format!("probe config: {e}"))?;
        let name = cfg
            .get("call")
            .and_then(Value::as_str)
            .ok_or("call: required (a string)")?;
        let key = || str_arg(&cfg, DEFAULT_SHARED_KEY).as_bytes().to_vec();
        let call = match name {
            "none" => Call::None,
            "get_property" => Call::GetProperty(path_arg(&cfg, Some('.'))?),
            "get_header_map_value" => Call::GetHeader(
                map_arg(&cfg)?,
                str_arg(&cfg, "user-agent").as_bytes().to_vec(),
            ),
            "get_header_map_pairs" => Call::GetPairs(map_arg(&cfg)?),
            "set_property" => Call::SetProperty(path_arg(&cfg, None)?, filler(size_arg(&cfg, 800))),
            "get_shared_data" => Call::GetShared(key()),
            "set_shared_data" => Call::SetShared(key(), filler(size_arg(&cfg, 8))),
            "cas_shared_data" => Call::CasShared(key(), filler(size_arg(&cfg, 8))),
            "increment_metric" => Call::IncrementMetric,
            "proxy_log" => {
                let level = cfg.get("level").and_then(Value::as_u64).unwrap_or(2);
                Call::Log(level.min(5) as u32, filler(size_arg(&cfg, 800)))
            }
            "get_current_time_nanoseconds" => Call::Time,
            "get_log_level" => Call::LogLevel,
            "get_buffer_bytes" => Call::RequestBody,
            other => return Err(format!("call: unknown `{other}`")),
        };
        let n = match call {
            Call::None => 0,
            _ => cfg
                .get("n")
                .and_then(Value::as_u64)
                .map_or(1, |n| n.min(100_000) as u32),
        };
        let phase = match cfg.get("in").and_then(Value::as_str) {
            None if call == Call::RequestBody => Phase::RequestBody,
            None | Some("on_log") => Phase::Log,
            Some("on_request_headers") => Phase::RequestHeaders,
            Some("on_request_body") => Phase::RequestBody,
            Some("on_response_headers") => Phase::ResponseHeaders,
            Some(other) => return Err(format!("in: unknown phase `{other}`")),
        };
        Ok(Probe { call, n, phase })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let p = Probe::parse(br#"{"call":"get_property","arg":"response.code","n":20}"#);
        assert_eq!(
            p,
            Ok(Probe {
                call: Call::GetProperty(b"response\0code".to_vec()),
                n: 20,
                phase: Phase::Log
            })
        );
        let p = Probe::parse(br#"{"call":"get_property","arg":["metadata","a.b"],"n":1}"#);
        assert_eq!(
            p.map(|p| p.call),
            Ok(Call::GetProperty(b"metadata\0a.b".to_vec()))
        );
        let p = Probe::parse(br#"{"call":"set_property","arg":"vigil.event.0","n":3}"#);
        assert!(
            matches!(p.map(|p| p.call), Ok(Call::SetProperty(k, v)) if k == b"vigil.event.0" && v.len() == 800)
        );
        let p = Probe::parse(br#"{"call":"get_buffer_bytes","n":2}"#);
        assert_eq!(p.map(|p| p.phase), Ok(Phase::RequestBody));
        assert_eq!(Probe::parse(b""), Ok(Probe::default()));
        assert_eq!(
            Probe::parse(br#"{"call":"none","n":9}"#).map(|p| p.n),
            Ok(0)
        );
    }

    #[test]
    fn rejects_nonsense() {
        assert!(Probe::parse(b"{").is_err());
        assert!(Probe::parse(br#"{"call":"nope"}"#).is_err());
        assert!(Probe::parse(br#"{"call":"get_property"}"#).is_err());
        assert!(Probe::parse(br#"{"call":"get_header_map_pairs","map":"x"}"#).is_err());
        assert!(Probe::parse(br#"{"call":"none","in":"later"}"#).is_err());
    }

    #[test]
    fn filler_has_the_asked_size() {
        for size in [0, 1, 5, 11, 12, 13, 800] {
            assert_eq!(filler(size).len(), size);
        }
        assert!(filler(800).ends_with(b"\"}"));
    }
}
