//! The four formats from the real `.wasm` (issue 8): every golden scenario replayed with
//! each sink format; OCSF records checked against the vendored OCSF schema, ECS against
//! ECS, CEF against its grammar, OWASP's vocabulary fields present; and all four out of
//! real Envoy through the access-log sink.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use anyhow::Result;
use serde_json::Value;
use std::time::Duration;
use vigil_harness::Plugin;
use vigil_tests::envoy::{plugin_wasm, Envoy, Options, Req, Via};
use vigil_tests::{ecs, golden, ocsf};

/// The golden scenarios with their policies (none: the baseline).
const SCENARIOS: &[(&str, Option<&str>, usize)] = &[
    ("baseline", None, 1),
    ("identity", None, 1),
    ("grpc", None, 1),
    ("signals", None, 2),
    ("rules", Some("rules.policy.json"), 1),
    ("redaction", Some("redaction.policy.json"), 1),
    ("distributed", Some("distributed.policy.json"), 2),
];

/// `policy` (or the baseline) with every sink writing `format`.
fn with_format(policy: Option<&str>, format: &str) -> Vec<u8> {
    let mut doc: Value = match policy {
        Some(p) => serde_json::from_slice(&std::fs::read(golden::dir().join(p)).unwrap()).unwrap(),
        None => serde_json::json!({"version": 1}),
    };
    doc["output"] = serde_json::json!({"sinks": [{"type": "envoy_log", "format": format}]});
    doc.to_string().into_bytes()
}

fn replay(format: &str) -> Result<Vec<String>> {
    let plugin = Plugin::load(plugin_wasm()?)?;
    let mut out = Vec::new();
    for (name, policy, workers) in SCENARIOS {
        out.extend(golden::replay(
            &plugin,
            &with_format(*policy, format),
            &golden::dir().join(format!("{name}.traffic.jsonl")),
            *workers,
        )?);
    }
    Ok(out)
}

#[test]
fn ocsf_records_of_every_scenario_conform_to_the_ocsf_schema() -> Result<()> {
    let schema = ocsf::schema()?;
    let records = replay("ocsf")?;
    let mut classes = std::collections::BTreeSet::new();
    for r in &records {
        let v: Value = serde_json::from_str(r)?;
        classes.insert(v["class_uid"].as_u64().unwrap_or(0));
        let problems = schema.check_event(&v);
        anyhow::ensure!(problems.is_empty(), "{r}\n{problems:#?}");
    }
    anyhow::ensure!(
        classes == [2004, 3002, 4002].into_iter().collect(),
        "{classes:?}"
    );
    Ok(())
}

#[test]
fn ecs_records_of_every_scenario_conform_to_ecs() -> Result<()> {
    let schema = ecs::schema()?;
    for r in replay("ecs")? {
        let v: Value = serde_json::from_str(&r)?;
        let problems = ecs::check_event(&schema, &v);
        anyhow::ensure!(problems.is_empty(), "{r}\n{problems:#?}");
    }
    Ok(())
}

/// CEF's grammar: `CEF:0|` and six more unescaped `|` in the header, then `key=value`
/// pairs whose values escape `\` and `=`.
fn check_cef(line: &str) -> Result<()> {
    anyhow::ensure!(line.starts_with("CEF:0|Vigil|Vigil|"), "{line}");
    let b = line.as_bytes();
    let (mut bars, mut i) = (0, 0);
    while i < b.len() && bars < 7 {
        match b[i] {
            b'\\' => i += 1,
            b'|' => bars += 1,
            _ => {}
        }
        i += 1;
    }
    anyhow::ensure!(bars == 7, "{line}");
    let ext = &line[i..];
    anyhow::ensure!(ext.starts_with("rt="), "{line}");
    // Every unescaped `=` follows a key.
    let e = ext.as_bytes();
    let mut j = 0;
    while j < e.len() {
        if e[j] == b'\\' {
            j += 2;
            continue;
        }
        if e[j] == b'=' {
            let start = ext[..j].rfind(' ').map_or(0, |s| s + 1);
            let key = &ext[start..j];
            anyhow::ensure!(
                !key.is_empty() && key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'),
                "bad key {key:?} in {line}"
            );
        }
        j += 1;
    }
    Ok(())
}

#[test]
fn cef_and_owasp_records_of_every_scenario_are_well_formed() -> Result<()> {
    for r in replay("cef")? {
        check_cef(&r)?;
    }
    for r in replay("owasp")? {
        let v: Value = serde_json::from_str(&r)?;
        for k in ["datetime", "appid", "event", "level", "description"] {
            anyhow::ensure!(v.get(k).is_some(), "{k} missing: {r}");
        }
        let ev = v["event"].as_str().unwrap_or_default();
        let action = v["vigil"]["action"].as_str().unwrap_or_default();
        anyhow::ensure!(ev.starts_with(action), "{r}");
    }
    Ok(())
}

/// All four formats out of real Envoy, through the access-log sink (Envoy's own file
/// access loggers write the records) and through Envoy's log.
#[test]
fn e2e_every_format_leaves_envoy_through_both_sinks() {
    for format in ["ecs", "ocsf", "cef", "owasp"] {
        for (via, sink) in [(Via::File, "access_log"), (Via::EnvoyLog, "envoy_log")] {
            let policy = format!(
                r#"{{"version":1,"output":{{"sinks":[{{"type":"{sink}","format":"{format}"}}]}}}}"#
            );
            let mut opts = Options::new(&format!("format-{format}-{sink}")).via(via);
            opts.policy_json = Some(policy);
            let envoy = Envoy::start(&opts).unwrap();
            let r = envoy
                .send(&Req::post(
                    "/login",
                    "application/x-www-form-urlencoded",
                    "username=CORP%5Calice&password=wrong",
                ))
                .unwrap();
            assert_eq!(r.status, 401);
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let lines = loop {
                let l = envoy.event_lines_raw();
                if !l.is_empty() || std::time::Instant::now() > deadline {
                    break l;
                }
                std::thread::sleep(Duration::from_millis(25));
            };
            assert_eq!(lines.len(), 1, "{format} via {sink}: {lines:?}");
            let line = String::from_utf8(lines[0].clone()).unwrap();
            match format {
                "cef" => {
                    check_cef(&line).unwrap();
                    assert!(line.contains(r"suser=CORP\\alice"), "{line}");
                }
                _ => {
                    let v: Value = serde_json::from_str(&line).unwrap();
                    let user = match format {
                        "ecs" | "ocsf" => v["user"]["name"].clone(),
                        _ => v["vigil"]["user_name"].clone(),
                    };
                    assert_eq!(user, r"CORP\alice", "{format}: {line}");
                    if format == "ocsf" {
                        let problems = ocsf::schema().unwrap().check_event(&v);
                        assert!(problems.is_empty(), "{line}\n{problems:#?}");
                    }
                }
            }
        }
    }
}
