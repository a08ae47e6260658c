//! Who a request is about: `user.name` from the most trusted source available.
//!
//! Order: a verified JWT's claim (jwt_authn's `payload_in_metadata`, written only after a
//! successful verification, so an expired or invalid token's claims never become
//! `user.name`), then, on login routes, the login body's user field (what the backend
//! checks: it outranks a Basic header sent beside it), then the HTTP Basic user name. Only
//! the JWT is marked verified. Passwords are never read into an event: the Basic password
//! is discarded at the colon, and the body scanner returns only the named user fields.
//!
//! A Basic user part that looks like a credential is not a name: an API key sent as the user
//! with an empty password (`sk_live_…:`), or with a well-known placeholder password
//! (`<token>:x-oauth-basic`), a user part with a known token prefix, or a long, high-entropy
//! token. It is never logged (the request's credential fingerprint, `vigil.session.*`,
//! still correlates it).

use crate::body_scan::BodyScanner;
use crate::event::{User, UserSource};
use crate::exchange::Exchange;
use crate::policy::{JwtIdentity, Policy};

/// The user name in an `Authorization: Basic ...` value (password discarded), unless the
/// user part looks like a credential ([`looks_like_credential`]).
pub fn basic_user(authorization: &[u8]) -> Option<Vec<u8>> {
    let (scheme, rest) = split_scheme(authorization)?;
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64_decode(rest.trim_ascii())?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
    (!user.is_empty() && !looks_like_credential(user, password)).then(|| user.to_vec())
}

/// Decodes standard base64 (RFC 4648 §4, padding optional, no whitespace inside); `None`
/// for anything else. Small on purpose: the `.wasm` budget.
pub fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let s = match s {
        [rest @ .., b'=', b'='] => rest,
        [rest @ .., b'='] => rest,
        _ => s,
    };
    if s.len() % 4 == 1 {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// Password values that mark the user part as the real secret (GitHub's and others'
/// token-as-user conventions).
const PLACEHOLDER_PASSWORDS: [&[u8]; 4] = [b"x-oauth-basic", b"x-oauth-token", b"api_token", b"X"];

/// Prefixes of well-known API tokens and keys.
const TOKEN_PREFIXES: [&[u8]; 22] = [
    b"sk_live_",
    b"sk_test_",
    b"rk_live_",
    b"rk_test_",
    b"pk_live_",
    b"whsec_",
    b"ghp_",
    b"gho_",
    b"ghu_",
    b"ghs_",
    b"ghr_",
    b"github_pat_",
    b"glpat-",
    b"xoxb-",
    b"xoxp-",
    b"xoxa-",
    b"AKIA",
    b"ASIA",
    b"AIza",
    b"eyJ",
    b"npm_",
    b"shpat_",
];

/// Whether a Basic user part is a credential rather than a name: an empty or placeholder
/// password, a known token prefix, or a long high-entropy token (20+ characters of
/// `[A-Za-z0-9_+/=-]` with letters and digits and more than 3.5 bits of entropy per
/// character; names and e-mail addresses have `@`, `.` or spaces, or are short).
pub fn looks_like_credential(user: &[u8], password: &[u8]) -> bool {
    if password.is_empty() || PLACEHOLDER_PASSWORDS.contains(&password) {
        return true;
    }
    if TOKEN_PREFIXES.iter().any(|p| user.starts_with(p)) {
        return true;
    }
    let token_chars = user
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'+' | b'/' | b'=' | b'-'));
    token_chars
        && user.len() >= 20
        && user.iter().any(u8::is_ascii_digit)
        && user.iter().any(u8::is_ascii_alphabetic)
        && entropy_bits_per_char(user) > 3.5
}

/// Shannon entropy of the byte distribution, in bits per byte.
fn entropy_bits_per_char(b: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &c in b {
        counts[c as usize] += 1;
    }
    let n = b.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Splits `Scheme credentials` at the first space.
pub fn split_scheme(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let v = v.trim_ascii();
    let sp = v.iter().position(|&b| b == b' ')?;
    Some((&v[..sp], &v[sp + 1..]))
}

/// What the engine has already read of a request, for identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen<'a> {
    /// The `authorization` header.
    pub authorization: Option<&'a [u8]>,
    /// The `cookie` header, when it was read.
    pub cookie: Option<&'a [u8]>,
    /// `:path`, with its query.
    pub path: Option<&'a [u8]>,
    /// The request's kept headers and their names, when the request callbacks ran.
    pub snapshot: Option<(&'a crate::headers::Snapshot, &'a [String])>,
}

/// Whether the request carries a token where jwt_authn looks for one (so jwt_authn may have
/// verified it and written its payload). Reads other headers only if the policy names them.
pub fn may_carry_jwt(j: &JwtIdentity, x: &mut impl Exchange, seen: &Seen<'_>) -> bool {
    let header = j.from_headers.iter().any(|h| {
        if h == "authorization" {
            return seen.authorization.is_some();
        }
        match seen.snapshot.and_then(|(s, names)| s.get(names, h)) {
            Some(v) => v.is_some(),
            None => x.request_header(h).is_some(),
        }
    });
    header
        || (!j.from_params.is_empty()
            && seen.path.is_some_and(|p| {
                query_params(p).any(|k| j.from_params.iter().any(|n| n.as_bytes() == k))
            }))
        || (!j.from_cookies.is_empty()
            && seen
                .cookie
                .is_some_and(|c| crate::fingerprint::find_cookie(c, &j.from_cookies).is_some()))
}

