//! End to end: Envoy refuses a bad policy, and its log names the JSON path of the problem.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;
use vigil_tests::envoy::{tail, Envoy, Options};

fn refused_log(name: &str, policy: &str) -> String {
    let mut opts = Options::new(name);
    opts.policy_json = Some(policy.to_string());
    Envoy::start_expect_refusal(&opts, Duration::from_secs(15)).unwrap()
}

#[test]
fn e2e_bad_policy_is_refused_with_its_json_path() {
    let log = refused_log("badpolicy-type", r#"{"version": 1, "login": {"paths": 5}}"#);
    assert!(
        log.contains("login.paths"),
        "no JSON path in Envoy's log:\n{}",
        tail(&log, 40)
    );

    let log = refused_log(
        "badpolicy-unknown",
        r#"{"version": 1, "login": {"pathz": ["/login"]}}"#,
    );
    assert!(
        log.contains("pathz"),
        "unknown field not named in Envoy's log:\n{}",
        tail(&log, 40)
    );

    let log = refused_log("badpolicy-syntax", r#"{"version": 1, "#);
    assert!(
        log.to_lowercase().contains("policy") || log.contains("EOF"),
        "syntax error not reported:\n{}",
        tail(&log, 40)
    );
}
