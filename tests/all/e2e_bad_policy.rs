//! End to end: Envoy refuses a bad policy. The plugin's error names the JSON path of the
//! problem, and Envoy itself rejects the plugin (its own message, and it exits): a refusal is
//! never inferred from an Envoy that merely was not ready in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;
use vigil_tests::envoy::{tail, Envoy, Options};

/// Envoy's own words when a wasm plugin's `on_configure` returns false (measured on 1.40).
const ENVOY_REJECTS: &str = "Unable to create Wasm plugin vigil";

fn assert_refused(name: &str, policy: &str, plugin_says: &str) {
    let mut opts = Options::new(name);
    opts.policy_json = Some(policy.to_string());
    let log = Envoy::start_expect_refusal(&opts, Duration::from_secs(30)).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("vigil: invalid configuration: policy: at `"))
        .unwrap_or_else(|| {
            panic!(
                "{name}: no policy error in Envoy's log:\n{}",
                tail(&log, 40)
            )
        });
    assert!(
        line.contains(plugin_says),
        "{name}: expected {plugin_says:?} in {line:?}"
    );
    assert!(
        log.contains(ENVOY_REJECTS),
        "{name}: Envoy did not reject the plugin itself:\n{}",
        tail(&log, 40)
    );
}

#[test]
fn e2e_bad_policy_is_refused_with_its_json_path() {
    assert_refused(
        "badpolicy-type",
        r#"{"version": 1, "login": {"paths": 5}}"#,
        "at `login.paths`: invalid type: integer `5`, expected a sequence",
    );
    assert_refused(
        "badpolicy-unknown",
        r#"{"version": 1, "login": {"pathz": ["/login"]}}"#,
        "at `login.pathz`: unknown field `pathz`",
    );
    assert_refused(
        "badpolicy-syntax",
        r#"{"version": 1, "#,
        "at `.`: EOF while parsing an object at line 1 column 16",
    );
    assert_refused(
        "badpolicy-sink",
        r#"{"version": 1, "output": {"sinks": [{"type": "syslog"}]}}"#,
        "at `output.sinks[0].type`:",
    );
}
