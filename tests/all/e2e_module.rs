//! End to end: Vigil as an Envoy dynamic module (`envoy-module/`, issue 9) in a real Envoy
//! 1.40. The same baseline traffic through both builds gives the same events (ignoring the
//! per-run fields); brute force is counted across two workers; a bad policy is refused with
//! its JSON path; the live ABI check compares attribute values with what a `direct_response`
//! route set; a panicking hook never stops Envoy.
//!
//! Needs the module (`cargo build --profile module -p vigil-envoy-module`, or `$VIGIL_MODULE`)
//! and, for the parity tests, the wasm plugin.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::e2e_baseline::{baseline_cases, failed_logins, send_all, Case};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use vigil_tests::envoy::{new_request_id, send_parts, tail, token, Envoy, Options, Req, Via};

/// Fields that differ between two runs of the same traffic by design.
const PER_RUN_FIELDS: &[&str] = &[
    "@timestamp",
    "event.id",
    "event.created",
    "event.ingested",
    "event.sequence",
    // The client's ephemeral port: two runs, two connections.
    "source.port",
];

/// Where the module's counters appear on `/stats` (the wasm build's are `wasmcustom.vigil.*`).
const STATS_PREFIX: &str = "dynamicmodulescustom.";

/// Removes the per-run fields (dotted paths) from an event.
fn normalize(v: Value) -> Value {
    vigil_tests::event::without_fields(v, PER_RUN_FIELDS)
}

/// The one known difference, pinned: a user the wasm build took from a jwt_authn
/// `payload_in_metadata` claim (`vigil.user.source` = `jwt`). Envoy 1.40's dynamic-module
/// ABI reads only top-level dynamic-metadata keys (`http_get_metadata_string`), not a claim
/// inside the payload struct, so the module's event has no `user` (README: limits). Returns
/// the wasm event as the module must give it.
fn without_jwt_user(mut v: Value) -> Value {
    let jwt = v.pointer("/vigil/user/source").and_then(Value::as_str) == Some("jwt");
    if jwt {
        if let Some(o) = v.as_object_mut() {
            o.remove("user");
        }
        if let Some(o) = v.pointer_mut("/vigil").and_then(Value::as_object_mut) {
            o.remove("user");
        }
    }
    v
}

/// The cases of the parity runs: the baseline, then failed logins up to the alert.
fn parity_cases() -> Vec<Case> {
    let mut cases = baseline_cases();
    cases.extend(failed_logins(8));
    cases
}

/// Runs `cases` through one Envoy and returns its records by request id, normalized.
fn events_by_request(opts: &Options, cases: &[Case]) -> BTreeMap<String, Vec<Value>> {
    let envoy = Envoy::start(opts).unwrap();
    send_all(&envoy, cases);
    let expected = cases.iter().filter(|c| c.action.is_some()).count() + 1;
    let events = envoy
        .wait_events(expected, Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        events.len(),
        expected,
        "{}: every event and the alert, once:\n{}\nlog tail:\n{}",
        opts.name,
        envoy.event_lines().join("\n"),
        tail(&envoy.log(), 30)
    );
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for e in events {
        let id = e.request_id().unwrap_or_default().to_string();
        out.entry(id).or_default().push(normalize(e.raw.clone()));
    }
    out
}

