//! The engine end to end over a fake exchange: events, identity, secrets, alerts, hot path.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use serde_json::Value;
use support::{fake, lines, Run};

#[test]
fn benign_request_reads_the_request_map_and_the_status() {
    let mut r = Run::new("", &[]);
    let mut f = fake(
        "GET",
        "/products?q=1",
        200,
        &[("authorization", b"Bearer secret")],
    );
    assert!(r.go(&mut f, None).is_empty());
    assert_eq!(f.reads, vec!["request pairs", "response :status"]);
    // A 404 has no event, but the excess-404 detector counts it per source.
    let mut f = fake("GET", "/products", 404, &[]);
    assert!(r.go(&mut f, None).is_empty());
    assert_eq!(
        f.reads,
        vec![
            "request pairs",
            "response :status",
            "response.flags",
            "response.code_details",
            "source.address"
        ]
    );
}

#[test]
fn login_failure_names_the_user_from_the_body_and_never_the_password() {
    let mut r = Run::new("", &[("VIGIL_FINGERPRINT_KEY", "0123456789abcdef0123")]);
    let mut f = fake(
        "POST",
        "/login?next=/x&token=abc",
        401,
        &[("user-agent", b"curl/8"), ("cookie", b"session=s3ss10n")],
    );
    let ev = r.go(&mut f, Some(b"username=alice&password=hunter2"));
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(e["event"]["action"], "authn_login_fail");
    assert_eq!(e["event"]["outcome"], "failure");
    assert_eq!(e["event"]["reason"], "bad_credentials");
    assert_eq!(e["user"]["name"], "alice");
    assert_eq!(e["vigil"]["user"]["source"], "login_body");
    assert_eq!(e["vigil"]["user"]["verified"], false);
    assert_eq!(e["url"]["path"], "/login");
    assert_eq!(e["url"]["domain"], "shop.example");
    assert_eq!(e["source"]["ip"], "203.0.113.7");
    assert_eq!(e["vigil"]["session"]["source"], "cookie:session");
    let text = e.to_string();
    for secret in ["hunter2", "s3ss10n", "token=abc"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn jwt_identity_is_verified_and_basic_is_claimed() {
    let mut r = Run::new("", &[]);
    let mut f = fake(
        "GET",
        "/admin/users",
        200,
        &[("authorization", b"Bearer x.y.z")],
    );
    f.props.insert(
        "metadata.filter_metadata.envoy.filters.http.jwt_authn.jwt_payload.sub".into(),
        b"dave".to_vec(),
    );
    let e = &r.go(&mut f, None)[0];
    assert_eq!(e["event"]["action"], "authz_admin");
    assert_eq!(e["user"]["name"], "dave");
    assert_eq!(e["vigil"]["user"]["verified"], true);
    let mut f = fake(
        "GET",
        "/api/x",
        401,
        &[("authorization", b"Basic YWxpY2U6czNjcmV0")],
    );
    let e = &r.go(&mut f, None)[0];
    assert_eq!(e["user"]["name"], "alice");
    assert_eq!(e["vigil"]["user"]["source"], "basic");
    assert!(!e.to_string().contains("YWxpY2U6czNjcmV0"));
    assert!(
        e["vigil"].get("session").is_none(),
        "no key, no fingerprint"
    );
}

#[test]
fn eleventh_failure_raises_one_alert() {
    let mut r = Run::new("", &[]);
    let mut alerts = Vec::new();
    for i in 0..15 {
        let mut f = fake("POST", "/api/login", 401, &[]);
        f.now = 1_795_424_401_000_000_000u64 + i * 1_000_000_000;
        let ev = r.go(&mut f, Some(br#"{"email":"x@y","password":"p"}"#));
        assert_eq!(ev[0]["event"]["action"], "authn_login_fail");
        if ev.len() > 1 {
            alerts.push((i, ev[1].clone()));
        }
    }
    assert_eq!(alerts.len(), 1);
    let (i, a) = &alerts[0];
    assert_eq!(*i, 10);
    assert_eq!(a["event"]["kind"], "alert");
    assert_eq!(a["event"]["action"], "authn_login_fail_max");
    assert_eq!(a["vigil"]["alert"]["count"], 11);
    assert_eq!(a["vigil"]["alert"]["window_seconds"], 60);
    assert_eq!(a["vigil"]["alert"]["key"], "source_ip");
    assert_eq!(a["vigil"]["alert"]["value"], "203.0.113.7");
    // Finding (issue 7): the alert named whichever user the crossing request claimed. A
    // source-keyed alert names no user.
    assert_eq!(a.get("user"), None);
    assert_eq!(r.metrics.0["vigil.alerts"], 1);
    assert_eq!(r.metrics.0["vigil.events.authn_login_fail"], 15);
}

#[test]
fn request_callbacks_skipped_still_classifies() {
    let mut r = Run::new("", &[]);
    let mut f = fake("POST", "/login", 200, &[]);
    let ev = r.engine.on_log(&mut f, None, &mut r.store, &mut r.metrics);
    let e: Value = serde_json::from_str(&lines(&ev)[0]).unwrap();
    assert_eq!(e["event"]["action"], "authn_login_success");
    assert_eq!(
        e["@timestamp"], "2026-11-23T09:00:01.000Z",
        "request.time, not the clock"
    );
    assert!(f.reads.contains(&"response.code".to_string()));
    assert!(f.reads.contains(&"request.time".to_string()));
}

#[test]
fn hostile_bytes_stay_on_one_clean_line() {
    let mut r = Run::new("", &[]);
    let mut f = fake(
        "GET",
        "/api/\u{1b}[2J\u{2028}x",
        401,
        &[(
            "user-agent",
            b"\xC0\xA7\xC0\xA2 \x1b]0;pwn\x07 \xe2\x80\xae",
        )],
    );
    f.props.insert(
        "response.code_details".into(),
        b"jwt_authn_access_denied{Jwt_is_missing}".to_vec(),
    );
    let mut st = r.engine.on_request_headers(&mut f);
    st.scanner = None;
    r.engine.on_response_headers(&mut f, &mut st);
    let ev = r
        .engine
        .on_log(&mut f, Some(&st), &mut r.store, &mut r.metrics);
    let line = &lines(&ev)[0];
    for c in line.chars() {
        assert!(
            !(c.is_control()
                || ('\u{2028}'..='\u{2029}').contains(&c)
                || ('\u{202a}'..='\u{202e}').contains(&c)),
            "raw {c:?}"
        );
    }
    let e: Value = serde_json::from_str(line).unwrap();
    assert_eq!(e["event"]["reason"], "token_missing");
    // Invalid UTF-8 as U+FFFD, the text as sent otherwise, and the exact bytes beside it.
    assert_eq!(
        e["user_agent"]["original"],
        "\u{fffd}\u{fffd}\u{fffd}\u{fffd} \u{1b}]0;pwn\u{7} \u{202e}"
    );
    use base64::Engine as _;
    let exact = base64::engine::general_purpose::STANDARD
        .decode(
            e["vigil"]["original"]["user_agent.original"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(exact, b"\xC0\xA7\xC0\xA2 \x1b]0;pwn\x07 \xe2\x80\xae");
}

#[test]
fn rate_limit_flag_wins_over_login() {
    let mut r = Run::new("", &[]);
    let mut f = fake("POST", "/login", 401, &[]);
    f.props
        .insert("response.flags".into(), 0x800u64.to_le_bytes().to_vec());
    let e = &r.go(&mut f, None)[0];
    assert_eq!(e["event"]["action"], "excess_rate_limit_exceeded");
}

#[test]
fn success_statuses_never_pay_for_the_flags() {
    // A rate-limit flag only ever comes with a local reply of 400 or above.
    let mut r = Run::new("", &[]);
    let mut f = fake("POST", "/login", 200, &[]);
    f.props
        .insert("response.flags".into(), 0x800u64.to_le_bytes().to_vec());
    let e = &r.go(&mut f, None)[0];
    assert_eq!(e["event"]["action"], "authn_login_success");
    assert!(!f.reads.contains(&"response.flags".to_string()));
    assert!(!f.reads.contains(&"response.code".to_string()));
    assert!(!f.reads.contains(&"request.time".to_string()));
}

#[test]
fn a_failure_without_a_source_ip_is_counted_not_skipped_silently() {
    let mut r = Run::new("", &[]);
    let mut f = fake("POST", "/login", 401, &[]);
    f.props.insert("source.address".into(), b"pipe:/x".to_vec());
    let e = &r.go(&mut f, None)[0];
    assert_eq!(e["vigil"]["source"]["address"], "pipe:/x");
    assert_eq!(r.metrics.0["vigil.detector_skipped.no_source_ip"], 1);
}

#[test]
fn one_read_per_fact_on_a_failed_login() {
    // Regression: `response.code_details` was read twice when Envoy had none.
    let mut r = Run::new("", &[]);
    let mut f = fake("POST", "/login", 401, &[]);
    r.go(&mut f, Some(b"username=a&password=b"));
    let mut reads = f.reads.clone();
    reads.sort();
    let n = reads.len();
    reads.dedup();
    assert_eq!(reads.len(), n, "a fact read twice: {:?}", f.reads);
}

const SUB: &str = "metadata.filter_metadata.envoy.filters.http.jwt_authn.jwt_payload.sub";

#[test]
fn the_jwt_claim_is_read_only_when_a_token_could_have_been_verified() {
    // No token where jwt_authn looks: jwt_authn cannot have written a payload; no read.
    let mut r = Run::new("", &[]);
    let mut f = fake("POST", "/login", 401, &[]);
    r.go(&mut f, Some(b"username=a&password=b"));
    assert!(!f.reads.iter().any(|k| k == SUB), "{:?}", f.reads);
    // jwt_authn's default locations: the authorization header, the access_token parameter.
    let mut f = fake("GET", "/api/x?access_token=t", 401, &[]);
    f.props.insert(SUB.into(), b"erin".to_vec());
    assert_eq!(r.go(&mut f, None)[0]["user"]["name"], "erin");
    // A policy naming a cookie and another header.
    let policy = r#"{"version":1,"identity":{"basic_auth":true,"jwt":{"metadata_namespace":"envoy.filters.http.jwt_authn","payload_key":"jwt_payload","claim":"sub","from_headers":["x-jwt"],"from_params":[],"from_cookies":["jwt"]}}}"#;
    let mut r = Run::new(policy, &[]);
    for headers in [
        &[("cookie", &b"a=1; jwt=t"[..])][..],
        &[("x-jwt", &b"t"[..])][..],
    ] {
        let mut f = fake("GET", "/api/x", 401, headers);
        f.props.insert(SUB.into(), b"erin".to_vec());
        assert_eq!(r.go(&mut f, None)[0]["user"]["name"], "erin", "{headers:?}");
    }
    // `authorization` is not where this policy's jwt_authn looks: not read.
    let mut f = fake(
        "GET",
        "/api/x?access_token=t",
        401,
        &[("authorization", b"Bearer t")],
    );
    f.props.insert(SUB.into(), b"erin".to_vec());
    r.go(&mut f, None);
    assert!(!f.reads.iter().any(|k| k == SUB), "{:?}", f.reads);
}

#[test]
fn a_failed_login_reads_no_single_request_header() {
    let mut r = Run::new("", &[("VIGIL_FINGERPRINT_KEY", "0123456789abcdef0123")]);
    let mut f = fake(
        "POST",
        "/login",
        401,
        &[("user-agent", b"curl/8"), ("cookie", b"session=s")],
    );
    let e = &r.go(&mut f, Some(b"username=a&password=b"))[0];
    assert_eq!(e["user_agent"]["original"], "curl/8");
    assert_eq!(e["vigil"]["session"]["source"], "cookie:session");
    let single: Vec<&String> = f
        .reads
        .iter()
        .filter(|k| k.starts_with(':') || !k.contains([' ', '.']))
        .collect();
    assert!(single.is_empty(), "{:?}", f.reads);
}

#[test]
fn login_route_variants_are_counted_and_alert() {
    // Regression (issue 7): `/login/`, `//login`, `/login;x`, `/./login`, `/%6Cogin` reach
    // the same backend handler; each failure is a login failure and counts toward the alert.
    let mut r = Run::new("", &[]);
    let variants = [
        "/login/",
        "//login",
        "/login;jsessionid=1",
        "/./login",
        "/%6Cogin",
        "/x/../login",
        "/x/..;/login",
        "/login//",
        "/%2E/login",
        "/login?a=b",
        "/LOGIN/../login",
    ];
    let mut alerts = 0;
    for (i, p) in variants.iter().enumerate() {
        let mut f = fake("POST", p, 401, &[]);
        f.now = 1_795_424_401_000_000_000u64 + i as u64 * 1_000_000_000;
        let ev = r.go(&mut f, Some(b"username=mallory&password=x"));
        assert_eq!(ev[0]["event"]["action"], "authn_login_fail", "{p}");
        // Logged as sent, without the query and without path-parameter values (a session
        // id in `;jsessionid=` is a secret).
        let sent = p.split('?').next().unwrap_or(p).replace("=1", "");
        assert_eq!(ev[0]["url"]["path"], sent.as_str(), "{p}");
        assert!(!ev[0].to_string().contains("jsessionid=1"), "{p}");
        alerts += ev.len() - 1;
    }
    assert_eq!(alerts, 1, "the 11th variant raises the alert");
    // Case: off by default, a policy switch.
    let mut f = fake("POST", "/LOGIN", 401, &[]);
    assert_eq!(
        r.go(&mut f, None)[0]["event"]["action"],
        "authn_token_invalid"
    );
    let mut r = Run::new(r#"{"version":1,"routes":{"case_insensitive":true}}"#, &[]);
    let mut f = fake("POST", "/LOGIN", 401, &[]);
    assert_eq!(r.go(&mut f, None)[0]["event"]["action"], "authn_login_fail");
    // Admin prefixes too: `//admin/users` and `/Admin` (with the switch) are admin routes.
    let mut f = fake("GET", "//admin/./users", 200, &[]);
    assert_eq!(r.go(&mut f, None)[0]["event"]["action"], "authz_admin");
}