/// The names of a path's query parameters (undecoded).
fn query_params(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    let query = match path.iter().position(|&b| b == b'?') {
        Some(i) => &path[i + 1..],
        None => &[],
    };
    let query = query.split(|&b| b == b'#').next().unwrap_or_default();
    query
        .split(|&b| b == b'&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split(|&b| b == b'=').next().unwrap_or_default())
}

/// Resolves the user of one request.
pub fn resolve(
    policy: &Policy,
    x: &mut impl Exchange,
    seen: &Seen<'_>,
    login_scan: Option<&BodyScanner>,
) -> Option<User> {
    let authorization = seen.authorization;
    if let Some(j) = policy
        .identity
        .jwt
        .as_ref()
        .filter(|j| may_carry_jwt(j, x, seen))
    {
        let leaf = crate::envoy::metadata_leaf(&j.metadata_namespace, &j.payload_key, &j.claim);
        // An empty claim: the key itself holds the user (a flat copy of the claim, for hosts
        // that read only top-level metadata keys: the dynamic module).
        let path: &[&str] = if j.claim.is_empty() {
            &leaf[..4]
        } else {
            &leaf
        };
        if let Some(name) = x.property(path).filter(|n| !n.is_empty()) {
            return Some(User::new(name, UserSource::Jwt, true));
        }
    }
    let body = policy
        .identity
        .login_body
        .as_ref()
        .and_then(|lb| login_scan?.user(&lb.fields, lb.duplicates));
    if let Some(c) = body {
        return Some(User {
            ambiguous: c.ambiguous,
            truncated: c.truncated,
            ..User::new(c.name, UserSource::LoginBody, false)
        });
    }
    if policy.identity.basic_auth {
        if let Some(name) = authorization.and_then(basic_user) {
            return Some(User::new(name, UserSource::Basic, false));
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn query_parameter_names() {
        let names: Vec<&[u8]> = query_params(b"/a?x=1&access_token=t&&y#z=2").collect();
        assert_eq!(names, vec![&b"x"[..], b"access_token", b"y"]);
        assert_eq!(query_params(b"/a").count(), 0);
    }

    #[test]
    fn basic_user_never_keeps_the_password() {
        // "alice:s3cret"
        assert_eq!(
            basic_user(b"Basic YWxpY2U6czNjcmV0"),
            Some(b"alice".to_vec())
        );
        assert_eq!(
            basic_user(b"basic   YWxpY2U6czNjcmV0 "),
            Some(b"alice".to_vec())
        );
        assert_eq!(basic_user(b"Bearer abc"), None);
        assert_eq!(basic_user(b"Basic !!!"), None);
        // ":pw"
        assert_eq!(basic_user(b"Basic OnB3"), None);
    }

    #[test]
    fn base64_decodes_as_the_standard_says() {
        use base64::Engine as _;
        let e = base64::engine::general_purpose::STANDARD;
        for s in [
            "",
            "a",
            "ab",
            "abc",
            "alice:s3cret",
            "\u{1F600}:x",
            "CORP\\alice:pw",
        ] {
            assert_eq!(
                base64_decode(e.encode(s).as_bytes()).unwrap(),
                s.as_bytes(),
                "{s}"
            );
            let nopad = e.encode(s).trim_end_matches('=').to_string();
            assert_eq!(
                base64_decode(nopad.as_bytes()).unwrap(),
                s.as_bytes(),
                "{s}"
            );
        }
        assert_eq!(base64_decode(b"!!!!"), None);
        assert_eq!(base64_decode(b"abcde"), None);
        assert_eq!(base64_decode(b"ab=c"), None);
    }

    fn basic(user_pass: &str) -> Vec<u8> {
        use base64::Engine as _;
        let mut v = b"Basic ".to_vec();
        v.extend(
            base64::engine::general_purpose::STANDARD
                .encode(user_pass)
                .bytes(),
        );
        v
    }

    #[test]
    fn finding_an_api_key_sent_as_the_basic_user_is_never_logged() {
        for secret in [
            "sk_live_51HxYzAbCdEfGhIjKlMnOpQr:",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a:x-oauth-basic",
            "AKIAIOSFODNN7EXAMPLE:whatever",
            "anything-at-all:",
            "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg:password1",
        ] {
            assert_eq!(basic_user(&basic(secret)), None, "{secret}");
        }
        for name in [
            "alice:s3cret",
            "jane.doe@example.com:pw",
            "CORP\\alice:pw",
            "service-account-01:pw",
        ] {
            assert!(basic_user(&basic(name)).is_some(), "{name}");
        }
    }
}
