//! WASI fidelity (issue 10), measured: Envoy 1.40 links every `wasi_snapshot_preview1`
//! function but `proc_raise`, `path_link` and `path_symlink` with non-standard signatures
//! (6 and 4 parameters), and answers each with a fixed errno. A module calling every one of
//! them with zero arguments must log the same errnos in Envoy and in the harness, and a
//! module importing one Envoy lacks (or with the standard signature Envoy does not match) is
//! refused by both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;
use vigil_harness::{Plugin, Vm, VmOptions};
use vigil_tests::envoy::{Envoy, Options};

/// Every `wasi_snapshot_preview1` function: name, parameter types, whether it returns an
/// errno (all but `proc_exit`).
const PREVIEW1: &[(&str, &str, bool)] = &[
    ("args_get", "i32 i32", true),
    ("args_sizes_get", "i32 i32", true),
    ("clock_res_get", "i32 i32", true),
    ("clock_time_get", "i32 i64 i32", true),
    ("environ_get", "i32 i32", true),
    ("environ_sizes_get", "i32 i32", true),
    ("fd_advise", "i32 i64 i64 i32", true),
    ("fd_allocate", "i32 i64 i64", true),
    ("fd_close", "i32", true),
    ("fd_datasync", "i32", true),
    ("fd_fdstat_get", "i32 i32", true),
    ("fd_fdstat_set_flags", "i32 i32", true),
    ("fd_fdstat_set_rights", "i32 i64 i64", true),
    ("fd_filestat_get", "i32 i32", true),
    ("fd_filestat_set_size", "i32 i64", true),
    ("fd_filestat_set_times", "i32 i64 i64 i32", true),
    ("fd_pread", "i32 i32 i32 i64 i32", true),
    ("fd_prestat_dir_name", "i32 i32 i32", true),
    ("fd_prestat_get", "i32 i32", true),
    ("fd_pwrite", "i32 i32 i32 i64 i32", true),
    ("fd_read", "i32 i32 i32 i32", true),
    ("fd_readdir", "i32 i32 i32 i64 i32", true),
    ("fd_renumber", "i32 i32", true),
    ("fd_seek", "i32 i64 i32 i32", true),
    ("fd_sync", "i32", true),
    ("fd_tell", "i32 i32", true),
    ("fd_write", "i32 i32 i32 i32", true),
    ("path_create_directory", "i32 i32 i32", true),
    ("path_filestat_get", "i32 i32 i32 i32 i32", true),
    (
        "path_filestat_set_times",
        "i32 i32 i32 i32 i64 i64 i32",
        true,
    ),
    // Envoy's signatures (the standard ones have 7 and 5 parameters: [`STANDARD`]).
    ("path_link", "i32 i32 i32 i32 i32 i32", true),
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32", true),
    ("path_readlink", "i32 i32 i32 i32 i32 i32", true),
    ("path_remove_directory", "i32 i32 i32", true),
    ("path_rename", "i32 i32 i32 i32 i32 i32", true),
    ("path_symlink", "i32 i32 i32 i32", true),
    ("path_unlink_file", "i32 i32 i32", true),
    ("poll_oneoff", "i32 i32 i32 i32", true),
    ("proc_exit", "i32", false),
    ("proc_raise", "i32", true),
    ("random_get", "i32 i32", true),
    ("sched_yield", "", true),
    ("sock_accept", "i32 i32 i32", true),
    ("sock_recv", "i32 i32 i32 i32 i32 i32", true),
    ("sock_send", "i32 i32 i32 i32 i32", true),
    ("sock_shutdown", "i32 i32", true),
];

/// The standard signatures of the two functions whose Envoy signature differs.
const STANDARD: &[(&str, &str, bool)] = &[
    ("path_link", "i32 i32 i32 i32 i32 i32 i32", true),
    ("path_symlink", "i32 i32 i32 i32 i32", true),
];

/// A minimal proxy-wasm module (ABI 0.2.1) importing `names` (from `table`), as a binary.
fn module_from(table: &[(&str, &str, bool)], names: &[&str]) -> Vec<u8> {
    let imports: String = names
        .iter()
        .map(|n| {
            let (_, params, errno) = table.iter().find(|(x, _, _)| x == n).unwrap();
            let result = if *errno { "(result i32)" } else { "" };
            format!(r#"(import "wasi_snapshot_preview1" "{n}" (func (param {params}) {result}))"#)
        })
        .collect();
    let wat = format!(
        r#"(module {imports}
  (memory (export "memory") 2)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 65536)
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) i32.const 1)
  (func (export "proxy_on_configure") (param i32 i32) (result i32) i32.const 1))"#
    );
    wat::parse_str(&wat).unwrap()
}

/// A module importing `names` with Envoy's signatures.
fn module(names: &[&str]) -> Vec<u8> {
    module_from(PREVIEW1, names)
}

