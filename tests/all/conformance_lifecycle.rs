//! Conformance of the VM lifecycle and of a trap under each `failure_policy`: the probe
//! (`tests/conformance-probe`) runs in real Envoy 1.40 and in the harness
//! ([`vigil_harness::Harness`]) through the same script ([`SCRIPT`]): requests around two
//! traps in `on_request_headers`, one of them inside Envoy's reload backoff, then a shutdown
//! (SIGTERM). Both must agree on:
//! - what each client got (status, and Envoy's `response_code_details` for its own replies);
//! - every VM's root-context callbacks (`vm_start`, `configure`, `root_done`, `root_delete`),
//!   VM by VM in order of first appearance: the canary, the main thread's VM, the worker, and
//!   under `FAIL_RELOAD` the reloaded worker;
//! - the reload counters (`wasm.vigil.vm_reload_backoff`/`_success`/`_failure`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::time::Duration;
use vigil_harness::{traffic, FailurePolicy, Harness, Plugin, VmOptions};
use vigil_tests::conformance::{probe_wasm, PREFIX};
use vigil_tests::envoy::{Envoy, Options, Req};

/// The script: (request id, trap?, pause before sending in ms). Envoy's reload backoff runs
/// from the worker's last load and lasts a random 1-2 s, so the script keeps clear of that
/// window: it starts 2.5 s after the workers loaded (the first trap's reload is immediate),
/// traps again at once (the next request falls within the backoff of that reload), and
/// waits 2.5 s more (the next reload is due).
const SCRIPT: &[(&str, bool, u64)] = &[
    ("ok-1", false, 2500),
    ("trap", true, 0),
    ("at-once", false, 0),
    ("trap-2", true, 0),
    ("in-backoff", false, 0),
    ("after-backoff-1", false, 2500),
    ("after-backoff-2", false, 0),
];

/// Root records grouped by VM (in order of first appearance): each VM's callbacks.
fn lifecycles(records: &[Value]) -> Vec<Vec<String>> {
    let mut order: Vec<String> = Vec::new();
    let mut per_vm: Vec<Vec<String>> = Vec::new();
    for r in records {
        let Some(vm) = r["vm"].as_str() else { continue };
        let i = match order.iter().position(|v| v == vm) {
            Some(i) => i,
            None => {
                order.push(vm.to_string());
                per_vm.push(Vec::new());
                order.len() - 1
            }
        };
        per_vm[i].push(r["cb"].as_str().unwrap_or("?").to_string());
    }
    per_vm
}

