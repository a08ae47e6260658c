//! Request-body fields captured by rules, redacted by name (issue 7): what a rule asks for
//! is captured, a credential-like field never reaches an event raw, whatever the policy or
//! the client does.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use serde_json::Value;
use support::{fake, Fake, Run};

/// A rule on `POST /api/tenants` capturing body fields, with the policy's body modes.
fn policy(capture: &str, body_modes: &str) -> String {
    format!(
        r#"{{"version":1,
            "rules":[{{"name":"tenant_signup","when":{{"methods":["POST"],"path":"/api/tenants","status":["4xx"]}},
                       "event":"input_validation_fail","reason":"signup_rejected","capture":{{"body":{capture}}}}}],
            "redaction":{{"body":{body_modes}}},
            "fingerprint":{{"key":"k-test-0123456789abcdef","session_cookies":[]}}}}"#
    )
}

fn post(body: &str, ctype: &str) -> Fake {
    let len = body.len().to_string();
    fake(
        "POST",
        "/api/tenants",
        422,
        &[
            ("content-type", ctype.as_bytes()),
            ("content-length", len.as_bytes()),
        ],
    )
}

fn captured(ev: &[Value]) -> Value {
    ev[0]["vigil"]["captured"]["body"].clone()
}

#[test]
fn a_rule_captures_top_level_body_fields_json_and_form() {
    let p = policy(r#"["tenant","plan"]"#, "{}");
    let mut r = Run::new(&p, &[]);
    let body = r#"{"tenant":"acme","plan":"gold","nested":{"tenant":"evil"}}"#;
    let ev = r.go(&mut post(body, "application/json"), Some(body.as_bytes()));
    assert_eq!(
        captured(&ev),
        serde_json::json!({"tenant": "acme", "plan": "gold"})
    );
    let body = "tenant=acme;plan=gold&tenant=second";
    let ev = r.go(
        &mut post(body, "application/x-www-form-urlencoded"),
        Some(body.as_bytes()),
    );
    assert_eq!(
        captured(&ev),
        serde_json::json!({"tenant": "acme", "plan": "gold"})
    );
}

/// Finding (issue 7): a password sent in a body field a rule captures must never be logged,
/// whatever the name's case or spelling, the separator, or the policy's own mode.
#[test]
fn finding_a_password_in_a_captured_body_field_never_reaches_an_event() {
    let secret = "hunter2-SECRET";
    let capture = r#"["tenant","password","Password","new-password","user_pwd","otp","api_key","client_secret"]"#;
    // The policy even asks to keep `password`: a credential is never kept raw.
    let p = policy(capture, r#"{"password":"keep"}"#);
    let mut r = Run::new(&p, &[]);
    let bodies = [
        format!(
            r#"{{"tenant":"acme","password":"{secret}","Password":"{secret}","new-password":"{secret}"}}"#
        ),
        format!("tenant=acme&pass%77ord={secret}&user_pwd={secret}&otp={secret}"),
        format!("tenant=acme;api_key={secret};client_secret={secret}"),
    ];
    for body in &bodies {
        let ctype = if body.starts_with('{') {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let ev = r.go(&mut post(body, ctype), Some(body.as_bytes()));
        let line = serde_json::to_string(&ev).unwrap();
        assert!(!line.contains(secret), "{line}");
        assert!(!line.contains("hunter2"), "{line}");
        assert_eq!(captured(&ev)["tenant"], "acme", "{line}");
    }
}

#[test]
fn a_credential_field_may_be_fingerprinted_or_masked_to_show_it_was_there() {
    let p = policy(
        r#"["password","otp"]"#,
        r#"{"password":"fingerprint","otp":"mask"}"#,
    );
    let mut r = Run::new(&p, &[]);
    let body = "password=hunter2&otp=123456";
    let ev = r.go(
        &mut post(body, "application/x-www-form-urlencoded"),
        Some(body.as_bytes()),
    );
    let c = captured(&ev);
    let pw = c["password"].as_str().unwrap();
    assert!(pw.starts_with("[fp:"), "{c}");
    assert!(
        !c.to_string().contains("hunter2") && !c.to_string().contains("123456"),
        "{c}"
    );
}
