//! Envoy's byte-level facts, in one place: property paths and their encodings, response-flag
//! bits, `response.code_details` prefixes, filter-state keys, and the shape of a wasm log line.
//!
//! Everything here was measured against Envoy 1.40 (see `envoy/README.md` and the shared
//! notes); the rest of the brain reads Envoy only through these names.
//!
//! | fact | value |
//! |---|---|
//! | integer properties (`response.code`, `response.flags`, `source.port`) | 8-byte little-endian |
//! | `request.time` | ns since the epoch, 8-byte little-endian |
//! | a header map (`get_header_map_pairs`) | `u32` count, `count` × (`u32` key len, `u32` value len), then each key and value NUL-terminated; all little-endian |
//! | metadata number leaves | 8-byte little-endian `f64` |
//! | `source.address` | `ip:port` (`[v6]:port`) |
//! | property path | segments joined with `\0` (the adapter does the joining) |
//! | `set_property(["k"], v)` from a stream | filter state `wasm.k`, printed verbatim by `%FILTER_STATE(wasm.k:PLAIN)%` |
//! | a wasm `proxy_log` line in Envoy's log | `wasm log <plugin> <root_id> <vm_id>: <message>` even with `--log-format '%v'` |
//! | `response.flags` with a rate-limit flag | only on a local reply whose status is 4xx/5xx (local_ratelimit and ratelimit refuse codes below 400) |

/// `response.code`
pub const RESPONSE_CODE: &[&str] = &["response", "code"];
/// `response.flags`
pub const RESPONSE_FLAGS_PROPERTY: &[&str] = &["response", "flags"];
/// `response.code_details`
pub const RESPONSE_CODE_DETAILS: &[&str] = &["response", "code_details"];
/// `request.time`
pub const REQUEST_TIME: &[&str] = &["request", "time"];
/// `source.address`
pub const SOURCE_ADDRESS: &[&str] = &["source", "address"];

/// The path of a dynamic-metadata leaf: `metadata.filter_metadata.<namespace>.<key>.<leaf>`.
pub fn metadata_leaf<'a>(namespace: &'a str, key: &'a str, leaf: &'a str) -> [&'a str; 5] {
    ["metadata", "filter_metadata", namespace, key, leaf]
}

/// The flag bit Envoy sets in `response.flags` for each short response-flag name
/// (Envoy's legacy `ResponseFlag` order).
pub const RESPONSE_FLAGS: &[(&str, u64)] = &[
    ("LH", 0x1),
    ("UH", 0x2),
    ("UT", 0x4),
    ("LR", 0x8),
    ("UR", 0x10),
    ("UF", 0x20),
    ("UC", 0x40),
    ("UO", 0x80),
    ("NR", 0x100),
    ("DI", 0x200),
    ("FI", 0x400),
    ("RL", 0x800),
    ("UAEX", 0x1000),
    ("RLSE", 0x2000),
    ("DC", 0x4000),
    ("URX", 0x8000),
    ("SI", 0x10000),
    ("IH", 0x20000),
    ("DPE", 0x40000),
    ("UMSDR", 0x80000),
    ("RFCF", 0x100000),
    ("NFCF", 0x200000),
    ("DT", 0x400000),
    ("UPE", 0x800000),
    ("NC", 0x1000000),
    ("OM", 0x2000000),
    ("DF", 0x4000000),
    ("DO", 0x8000000),
    ("DR", 0x10000000),
    ("UDO", 0x20000000),
];

/// `UAEX`: an external authorization service refused the request.
pub const FLAG_UAEX: u64 = 0x1000;

/// The `response.flags` bit for an Envoy short flag name.
pub fn flag_bit(name: &str) -> Option<u64> {
    RESPONSE_FLAGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
}

