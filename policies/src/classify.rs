//! Classification: from a finished request's outcome signals to at most one event action.
//!
//! Precedence (one event per request, plus any alert): rate limit (a `rate_limit.statuses`
//! status or a `rate_limit.response_flags` flag), then the login outcome on login routes,
//! then the status class (401, 403, input validation), then successful admin access.
//! A request whose status is none of these gives no event, so a benign request costs
//! two property reads.
//!
//! | condition | action | `event.reason` |
//! |---|---|---|
//! | status in `rate_limit.statuses` or flag in `rate_limit.response_flags` | `excess_rate_limit_exceeded` | `rate_limited` |
//! | login route, 2xx | `authn_login_success` | `credentials_accepted` |
//! | login route, 400 | `authn_login_fail` | `invalid_grant` |
//! | login route, other `login.failure_statuses` | `authn_login_fail` | `bad_credentials` |
//! | login route, any other status | `authn_login_attempt` | `outcome_not_determined` |
//! | 401, jwt_authn `Jwt_is_missing` | `authn_token_invalid` | `token_missing` |
//! | 401, jwt_authn `Jwt_is_expired` | `authn_token_invalid` | `token_expired` |
//! | 401, jwt_authn `Jwt_is_not_yet_valid` | `authn_token_invalid` | `token_not_yet_valid` |
//! | 401, jwt_authn `Jwt_verification_fails` | `authn_token_invalid` | `token_signature_invalid` |
//! | 401, other jwt_authn failure | `authn_token_invalid` | `token_invalid` |
//! | 401, ext_authz (`UAEX` flag or `ext_authz_denied`) | `authn_token_invalid` | `ext_authz_denied` |
//! | 401, from the upstream or elsewhere | `authn_token_invalid` | `unauthorized` |
//! | 403, RBAC | `authz_fail` | `rbac_denied` |
//! | 403, ext_authz | `authz_fail` | `ext_authz_denied` |
//! | 403, other | `authz_fail` | `forbidden` |
//! | status in `input_validation.statuses` | `input_validation_fail` | `bad_request`, `payload_too_large`, `uri_too_long`, `unprocessable_content`, `header_fields_too_large`, or `rejected_input` |
//! | 2xx under `admin.path_prefixes` | `authz_admin` | `admin_access` |
//! | gRPC (`content-type: application/grpc…`), HTTP 2xx, `grpc-status` 16 in the trailers (or the headers of a trailers-only response) | `authn_token_invalid` (`authn_login_fail` on a login route) | `grpc_unauthenticated` |
//! | gRPC, HTTP 2xx, `grpc-status` 7 | `authz_fail` | `grpc_permission_denied` |

use crate::action::Action;
use crate::policy::Policy;
use crate::policy::Route;
use crate::route::normalize;

use crate::envoy::{details, FLAG_UAEX as UAEX};

/// The outcome signals classification reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signals<'a> {
    /// `response.code` (0 when there was no response).
    pub status: u16,
    /// `response.flags`.
    pub flags: u64,
    /// The request method, when known.
    pub method: &'a [u8],
    /// The request path without query.
    pub path: &'a [u8],
    /// `response.code_details`.
    pub details: &'a [u8],
    /// A gRPC response's `grpc-status` (gRPC fails calls with HTTP 200).
    pub grpc_status: Option<u32>,
}

/// What classification decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// The event's action.
    pub action: Action,
    /// The `event.reason` code.
    pub reason: std::borrow::Cow<'static, str>,
    /// The policy rule that fired (`vigil.rule`).
    pub rule: std::borrow::Cow<'static, str>,
    /// `log.level`, when a policy rule sets it.
    pub level: Option<crate::rules::Level>,
    /// Whether one of the policy's own rules decided ([`crate::rules`]).
    pub by_rule: bool,
    /// Which of the policy's rules decided (its index), when one did.
    pub rule_index: Option<usize>,
}

/// Whether a request is on a login route: its method is a login method (compared
/// case-insensitively: `post` is not a way around `POST`) and its path, normalized
/// ([`crate::route`]), is a login path (normalized when the policy was loaded).
pub fn is_login(policy: &Policy, method: &[u8], path: &[u8]) -> bool {
    policy
        .login
        .methods
        .iter()
        .any(|m| m.as_bytes().eq_ignore_ascii_case(method))
        && {
            let path = normalize(path, policy.routes.case_insensitive);
            policy.login.paths.iter().any(|r| match r {
                Route::Path(p) => p.as_bytes() == path,
                Route::Pattern(p) => p.is_match(&path),
            })
        }
}

