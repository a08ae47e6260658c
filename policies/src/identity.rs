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
use crate::policy::Policy;
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

/// Resolves the user of one request.
pub fn resolve(
    policy: &Policy,
    x: &mut impl Exchange,
    authorization: Option<&[u8]>,
    login_scan: Option<&BodyScanner>,
) -> Option<User> {
    if let Some(j) = &policy.identity.jwt {
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
