//! How the engine reads one request: the [`Exchange`] trait, and HTTP text helpers.
//!
//! The plugin implements [`Exchange`] over proxy-wasm hostcalls; tests implement it over a
//! map. The engine reads lazily, only what the policy needs, in the order that lets most
//! requests (the benign ones) stop after three header reads. Values arrive as Envoy
//! encodes them ([`crate::envoy`]).

/// One request/response as the gateway saw it, read on demand.
pub trait Exchange {
    /// A request header's value by lower-case name (`:method`, `:path`, `:authority`,
    /// `user-agent`, ...). `None` when absent.
    fn request_header(&mut self, name: &str) -> Option<Vec<u8>>;
    /// The whole request header map, serialized as `proxy_get_header_map_pairs` returns it
    /// ([`crate::envoy::for_each_pair`]). `None` when the host has no request headers.
    fn request_header_pairs(&mut self) -> Option<Vec<u8>>;
    /// A response header's value by lower-case name (`:status`). `None` when absent or when
    /// the host has no response headers (yet).
    fn response_header(&mut self, name: &str) -> Option<Vec<u8>>;
    /// A response trailer's value by lower-case name (`grpc-status`). `None` when absent or
    /// when the host has no trailers (the default: hosts that never read trailers).
    fn response_trailer(&mut self, name: &str) -> Option<Vec<u8>> {
        let _ = name;
        None
    }
    /// A property by path segments (`["response", "code"]`). `None` when absent.
    fn property(&mut self, path: &[&str]) -> Option<Vec<u8>>;
    /// The host's wall clock, ns since the epoch (cheaper than the `request.time` property).
    fn now_ns(&mut self) -> u64;
}

/// The path without its query string or fragment.
pub fn path_only(path: &[u8]) -> &[u8] {
    let end = path
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(path.len());
    &path[..end]
}

/// The host without its port (`example.com:8080` → `example.com`, `[::1]:80` → `::1`).
pub fn host_only(authority: &[u8]) -> &[u8] {
    if authority.first() == Some(&b'[') {
        if let Some(end) = authority.iter().position(|&b| b == b']') {
            return &authority[1..end];
        }
        return authority;
    }
    match authority.iter().rposition(|&b| b == b':') {
        Some(i) if authority[i + 1..].iter().all(u8::is_ascii_digit) => &authority[..i],
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_helpers() {
        assert_eq!(path_only(b"/login?token=x"), b"/login");
        assert_eq!(host_only(b"a.example:8080"), b"a.example");
        assert_eq!(host_only(b"[::1]:80"), b"::1");
        assert_eq!(host_only(b"a.example"), b"a.example");
    }
}
