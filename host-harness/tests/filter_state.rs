//! Filter state and the HTTP connection manager's access loggers, and hostcall counting,
//! through a WAT filter (`tests/data/filter_state.wat`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use vigil_harness::traffic::{parse_exchange, parse_traffic, with_format_line};
use vigil_harness::{AccessLogger, Harness, LogLevel, Plugin, SharedData, Vm, VmOptions};

const WAT: &str = include_str!("data/filter_state.wat");

const LINE: &str = r#"{"time": "2026-11-23T09:00:01.000Z", "source": "203.0.113.7:40001", "request": {"method": "GET", "path": "/a", "headers": [["host","example.com"]]}, "response": {"status": 200, "headers": []}}"#;

fn loggers(keys: &[&str]) -> Vec<AccessLogger> {
    keys.iter()
        .map(|k| AccessLogger::filter_state(*k))
        .collect()
}

fn vm(opts: VmOptions) -> Vm {
    let plugin = Plugin::from_bytes(WAT.as_bytes()).unwrap();
    let mut vm = Vm::new(&plugin, opts).unwrap();
    assert!(vm.start().unwrap());
    vm
}

#[test]
fn set_property_outside_a_stream_is_not_found() {
    let mut vm = vm(VmOptions::default());
    let logs = vm.take_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(
        (logs[0].level, logs[0].message.as_str()),
        (LogLevel::Warn, "root:notfound")
    );
}

#[test]
fn access_loggers_print_filter_state_after_on_log_in_logger_order() {
    let mut vm = vm(VmOptions {
        access_loggers: loggers(&["wasm.ev", "wasm.missing", "wasm.k", "wasm.done"]),
        ..VmOptions::default()
    });
    vm.take_logs();
    let x = parse_exchange(LINE).unwrap();
    let out = vm.run(&x).unwrap();
    assert!(out.vm_failed.is_none());
    // `k` was overwritten ("v2"); `missing` was never set and `done` is set in on_done,
    // after the loggers ran: no record for either.
    assert_eq!(out.access_log, vec![br#"{"a":1}"#.to_vec(), b"v2".to_vec()]);
    // get_property reads the values back: by name, and as CEL `filter_state["wasm.ev"]`.
    let msgs: Vec<&str> = out.logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(msgs, vec!["v2", r#"{"a":1}"#, r#"{"a":1}"#]);
    // Filter state lives with the stream: the next exchange starts empty.
    let again = vm.run(Arc::new(x)).unwrap();
    assert_eq!(again.access_log.len(), 2);
    assert_eq!(vm.take_access_log().len(), 4);
    assert!(vm.access_log().is_empty());
}

#[test]
fn a_stream_failed_by_a_trap_still_logs_what_was_set() {
    let mut vm = vm(VmOptions {
        access_loggers: loggers(&["wasm.ev", "wasm.k"]),
        ..VmOptions::default()
    });
    let mut x = parse_exchange(LINE).unwrap();
    // 99 response headers make the fixture trap after setting `k` = "v2".
    x.response.headers = (0..98).map(|i| (format!("h{i}"), b"v".to_vec())).collect();
    let out = vm.run(&x).unwrap();
    assert!(out.vm_failed.is_some());
    assert_eq!(out.access_log, vec![b"v2".to_vec()]);
}

#[test]
fn no_loggers_no_records() {
    let mut vm = vm(VmOptions::default());
    let out = vm.run(&parse_exchange(LINE).unwrap()).unwrap();
    assert!(out.access_log.is_empty());
    assert!(out.hostcalls.is_empty(), "counting is off by default");
}

#[test]
fn hostcalls_are_counted_per_exchange_by_argument() {
    let mut vm = vm(VmOptions {
        count_hostcalls: true,
        ..VmOptions::default()
    });
    let x = parse_exchange(LINE).unwrap();
    let out = vm.run(&x).unwrap();
    let h = &out.hostcalls;
    assert_eq!(h["proxy_set_property k"], 2);
    assert_eq!(h["proxy_set_property ev"], 1);
    assert_eq!(h["proxy_set_property done"], 1);
    assert_eq!(h["proxy_get_property k"], 1);
    assert_eq!(h["proxy_get_property ev"], 1);
    assert_eq!(h["proxy_get_property filter_state.wasm.ev"], 1);
    assert_eq!(h["proxy_log"], 3);
    // The root context's on_configure calls are not part of the exchange.
    assert!(!h.contains_key("proxy_set_property cfg"));
    assert_eq!(h.values().sum::<u64>(), 10);
    let totals = vigil_harness::counting::totals(h);
    assert_eq!(totals[&vigil_harness::Category::SetProperty], 4);
    assert_eq!(totals[&vigil_harness::Category::PropertyRead], 3);
    assert_eq!(totals[&vigil_harness::Category::Log], 3);
    // Same counts again: counters restart with each exchange.
    assert_eq!(vm.run(&x).unwrap().hostcalls, out.hostcalls);
    vm.set_count_hostcalls(false);
    assert!(vm.run(&x).unwrap().hostcalls.is_empty());
}

#[test]
fn harness_collects_access_log_across_workers() {
    let plugin = Plugin::from_bytes(WAT.as_bytes()).unwrap();
    let opts = VmOptions {
        shared: SharedData::new(),
        access_loggers: loggers(&["wasm.k"]),
        ..VmOptions::default()
    };
    let mut h = Harness::new(&plugin, opts, 2).unwrap();
    assert!(h.start().unwrap());
    let text = with_format_line([
        LINE.to_string(),
        LINE.replace("{\"time\"", "{\"name\": \"second\", \"time\""),
    ]);
    let xs = parse_traffic("t.jsonl", &text).unwrap();
    assert_eq!((xs[0].line, xs[0].name.as_deref()), (2, None));
    assert_eq!((xs[1].line, xs[1].name.as_deref()), (3, Some("second")));
    for x in &xs {
        h.run(x).unwrap();
    }
    assert_eq!(h.take_access_log(), vec![b"v2".to_vec(); 2]);
}
