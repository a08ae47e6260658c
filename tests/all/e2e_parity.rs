//! Parity: the traffic Envoy served, converted from its JSON access log into a traffic file
//! and replayed through the harness, yields the same events Envoy's plugin emitted (ignoring
//! per-run fields such as `@timestamp` and `event.id`).
//!
//! Envoy's access log has no bodies: every request carries its own `x-request-id`, and the
//! test merges the request it sent (headers as sent, body, chunks) and the response it
//! received back in by that id. Beyond the baseline and the brute-force alert, the traffic
//! holds repeated headers, a chunked body and a codec rejection (431).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::e2e_baseline::{baseline_cases, failed_logins, send_all};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use vigil_harness::{traffic, AccessLogger, Plugin, SharedData, Vm, VmOptions};
use vigil_policies::envoy::{filter_state_key, MAX_RECORDS};
use vigil_tests::envoy::{
    chunks_of, new_request_id, plugin_wasm, send_parts, Envoy, HttpResponse, Options, Req, Via,
    ACCESS_LOG_POLICY, FINGERPRINT_KEY,
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

/// Converts one access log entry, with the request as the client sent it and the response
/// it received, into a traffic line. The request's headers are the client's own (the
/// harness applies Envoy's codec to them: merged duplicates, hop-by-hop headers consumed);
/// the access log adds what Envoy added (`x-forwarded-for`) and tells who answered: the
/// codec (`http1.*` details), a filter (no upstream host), or the upstream.
fn traffic_line(entry: &Value, sent: &Sent, resp: &HttpResponse) -> Value {
    let lower = |b: &[u8]| String::from_utf8_lossy(b).to_ascii_lowercase();
    let mut headers: Vec<Value> = vec![json!(["host", "vigil.test"])];
    for (n, v) in &sent.req.headers {
        headers.push(json!([lower(n), bytes_value(v)]));
    }
    let bodyful = matches!(sent.req.method.as_slice(), b"POST" | b"PUT" | b"PATCH");
    if sent.chunks.is_some() {
        headers.push(json!(["transfer-encoding", "chunked"]));
    } else if !sent.req.body.is_empty() || bodyful {
        headers.push(json!(["content-length", sent.req.body.len().to_string()]));
    }
    headers.push(json!(["connection", "close"]));
    if let Some(xff) = field(entry, "x_forwarded_for") {
        if !sent
            .req
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(b"x-forwarded-for"))
        {
            headers.push(json!(["x-forwarded-for", xff]));
        }
    }
    headers.push(json!(["x-forwarded-proto", "http"]));
    let details = field(entry, "response_code_details");
    let rejected_by = match details {
        Some(d) if d.starts_with("http1.") => Some("codec"),
        Some(d) if d != "via_upstream" && field(entry, "upstream_host").is_none() => Some("filter"),
        _ => None,
    };
    // Envoy's own response headers (added after the filter, or the local reply's framing)
    // are the harness's to add.
    let envoys_own: &[&str] = match rejected_by {
        Some(_) => &[
            "connection",
            "date",
            "server",
            "content-length",
            "content-type",
        ],
        None => &["connection"],
    };
    let resp_headers: Vec<Value> = resp
        .headers
        .iter()
        .filter(|(n, _)| !envoys_own.contains(&n.as_str()))
        .map(|(n, v)| json!([n, v]))
        .collect();
    let flags: Vec<&str> = field(entry, "response_flags")
        .map(|f| f.split(',').collect())
        .unwrap_or_default();
    let mut envoy = json!({ "response_flags": flags });
    if let Some(d) = details {
        envoy["response_code_details"] = json!(d);
    }
    if let Some(r) = rejected_by {
        envoy["rejected_by"] = json!(r);
    }
    if let Some(md) = entry.get("jwt_authn").filter(|v| v.is_object()) {
        envoy["filter_metadata"] = json!({ "envoy.filters.http.jwt_authn": md });
    }
    let mut request = json!({
        "method": String::from_utf8_lossy(&sent.req.method),
        "path": String::from_utf8_lossy(&sent.req.path),
        "protocol": field(entry, "protocol").unwrap_or("HTTP/1.1"),
        "headers": headers,
    });
    if !sent.req.body.is_empty() {
        request["body"] = match &sent.chunks {
            Some(sizes) => json!(chunks_of(&sent.req.body, sizes)
                .into_iter()
                .map(bytes_value)
                .collect::<Vec<_>>()),
            None => bytes_value(&sent.req.body),
        };
    }
    let mut response = json!({ "status": entry["response_code"] });
    if rejected_by != Some("codec") {
        response["headers"] = json!(resp_headers);
        if !resp.body.is_empty() {
            response["body"] = bytes_value(&resp.body);
        }
        // The client's HTTP/1.1 never sees trailers; the access log's `%TRAILER%` does.
        let trailers: Vec<Value> = ["grpc-status", "grpc-message"]
            .iter()
            .filter_map(|n| field(entry, &n.replace('-', "_")).map(|v| json!([n, v])))
            .collect();
        if !trailers.is_empty() {
            response["trailers"] = json!(trailers);
        }
    }
    json!({
        "time": field(entry, "start_time").unwrap_or("1970-01-01T00:00:00.000Z"),
        "source": field(entry, "downstream_remote_address").unwrap_or("127.0.0.1:1"),
        "request": request,
        "response": response,
        "envoy": envoy,
    })
}

