//! Conformance of shared queues and a bootstrap singleton service: the probe runs as the
//! filter in Envoy 1.40 and as a `WasmService { singleton: true }` (configuration
//! `queue-service`: it registers `probe_queue`), and in a [`vigil_harness::Harness`] with the
//! same service ([`vigil_harness::Harness::add_service`]). Two requests make the filter
//! resolve the queue (by an empty vm_id, its own: not found; by the service's vm_id: found)
//! and enqueue its request id; the service dequeues on `on_queue_ready`. Then a shutdown.
//! Both must agree on every VM's root records (lifecycle, registration, deliveries, grouped
//! by VM in order of first appearance) and on the filter's action records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::time::Duration;
use vigil_harness::{traffic, Harness, Plugin, VmOptions};
use vigil_tests::conformance::{probe_wasm, PREFIX};
use vigil_tests::envoy::{Envoy, Options, Req};

const IDS: [&str; 2] = ["queue-1", "queue-2"];

/// Root records (`vm` set) grouped by VM in order of first appearance, each as `cb args`;
/// then the filter's action records' args.
fn summarize<'a>(lines: impl Iterator<Item = &'a str>) -> (Vec<Vec<String>>, Vec<Value>) {
    let mut order: Vec<String> = Vec::new();
    let mut per_vm: Vec<Vec<String>> = Vec::new();
    let mut actions = Vec::new();
    for r in lines
        .filter_map(|l| l.find(PREFIX).map(|i| &l[i + PREFIX.len()..]))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        if r["cb"] == "action" {
            actions.push(r["args"].clone());
        }
        let Some(vm) = r["vm"].as_str() else { continue };
        let i = order.iter().position(|v| v == vm).unwrap_or_else(|| {
            order.push(vm.to_string());
            per_vm.push(Vec::new());
            order.len() - 1
        });
        per_vm[i].push(format!("{} {}", r["cb"].as_str().unwrap_or("?"), r["args"]));
    }
    (per_vm, actions)
}

fn service_yaml(wasm: &str) -> Vec<String> {
    vec![
        "bootstrap_extensions:".into(),
        "- name: envoy.bootstrap.wasm".into(),
        "  typed_config:".into(),
        "    \"@type\": type.googleapis.com/envoy.extensions.wasm.v3.WasmService".into(),
        "    singleton: true".into(),
        "    config:".into(),
        "      name: probe_service".into(),
        "      root_id: probe_service".into(),
        "      configuration: { \"@type\": type.googleapis.com/google.protobuf.StringValue, value: \"queue-service\" }".into(),
        "      vm_config:".into(),
        "        vm_id: probe_service".into(),
        "        runtime: envoy.wasm.runtime.v8".into(),
        format!("        code: {{ local: {{ filename: {wasm:?} }} }}"),
    ]
}

#[test]
fn e2e_conformance_queue_to_a_singleton_service() {
    let wasm = probe_wasm().unwrap();
    // Envoy.
    let mut opts = Options::new("queue");
    opts.wasm = Some(wasm.clone());
    opts.bootstrap_extra = service_yaml(&wasm.display().to_string());
    let mut envoy = Envoy::start(&opts).unwrap();
    for id in IDS {
        let r = envoy
            .send(
                &Req::get("/hello")
                    .id(id)
                    .header("x-probe-action", "enqueue"),
            )
            .unwrap();
        assert_eq!(r.status, 200);
    }
    // The service's notifications are asynchronous: wait for both.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while envoy.log().matches("\"cb\":\"queue_ready\"").count() < IDS.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "no queue_ready records"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    envoy.terminate().unwrap();
    let text = envoy.log();
    let seen_envoy = summarize(text.lines());

    // The harness.
    let plugin = Plugin::load(&wasm).unwrap();
    let mut h = Harness::new(&plugin, VmOptions::default(), 1).unwrap();
    h.add_service(
        &plugin,
        VmOptions {
            vm_id: "probe_service".into(),
            root_id: "probe_service".into(),
            plugin_name: "probe_service".into(),
            plugin_config: b"queue-service".to_vec(),
            ..VmOptions::default()
        },
    )
    .unwrap();
    assert!(h.start().unwrap());
    for (i, id) in IDS.iter().enumerate() {
        let line = json!({
            "time": format!("2026-11-23T09:00:0{i}.000Z"),
            "source": "127.0.0.1:40000",
            "request": {"method": "GET", "path": "/hello",
                        "headers": [["x-request-id", id], ["x-probe-action", "enqueue"]]},
            "response": {"status": 200},
        });
        h.run(&traffic::parse_exchange(&line.to_string()).unwrap())
            .unwrap();
    }
    h.shutdown().unwrap();
    let mut lines: Vec<String> = h.canary_logs().iter().map(|l| l.message.clone()).collect();
    lines.extend(h.main_vm().take_logs().into_iter().map(|l| l.message));
    lines.extend(h.service_canary_logs(0).iter().map(|l| l.message.clone()));
    let service: Vec<String> = h
        .service(0)
        .unwrap()
        .take_logs()
        .into_iter()
        .map(|l| l.message)
        .collect();
    let worker: Vec<String> = h
        .vm_mut(0)
        .take_logs()
        .into_iter()
        .map(|l| l.message)
        .collect();
    lines.extend(service);
    lines.extend(worker);
    let seen_harness = summarize(lines.iter().map(String::as_str));
    assert_eq!(seen_envoy, seen_harness);
}
