//! The policy playground (`vigil-web`) equals `vigil replay`: the same records, byte for
//! byte, in all four formats, over every golden scenario and the hostile corpus, so that
//! what a user sees in the browser is what Envoy emits.

use anyhow::{ensure, Context, Result};
use base64::Engine as _;
use std::path::Path;
use vigil_harness::{traffic, AccessLogger, Harness, Plugin, VmOptions};
use vigil_policies::policy::{Policy, SinkKind};
use vigil_tests::envoy::plugin_wasm;
use vigil_tests::golden;

const FORMATS: [&str; 4] = ["ecs", "ocsf", "cef", "owasp"];

/// What `vigil replay --format FORMAT` prints, per exchange: one worker, no VM environment,
/// the `access_log` sink's records when the policy has it, else the event log lines.
fn harness_records(
    plugin: &Plugin,
    policy: &str,
    text: &str,
    format: &str,
) -> Result<Vec<Vec<String>>> {
    let config =
        vigil_web::replay::with_format(policy, Some(format)).map_err(anyhow::Error::msg)?;
    let p = Policy::from_json(&config)?;
    let access_log = p.output.sinks.iter().any(|s| s.kind == SinkKind::AccessLog);
    let loggers = if access_log {
        (0..vigil_policies::envoy::MAX_RECORDS)
            .filter_map(vigil_policies::envoy::filter_state_key)
            .map(AccessLogger::filter_state)
            .collect()
    } else {
        Vec::new()
    };
    let opts = VmOptions {
        plugin_config: config,
        access_loggers: loggers,
        ..VmOptions::default()
    };
    let mut h = Harness::new(plugin, opts, 1)?;
    ensure!(h.start()?, "the plugin refused its configuration");
    let mut out = Vec::new();
    for x in &traffic::parse_traffic("traffic", text)? {
        let o = h.run(x)?;
        ensure!(o.vm_failed.is_none(), "VM failed: {:?}", o.vm_failed);
        out.push(if access_log {
            o.access_log
                .into_iter()
                .map(|r| String::from_utf8(r).context("a record is not UTF-8"))
                .collect::<Result<_>>()?
        } else {
            o.events
        });
    }
    Ok(out)
}

fn compare(plugin: &Plugin, name: &str, policy: &str, text: &str) -> Result<usize> {
    let mut n = 0;
    for f in FORMATS {
        let want =
            harness_records(plugin, policy, text, f).with_context(|| format!("{name} {f}"))?;
        let got = vigil_web::replay::replay(policy, text, Some(f)).map_err(anyhow::Error::msg)?;
        ensure!(got.format == f, "{name}: format {}", got.format);
        ensure!(
            got.exchanges.len() == want.len(),
            "{name} {f}: exchange count"
        );
        for (x, w) in got.exchanges.iter().zip(&want) {
            ensure!(
                &x.records == w,
                "{name} {f}, traffic line {}:\nplayground: {:#?}\nvigil replay: {:#?}",
                x.line,
                x.records,
                w
            );
            n += w.len();
        }
    }
    Ok(n)
}

fn read(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
}

#[test]
fn playground_equals_vigil_replay_on_every_golden_scenario_in_every_format() -> Result<()> {
    let plugin = Plugin::load(plugin_wasm()?)?;
    let dir = golden::dir();
    let mut scenarios = 0;
    let mut records = 0;
    for e in std::fs::read_dir(&dir)? {
        let path = e?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".traffic.jsonl"))
        else {
            continue;
        };
        let policy_path = dir.join(format!("{name}.policy.json"));
        let policy = if policy_path.is_file() {
            read(&policy_path)?
        } else {
            String::new()
        };
        records += compare(&plugin, name, &policy, &read(&path)?)?;
        scenarios += 1;
    }
    ensure!(
        scenarios >= 9 && records > 100,
        "{scenarios} scenarios, {records} records"
    );
    Ok(())
}

/// Traffic carrying each input of the hostile corpus (`fuzz/corpus/encoders`) in every field
/// an event copies from the wire.
pub fn hostile_traffic() -> Result<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/encoders");
    let mut names: Vec<_> = std::fs::read_dir(&dir)?.collect::<std::io::Result<_>>()?;
    names.sort_by_key(|e| e.file_name());
    let b64 = |b: &[u8]| serde_json::json!({"base64": base64::engine::general_purpose::STANDARD.encode(b)});
    let mut lines = Vec::new();
    for (i, e) in names.iter().enumerate() {
        let bytes = std::fs::read(e.path())?;
        let mut body = b"username=".to_vec();
        body.extend_from_slice(&bytes);
        body.extend_from_slice(b"&password=x");
        for status in [401, 200] {
            lines.push(serde_json::json!({
                "time": format!("2026-11-23T09:00:{:02}.000Z", (i * 2 + usize::from(status == 200)) % 60),
                "source": "203.0.113.9:40001",
                "request": {"method": "POST", "path": "/login", "headers": [
                    ["host", "shop.example"], ["user-agent", b64(&bytes)], ["x-request-id", b64(&bytes)],
                    ["content-type", "application/x-www-form-urlencoded"]],
                    "body": b64(&body)},
                "response": {"status": status}
            }).to_string());
        }
    }
    Ok(traffic::with_format_line(lines))
}

#[test]
fn playground_equals_vigil_replay_on_the_hostile_corpus_in_every_format() -> Result<()> {
    let plugin = Plugin::load(plugin_wasm()?)?;
    let n = compare(&plugin, "hostile", "", &hostile_traffic()?)?;
    ensure!(n >= 16, "{n} records");
    Ok(())
}

fn scenarios_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/scenarios")
}

/// The page's "hostile input" scenario is the hostile corpus (`BLESS=1` rewrites it).
#[test]
fn playground_hostile_scenario_is_the_hostile_corpus() -> Result<()> {
    let path = scenarios_dir().join("hostile.traffic.jsonl");
    let want = hostile_traffic()?;
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &want)?;
    }
    ensure!(
        read(&path)? == want,
        "{} is stale: run with BLESS=1",
        path.display()
    );
    Ok(())
}

/// Every ready scenario of the page (`web/scenarios`) under every example policy of the
/// page (`web/policies`).
#[test]
fn playground_equals_vigil_replay_on_the_page_scenarios_and_policies_in_every_format() -> Result<()>
{
    let plugin = Plugin::load(plugin_wasm()?)?;
    let policies_dir = scenarios_dir().join("../policies");
    let mut policies = Vec::new();
    for e in std::fs::read_dir(&policies_dir)? {
        policies.push(e?.path());
    }
    ensure!(policies.len() >= 3, "{} example policies", policies.len());
    let mut n = 0;
    for e in std::fs::read_dir(scenarios_dir())? {
        let path = e?.path();
        if path.to_string_lossy().ends_with(".traffic.jsonl") {
            for p in &policies {
                let name = format!("{} under {}", path.display(), p.display());
                n += compare(&plugin, &name, &read(p)?, &read(&path)?)?;
            }
        }
    }
    ensure!(n > 60, "{n} records");
    Ok(())
}