fn probe_records<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<Value> {
    lines
        .filter_map(|l| l.find(PREFIX).map(|i| &l[i + PREFIX.len()..]))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// What one side showed: per request (status, code details of a host reply), lifecycles,
/// reload counters (backoff, success, failure).
#[derive(Debug, PartialEq)]
struct Seen {
    replies: Vec<(String, u16, Option<String>)>,
    lifecycles: Vec<Vec<String>>,
    reloads: (u64, u64, u64),
}

fn envoy_side(policy: &str) -> Seen {
    let mut opts = Options::new(&format!("lifecycle-{policy}"));
    opts.wasm = Some(probe_wasm().unwrap());
    opts.failure_policy = Some(policy.into());
    let mut envoy = Envoy::start(&opts).unwrap();
    let mut replies = Vec::new();
    for (id, trap, pause) in SCRIPT {
        std::thread::sleep(Duration::from_millis(*pause));
        let mut req = Req::get("/hello").id(id);
        if *trap {
            req = req.header("x-probe-action", "trap");
        }
        let r = envoy.send(&req).unwrap();
        replies.push((id.to_string(), r.status));
    }
    let log = envoy
        .wait_access_log(SCRIPT.len(), Duration::from_secs(5))
        .unwrap();
    let details = |id: &str| -> Option<String> {
        log.iter()
            .find(|e| e["x_request_id"] == id)
            .and_then(|e| e["response_code_details"].as_str())
            .filter(|d| *d != "via_upstream")
            .map(String::from)
    };
    let replies = replies
        .into_iter()
        .map(|(id, status)| {
            let d = details(&id);
            (id, status, d)
        })
        .collect();
    let stats = envoy.stats().unwrap();
    let stat = |k: &str| stats.get(&format!("wasm.vigil.{k}")).copied().unwrap_or(0);
    let reloads = (
        stat("vm_reload_backoff"),
        stat("vm_reload_success"),
        stat("vm_reload_failure"),
    );
    envoy.terminate().unwrap();
    let text = envoy.log();
    Seen {
        replies,
        lifecycles: lifecycles(&probe_records(text.lines())),
        reloads,
    }
}

fn harness_side(policy: FailurePolicy) -> Seen {
    let plugin = Plugin::load(probe_wasm().unwrap()).unwrap();
    let opts = VmOptions {
        clusters: vec!["demo_upstream".into()],
        failure_policy: policy,
        ..VmOptions::default()
    };
    let mut h = Harness::new(&plugin, opts, 1).unwrap();
    assert!(h.start().unwrap());
    let mut at: u64 = 0;
    let mut replies = Vec::new();
    for (id, trap, pause) in SCRIPT {
        at += pause + 10;
        let mut headers = vec![json!(["x-request-id", id])];
        if *trap {
            headers.push(json!(["x-probe-action", "trap"]));
        }
        let line = json!({
            "time": format!("2026-11-23T09:00:{:02}.{:03}Z", at / 1000, at % 1000),
            "source": "127.0.0.1:40000",
            "request": {"method": "GET", "path": "/hello", "headers": headers},
            "response": {"status": 200, "headers": [["content-type", "application/json"]]},
        });
        let x = traffic::parse_exchange(&line.to_string()).unwrap();
        let o = h.run(&x).unwrap();
        let reply = o.host_reply.as_ref();
        replies.push((
            id.to_string(),
            reply.map_or(200, |r| r.status),
            reply.map(|r| r.code_details.to_string()),
        ));
    }
    let r = h.vm(0).reload_stats();
    h.shutdown().unwrap();
    let mut lines: Vec<String> = h.canary_logs().iter().map(|l| l.message.clone()).collect();
    lines.extend(h.main_vm().take_logs().into_iter().map(|l| l.message));
    lines.extend(h.vm_mut(0).take_logs().into_iter().map(|l| l.message));
    Seen {
        replies,
        lifecycles: lifecycles(&probe_records(lines.iter().map(String::as_str))),
        reloads: (r.backoff, r.success, r.failure),
    }
}

fn agree(policy: &str) {
    let envoy = envoy_side(policy);
    let harness = harness_side(FailurePolicy::from_envoy(policy).unwrap());
    assert_eq!(
        envoy, harness,
        "{policy}: Envoy (left) and the harness (right) disagree"
    );
    // What was compared is what this test is about: the canary (started, never ended), a
    // main thread's VM and a worker, and the trap's 503.
    let started = vec!["vm_start".to_string(), "configure".to_string()];
    assert_eq!(envoy.lifecycles.first(), Some(&started));
    assert!(envoy.lifecycles.len() >= 3, "{:?}", envoy.lifecycles);
    assert_eq!(
        envoy.replies[1],
        ("trap".into(), 503, Some("wasm_fail_stream".into()))
    );
    eprintln!("{policy}: {envoy:?}");
}

#[test]
fn e2e_conformance_lifecycle_fail_closed() {
    agree("FAIL_CLOSED");
}

#[test]
fn e2e_conformance_lifecycle_fail_open() {
    agree("FAIL_OPEN");
}

#[test]
fn e2e_conformance_lifecycle_fail_reload() {
    agree("FAIL_RELOAD");
}

/// `proxy_done` as Envoy (proxy-wasm-cpp-host `WasmBase::done`) answers it: `NotFound` for a
/// root that is not pending done; after its `on_done` answered false at shutdown, `Ok` from
/// its next tick, and only then its `on_delete`.
#[test]
fn proxy_done_is_ok_only_for_a_root_pending_done() {
    use vigil_harness::{Plugin, Vm, VmOptions};
    let wat = r#"(module
      (import "env" "proxy_done" (func $done (result i32)))
      (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
      (import "env" "proxy_set_tick_period_milliseconds" (func $tick (param i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 100) "done 0deleted")
      (func $say_done
        (i32.store8 (i32.const 105) (i32.add (i32.const 48) (call $done)))
        (drop (call $log (i32.const 2) (i32.const 100) (i32.const 6))))
      (func (export "proxy_abi_version_0_2_1"))
      (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 1024)
      (func (export "proxy_on_context_create") (param i32 i32))
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (call $say_done) i32.const 1)
      (func (export "proxy_on_configure") (param i32 i32) (result i32)
        (drop (call $tick (i32.const 1000))) i32.const 1)
      (func (export "proxy_on_tick") (param i32) (call $say_done))
      (func (export "proxy_on_done") (param i32) (result i32) i32.const 0)
      (func (export "proxy_on_delete") (param i32)
        (drop (call $log (i32.const 2) (i32.const 106) (i32.const 7)))))"#;
    let plugin = Plugin::from_bytes(wat.as_bytes()).unwrap();
    let mut vm = Vm::new(&plugin, VmOptions::default()).unwrap();
    assert!(vm.start().unwrap());
    vm.advance_time(1_000_000_000).unwrap();
    assert!(!vm.shutdown().unwrap(), "on_done answered false");
    vm.advance_time(1_000_000_000).unwrap();
    vm.advance_time(1_000_000_000).unwrap();
    let logs: Vec<String> = vm.logs().iter().map(|l| l.message.clone()).collect();
    // NotFound (1) at start and on a tick before shutdown; Ok (0) pending done; then deleted,
    // and no tick after it.
    assert_eq!(logs, ["done 1", "done 1", "done 0", "deleted"]);
    assert_eq!(vm.done_calls(), 1);
}