/// Whether a path, normalized, is under an admin prefix (segment-aware: `/admin` covers
/// `/admin/x`, not `/administrator`).
pub fn is_admin(policy: &Policy, path: &[u8]) -> bool {
    if policy.admin.path_prefixes.is_empty() {
        return false;
    }
    let path = normalize(path, policy.routes.case_insensitive);
    policy.admin.path_prefixes.iter().any(|r| match r {
        Route::Path(p) => crate::route::under(&path, p.as_bytes()),
        Route::Pattern(p) => p.is_match(&path),
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn reason_401(d: &[u8], flags: u64) -> &'static str {
    if flags & UAEX != 0 || d.starts_with(details::EXT_AUTHZ) {
        return "ext_authz_denied";
    }
    if d.starts_with(details::JWT_AUTHN) {
        return if contains(d, details::JWT_MISSING) {
            "token_missing"
        } else if contains(d, details::JWT_EXPIRED) {
            "token_expired"
        } else if details::JWT_NOT_YET_VALID.iter().any(|m| contains(d, m)) {
            "token_not_yet_valid"
        } else if contains(d, details::JWT_VERIFICATION_FAIL) {
            "token_signature_invalid"
        } else {
            "token_invalid"
        };
    }
    "unauthorized"
}

fn reason_input(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        413 => "payload_too_large",
        414 => "uri_too_long",
        422 => "unprocessable_content",
        431 => "header_fields_too_large",
        _ => "rejected_input",
    }
}

/// gRPC status `UNAUTHENTICATED`.
const GRPC_UNAUTHENTICATED: u32 = 16;
/// gRPC status `PERMISSION_DENIED`.
const GRPC_PERMISSION_DENIED: u32 = 7;

/// Classifies one request. `None`: no security event.
pub fn classify(policy: &Policy, s: &Signals<'_>) -> Option<Classified> {
    let c = |action, reason: &'static str, rule: &'static str| {
        Some(Classified {
            action,
            reason: reason.into(),
            rule: rule.into(),
            level: None,
            by_rule: false,
            rule_index: None,
        })
    };
    if policy.rate_limit.statuses.contains(&s.status) || s.flags & policy.rate_limit_mask() != 0 {
        return c(
            Action::ExcessRateLimitExceeded,
            "rate_limited",
            "rate_limit",
        );
    }
    // gRPC answers a failed call with HTTP 200 and `grpc-status` 16 (unauthenticated) or 7
    // (permission denied): classified like 401 and 403.
    let grpc_denied = (200..300)
        .contains(&s.status)
        .then_some(s.grpc_status)
        .flatten()
        .filter(|g| *g == GRPC_UNAUTHENTICATED || *g == GRPC_PERMISSION_DENIED);
    if is_login(policy, s.method, s.path) {
        return if grpc_denied.is_some() {
            c(Action::AuthnLoginFail, "grpc_unauthenticated", "login")
        } else if (200..300).contains(&s.status) {
            c(Action::AuthnLoginSuccess, "credentials_accepted", "login")
        } else if policy.login.failure_statuses.contains(&s.status) {
            c(
                Action::AuthnLoginFail,
                if s.status == 400 {
                    "invalid_grant"
                } else {
                    "bad_credentials"
                },
                "login",
            )
        } else {
            c(Action::AuthnLoginAttempt, "outcome_not_determined", "login")
        };
    }
    match grpc_denied {
        Some(g) if g == GRPC_UNAUTHENTICATED => {
            return c(Action::AuthnTokenInvalid, "grpc_unauthenticated", "grpc")
        }
        Some(_) => return c(Action::AuthzFail, "grpc_permission_denied", "grpc"),
        None => {}
    }
    match s.status {
        401 => c(
            Action::AuthnTokenInvalid,
            reason_401(s.details, s.flags),
            "status_401",
        ),
        403 => {
            let reason = if s.details.starts_with(details::RBAC) {
                "rbac_denied"
            } else if s.flags & UAEX != 0 || s.details.starts_with(details::EXT_AUTHZ) {
                "ext_authz_denied"
            } else {
                "forbidden"
            };
            c(Action::AuthzFail, reason, "status_403")
        }
        st if policy.input_validation.statuses.contains(&st) => c(
            Action::InputValidationFail,
            reason_input(st),
            "input_validation",
        ),
        st if (200..300).contains(&st) && is_admin(policy, s.path) => {
            c(Action::AuthzAdmin, "admin_access", "admin")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn run(
        status: u16,
        flags: u64,
        method: &str,
        path: &str,
        details: &str,
    ) -> Option<(Action, &'static str)> {
        let p = crate::presets::baseline();
        let s = Signals {
            status,
            flags,
            method: method.as_bytes(),
            path: path.as_bytes(),
            details: details.as_bytes(),
            grpc_status: None,
        };
        classify(&p, &s).map(|c| (c.action, reason_str(&c.reason)))
    }

    /// The built-in reasons are static: back from the `Cow`.
    fn reason_str(r: &str) -> &'static str {
        [
            "rate_limited",
            "credentials_accepted",
            "invalid_grant",
            "bad_credentials",
            "outcome_not_determined",
            "token_missing",
            "token_expired",
            "token_not_yet_valid",
            "token_signature_invalid",
            "token_invalid",
            "ext_authz_denied",
            "unauthorized",
            "rbac_denied",
            "forbidden",
            "bad_request",
            "payload_too_large",
            "uri_too_long",
            "unprocessable_content",
            "header_fields_too_large",
            "rejected_input",
            "admin_access",
            "grpc_unauthenticated",
            "grpc_permission_denied",
        ]
        .into_iter()
        .find(|x| *x == r)
        .unwrap_or("?")
    }

    #[test]
    fn grpc_failures_answered_with_http_200_are_classified_like_401_and_403() {
        let p = crate::presets::baseline();
        let s = |grpc: u32, path: &'static str| Signals {
            status: 200,
            method: b"POST",
            path: path.as_bytes(),
            grpc_status: Some(grpc),
            ..Signals::default()
        };
        let r = |sig: &Signals<'_>| classify(&p, sig).map(|c| (c.action, reason_str(&c.reason)));
        assert_eq!(
            r(&s(16, "/pkg.Svc/Get")),
            Some((Action::AuthnTokenInvalid, "grpc_unauthenticated"))
        );
        assert_eq!(
            r(&s(7, "/pkg.Svc/Get")),
            Some((Action::AuthzFail, "grpc_permission_denied"))
        );
        assert_eq!(r(&s(0, "/pkg.Svc/Get")), None);
        assert_eq!(r(&s(5, "/pkg.Svc/Get")), None);
        assert_eq!(
            r(&s(16, "/login")),
            Some((Action::AuthnLoginFail, "grpc_unauthenticated"))
        );
    }

    #[test]
    fn a_lower_case_method_is_no_way_around_the_login_route() {
        for m in ["post", "Post", "pOsT"] {
            assert_eq!(
                run(401, 0, m, "/login", ""),
                Some((Action::AuthnLoginFail, "bad_credentials")),
                "{m}"
            );
        }
    }

    #[test]
    fn baseline_table() {
        use Action::*;
        assert_eq!(
            run(429, 0, "GET", "/x", "local_rate_limited"),
            Some((ExcessRateLimitExceeded, "rate_limited"))
        );
        assert_eq!(
            run(401, 0x800, "POST", "/login", ""),
            Some((ExcessRateLimitExceeded, "rate_limited"))
        );
        assert_eq!(
            run(200, 0, "POST", "/login", ""),
            Some((AuthnLoginSuccess, "credentials_accepted"))
        );
        assert_eq!(
            run(401, 0, "POST", "/login", ""),
            Some((AuthnLoginFail, "bad_credentials"))
        );
        assert_eq!(
            run(400, 0, "POST", "/oauth/token", ""),
            Some((AuthnLoginFail, "invalid_grant"))
        );
        assert_eq!(
            run(302, 0, "POST", "/signin", ""),
            Some((AuthnLoginAttempt, "outcome_not_determined"))
        );
        assert_eq!(run(200, 0, "GET", "/login", ""), None);
        assert_eq!(
            run(
                401,
                0,
                "GET",
                "/api/x",
                "jwt_authn_access_denied{Jwt_is_expired}"
            ),
            Some((AuthnTokenInvalid, "token_expired"))
        );
        assert_eq!(
            run(
                401,
                0,
                "GET",
                "/api/x",
                "jwt_authn_access_denied{Jwt_is_missing}"
            ),
            Some((AuthnTokenInvalid, "token_missing"))
        );
        assert_eq!(
            run(
                401,
                0,
                "GET",
                "/api/x",
                "jwt_authn_access_denied{Jwt_verification_fails}"
            ),
            Some((AuthnTokenInvalid, "token_signature_invalid"))
        );
        assert_eq!(
            run(
                401,
                0,
                "GET",
                "/api/x",
                "jwt_authn_access_denied{Jwt_header_is_an_invalid_JSON}"
            ),
            Some((AuthnTokenInvalid, "token_invalid"))
        );
        assert_eq!(
            run(401, 0, "GET", "/api/x", "via_upstream"),
            Some((AuthnTokenInvalid, "unauthorized"))
        );
        assert_eq!(
            run(
                403,
                0,
                "GET",
                "/admin",
                "rbac_access_denied_matched_policy[admin-deny]"
            ),
            Some((AuthzFail, "rbac_denied"))
        );
        assert_eq!(
            run(431, 0, "GET", "/", ""),
            Some((InputValidationFail, "header_fields_too_large"))
        );
        assert_eq!(
            run(422, 0, "POST", "/api/items", ""),
            Some((InputValidationFail, "unprocessable_content"))
        );
        assert_eq!(
            run(200, 0, "GET", "/admin/users", ""),
            Some((AuthzAdmin, "admin_access"))
        );
        assert_eq!(run(200, 0, "GET", "/administrator", ""), None);
        assert_eq!(run(200, 0, "GET", "/", ""), None);
        assert_eq!(run(500, 0, "GET", "/", ""), None);
    }

    fn routes_policy(extra: &str) -> crate::Policy {
        let doc = format!(
            r#"{{"version":1,"login":{{"methods":["POST"],"paths":["/login",{{"glob":"/api/v*/login"}},{{"regex":"^/auth/(signin|login)$"}},{{"exact":"/Sign%49n/"}}],"failure_statuses":[401]}},"admin":{{"path_prefixes":["/admin",{{"prefix":"/internal"}},{{"glob":"/tenants/*/admin/**"}}]}}{extra}}}"#
        );
        crate::Policy::from_json(doc.as_bytes()).unwrap()
    }

    #[test]
    fn login_paths_take_pattern_objects_matched_on_the_normalized_path() {
        let p = routes_policy("");
        for hit in [
            "/login",
            "/api/v2/login",
            "/api/v2/login/",
            "//api/v10/./login;jsessionid=1",
            "/auth/signin",
            "/%61uth/signin",
            "/auth/login;x",
            "/SignIn",
            "/Sign%49n",
        ] {
            assert!(is_login(&p, b"POST", hit.as_bytes()), "{hit}");
        }
        for miss in ["/auth/signinx", "/api/login", "/xauth/signin", "/signin"] {
            assert!(!is_login(&p, b"POST", miss.as_bytes()), "{miss}");
        }
        assert!(!is_login(&p, b"GET", b"/api/v2/login"));
    }

    #[test]
    fn admin_prefixes_take_pattern_objects() {
        let p = routes_policy("");
        for hit in [
            "/admin",
            "/admin/users",
            "/internal",
            "/internal-tools/x",
            "/tenants/acme/admin/users",
            "/tenants/acme/./admin/x",
        ] {
            assert!(is_admin(&p, hit.as_bytes()), "{hit}");
        }
        for miss in ["/administrator", "/tenants/acme/users", "/intern"] {
            assert!(!is_admin(&p, miss.as_bytes()), "{miss}");
        }
    }

    #[test]
    fn a_bad_route_pattern_is_an_error_at_its_json_path() {
        let e = crate::Policy::from_json(
            br#"{"version":1,"login":{"methods":["POST"],"paths":["/login",{"regex":"("}],"failure_statuses":[401]}}"#,
        )
        .unwrap_err();
        assert_eq!(e.path, "login.paths[1].regex", "{e}");
        let e = crate::Policy::from_json(
            br#"{"version":1,"admin":{"path_prefixes":[{"prefix":"admin"}]}}"#,
        )
        .unwrap_err();
        assert_eq!(e.path, "admin.path_prefixes[0]", "{e}");
    }
}
