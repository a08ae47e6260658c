//! Who a request is about: `user.name` from the most trusted source available.
//!
//! Order: a verified JWT's claim (jwt_authn's `payload_in_metadata`, written only after a
//! successful verification, so an expired or invalid token's claims never become
//! `user.name`), then the HTTP Basic user name, then, on login routes only, the login body's
//! user field. Only the JWT is marked verified. Passwords are never read into an event: the
//! Basic password is discarded at the colon, and the body scanner returns only the named
//! user fields.

use crate::body_scan::BodyScanner;
use crate::event::{User, UserSource};
use crate::exchange::Exchange;
use crate::policy::{JwtIdentity, Policy};
use base64::Engine as _;

/// The user name in an `Authorization: Basic ...` value (password discarded).
pub fn basic_user(authorization: &[u8]) -> Option<Vec<u8>> {
    let (scheme, rest) = split_scheme(authorization)?;
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim_ascii())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = decoded[..colon].to_vec();
    (!user.is_empty()).then_some(user)
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
        let path = crate::envoy::metadata_leaf(&j.metadata_namespace, &j.payload_key, &j.claim);
        if let Some(name) = x.property(&path).filter(|n| !n.is_empty()) {
            return Some(User {
                name,
                source: UserSource::Jwt,
                verified: true,
            });
        }
    }
    if policy.identity.basic_auth {
        if let Some(name) = authorization.and_then(basic_user) {
            return Some(User {
                name,
                source: UserSource::Basic,
                verified: false,
            });
        }
    }
    let lb = policy.identity.login_body.as_ref()?;
    let name = login_scan?.user(&lb.fields)?;
    Some(User {
        name,
        source: UserSource::LoginBody,
        verified: false,
    })
}

#[cfg(test)]
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
}
