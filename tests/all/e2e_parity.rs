//! Parity: the traffic Envoy served, converted from its JSON access log into a traffic file
//! and replayed through the harness, yields the same events Envoy's plugin emitted (ignoring
//! per-run fields such as `@timestamp` and `event.id`).
//!
//! Envoy's access log has no bodies: every request carries its own `x-request-id`, and the
//! test merges the request body it sent and the response it received back in by that id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::e2e_baseline::{baseline_cases, failed_logins, send_all};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use vigil_harness::{traffic, AccessLogger, Plugin, SharedData, Vm, VmOptions};
use vigil_policies::envoy::{filter_state_key, MAX_RECORDS};
use vigil_tests::envoy::{
    plugin_wasm, Envoy, HttpResponse, Options, Via, ACCESS_LOG_POLICY, FINGERPRINT_KEY,
};

/// Fields that differ between two runs of the same traffic by design.
const PER_RUN_FIELDS: &[&str] = &[
    "@timestamp",
    "event.id",
    "event.created",
    "event.ingested",
    "event.sequence",
];

/// A string field of an access log entry; Envoy writes `null` (or `-`) for "absent".
fn field<'a>(entry: &'a Value, key: &str) -> Option<&'a str> {
    entry
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "-")
}

/// Converts one access log entry (+ the body sent and the response received) into a traffic
/// line.
fn traffic_line(entry: &Value, body: &[u8], resp: &HttpResponse) -> Value {
    let mut headers: Vec<Value> = Vec::new();
    for (name, key) in [
        ("host", "authority"),
        ("user-agent", "user_agent"),
        ("x-request-id", "x_request_id"),
        ("authorization", "authorization"),
        ("cookie", "cookie"),
        ("content-type", "content_type"),
        ("content-length", "content_length"),
        ("x-forwarded-for", "x_forwarded_for"),
    ] {
        if let Some(v) = field(entry, key) {
            headers.push(json!([name, v]));
        }
    }
    headers.push(json!(["x-forwarded-proto", "http"]));
    let resp_headers: Vec<Value> = resp
        .headers
        .iter()
        .filter(|(n, _)| n != "connection")
        .map(|(n, v)| json!([n, v]))
        .collect();
    let flags: Vec<&str> = field(entry, "response_flags")
        .map(|f| f.split(',').collect())
        .unwrap_or_default();
    let mut envoy = json!({ "response_flags": flags });
    if let Some(d) = field(entry, "response_code_details") {
        envoy["response_code_details"] = json!(d);
        // The HTTP/1 codec rejects some requests before any filter sees their headers.
        if d.starts_with("http1.") {
            envoy["skip_request_callbacks"] = json!(true);
        }
    }
    if let Some(md) = entry.get("jwt_authn").filter(|v| v.is_object()) {
        envoy["filter_metadata"] = json!({ "envoy.filters.http.jwt_authn": md });
    }
    let mut request = json!({
        "method": field(entry, "method").unwrap_or("GET"),
        "path": field(entry, "path").unwrap_or("/"),
        "protocol": field(entry, "protocol").unwrap_or("HTTP/1.1"),
        "headers": headers,
    });
    if !body.is_empty() {
        request["body"] = bytes_value(body);
    }
    let mut response = json!({ "status": entry["response_code"], "headers": resp_headers });
    if !resp.body.is_empty() {
        response["body"] = bytes_value(&resp.body);
    }
    json!({
        "time": field(entry, "start_time").unwrap_or("1970-01-01T00:00:00.000Z"),
        "source": field(entry, "downstream_remote_address").unwrap_or("127.0.0.1:1"),
        "request": request,
        "response": response,
        "envoy": envoy,
    })
}

fn bytes_value(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => json!(s),
        Err(_) => {
            use base64::Engine as _;
            json!({ "base64": base64::engine::general_purpose::STANDARD.encode(b) })
        }
    }
}

/// Removes the per-run fields (dotted paths) from an event.
fn normalize(mut v: Value) -> Value {
    for path in PER_RUN_FIELDS {
        let (parent, last) = match path.rsplit_once('.') {
            Some((p, l)) => (format!("/{}", p.replace('.', "/")), l),
            None => (String::new(), *path),
        };
        if let Some(obj) = v.pointer_mut(&parent).and_then(Value::as_object_mut) {
            obj.remove(last);
        }
    }
    v
}

