//! End-to-end tests of the harness with a tiny proxy-wasm filter written in WAT.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use vigil_harness::traffic::parse_exchange;
use vigil_harness::{HarnessError, LogLevel, MetricValue, Plugin, SharedData, Vm, VmOptions};

const WAT: &str = r#"(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $ghv (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $gp (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $ssd (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $dm (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_increment_metric" (func $im (param i32 i64) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $tick (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 4096))
  (data (i32.const 0) ":authority")
  (data (i32.const 16) "source\00address")
  (data (i32.const 32) "hits")
  (data (i32.const 48) "{\"tick\":1}")
  (data (i32.const 64) "key")
  (data (i32.const 80) "val")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32) (local $p i32)
    global.get $bump local.set $p
    global.get $bump local.get $n i32.add global.set $bump
    local.get $p)
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) i32.const 1)
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (drop (call $tick (i32.const 1000)))
    (drop (call $dm (i32.const 0) (i32.const 32) (i32.const 4) (i32.const 200)))
    (i32.const 1))
  (func (export "proxy_on_tick") (param i32)
    (drop (call $log (i32.const 2) (i32.const 48) (i32.const 10))))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $ghv (i32.const 0) (i32.const 0) (i32.const 10) (i32.const 208) (i32.const 212)))
    (drop (call $log (i32.const 3) (i32.load (i32.const 208)) (i32.load (i32.const 212))))
    (drop (call $im (i32.load (i32.const 200)) (i64.const 1)))
    (drop (call $ssd (i32.const 64) (i32.const 3) (i32.const 80) (i32.const 3) (i32.const 0)))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (if (i32.eq (local.get 1) (i32.const 99)) (then unreachable))
    (i32.const 0))
  (func (export "proxy_on_log") (param i32)
    (drop (call $gp (i32.const 16) (i32.const 14) (i32.const 208) (i32.const 212)))
    (drop (call $log (i32.const 4) (i32.load (i32.const 208)) (i32.load (i32.const 212)))))
  (func (export "proxy_on_done") (param i32) (result i32) i32.const 1)
  (func (export "proxy_on_delete") (param i32))
)"#;

const LINE: &str = r#"{"time": "2026-11-23T09:00:01.000Z", "source": "203.0.113.7:40001", "request": {"method": "GET", "path": "/a", "headers": [["Host","example.com"]]}, "response": {"status": 200, "headers": []}}"#;

fn vm(shared: &SharedData) -> Vm {
    let plugin = Plugin::from_bytes(WAT.as_bytes()).unwrap();
    let mut vm = Vm::new(
        &plugin,
        VmOptions {
            shared: shared.clone(),
            ..VmOptions::default()
        },
    )
    .unwrap();
    assert!(vm.start().unwrap());
    vm
}

#[test]
fn lifecycle_headers_properties_shared_metrics_ticks() {
    let shared = SharedData::new();
    let mut a = vm(&shared);
    let mut b = vm(&shared);
    let x = parse_exchange(LINE).unwrap();
    let out = a.run(&x).unwrap();
    assert!(out.vm_failed.is_none());
    let msgs: Vec<_> = out
        .logs
        .iter()
        .map(|l| (l.level, l.message.as_str()))
        .collect();
    assert_eq!(
        msgs,
        vec![
            (LogLevel::Warn, "example.com"),
            (LogLevel::Error, "203.0.113.7:40001")
        ]
    );
    b.run(&x).unwrap();
    assert_eq!(shared.metrics()["hits"], MetricValue::Counter(2));
    assert_eq!(shared.snapshot("vigil")["key"], b"val");
    assert_eq!(shared.stats().sets, 2);
    // Tick every second on the root context.
    assert_eq!(a.advance_time(2_500_000_000).unwrap(), 2);
    let ev = a.take_events();
    assert_eq!(ev, vec![r#"{"tick":1}"#.to_string(); 2]);
}

#[test]
fn trap_fails_the_vm() {
    let shared = SharedData::new();
    let mut a = vm(&shared);
    let mut x = parse_exchange(LINE).unwrap();
    // 99 response headers make the fixture hit `unreachable`.
    x.response.headers = (0..98).map(|i| (format!("h{i}"), b"v".to_vec())).collect();
    let out = a.run(&x).unwrap();
    assert!(out
        .vm_failed
        .as_deref()
        .unwrap()
        .contains("proxy_on_response_headers"));
    let again = a.run(&parse_exchange(LINE).unwrap()).unwrap();
    assert!(again.vm_failed.is_some());
    assert!(again.logs.is_empty());
}

#[test]
fn unknown_import_is_named() {
    let wat = WAT.replace(
        "(memory (export",
        "(import \"env\" \"proxy_nope\" (func (param i32)))\n  (memory (export",
    );
    let plugin = Plugin::from_bytes(wat.as_bytes()).unwrap();
    let err = Vm::new(&plugin, VmOptions::default()).unwrap_err();
    assert!(matches!(err, HarnessError::UnknownImport { ref name, .. } if name == "proxy_nope"));
}
