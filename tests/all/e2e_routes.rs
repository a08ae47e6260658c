//! Route variants through real Envoy: a login path written the ways a backend still routes
//! to its login handler (issue 7: "counts `POST /login` but not `POST /login/`, `//login`,
//! `/login;x`, `/./login` or `/%6Cogin`") must each be a counted login failure, whether
//! Envoy normalizes paths itself (`normalize_path`, `merge_slashes`) or not: a policy means
//! the same thing whatever Envoy does. A lower-case method (`post`) never reaches a backend
//! over HTTP/1: Envoy's codec answers 400 (measured here); Vigil compares methods
//! case-insensitively anyway (a unit test in `classify.rs`), for hosts that let it through.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;
use vigil_tests::envoy::{new_request_id, Envoy, Options, Req};

const FORM: &str = "application/x-www-form-urlencoded";

/// The variants: (method, path). The demo upstream routes each to its login handler.
const VARIANTS: &[(&str, &str)] = &[
    ("POST", "/login"),
    ("POST", "/login/"),
    ("POST", "//login"),
    ("POST", "/login;x"),
    ("POST", "/login;jsessionid=SECRET"),
    ("POST", "/./login"),
    ("POST", "/%6Cogin"),
    ("POST", "/static/../login"),
    ("POST", "/login?next=%2F"),
];

fn every_variant_is_a_counted_login_failure(name: &str, hcm_extra: &[&str]) {
    let mut opts = Options::new(name);
    opts.hcm_extra = hcm_extra.iter().map(|s| s.to_string()).collect();
    let envoy = Envoy::start(&opts).unwrap();
    let mut ids = Vec::new();
    for (method, path) in VARIANTS {
        let id = new_request_id("route");
        let req = Req::new(method, path)
            .header("content-type", FORM)
            .body(b"username=alice&password=wrong")
            .id(&id);
        let r = envoy.send(&req).unwrap();
        assert_eq!(
            r.status, 401,
            "{method} {path}: the upstream's login handler answers"
        );
        ids.push(id);
    }
    let lower = Req::new("post", "/login")
        .header("content-type", FORM)
        .body(b"username=alice&password=wrong");
    assert_eq!(
        envoy.send(&lower).unwrap().status,
        400,
        "{name}: `post` at the codec"
    );
    for ((method, path), id) in VARIANTS.iter().zip(&ids) {
        let e = envoy
            .event_for(id, Duration::from_secs(5))
            .unwrap_or_else(|err| panic!("{name}: {method} {path}: no event: {err:#}"));
        assert_eq!(
            e.action(),
            "authn_login_fail",
            "{name}: {method} {path}: {}",
            e.raw
        );
        assert_eq!(e.user_name(), Some("alice"), "{name}: {method} {path}");
        let logged = e.get_str("url.path").unwrap_or_default();
        assert!(
            !logged.contains("SECRET"),
            "{name}: a path parameter's value leaked: {logged}"
        );
    }
}

#[test]
fn e2e_route_variants_count_without_envoy_normalization() {
    every_variant_is_a_counted_login_failure("routes-raw", &[]);
}

#[test]
fn e2e_route_variants_count_with_envoy_normalization() {
    every_variant_is_a_counted_login_failure(
        "routes-normalized",
        &["normalize_path: true", "merge_slashes: true"],
    );
}