/// A module importing every preview1 function Envoy has (all but `proc_exit` and
/// `proc_raise`) that, in `on_vm_start`, calls
/// each with all-zero arguments and logs `wasi <name> <errno>` (three digits) at info.
fn calling_module() -> Vec<u8> {
    let names: Vec<&str> = PREVIEW1
        .iter()
        .map(|(n, _, _)| *n)
        .filter(|n| !["proc_exit", "proc_raise"].contains(n))
        .collect();
    let mut imports = String::new();
    let mut calls = String::new();
    let mut data = String::new();
    let mut off = 1024;
    for (i, n) in names.iter().enumerate() {
        let (_, params, _) = PREVIEW1.iter().find(|(x, _, _)| x == n).unwrap();
        imports.push_str(&format!(
            r#"(import "wasi_snapshot_preview1" "{n}" (func $f{i} (param {params}) (result i32)))"#
        ));
        let args: String = params
            .split_whitespace()
            .map(|t| format!("({t}.const 0)"))
            .collect();
        let msg = format!("wasi {n} ");
        data.push_str(&format!(r#"(data (i32.const {off}) "{msg}000")"#));
        // errno → three ASCII digits after the name, then proxy_log(info, msg).
        let at = off + msg.len();
        calls.push_str(&format!(
            "(local.set $r (call $f{i} {args}))
             (i32.store8 (i32.const {at}) (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $r) (i32.const 100)) (i32.const 10))))
             (i32.store8 (i32.const {}) (i32.add (i32.const 48) (i32.rem_u (i32.div_u (local.get $r) (i32.const 10)) (i32.const 10))))
             (i32.store8 (i32.const {}) (i32.add (i32.const 48) (i32.rem_u (local.get $r) (i32.const 10))))
             (drop (call $log (i32.const 2) (i32.const {off}) (i32.const {})))\n",
            at + 1,
            at + 2,
            msg.len() + 3
        ));
        off += 64;
    }
    let wat = format!(
        r#"(module {imports}
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  {data}
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) i32.const 65536)
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (local $r i32)
    {calls}
    i32.const 1)
  (func (export "proxy_on_configure") (param i32 i32) (result i32) i32.const 1))"#
    );
    wat::parse_str(&wat).unwrap()
}

/// Starts `wasm` in the harness: its log lines, or why it was refused.
fn harness_run(wasm: &[u8]) -> Result<Vec<String>, String> {
    let plugin = Plugin::from_bytes(wasm).map_err(|e| e.to_string())?;
    let mut vm = Vm::new(&plugin, VmOptions::default()).map_err(|e| e.to_string())?;
    vm.start().map_err(|e| e.to_string())?;
    Ok(vm.logs().iter().map(|l| l.message.clone()).collect())
}

/// Whether the harness loads and starts a module importing `name`; its error otherwise.
fn harness_loads(name: &str) -> Result<(), String> {
    harness_run(&module(&[name])).map(|_| ())
}

/// Starts Envoy on `wasm`: `Ok` when it serves, `Err(log)` when it refused the module.
fn envoy_loads(name: &str, wasm: &[u8]) -> Result<(), String> {
    let dir = vigil_tests::envoy::workspace_root().join("target/e2e/wasi-modules");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, wasm).unwrap();
    let mut opts = Options::new(&format!("wasi-{name}"));
    opts.wasm = Some(path);
    match Envoy::start_expect_refusal(&opts, Duration::from_secs(30)) {
        Ok(log) => Err(log),
        Err(e) if e.to_string().contains("accepted a configuration") => Ok(()),
        Err(e) => panic!("{name}: {e:#}"),
    }
}

/// The `wasi <name> <errno>` lines of a log.
fn wasi_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = lines
        .filter_map(|l| l.find("wasi ").map(|i| l[i..].trim_end().to_string()))
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn e2e_wasi_calls_return_what_envoy_returns() {
    let wasm = calling_module();
    let dir = vigil_tests::envoy::workspace_root().join("target/e2e/wasi-modules");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("calling.wasm");
    std::fs::write(&path, &wasm).unwrap();
    let mut opts = Options::new("wasi-calling");
    opts.wasm = Some(path);
    let envoy = Envoy::start(&opts).unwrap();
    let envoy_lines = wasi_lines(envoy.log().lines());
    let harness_lines = wasi_lines(harness_run(&wasm).unwrap().iter().map(String::as_str));
    assert_eq!(envoy_lines.len(), PREVIEW1.len() - 2, "{envoy_lines:#?}");
    assert_eq!(harness_lines, envoy_lines);
}

#[test]
fn e2e_wasi_imports_envoy_lacks_are_refused_by_both() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("proc_raise", module(&["proc_raise"])),
        ("path_link_standard", module_from(STANDARD, &["path_link"])),
        (
            "path_symlink_standard",
            module_from(STANDARD, &["path_symlink"]),
        ),
    ];
    std::thread::scope(|s| {
        for (name, wasm) in &cases {
            s.spawn(move || {
                let log = envoy_loads(name, wasm).expect_err(name);
                assert!(
                    log.contains("missing import") || log.contains("import type mismatch"),
                    "{name}: {}",
                    tail(&log)
                );
                let e = harness_run(wasm).expect_err(name);
                assert!(e.contains("wasi_snapshot_preview1"), "{name}: {e}");
            });
        }
    });
}

fn tail(log: &str) -> String {
    vigil_tests::envoy::tail(log, 10)
}

#[test]
fn a_wasi_import_envoy_lacks_is_refused_by_name() {
    let e = harness_loads("proc_raise").unwrap_err();
    assert!(
        e.contains("wasi_snapshot_preview1::proc_raise") && e.contains("Envoy"),
        "{e}"
    );
}
