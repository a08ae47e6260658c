//! The request model: the header maps Envoy hands a filter for one exchange (HTTP/1 order),
//! what Envoy adds before `on_log`, and the codec's facts (measured in Envoy 1.40 with the
//! conformance probe). The harness and the playground both build their streams from it.
//! Maps are built into vectors recycled from the previous stream, so a run allocates no
//! header strings.

use crate::{Exchange, Header};

/// Writes header `n` of `h` in place (reusing its buffers), or appends it.
fn put(h: &mut Vec<Header>, n: &mut usize, name: &str, value: &[u8]) {
    match h.get_mut(*n) {
        Some((k, v)) => {
            k.clear();
            k.push_str(name);
            v.clear();
            v.extend_from_slice(value);
        }
        None => h.push((name.to_string(), value.to_vec())),
    }
    *n += 1;
}

fn has(h: &[Header], n: usize, name: &str) -> bool {
    h[..n].iter().any(|(k, _)| k == name)
}

/// Request headers Envoy's HTTP/1 codec merges when repeated: the second value is appended
/// to the first with `,` (no space), at the first one's place. These are Envoy's inline
/// headers; verified in Envoy 1.40 with the conformance probe. Others (`cookie`,
/// `accept-language`, `x-custom`, ...) stay separate entries.
pub const MERGED_REQUEST_HEADERS: [&str; 12] = [
    "user-agent",
    "accept",
    "accept-encoding",
    "authorization",
    "cache-control",
    "content-type",
    "origin",
    "referer",
    "via",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-request-id",
];

/// Request headers the HTTP/1 codec and the connection manager consume (hop-by-hop): the
/// filter never sees them (verified: conformance probe).
const DROPPED_REQUEST_HEADERS: [&str; 4] = [
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
];

/// The route timeout the router announces upstream (`x-envoy-expected-rq-timeout-ms`):
/// Envoy's default, 15 s.
pub const ROUTE_TIMEOUT_MS: &str = "15000";

/// The `server` header Envoy's connection manager writes (its default `server_name`,
/// `server_header_transformation: OVERWRITE`).
pub const SERVER_NAME: &str = "envoy";

/// Envoy's default body for a local reply it makes itself (a codec rejection): the status's
/// reason phrase (`CodeUtility::toString`).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Does the request have a body after its headers (`end_of_stream` false on the headers)?
/// HTTP/1: when it says so (`content-length` above 0, or `transfer-encoding`), whether or
/// not the body reached the plugin (a filter may answer first), or when the traffic gives
/// a body or trailers.
pub fn request_has_body(r: &crate::Request) -> bool {
    !r.body.is_empty()
        || !r.trailers.is_empty()
        || r.headers.iter().any(|(k, v)| {
            k == "transfer-encoding"
                || (k == "content-length" && v.iter().any(|b| (b'1'..=b'9').contains(b)))
        })
}

/// Does the client's request ask to close the connection (`connection: close`)? Envoy then
/// says `connection: close` on the response.
pub fn client_closes(x: &Exchange) -> bool {
    x.request.headers.iter().any(|(k, v)| {
        k == "connection"
            && v.split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
    })
}

/// Adds a client header as the codec would: dropped, merged into an earlier one, or put.
fn put_client(h: &mut Vec<Header>, n: &mut usize, name: &str, value: &[u8]) {
    if DROPPED_REQUEST_HEADERS.contains(&name) {
        return;
    }
    if MERGED_REQUEST_HEADERS.contains(&name) {
        if let Some((_, v)) = h[..*n].iter_mut().find(|(k, _)| k == name) {
            v.push(b',');
            v.extend_from_slice(value);
            return;
        }
    }
    put(h, n, name, value);
}