/// `response.code_details` prefixes and markers of the filters Vigil recognises.
pub mod details {
    /// jwt_authn refused the token: `jwt_authn_access_denied{<reason>}`.
    pub const JWT_AUTHN: &[u8] = b"jwt_authn";
    /// RBAC refused: `rbac_access_denied_matched_policy[<name>]`.
    pub const RBAC: &[u8] = b"rbac_access_denied";
    /// ext_authz refused: `ext_authz_denied`, `ext_authz_error`.
    pub const EXT_AUTHZ: &[u8] = b"ext_authz";
    /// jwt_authn reasons inside the braces.
    pub const JWT_MISSING: &[u8] = b"Jwt_is_missing";
    /// The token has expired.
    pub const JWT_EXPIRED: &[u8] = b"Jwt_is_expired";
    /// The token is not valid yet (two spellings across Envoy versions).
    pub const JWT_NOT_YET_VALID: [&[u8]; 2] = [b"Jwt_is_not_yet_valid", b"Jwt_not_yet_valid"];
    /// The signature did not verify.
    pub const JWT_VERIFICATION_FAIL: &[u8] = b"Jwt_verification_fail";
}

/// How many records (an event and its alerts) the `access_log` sink can hand Envoy for one
/// request: one filter-state key, and one access logger, per slot.
pub const MAX_RECORDS: usize = 3;

/// The filter-state names the plugin sets (`set_property` path), one per record slot.
/// Envoy stores each as `wasm.<name>`: see [`filter_state_key`].
pub const RECORD_NAMES: [&str; MAX_RECORDS] = ["vigil.event.0", "vigil.event.1", "vigil.event.2"];

/// The Envoy filter-state key of record slot `i` (`wasm.vigil.event.<i>`), as an access-log
/// format names it: `%FILTER_STATE(wasm.vigil.event.0:PLAIN)%`.
pub fn filter_state_key(i: usize) -> Option<String> {
    RECORD_NAMES.get(i).map(|n| format!("wasm.{n}"))
}

/// The message of one of Envoy's wasm log lines: the text after Envoy's
/// `wasm log <plugin> <root_id> <vm_id>: ` prefix (the line itself when it has none).
pub fn wasm_log_message(line: &str) -> &str {
    match line.strip_prefix("wasm log ") {
        Some(rest) => rest.split_once(": ").map_or(rest, |(_, msg)| msg),
        None => line,
    }
}

/// Whether a log message of Vigil's `envoy_log` sink is an event record: every record is one
/// JSON object (ECS, OCSF, OWASP) or one `CEF:0|` line, and Vigil's diagnostics start with
/// neither.
pub fn is_event_message(message: &str) -> bool {
    message.starts_with('{') || message.starts_with("CEF:0|")
}

/// Decodes an Envoy integer property (8-byte little-endian).
pub fn le_u64(bytes: &[u8]) -> Option<u64> {
    let arr: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(arr))
}

/// Decodes an Envoy metadata number (8-byte little-endian `f64`).
pub fn le_f64(bytes: &[u8]) -> Option<f64> {
    let arr: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some(f64::from_le_bytes(arr))
}

/// Splits Envoy's `source.address` (`1.2.3.4:5678`, `[::1]:5678`) into a validated IP
/// and a port. The IP is `None` when the text is not an IP address.
pub fn split_address(addr: &[u8]) -> (Option<std::net::IpAddr>, Option<u16>) {
    let Ok(s) = std::str::from_utf8(addr) else {
        return (None, None);
    };
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return (Some(sa.ip()), Some(sa.port()));
    }
    (s.parse().ok(), None)
}

/// Walks a serialized header map as `proxy_get_header_map_pairs` returns it: a little-endian
/// `u32` count, then `count` pairs of `u32` key and value lengths, then each key and value
/// followed by a NUL. Calls `f(name, value)` for each pair in order; stops at the first
/// malformed byte (a truncated map yields the pairs before the damage).
pub fn for_each_pair(map: &[u8], mut f: impl FnMut(&[u8], &[u8])) {
    let u32_at = |i: usize| -> Option<usize> {
        let b: [u8; 4] = map.get(i..i + 4)?.try_into().ok()?;
        Some(u32::from_le_bytes(b) as usize)
    };
    let Some(n) = u32_at(0) else { return };
    let Some(mut data) = n.checked_mul(8).and_then(|l| l.checked_add(4)) else {
        return;
    };
    for k in 0..n {
        let (Some(kl), Some(vl)) = (u32_at(4 + 8 * k), u32_at(8 + 8 * k)) else {
            return;
        };
        let Some(key) = map.get(data..data + kl) else {
            return;
        };
        let vstart = data + kl + 1;
        let Some(value) = map.get(vstart..vstart + vl) else {
            return;
        };
        f(key, value);
        data = vstart + vl + 1;
    }
}

