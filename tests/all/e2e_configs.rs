//! Every Envoy configuration Vigil ships passes `envoy --mode validate` with the real Envoy
//! 1.40: the demo/e2e bootstrap alone, with each ready-made event logger
//! (`envoy/access-log/`), and with all of them at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use vigil_tests::access_log::{add_event_log, EventSink};
use vigil_tests::envoy::{
    envoy_bin, plugin_wasm, render_template, workspace_root, ACCESS_LOG_POLICY,
};

fn validate(name: &str, config: &str) {
    let dir = workspace_root().join("target/e2e/validate");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{}.yaml", std::process::id()));
    std::fs::write(&path, config).unwrap();
    let out = Command::new(envoy_bin().unwrap())
        .args(["--mode", "validate", "-l", "error", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("OK"),
        "{name}: envoy --mode validate failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn e2e_shipped_configs_pass_envoy_validate() {
    let template = std::fs::read_to_string(workspace_root().join("envoy/vigil.yaml.tmpl")).unwrap();
    let events = workspace_root().join("target/e2e/validate/events.jsonl");
    let base = render_template(
        &template,
        10000,
        9901,
        10080,
        &plugin_wasm().unwrap(),
        ACCESS_LOG_POLICY,
        "validate-key",
        &workspace_root().join("target/e2e/validate/access.jsonl"),
    )
    .unwrap();
    validate("bootstrap", &base);
    let sinks = [
        ("file", EventSink::File { path: events }),
        ("otel", EventSink::otel(4318)),
        ("fluentd", EventSink::fluentd(24224)),
    ];
    let mut all = base.clone();
    for (name, sink) in &sinks {
        validate(name, &add_event_log(&base, sink).unwrap());
        all = add_event_log(&all, sink).unwrap();
    }
    validate("all-sinks", &all);
}
