//! The `vigil` CLI as users run it: events on stdout, one-line errors and non-zero exits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::process::{Command, Output};
use vigil_harness::traffic::{with_format_line, FORMAT_LINE};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn plugin() -> PathBuf {
    let p = std::env::var_os("VIGIL_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/wasm32-wasip1/release/vigil_plugin.wasm"));
    assert!(p.exists(), "{} missing: run `cargo build --release --target wasm32-wasip1 -p vigil-plugin` (scripts/test does)", p.display());
    p
}

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn one_line_error(out: &Output) -> String {
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !err.contains("panicked") && !err.contains("backtrace") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    err
}

#[test]
fn replay_prints_one_event_per_line() {
    let traffic = root().join("tests/golden/baseline.traffic.jsonl");
    let out = vigil(&[
        "replay",
        "--plugin",
        plugin().to_str().unwrap(),
        "--workers",
        "2",
        traffic.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    // As many as the blessed golden events of the same traffic (derived, not typed).
    let blessed = std::fs::read_to_string(root().join("tests/golden/baseline.events.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines.len(), blessed);
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["event"]["action"].is_string());
    }
}

#[test]
fn bad_traffic_line_is_named_with_its_number() {
    let good = std::fs::read_to_string(root().join("tests/golden/baseline.traffic.jsonl")).unwrap();
    let first = good.lines().next().unwrap();
    let p = tmp(
        "bad.jsonl",
        &format!("{first}\n{{\"time\": \"yesterday\"}}\n"),
    );
    let out = vigil(&[
        "replay",
        "--plugin",
        plugin().to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    let err = one_line_error(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("bad.jsonl:2:"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty(), "nothing is replayed from a bad file");
}

#[test]
fn bad_policy_and_missing_plugin_are_one_line_errors() {
    let traffic = root().join("tests/golden/baseline.traffic.jsonl");
    let policy = tmp(
        "bad-policy.json",
        r#"{"version": 1, "login": {"paths": 5}}"#,
    );
    let out = vigil(&[
        "replay",
        "--plugin",
        plugin().to_str().unwrap(),
        "--config",
        policy.to_str().unwrap(),
        traffic.to_str().unwrap(),
    ]);
    let err = one_line_error(&out);
    assert!(err.contains("login"), "{err}");
    let out = vigil(&[
        "replay",
        "--plugin",
        "/nonexistent/vigil.wasm",
        traffic.to_str().unwrap(),
    ]);
    let err = one_line_error(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

fn wat_fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/filter_state.wat")
}

const LINE: &str = r#"{"time": "2026-11-23T09:00:01.000Z", "source": "203.0.113.7:40001", "request": {"method": "GET", "path": "/a", "headers": [["host","example.com"]]}, "response": {"status": 200}}"#;

#[test]
fn replay_prints_access_log_records_with_access_log_keys() {
    let named = LINE.replace("{\"time\"", "{\"name\": \"second\", \"time\"");
    let traffic = tmp("fs.jsonl", &with_format_line([LINE, &named]));
    let out = vigil(&[
        "replay",
        "--plugin",
        wat_fixture().to_str().unwrap(),
        "--access-log-key",
        "wasm.ev",
        "--access-log-key",
        "wasm.nope",
        "--access-log-key",
        "wasm.k",
        traffic.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout, "{\"a\":1}\nv2\n{\"a\":1}\nv2\n");
}

#[test]
fn hostcalls_prints_a_table_per_exchange_and_totals() {
    let named = LINE.replace("{\"time\"", "{\"name\": \"second\", \"time\"");
    let traffic = tmp("hc.jsonl", &format!("{FORMAT_LINE}\n{LINE}\n\n{named}\n"));
    let out = vigil(&[
        "hostcalls",
        "--plugin",
        wat_fixture().to_str().unwrap(),
        traffic.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "line 2: 10 hostcalls");
    assert!(lines.contains(&"line 4 (second): 10 hostcalls"), "{stdout}");
    assert!(lines.contains(&"  2  proxy_set_property k"), "{stdout}");
    assert!(
        lines.contains(&"  totals: property 3, header 0, buffer 0, shared_data 0, metric 0, log 3, set_property 4, other 0"),
        "{stdout}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("all 2 exchanges: 20 hostcalls, 10.0 per exchange"),
        "{stdout}"
    );
}

#[test]
fn hostcalls_of_the_real_plugin_label_every_exchange() {
    let traffic = root().join("tests/golden/baseline.traffic.jsonl");
    let n = std::fs::read_to_string(&traffic)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
        - 1; // the format line
    let out = vigil(&[
        "hostcalls",
        "--plugin",
        plugin().to_str().unwrap(),
        traffic.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let heads = stdout.lines().filter(|l| l.starts_with("line ")).count();
    let totals = stdout
        .lines()
        .filter(|l| l.starts_with("  totals: property "))
        .count();
    assert_eq!((heads, totals), (n, n), "{stdout}");
    assert!(
        stdout.contains("proxy_get_header_map_value request_headers"),
        "{stdout}"
    );
    assert!(stdout
        .lines()
        .last()
        .unwrap()
        .starts_with(&format!("all {n} exchanges: ")));
}

#[test]
fn hostcalls_with_a_missing_traffic_file_is_a_one_line_error() {
    let out = vigil(&[
        "hostcalls",
        "--plugin",
        wat_fixture().to_str().unwrap(),
        "/nonexistent/traffic.jsonl",
    ]);
    let err = one_line_error(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/traffic.jsonl"), "{err}");
}

#[test]
fn test_passes_the_shipped_cases_and_fails_with_a_readable_diff() {
    // Every preset passes its own cases.
    for preset in vigil_policies::presets::NAMES {
        let config = root().join(format!("policies/presets/{preset}.json"));
        let cases = root().join(format!("policies/presets/{preset}.cases.jsonl"));
        let out = vigil(&[
            "test",
            "--plugin",
            plugin().to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--env",
            "VIGIL_FINGERPRINT_KEY=k",
            cases.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{preset}: {stdout}");
        let n = std::fs::read_to_string(&cases)
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"expect\""))
            .count();
        assert_eq!(
            stdout.trim_end(),
            format!("{n} passed, 0 failed"),
            "{preset}"
        );
    }
    let cases = root().join("policies/presets/owasp-baseline.cases.jsonl");
    let n = std::fs::read_to_string(&cases)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"expect\""))
        .count();

    let good = std::fs::read_to_string(&cases).unwrap();
    let bad = tmp(
        "bad.cases.jsonl",
        &good.replace(r#""user.name": "bob""#, r#""user.name": "mallory""#),
    );
    let out = vigil(&[
        "test",
        "--plugin",
        plugin().to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("(successful login)"), "{stdout}");
    assert!(
        stdout.contains(r#"user.name: expected "mallory", got "bob""#),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(&format!("{} passed, 1 failed\n", n - 1)),
        "{stdout}"
    );

    let none = tmp("none.cases.jsonl", &with_format_line([LINE]));
    let out = vigil(&[
        "test",
        "--plugin",
        plugin().to_str().unwrap(),
        none.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("nothing to test"));
}

#[test]
fn replay_trace_shows_every_callback_and_its_answer() {
    let traffic = root().join("tests/golden/request-model.traffic.jsonl");
    let out = vigil(&[
        "replay",
        "--trace",
        "--plugin",
        plugin().to_str().unwrap(),
        "--env",
        "VIGIL_FINGERPRINT_KEY=k",
        traffic.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("vigil: line 2 (form login split across three chunks):"),
        "{err}"
    );
    // Three chunks, then the empty end of stream: as Envoy delivers them.
    for call in [
        "proxy_on_request_body(2, 4, 0) -> 0 (Continue)",
        "proxy_on_request_body(2, 8, 0) -> 0 (Continue)",
        "proxy_on_request_body(2, 19, 0) -> 0 (Continue)",
        "proxy_on_request_body(2, 0, 1) -> 0 (Continue)",
    ] {
        assert!(err.contains(call), "{call} in {err}");
    }
}

#[test]
fn check_explains_a_good_policy_and_names_every_error_of_a_bad_one() {
    let good = root().join("policies/presets/owasp-baseline.json");
    let out = vigil(&["check", good.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for topic in [
        "login: POST",
        "authn_login_stuffing",
        "source table: 1024 buckets",
        "output:",
    ] {
        assert!(text.contains(topic), "{topic} in {text}");
    }
    let bad = tmp(
        "bad-policy.json",
        r#"{"version":1,"login":{"methods":"POST","paths":["/x"],"bogus":1}}"#,
    );
    let out = vigil(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for path in [
        "`login.methods`",
        "`login.bogus`",
        "`login`: missing field `failure_statuses`",
    ] {
        assert!(text.contains(path), "{path} in {text}");
    }
}

/// `vigil verify` as a user runs it: a chained trail from `vigil replay` verifies (exit 0);
/// one edited byte is found and named (exit 1); a file with no chain is bad input (exit 2).
#[test]
fn verify_finds_an_edit_and_exits_by_what_it_found() {
    let traffic = root().join("tests/golden/baseline.traffic.jsonl");
    let policy = tmp(
        "chain-policy.json",
        r#"{"version": 1, "output": {"chain": {"enabled": true, "checkpoint_every": 1}}}"#,
    );
    let out = vigil(&[
        "replay",
        "--plugin",
        plugin().to_str().unwrap(),
        "--config",
        policy.to_str().unwrap(),
        traffic.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trail = String::from_utf8(out.stdout).unwrap();
    assert!(trail.contains("\"chain\":{"), "{trail}");
    let file = tmp("trail.jsonl", &trail);
    let ok = vigil(&["verify", file.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{said}");
    assert!(
        said.contains("not tamper-evident against a rewriter"),
        "{said}"
    );
    assert!(said.contains("intact"), "{said}");
    let edited = tmp("trail-edited.jsonl", &trail.replacen("alice", "alicf", 1));
    let bad = vigil(&["verify", edited.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{said}");
    assert!(said.contains("edited record"), "{said}");
    let none = tmp("no-chain.jsonl", "{\"a\":1}\n");
    let out = vigil(&["verify", none.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    one_line_error(&out);
}
