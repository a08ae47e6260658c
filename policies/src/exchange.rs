//! How the engine reads one finished request: the [`Exchange`] trait and typed readers.
//!
//! The plugin implements [`Exchange`] over proxy-wasm hostcalls; tests implement it over a
//! map. The engine reads lazily, only what the policy needs, in the order that lets most
//! requests (the benign ones) stop after two property reads.
//!
//! Values arrive as Envoy encodes them: integers as 8-byte little-endian, `request.time` as
//! nanoseconds since the epoch, metadata numbers as 8-byte little-endian `f64`.

/// One request/response as the gateway saw it, read on demand.
pub trait Exchange {
    /// A request header's value by lower-case name (`:method`, `:path`, `:authority`,
    /// `user-agent`, ...). `None` when absent.
    fn request_header(&mut self, name: &str) -> Option<Vec<u8>>;
    /// A property by path segments (`["response", "code"]`). `None` when absent.
    fn property(&mut self, path: &[&str]) -> Option<Vec<u8>>;
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
        assert_eq!(path_only(b"/login?token=x"), b"/login");
        assert_eq!(host_only(b"a.example:8080"), b"a.example");
        assert_eq!(host_only(b"[::1]:80"), b"::1");
        assert_eq!(host_only(b"a.example"), b"a.example");
    }
}