/// A request as sent: its bytes, and the chunks of a chunked body (each in its own write).
struct Sent {
    req: Req,
    chunks: Option<Vec<usize>>,
}

/// Requests beyond the baseline that the traffic format must carry truthfully: repeated
/// headers (merged by Envoy's codec), a body in chunks, and a codec rejection (431).
fn extras() -> Vec<(Sent, u16)> {
    let form = "application/x-www-form-urlencoded";
    vec![
        (
            Sent {
                req: Req::post("/login", form, "username=dora&password=x")
                    .header("user-agent", "first/1")
                    .header("user-agent", "second/2")
                    .header("cookie", "a=1")
                    .header("cookie", "b=2")
                    .id(&new_request_id("dup")),
                chunks: None,
            },
            401,
        ),
        (
            Sent {
                req: Req::new("POST", "/login")
                    .header("content-type", form)
                    .body(b"username=erin&password=y")
                    .id(&new_request_id("chunks")),
                chunks: Some(vec![11, 5]),
            },
            401,
        ),
        (
            Sent {
                req: Req::get("/hello").header("x-big", &"a".repeat(70 * 1024)),
                chunks: None,
            },
            431,
        ),
    ]
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
fn normalize(v: Value) -> Value {
    vigil_tests::event::without_fields(v, PER_RUN_FIELDS)
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
    let mut responses = send_all(&envoy, &cases);
    let mut sent: Vec<Sent> = cases
        .iter()
        .map(|c| Sent {
            req: c.req.clone(),
            chunks: None,
        })
        .collect();
    for (x, status) in extras() {
        let parts = match &x.chunks {
            Some(sizes) => x.req.to_parts_chunked(sizes),
            None => vec![x.req.to_bytes()],
        };
        let r = send_parts(envoy.listen, &parts, Duration::from_millis(150)).unwrap();
        assert_eq!(
            r.status,
            status,
            "{:?}",
            String::from_utf8_lossy(&x.req.path)
        );
        responses.push(r);
        sent.push(x);
    }
    // Every expected event, the alert, and one event per extra request.
    let expected_events = cases.iter().filter(|c| c.action.is_some()).count() + 1 + extras().len();
    let envoy_events = envoy
        .wait_events(expected_events, Duration::from_secs(5))
        .unwrap();
    let entries = envoy
        .wait_access_log(sent.len(), Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        entries.len(),
        sent.len(),
        "one access log entry per request"
    );

    // Access log -> traffic file, merging what was sent and received by x-request-id (a
    // codec rejection has none: those go in the order sent).
    let by_id: BTreeMap<String, usize> = sent
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.req.request_id().map(|id| (id, i)))
        .collect();
    let mut without_id = sent
        .iter()
        .enumerate()
        .filter(|(_, s)| s.req.request_id().is_none())
        .map(|(i, _)| i);
    let mut lines = Vec::new();
    for entry in &entries {
        let i = match field(entry, "x_request_id") {
            Some(id) => *by_id
                .get(id)
                .unwrap_or_else(|| panic!("access log id {id} was not sent")),
            None => without_id.next().expect("an entry without id was sent"),
        };
        lines.push(traffic_line(entry, &sent[i], &responses[i]).to_string());
    }
    let text = traffic::with_format_line(&lines);
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
