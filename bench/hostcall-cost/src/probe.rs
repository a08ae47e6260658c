//! The probe's configuration: which hostcalls, with which arguments, how many times, where.
//!
//! The plugin configuration is JSON, one of two forms:
//!
//! - **one kind**, `n` calls of it per request (`scripts/bench --probe`):
//!   `{"call":"get_property","arg":"response.code","n":20,"in":"on_log"}`;
//! - **a sequence** of steps, each one call (`n` defaults to 1) of a kind, made in order within
//!   its callback, callbacks in request order (`scripts/bench`'s floor variants):
//!   `{"sequence":[{"call":"get_header_map_pairs","in":"on_request_headers"},
//!   {"call":"get_property","arg":"response.flags","in":"on_log","if_method":"POST"}, ...]}`.
//!   A step with `"if_method": "POST"` runs only on requests with that `:method`, which the
//!   probe takes from the answer of an earlier `get_header_map_pairs` step on the request map
//!   in `on_request_headers` (required; no extra hostcall), as Vigil takes it from its snapshot.
//!
//! | `call` | `arg` | notes |
//! |---|---|---|
//! | `none` | – | no call (`n` ignored) |
//! | `get_property` | a path: `"response.code"` (split on `.`) or `["metadata", "filter_metadata", "envoy.filters.http.jwt_authn", "jwt_payload", "sub"]` | |
//! | `get_header_map_value` | a header name | `"map": "request"` (default) or `"response"` |
//! | `get_header_map_pairs` | – | `"map"` as above |
//! | `set_property` | the key, one segment (`"vigil.event.0"` is filter state `wasm.vigil.event.0`) | `"size"`: value bytes (800) |
//! | `get_shared_data` | the key (`"probe.key"`) | the key is set at start (`"size"` bytes, 8) |
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

/// Where the calls are made; ordered as Envoy calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// One step: `n` calls of one kind, in one callback, maybe only for one request method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The call.
    pub call: Call,
    /// Calls per request.
    pub n: u32,
    /// Where.
    pub phase: Phase,
    /// Only on requests with this `:method` (from the request's header pairs).
    pub if_method: Option<Vec<u8>>,
}

/// A parsed probe configuration: its steps, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The steps; one for the one-kind form.
    pub steps: Vec<Step>,
    /// Whether it came as `{"sequence": [...]}` (its gauges are per step).
    pub sequence: bool,
}

impl Default for Probe {
    fn default() -> Probe {
        Probe {
            steps: vec![Step {
                call: Call::None,
                n: 0,
                phase: Phase::Log,
                if_method: None,
            }],
            sequence: false,
        }
    }
}

impl Probe {
    /// Whether some step runs only for one request method.
    pub fn wants_method(&self) -> bool {
        self.steps.iter().any(|s| s.if_method.is_some())
    }

    /// Whether step `i` is the one whose answer gives the request's method: the first
    /// `get_header_map_pairs` step on the request map in `on_request_headers`.
    pub fn is_method_source(&self, i: usize) -> bool {
        self.method_source() == Some(i)
    }