/// The baseline, then a brute-force alert, through Envoy with events via `via`; the same
/// traffic through the harness with the same sink must give the same records.
fn parity_through(via: Via) {
    let envoy = Envoy::start(&Options::new(&format!("parity-{via:?}")).via(via)).unwrap();
    let mut cases = baseline_cases();
    // Failed logins up to the brute-force threshold: the last one raises the alert.
    let threshold = vigil_policies::presets::baseline().brute_force.max_failures as usize + 1;
    let so_far = cases
        .iter()
        .filter(|c| c.action == Some("authn_login_fail"))
        .count();
    cases.extend(failed_logins(threshold - so_far));
    let responses = send_all(&envoy, &cases);
    // Every expected event, plus the alert.
    let expected_events = cases.iter().filter(|c| c.action.is_some()).count() + 1;
    let envoy_events = envoy
        .wait_events(expected_events, Duration::from_secs(5))
        .unwrap();
    let entries = envoy
        .wait_access_log(cases.len(), Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        entries.len(),
        cases.len(),
        "one access log entry per request"
    );

    // Access log -> traffic file, merging bodies and responses by x-request-id.
    let by_id: BTreeMap<String, (usize, &HttpResponse)> = cases
        .iter()
        .zip(&responses)
        .enumerate()
        .map(|(i, (c, r))| (c.id(), (i, r)))
        .collect();
    let mut lines = Vec::new();
    for entry in &entries {
        let id = field(entry, "x_request_id").expect("x_request_id in the access log");
        let (i, resp) = by_id
            .get(id)
            .unwrap_or_else(|| panic!("access log id {id} was not sent"));
        lines.push(traffic_line(entry, &cases[*i].req.body, resp).to_string());
    }
    let text = lines.join("\n") + "\n";
    let traffic_path = envoy.dir.join("traffic.jsonl");
    std::fs::write(&traffic_path, &text).unwrap();
    let exchanges = traffic::parse_traffic(&traffic_path.display().to_string(), &text)
        .unwrap_or_else(|e| panic!("traffic file {}: {e}", traffic_path.display()));

    // Replay with the same plugin, policy, sink and fingerprint key; for the access-log
    // sink, the harness's access loggers are Envoy's: one per record slot.
    let access_log = via != Via::EnvoyLog;
    let plugin = Plugin::load(plugin_wasm().unwrap()).unwrap();
    let mut vm = Vm::new(
        &plugin,
        VmOptions {
            shared: SharedData::new(),
            env: vec![("VIGIL_FINGERPRINT_KEY".into(), FINGERPRINT_KEY.into())],
            plugin_config: if access_log {
                ACCESS_LOG_POLICY.as_bytes().to_vec()
            } else {
                Vec::new()
            },
            access_loggers: if access_log {
                (0..MAX_RECORDS)
                    .filter_map(filter_state_key)
                    .map(AccessLogger::filter_state)
                    .collect()
            } else {
                Vec::new()
            },
            ..VmOptions::default()
        },
    )
    .unwrap();
    assert!(
        vm.start().unwrap(),
        "plugin refused to start in the harness"
    );
    for x in &exchanges {
        let out = vm.run(x).unwrap();
        assert!(out.vm_failed.is_none(), "VM failed: {:?}", out.vm_failed);
    }
    let harness_events: Vec<String> = if access_log {
        assert!(
            vm.take_events().is_empty(),
            "the access_log sink writes no log lines"
        );
        vm.take_access_log()
            .into_iter()
            .map(|r| String::from_utf8(r).expect("records are UTF-8"))
            .collect()
    } else {
        vm.take_events()
    };
    assert_eq!(
        harness_events.len(),
        expected_events,
        "{via:?}: harness records"
    );

    let mut from_envoy: Vec<String> = envoy_events
        .iter()
        .map(|e| normalize(e.raw.clone()).to_string())
        .collect();
    let mut from_harness: Vec<String> = harness_events
        .iter()
        .map(|l| normalize(serde_json::from_str(l).expect("harness event is JSON")).to_string())
        .collect();
    from_envoy.sort();
    from_harness.sort();
    if from_envoy != from_harness {
        let only_envoy: Vec<_> = from_envoy
            .iter()
            .filter(|e| !from_harness.contains(e))
            .collect();
        let only_harness: Vec<_> = from_harness
            .iter()
            .filter(|e| !from_envoy.contains(e))
            .collect();
        panic!(
            "Envoy and the harness disagree (traffic file {}):\nonly in Envoy:\n{}\nonly in the harness:\n{}",
            traffic_path.display(),
            only_envoy.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
            only_harness.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
        );
    }
}

#[test]
fn e2e_parity_envoy_log_sink() {
    parity_through(Via::EnvoyLog);
}

#[test]
fn e2e_parity_access_log_sink() {
    parity_through(Via::File);
}
