//! Route matching that holds: a request path normalized the way backends route it, so that
//! `/login/`, `//login`, `/login;x`, `/./login` and `/%6Cogin` are all the login route.
//!
//! [`normalize`] applies, in this order, to the path without its query or fragment:
//! 1. percent-escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, once;
//!    every other escape is kept, with upper-case hex (`%2f` → `%2F`; `%252e` stays
//!    `%252e`: a double encoding is never decoded twice);
//! 2. path parameters (`;…` to the end of each segment, as Tomcat and Jetty strip them) are
//!    removed;
//! 3. repeated slashes are merged;
//! 4. dot segments (`.`, `..`) are removed (RFC 3986 §5.2.4; `..` never climbs above `/`);
//! 5. a trailing slash is removed (except for `/` itself);
//! 6. with `case_insensitive`, ASCII letters outside escapes are lower-cased.
//!
//! The result is idempotent (normalizing twice equals once; a property test checks it), and
//! policy paths are normalized the same way when the policy is loaded, so a policy means the
//! same thing whatever Envoy's own `normalize_path` and `merge_slashes` settings are.

/// The normalized form of a request path (see the module docs).
pub fn normalize(path: &[u8], case_insensitive: bool) -> Vec<u8> {
    let path = crate::exchange::path_only(path);
    let decoded = decode_unreserved(path);
    let mut segments: Vec<&[u8]> = Vec::new();
    for seg in decoded.split(|&b| b == b'/') {
        let seg = match seg.iter().position(|&b| b == b';') {
            Some(i) => &seg[..i],
            None => seg,
        };
        match seg {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = Vec::with_capacity(decoded.len() + 1);
    for s in &segments {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    if case_insensitive {
        let mut i = 0;
        while i < out.len() {
            if out[i] == b'%' {
                i += 3;
                continue;
            }
            out[i] = out[i].to_ascii_lowercase();
            i += 1;
        }
    }
    out
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes escapes of unreserved characters once; upper-cases the hex of the others.
fn decode_unreserved(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'%' {
            if let (Some(h), Some(l)) = (
                path.get(i + 1).copied().and_then(hex),
                path.get(i + 2).copied().and_then(hex),
            ) {
                let c = h * 16 + l;
                if is_unreserved(c) {
                    out.push(c);
                } else {
                    out.push(b'%');
                    out.push(path[i + 1].to_ascii_uppercase());
                    out.push(path[i + 2].to_ascii_uppercase());
                }
                i += 3;
                continue;
            }
        }
        out.push(path[i]);
        i += 1;
    }
    out
}

/// The path as logged (`url.path`): as sent, without its query, and with the values of path
/// parameters removed (`/x;jsessionid=SECRET/y` → `/x;jsessionid/y`): servlet containers
/// carry session ids there, and a session id is a secret. An encoded `?` (`%3F`) ends the
/// path too (a backend that decodes it reads a query, often with a token in it), and an
/// encoded `;` (`%3B`) starts a parameter like `;`.
pub fn loggable(path: &[u8]) -> Vec<u8> {
    let path = crate::exchange::path_only(path);
    let escaped = |i: usize, c: u8| {
        path.get(i) == Some(&b'%')
            && path.get(i + 1) == Some(&b'3')
            && path.get(i + 2).is_some_and(|b| b.eq_ignore_ascii_case(&c))
    };
    let mut out = Vec::with_capacity(path.len());
    let mut in_value = false;
    let mut in_param = false;
    let mut i = 0;
    while i < path.len() {
        let b = path[i];
        if escaped(i, b'f') {
            break;
        }
        if escaped(i, b'b') {
            in_param = true;
            in_value = false;
            out.extend_from_slice(&path[i..i + 3]);
            i += 3;
            continue;
        }
        match b {
            b'/' => {
                in_param = false;
                in_value = false;
                out.push(b);
            }
            b';' => {
                in_param = true;
                in_value = false;
                out.push(b);
            }
            b'=' if in_param => in_value = true,
            _ if in_value => {}
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

/// Whether `path` (normalized) is under `prefix` (normalized), segment-aware: `/admin`
/// covers `/admin` and `/admin/x`, not `/administrator`.
pub fn under(path: &[u8], prefix: &[u8]) -> bool {
    prefix == b"/"
        || (path.starts_with(prefix)
            && (path.len() == prefix.len() || path.get(prefix.len()) == Some(&b'/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> String {
        String::from_utf8_lossy(&normalize(p.as_bytes(), false)).into_owned()
    }

    #[test]
    fn login_variants_an_attacker_would_try() {
        for p in [
            "/login",
            "/login/",
            "//login",
            "/login;jsessionid=abc",
            "/./login",
            "/%6Cogin",
            "/%6cogin",
            "/x/../login",
            "/x/..;/login",
            "/../login",
            "///login//",
            "/login?next=/x",
            "/login#f",
            "/%2E/login",
        ] {
            assert_eq!(n(p), "/login", "{p}");
        }
        assert_eq!(n("/LOGIN"), "/LOGIN");
        assert_eq!(
            String::from_utf8_lossy(&normalize(b"/LOGIN/%2f", true)),
            "/login/%2F"
        );
    }

    #[test]
    fn reserved_escapes_and_double_encoding_stay_literal() {
        assert_eq!(n("/a%2fb"), "/a%2Fb");
        // `%25` is `%` (reserved): kept, so the `2e` after it stays text.
        assert_eq!(n("/%252e%252e/login"), "/%252e%252e/login");
        assert_eq!(n("/a%3Bb"), "/a%3Bb");
        assert_eq!(n("/%zz"), "/%zz");
        assert_eq!(n("/%"), "/%");
        assert_eq!(n(""), "/");
        assert_eq!(n("/"), "/");
    }

    #[test]
    fn logged_paths_keep_parameter_names_not_values() {
        let l = |p: &str| String::from_utf8_lossy(&loggable(p.as_bytes())).into_owned();
        assert_eq!(l("/login;jsessionid=SECRET"), "/login;jsessionid");
        assert_eq!(l("/a;x=1;y=2/b;z=3?q=SECRET"), "/a;x;y/b;z");
        assert_eq!(l("/a=b/c"), "/a=b/c");
        assert_eq!(l("/%6Cogin"), "/%6Cogin");
    }

    #[test]
    fn finding_an_encoded_query_or_parameter_never_reaches_url_path() {
        let l = |p: &str| String::from_utf8_lossy(&loggable(p.as_bytes())).into_owned();
        assert_eq!(l("/api/orders%3Faccess_token=SECRET"), "/api/orders");
        assert_eq!(l("/api/orders%3faccess_token=SECRET"), "/api/orders");
        assert_eq!(l("/login%3Bjsessionid=SECRET/x"), "/login%3Bjsessionid/x");
        assert_eq!(l("/login%3bjsessionid=SECRET"), "/login%3bjsessionid");
        assert_eq!(l("/a%3"), "/a%3");
    }

    #[test]
    fn prefixes_are_segment_aware() {
        assert!(under(b"/admin", b"/admin"));
        assert!(under(b"/admin/users", b"/admin"));
        assert!(!under(b"/administrator", b"/admin"));
        assert!(under(b"/anything", b"/"));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn normalizing_twice_equals_once(
                p in proptest::collection::vec(prop_oneof![
                    Just(b'/'), Just(b'.'), Just(b';'), Just(b'%'), Just(b'2'), Just(b'e'),
                    Just(b'E'), Just(b'f'), Just(b'a'), Just(b'L'), Just(b'?'), any::<u8>()
                ], 0..40),
                ci in any::<bool>(),
            ) {
                let once = normalize(&p, ci);
                prop_assert_eq!(normalize(&once, ci), once);
            }
        }
    }
}