    fn method_source(&self) -> Option<usize> {
        self.steps.iter().position(|s| {
            s.phase == Phase::RequestHeaders && s.call == Call::GetPairs(0) && s.n > 0
        })
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

impl Step {
    /// Parses one step (the one-kind form is one step; `n` defaults to 1).
    pub fn parse(cfg: &Value) -> Result<Step, String> {
        let name = cfg
            .get("call")
            .and_then(Value::as_str)
            .ok_or("call: required (a string)")?;
        let key = || str_arg(cfg, DEFAULT_SHARED_KEY).as_bytes().to_vec();
        let call = match name {
            "none" => Call::None,
            "get_property" => Call::GetProperty(path_arg(cfg, Some('.'))?),
            "get_header_map_value" => Call::GetHeader(
                map_arg(cfg)?,
                str_arg(cfg, "user-agent").as_bytes().to_vec(),
            ),
            "get_header_map_pairs" => Call::GetPairs(map_arg(cfg)?),
            "set_property" => Call::SetProperty(path_arg(cfg, None)?, filler(size_arg(cfg, 800))),
            "get_shared_data" => Call::GetShared(key()),
            "set_shared_data" => Call::SetShared(key(), filler(size_arg(cfg, 8))),
            "cas_shared_data" => Call::CasShared(key(), filler(size_arg(cfg, 8))),
            "increment_metric" => Call::IncrementMetric,
            "proxy_log" => {
                let level = cfg.get("level").and_then(Value::as_u64).unwrap_or(2);
                Call::Log(level.min(5) as u32, filler(size_arg(cfg, 800)))
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
        let if_method = match cfg.get("if_method") {
            None => None,
            Some(Value::String(m)) => Some(m.as_bytes().to_vec()),
            Some(_) => return Err("if_method: a method name (string)".into()),
        };
        Ok(Step {
            call,
            n,
            phase,
            if_method,
        })
    }
}

impl Probe {
    /// Parses a configuration; empty means `none`.
    pub fn parse(bytes: &[u8]) -> Result<Probe, String> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Probe::default());
        }
        let cfg: Value = serde_json::from_slice(bytes).map_err(|e| format!("probe config: {e}"))?;
        let Some(seq) = cfg.get("sequence") else {
            let step = Step::parse(&cfg)?;
            if step.if_method.is_some() {
                return Err("if_method: only in a sequence".into());
            }
            return Ok(Probe {
                steps: vec![step],
                sequence: false,
            });
        };
        let steps = seq
            .as_array()
            .ok_or("sequence: an array of steps")?
            .iter()
            .enumerate()
            .map(|(i, s)| Step::parse(s).map_err(|e| format!("sequence[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let probe = Probe {
            steps,
            sequence: true,
        };
        // A method condition needs the method known before the step runs: callbacks run in
        // phase order, steps of one callback in sequence order.
        let source = probe.method_source().map(|j| (probe.steps[j].phase, j));
        for (i, s) in probe.steps.iter().enumerate() {
            if s.if_method.is_some() && source.is_none_or(|src| src >= (s.phase, i)) {
                return Err(format!(
                    "sequence[{i}]: if_method needs an earlier get_header_map_pairs step on the \
                     request map in on_request_headers"
                ));
            }
        }
        Ok(probe)
    }
}

/// The value of header `name` in a proxy-wasm header map serialization (`u32` count, then
/// `count` × (`u32` name size, `u32` value size), then each name and value `\0`-terminated).
pub fn header_in_pairs<'a>(pairs: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let u32_at = |i: usize| -> Option<usize> {
        Some(u32::from_le_bytes(pairs.get(i..i + 4)?.try_into().ok()?) as usize)
    };
    let count = u32_at(0)?;
    let mut data = 4 + 8 * count;
    for k in 0..count {
        let (ks, vs) = (u32_at(4 + 8 * k)?, u32_at(8 + 8 * k)?);
        let key = pairs.get(data..data + ks)?;
        let value = pairs.get(data + ks + 1..data + ks + 1 + vs)?;
        if key == name {
            return Some(value);
        }
        data += ks + vs + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one step of a one-kind configuration.
    fn one(bytes: &[u8]) -> Result<Step, String> {
        Probe::parse(bytes).map(|p| p.steps[0].clone())
    }

    #[test]
    fn parses_the_documented_forms() {
        let p = Probe::parse(br#"{"call":"get_property","arg":"response.code","n":20}"#);
        assert_eq!(
            p,
            Ok(Probe {
                steps: vec![Step {
                    call: Call::GetProperty(b"response\0code".to_vec()),
                    n: 20,
                    phase: Phase::Log,
                    if_method: None,
                }],
                sequence: false,
            })
        );
        let p = one(br#"{"call":"get_property","arg":["metadata","a.b"],"n":1}"#);
        assert_eq!(
            p.map(|p| p.call),
            Ok(Call::GetProperty(b"metadata\0a.b".to_vec()))
        );
        let p = one(br#"{"call":"set_property","arg":"vigil.event.0","n":3}"#);
        assert!(
            matches!(p.map(|p| p.call), Ok(Call::SetProperty(k, v)) if k == b"vigil.event.0" && v.len() == 800)
        );
        let p = one(br#"{"call":"get_buffer_bytes","n":2}"#);
        assert_eq!(p.map(|p| p.phase), Ok(Phase::RequestBody));
        assert_eq!(Probe::parse(b""), Ok(Probe::default()));
        assert_eq!(one(br#"{"call":"none","n":9}"#).map(|p| p.n), Ok(0));
    }

    #[test]
    fn parses_a_sequence() {
        let p = Probe::parse(
            br#"{"sequence":[
                {"call":"get_header_map_pairs","in":"on_request_headers"},
                {"call":"get_current_time_nanoseconds","in":"on_request_headers"},
                {"call":"get_header_map_value","map":"response","arg":":status","in":"on_response_headers"},
                {"call":"cas_shared_data","arg":"vigil.det.v1.source.0","size":109,"if_method":"POST"},
                {"call":"proxy_log","size":700,"if_method":"POST"}]}"#,
        );
        let p = match p {
            Ok(p) => p,
            Err(e) => return assert_eq!(e, "no error"),
        };
        assert!(p.sequence && p.wants_method() && p.is_method_source(0));
        assert_eq!(p.steps.len(), 5);
        assert!(p.steps.iter().all(|s| s.n == 1));
        assert_eq!(p.steps[2].call, Call::GetHeader(2, b":status".to_vec()));
        assert_eq!(p.steps[3].if_method.as_deref(), Some(&b"POST"[..]));
        assert!(
            matches!(&p.steps[3].call, Call::CasShared(k, v) if k == b"vigil.det.v1.source.0" && v.len() == 109)
        );
        assert!(matches!(&p.steps[4].call, Call::Log(2, m) if m.len() == 700));
        assert_eq!(p.steps[4].phase, Phase::Log);
    }

    #[test]
    fn rejects_nonsense() {
        assert!(Probe::parse(b"{").is_err());
        assert!(Probe::parse(br#"{"call":"nope"}"#).is_err());
        assert!(Probe::parse(br#"{"call":"get_property"}"#).is_err());
        assert!(Probe::parse(br#"{"call":"get_header_map_pairs","map":"x"}"#).is_err());
        assert!(Probe::parse(br#"{"call":"none","in":"later"}"#).is_err());
        assert!(Probe::parse(br#"{"sequence":{}}"#).is_err());
        assert!(Probe::parse(br#"{"sequence":[{"call":"nope"}]}"#).is_err());
        assert!(Probe::parse(br#"{"call":"get_log_level","if_method":"GET"}"#).is_err());
        // The method must be known before the step runs.
        assert!(
            Probe::parse(br#"{"sequence":[{"call":"get_log_level","if_method":"GET"}]}"#).is_err()
        );
        assert!(Probe::parse(
            br#"{"sequence":[{"call":"get_log_level","in":"on_request_headers","if_method":"GET"},
                {"call":"get_header_map_pairs","in":"on_request_headers"}]}"#
        )
        .is_err());
        assert!(Probe::parse(
            br#"{"sequence":[{"call":"get_log_level","if_method":"GET"},
                {"call":"get_header_map_pairs","in":"on_request_headers"}]}"#
        )
        .is_ok());
    }

    #[test]
    fn finds_a_header_in_pairs() {
        let mut b = Vec::new();
        b.extend_from_slice(&2u32.to_le_bytes());
        for (k, v) in [(":method", "POST"), (":path", "/login")] {
            b.extend_from_slice(&(k.len() as u32).to_le_bytes());
            b.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(b":method\0POST\0:path\0/login\0");
        assert_eq!(header_in_pairs(&b, b":method"), Some(&b"POST"[..]));
        assert_eq!(header_in_pairs(&b, b":path"), Some(&b"/login"[..]));
        assert_eq!(header_in_pairs(&b, b"host"), None);
        assert_eq!(header_in_pairs(&b[..20], b":path"), None);
        assert_eq!(header_in_pairs(&[], b":path"), None);
    }

    #[test]
    fn filler_has_the_asked_size() {
        for size in [0, 1, 5, 11, 12, 13, 800] {
            assert_eq!(filler(size).len(), size);
        }
        assert!(filler(800).ends_with(b"\"}"));
    }
}