/// Envoy's request header map for `x`: `:authority` (from `host`), `:path`, `:method`,
/// `:scheme`, the client's headers as the HTTP/1 codec leaves them (repeated inline headers
/// merged, `transfer-encoding` dropped), then `x-forwarded-proto` and a generated
/// `x-request-id` when absent.
///
/// `h` is a vector to reuse (its contents are overwritten); `new_id` makes the request id.
pub fn request_headers(
    mut h: Vec<Header>,
    x: &Exchange,
    new_id: impl FnOnce() -> String,
) -> Vec<Header> {
    let mut n = 0;
    let r = &x.request;
    let host = r
        .headers
        .iter()
        .find(|(k, _)| k == "host" || k == ":authority")
        .map_or(&[][..], |(_, v)| v.as_slice());
    put(&mut h, &mut n, ":authority", host);
    put(&mut h, &mut n, ":path", r.path.as_bytes());
    put(&mut h, &mut n, ":method", r.method.as_bytes());
    put(&mut h, &mut n, ":scheme", r.scheme.as_bytes());
    for (k, v) in &r.headers {
        if !k.starts_with(':') && k != "host" {
            put_client(&mut h, &mut n, k, v);
        }
    }
    if !has(&h, n, "x-forwarded-proto") {
        put(&mut h, &mut n, "x-forwarded-proto", r.scheme.as_bytes());
    }
    if !has(&h, n, "x-request-id") {
        let id = new_id();
        put(&mut h, &mut n, "x-request-id", id.as_bytes());
    }
    h.truncate(n);
    h
}

/// Envoy's response header map for `x`, as the filter's response callbacks see it:
/// `:status`, then the traffic's headers; for a local reply (`rejected_by`), the replying
/// filter's headers (none for the codec), then Envoy's `content-length` and
/// `content-type: text/plain` when the reply has a body and the filter set neither
/// (verified: conformance probe).
///
/// `h` is a vector to reuse (its contents are overwritten).
pub fn response_headers(mut h: Vec<Header>, x: &Exchange) -> Vec<Header> {
    let mut n = 0;
    let rs = &x.response;
    let mut status = [0u8; 5];
    put(
        &mut h,
        &mut n,
        ":status",
        status_bytes(rs.status, &mut status),
    );
    for (k, v) in &rs.headers {
        if k != ":status" {
            put(&mut h, &mut n, k, v);
        }
    }
    if x.envoy.rejected_by.is_some() && !rs.body.is_empty() {
        if !has(&h, n, "content-length") {
            let len = rs.body.len().to_string();
            put(&mut h, &mut n, "content-length", len.as_bytes());
        }
        if !has(&h, n, "content-type") {
            put(&mut h, &mut n, "content-type", b"text/plain");
        }
    }
    h.truncate(n);
    h
}

/// What Envoy adds to the maps after the filter's callbacks and before `on_log`
/// (verified: conformance probe): the filters after this one append their headers
/// (`added`, from the traffic file), the router appends `x-envoy-expected-rq-timeout-ms` to a
/// request it forwards (`routed`); the connection manager adds `date` when the response has
/// none, sets `server` (in place, or appended), and appends `connection: close` when the
/// connection closes after this response (`closes`: the client asked, or the codec rejected
/// the request).
pub fn before_log(
    request: &mut Vec<Header>,
    response: &mut Vec<Header>,
    added: &[Header],
    routed: bool,
    closes: bool,
    time_ns: u64,
) {
    request.extend(added.iter().cloned());
    if routed
        && !request
            .iter()
            .any(|(k, _)| k == "x-envoy-expected-rq-timeout-ms")
    {
        request.push((
            "x-envoy-expected-rq-timeout-ms".into(),
            ROUTE_TIMEOUT_MS.into(),
        ));
    }
    if !response.iter().any(|(k, _)| k == "date") {
        response.push(("date".into(), crate::http_date(time_ns).into_bytes()));
    }
    match response.iter_mut().find(|(k, _)| k == "server") {
        Some((_, v)) => *v = SERVER_NAME.into(),
        None => response.push(("server".into(), SERVER_NAME.into())),
    }
    if closes && !response.iter().any(|(k, _)| k == "connection") {
        response.push(("connection".into(), b"close".to_vec()));
    }
}

/// The decimal digits of `v`, written into `buf`.
fn status_bytes(v: u16, buf: &mut [u8; 5]) -> &[u8] {
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_merges_inline_headers() {
        let mut h = Vec::new();
        let mut n = 0;
        for (k, v) in [
            ("user-agent", "a"),
            ("cookie", "c=1"),
            ("user-agent", "b"),
            ("cookie", "d=2"),
            ("transfer-encoding", "chunked"),
        ] {
            put_client(&mut h, &mut n, k, v.as_bytes());
        }
        h.truncate(n);
        let want: Vec<Header> = [("user-agent", "a,b"), ("cookie", "c=1"), ("cookie", "d=2")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(h, want);
    }

    #[test]
    fn status_digits() {
        let mut b = [0u8; 5];
        assert_eq!(status_bytes(401, &mut b), b"401");
        assert_eq!(status_bytes(0, &mut b), b"0");
        assert_eq!(status_bytes(65535, &mut b), b"65535");
    }
}