/// Serializes header pairs the way Envoy's `get_header_map_pairs` does: the inverse of
/// [`for_each_pair`] (for hosts and tests that must hand a plugin a map).
pub fn serialize_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Vec<u8> {
    let mut out = Vec::new();
    serialize_pairs_into(&mut out, pairs);
    out
}

/// [`serialize_pairs`] appending to `out` (a host reuses one buffer).
pub fn serialize_pairs_into<K: AsRef<[u8]>, V: AsRef<[u8]>>(out: &mut Vec<u8>, pairs: &[(K, V)]) {
    let size: usize = pairs
        .iter()
        .map(|(k, v)| 10 + k.as_ref().len() + v.as_ref().len())
        .sum();
    out.reserve(4 + size);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.as_ref().len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.as_ref().len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_ref());
        out.push(0);
        out.extend_from_slice(v.as_ref());
        out.push(0);
    }
}

/// Parses an HTTP/1 and HTTP/2 `:status` header value (three ASCII digits).
pub fn parse_status(v: &[u8]) -> Option<u16> {
    if v.len() != 3 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = v.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    (100..=599).contains(&n).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_readers() {
        assert_eq!(le_u64(&401u64.to_le_bytes()), Some(401));
        assert_eq!(le_u64(b"abc"), None);
        assert_eq!(le_f64(&[0, 0, 0, 0, 0, 0, 8, 0x40]), Some(3.0));
        assert_eq!(
            split_address(b"203.0.113.7:40001"),
            (Some("203.0.113.7".parse().ok()).flatten(), Some(40001))
        );
        assert_eq!(split_address(b"[::1]:9").1, Some(9));
        assert_eq!(split_address(b"junk"), (None, None));
        assert_eq!(parse_status(b"401"), Some(401));
        assert_eq!(parse_status(b"40"), None);
        assert_eq!(parse_status(b"999"), None);
        assert_eq!(parse_status(b"4x1"), None);
    }

    #[test]
    fn header_pairs_as_envoy_serializes_them() {
        let map = serialize_pairs(&[(":method", "POST"), ("x", "")]);
        let mut hand = Vec::new();
        hand.extend_from_slice(&2u32.to_le_bytes());
        for n in [7u32, 4, 1, 0] {
            hand.extend_from_slice(&n.to_le_bytes());
        }
        hand.extend_from_slice(b":method\0POST\0x\0\0");
        assert_eq!(map, hand);
        let mut seen = Vec::new();
        for_each_pair(&map, |k, v| seen.push((k.to_vec(), v.to_vec())));
        assert_eq!(
            seen,
            vec![
                (b":method".to_vec(), b"POST".to_vec()),
                (b"x".to_vec(), vec![])
            ]
        );
        // Damaged maps stop early, never panic.
        for cut in 0..map.len() {
            for_each_pair(&map[..cut], |_, _| {});
        }
        let mut n = 0;
        for_each_pair(&[0xff, 0xff, 0xff, 0xff], |_, _| n += 1);
        assert_eq!(n, 0, "a count with no pairs behind it yields nothing");
    }

    #[test]
    fn log_lines_and_keys() {
        assert_eq!(
            wasm_log_message("wasm log vigil vigil vigil: {\"a\":1}"),
            "{\"a\":1}"
        );
        assert_eq!(wasm_log_message("{\"a\":1}"), "{\"a\":1}");
        assert!(is_event_message(wasm_log_message(
            "wasm log vigil vigil vigil: {}"
        )));
        assert!(!is_event_message(wasm_log_message(
            "wasm log vigil vigil vigil: vigil: no fingerprint key"
        )));
        assert_eq!(filter_state_key(0).as_deref(), Some("wasm.vigil.event.0"));
        assert_eq!(filter_state_key(MAX_RECORDS), None);
        assert_eq!(flag_bit("RL"), Some(0x800));
        assert_eq!(flag_bit("UAEX"), Some(FLAG_UAEX));
    }
}