/// The same baseline traffic through the wasm build and the module, events via `via`.
fn parity_through(via: Via) {
    let cases = parity_cases();
    let wasm = events_by_request(
        &Options::new(&format!("modparity-wasm-{via:?}")).via(via),
        &cases,
    );
    let module_opts = Options::new(&format!("modparity-module-{via:?}"))
        .via(via)
        .module()
        .unwrap();
    let module = events_by_request(&module_opts, &cases);
    let mut differ = Vec::new();
    let mut jwt_users = 0;
    for c in &cases {
        let id = c.id();
        let w = wasm.get(&id).cloned().unwrap_or_default();
        let m = module.get(&id).cloned().unwrap_or_default();
        let w_module: Vec<Value> = w.iter().cloned().map(without_jwt_user).collect();
        jwt_users += usize::from(w_module != w);
        if w_module != m {
            differ.push(format!(
                "{}:\n  wasm   {}\n  module {}",
                c.label,
                serde_json::to_string(&w).unwrap_or_default(),
                serde_json::to_string(&m).unwrap_or_default()
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} cases differ between the builds:\n{}",
        differ.len(),
        cases.len(),
        differ.join("\n")
    );
    // The pinned difference is real (and only where expected): the JWT cases of the baseline.
    assert!(
        jwt_users > 0,
        "no JWT user in the baseline: the pin above is stale"
    );
}

#[test]
fn e2e_module_baseline_events_equal_the_wasm_builds_via_envoy_log() {
    parity_through(Via::EnvoyLog);
}

#[test]
fn e2e_module_baseline_events_equal_the_wasm_builds_via_the_file_access_logger() {
    parity_through(Via::File);
}

#[test]
fn e2e_module_brute_force_alert_across_two_workers() {
    const ATTEMPTS: usize = 14;
    let mut opts = Options::new("modbruteforce").module().unwrap();
    opts.concurrency = 2;
    let envoy = Envoy::start(&opts).unwrap();
    let ids = envoy.failed_logins_spread(ATTEMPTS, "mbf").unwrap();
    let events = envoy
        .wait_events(ATTEMPTS + 1, Duration::from_secs(5))
        .unwrap();
    let fails = events
        .iter()
        .filter(|e| e.action() == "authn_login_fail" && e.event.kind == "event")
        .count();
    let alerts: Vec<_> = events
        .iter()
        .filter(|e| e.action() == "authn_login_fail_max")
        .collect();
    assert_eq!(fails, ATTEMPTS, "{:#?}", envoy.event_lines());
    assert_eq!(
        alerts.len(),
        1,
        "exactly one alert: {:#?}",
        envoy.event_lines()
    );
    assert_eq!(
        alerts[0].request_id(),
        Some(ids[10].as_str()),
        "{}",
        alerts[0].raw
    );
    // Both workers served requests, and Envoy's counters (atomic, no flush) agree.
    let stats = envoy.stats().unwrap();
    for w in ["worker_0", "worker_1"] {
        let served: u64 = stats
            .iter()
            .filter(|(k, _)| {
                k.starts_with("listener.") && k.ends_with(&format!("{w}.downstream_cx_total"))
            })
            .map(|(_, v)| *v)
            .sum();
        assert!(served > 0, "{w} served no connection: {stats:#?}");
    }
    let written = format!("{STATS_PREFIX}vigil.sink.envoy_log.written");
    assert_eq!(
        stats.get(&written),
        Some(&(ATTEMPTS as u64 + 1)),
        "{stats:#?}"
    );
    let alerts_stat = format!("{STATS_PREFIX}vigil.alerts");
    assert_eq!(stats.get(&alerts_stat), Some(&1), "{stats:#?}");
    // Liveness gauges, by value: the last event's second and the sink's last write, now.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for g in [
        "vigil.last_event_seconds",
        "vigil.sink.envoy_log.heartbeat_seconds",
    ] {
        let v = stats.get(&format!("{STATS_PREFIX}{g}")).copied();
        assert!(
            v.is_some_and(|v| v <= now && v + 60 >= now),
            "{g} = {v:?}, now {now}: {stats:#?}"
        );
    }
}

#[test]
fn e2e_module_refuses_a_bad_policy_with_its_json_path() {
    let mut opts = Options::new("modbadpolicy").module().unwrap();
    opts.policy_json = Some(r#"{"version": 1, "login": {"pathz": ["/login"]}}"#.into());
    let log = Envoy::start_expect_refusal(&opts, Duration::from_secs(30)).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("vigil: invalid configuration: policy: at `"))
        .unwrap_or_else(|| panic!("no policy error in Envoy's log:\n{}", tail(&log, 40)));
    assert!(
        line.contains("at `login.pathz`: unknown field `pathz`"),
        "{line:?}"
    );
}

#[test]
fn e2e_module_abi_check_compares_live_values_with_a_direct_response() {
    let mut opts = Options::new("modabi").module().unwrap();
    opts.extra_routes = vec![
        "- match: { prefix: /__vigil/direct }".into(),
        "  direct_response: { status: 418, body: { inline_string: teapot } }".into(),
    ];
    let envoy = Envoy::start(&opts).unwrap();
    // The static half ran in config_new: every counter was defined (ids checked there).
    let stats = envoy.stats().unwrap();
    for name in [
        "vigil.module.panics",
        "vigil.module.abi_mismatch",
        "vigil.alerts",
    ] {
        let key = format!("{STATS_PREFIX}{name}");
        assert_eq!(stats.get(&key), Some(&0), "{key} missing: {stats:#?}");
    }
    // The live half runs on the first request: a status only the route could have set.
    let id = new_request_id("abi");
    let r = envoy.send(&Req::get("/__vigil/direct/x").id(&id)).unwrap();
    assert_eq!(r.status, 418);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let line = loop {
        let log = envoy.log();
        if let Some(l) = log.lines().find(|l| l.contains("vigil: ABI check")) {
            break l.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no ABI check line:\n{}",
            tail(&log, 30)
        );
        std::thread::sleep(Duration::from_millis(25));
    };
    for want in [
        "ABI check passed",
        "response.code 418 = :status",
        "request.method GET = :method",
        "request.path = :path",
        "request.id = x-request-id",
        "= port of source.address",
        "response.code_details direct_response",
        "response.flags 0x0",
    ] {
        assert!(line.contains(want), "{want:?} not in {line:?}");
    }
    // And Vigil keeps working after it: a failed login is an event.
    let id = new_request_id("abi-login");
    let login = Req::post(
        "/login",
        "application/x-www-form-urlencoded",
        "username=a&password=b",
    );
    assert_eq!(envoy.send(&login.id(&id)).unwrap().status, 401);
    let e = envoy.event_for(&id, Duration::from_secs(5)).unwrap();
    assert_eq!(e.action(), "authn_login_fail");
}

#[test]
fn e2e_module_a_panicking_hook_never_stops_envoy() {
    let mut opts = Options::new("modpanic").module().unwrap();
    opts.env = vec![("VIGIL_MODULE_TEST_PANIC".into(), "1".into())];
    let envoy = Envoy::start(&opts).unwrap();
    for i in 0..5 {
        let r = envoy
            .send(&Req::get(&format!("/__vigil_test_panic?{i}")).id(&new_request_id("panic")))
            .unwrap();
        assert!(
            r.status > 0,
            "attempt {i}: a response, not a dropped connection"
        );
    }
    let id = new_request_id("after-panic");
    let login = Req::post(
        "/login",
        "application/x-www-form-urlencoded",
        "username=z&password=y",
    );
    assert_eq!(envoy.send(&login.id(&id)).unwrap().status, 401);
    let e = envoy.event_for(&id, Duration::from_secs(5)).unwrap();
    assert_eq!(e.action(), "authn_login_fail");
    let stats = envoy.stats().unwrap();
    assert_eq!(
        stats.get(&format!("{STATS_PREFIX}vigil.module.panics")),
        Some(&5),
        "{stats:#?}"
    );
    let log = envoy.log();
    assert!(log.contains("vigil: panic caught at"), "{}", tail(&log, 20));
}

#[test]
fn e2e_module_login_body_is_scanned_across_chunks_and_capped() {
    let envoy = Envoy::start(&Options::new("modbody").module().unwrap()).unwrap();
    let form = "application/x-www-form-urlencoded";
    // The user name spans two chunks, each its own write and its own request_body hook.
    let id = new_request_id("mod-chunks");
    let req = Req::new("POST", "/login")
        .header("content-type", form)
        .body(b"username=erin&password=y")
        .id(&id);
    let parts = req.to_parts_chunked(&[11, 5]);
    let r = send_parts(envoy.listen, &parts, Duration::from_millis(150)).unwrap();
    assert_eq!(r.status, 401);
    let e = envoy.event_for(&id, Duration::from_secs(5)).unwrap();
    assert_eq!(e.user_name(), Some("erin"), "{}", e.raw);
    // A body longer than the scan window: the head is scanned, the rest only counted (the
    // module copies at most the window), and the request passes whole.
    let id = new_request_id("mod-long");
    let body = format!("username=frank&password={}", "x".repeat(12_000));
    let r = envoy
        .send(&Req::post("/login", form, &body).id(&id))
        .unwrap();
    assert_eq!(r.status, 401);
    let e = envoy.event_for(&id, Duration::from_secs(5)).unwrap();
    assert_eq!(e.user_name(), Some("frank"), "{}", e.raw);
    let stats = envoy.stats().unwrap();
    assert_eq!(
        stats.get(&format!("{STATS_PREFIX}vigil.body_scan_overflows")),
        Some(&1),
        "{stats:#?}"
    );
}

#[test]
fn e2e_module_rendered_bootstrap_with_every_event_logger_passes_envoy_validate() {
    use vigil_tests::envoy::{envoy_bin, envoy_module_so, workspace_root};
    let so = envoy_module_so().unwrap();
    let dir = workspace_root().join("target/e2e/validate");
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join(format!("module-{}.yaml", std::process::id()));
    // The path scripts/demo --module takes: envoy/render.py --module.
    let render = std::process::Command::new("python3")
        .arg(workspace_root().join("envoy/render.py"))
        .arg(workspace_root().join("envoy/vigil.yaml.tmpl"))
        .arg(&out_path)
        .args(["--module", "--policy"])
        .arg(workspace_root().join("envoy/demo-policy.json"))
        .args([
            "--event-log",
            "file",
            "--event-log",
            "otel",
            "--event-log",
            "fluentd",
        ])
        .output()
        .unwrap();
    assert!(render.status.success(), "{render:?}");
    let config = std::fs::read_to_string(&out_path).unwrap();
    assert!(config.contains("DynamicModuleFilter") && !config.contains("wasm.v3.Wasm"));
    assert!(
        !config.contains("wasm.vigil.event."),
        "loggers still read the wasm keys"
    );
    assert!(config.contains("%FILTER_STATE(vigil.event.2:PLAIN)%"));
    let out = std::process::Command::new(envoy_bin().unwrap())
        .env("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", so.parent().unwrap())
        .args(["--mode", "validate", "-l", "error", "-c"])
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("OK"),
        "envoy --mode validate failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Lua filter after jwt_authn that copies the verified payload's `sub` claim to a flat
/// dynamic-metadata key, `vigil.jwt` / `sub` (README: the module and JWT users).
pub const JWT_FLATTEN_LUA: &str = r#"          - name: envoy.filters.http.lua
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
              default_source_code:
                inline_string: |
                  function envoy_on_request(h)
                    local m = h:streamInfo():dynamicMetadata():get("envoy.filters.http.jwt_authn")
                    local p = m and m["jwt_payload"]
                    if p and type(p["sub"]) == "string" then
                      h:streamInfo():dynamicMetadata():set("vigil.jwt", "sub", p["sub"])
                    end
                  end
"#;

/// The module names a JWT's user when a Lua filter flattens the claim (1.40's module ABI
/// reads only top-level metadata keys) and the policy reads the flat key (`claim: ""`):
/// the same user as the wasm build reads from jwt_authn's payload, and none from a token
/// that failed verification (jwt_authn wrote nothing, so neither did the Lua filter).
#[test]
fn e2e_module_takes_the_jwt_user_from_a_flattened_claim() {
    let user = token("valid-user").unwrap();
    let expired = token("expired").unwrap();
    let reqs = |tag: &str| {
        vec![
            Req::get("/admin").bearer(&user).id(&format!("{tag}-user")),
            Req::get("/admin")
                .bearer(&expired)
                .id(&format!("{tag}-expired")),
        ]
    };
    let name_of = |opts: &Options, tag: &str| -> Vec<Option<String>> {
        let envoy = Envoy::start(opts).unwrap();
        for r in reqs(tag) {
            envoy.send(&r).unwrap();
        }
        let events = envoy.wait_events(2, Duration::from_secs(10)).unwrap();
        ["user", "expired"]
            .iter()
            .map(|k| {
                let id = format!("{tag}-{k}");
                let e = events.iter().find(|e| e.request_id() == Some(id.as_str()));
                e.and_then(|e| e.get("user.name"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .collect()
    };
    let wasm = name_of(&Options::new("jwtflat-wasm"), "w");
    let mut opts = Options::new("jwtflat-module").module().unwrap();
    opts.after_jwt_authn = vec![JWT_FLATTEN_LUA.into()];
    opts.policy_json = Some(
        r#"{"version":1,"identity":{
            "jwt":{"metadata_namespace":"vigil.jwt","payload_key":"sub","claim":""},
            "basic_auth":true,
            "login_body":{"fields":["username","email","login"],"max_scan_bytes":8192}}}"#
            .into(),
    );
    let module = name_of(&opts, "m");
    assert!(
        wasm[0].as_deref().is_some_and(|u| !u.is_empty()),
        "{wasm:?}"
    );
    assert_eq!(module, wasm);
    assert_eq!(module[1], None, "an expired token names no user");
}
