//! Golden scenarios: traffic files replayed through the wasmtime harness, compared with
//! blessed event files.
//!
//! `golden/<name>.traffic.jsonl` (with an optional `golden/<name>.policy.json`) is replayed
//! on two harness workers sharing one shared-data store, round-robin, as Envoy workers would
//! serve it; the events (with `event.id` removed, since it is random per VM) must equal
//! `golden/<name>.events.jsonl`. Run with `BLESS=1` (that value only; any other fails) to
//! rewrite the expected files; a mismatch is shown as a line diff.

use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use vigil_harness::{traffic, Harness, Plugin, VmOptions};

/// The HMAC key golden runs use, so fingerprints are reproducible.
pub const GOLDEN_KEY: &str = "golden-fingerprint-key-0123456789";

/// The golden scenarios folder.
pub fn dir() -> PathBuf {
    crate::envoy::workspace_root().join("tests/golden")
}

/// Replays a traffic file through the plugin and returns the raw event lines.
pub fn replay(
    plugin: &Plugin,
    policy: &[u8],
    traffic_path: &Path,
    workers: usize,
) -> Result<Vec<String>> {
    replay_with(plugin, policy, traffic_path, workers, false)
}

/// [`replay`], and with `access_log` the records Envoy's access loggers would write (one
/// logger per record slot, `wasm.vigil.event.<i>`) instead of the event log lines.
pub fn replay_with(
    plugin: &Plugin,
    policy: &[u8],
    traffic_path: &Path,
    workers: usize,
    access_log: bool,
) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(traffic_path)
        .with_context(|| format!("reading {}", traffic_path.display()))?;
    let exchanges = traffic::parse_traffic(&traffic_path.display().to_string(), &text)?;
    let loggers = if access_log {
        (0..vigil_policies::envoy::MAX_RECORDS)
            .filter_map(vigil_policies::envoy::filter_state_key)
            .map(vigil_harness::AccessLogger::filter_state)
            .collect()
    } else {
        Vec::new()
    };
    let opts = VmOptions {
        plugin_config: policy.to_vec(),
        env: vec![("VIGIL_FINGERPRINT_KEY".into(), GOLDEN_KEY.into())],
        access_loggers: loggers,
        ..VmOptions::default()
    };
    let mut h = Harness::new(plugin, opts, workers)?;
    anyhow::ensure!(h.start()?, "the plugin refused its configuration");
    let mut events = Vec::new();
    for x in &exchanges {
        let out = h.run(x)?;
        anyhow::ensure!(out.vm_failed.is_none(), "VM failed: {:?}", out.vm_failed);
        anyhow::ensure!(
            out.local_responses.is_empty(),
            "the plugin answered a client"
        );
        if access_log {
            anyhow::ensure!(out.events.is_empty(), "the access_log sink wrote log lines");
            for r in out.access_log {
                events.push(String::from_utf8(r).context("a record is not UTF-8")?);
            }
        } else {
            events.extend(out.events);
        }
    }
    Ok(events)
}

/// An event with its per-run fields removed, as one canonical JSON line.
pub fn normalize(line: &str) -> Result<String> {
    let mut v: Value = serde_json::from_str(line).with_context(|| format!("not JSON: {line}"))?;
    if let Some(e) = v.get_mut("event").and_then(Value::as_object_mut) {
        e.remove("id");
    }
    Ok(ascii_only(&serde_json::to_string(&v)?))
}

/// Escapes every non-ASCII character of a JSON text as `\uXXXX`, so golden files show
/// hostile characters (bidi controls, line separators) visibly.
fn ascii_only(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{:04x}", u));
            }
        }
    }
    out
}

/// A line diff of two texts (`-` expected, `+` actual), empty when equal.
pub fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    let n = e.len().max(a.len());
    for i in 0..n {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                out.push_str(&format!("line {}:\n", i + 1));
                if let Some(x) = x {
                    out.push_str(&format!("- {x}\n"));
                }
                if let Some(y) = y {
                    out.push_str(&format!("+ {y}\n"));
                }
            }
        }
    }
    out
}

/// Compares (or, with `BLESS=1`, rewrites) the expected events of one scenario.
pub fn check(name: &str, actual_lines: &[String]) -> Result<()> {
    let path = dir().join(format!("{name}.events.jsonl"));
    let mut actual = String::new();
    for l in actual_lines {
        actual.push_str(&normalize(l)?);
        actual.push('\n');
    }
    match std::env::var("BLESS").as_deref() {
        Ok("1") => {
            std::fs::write(&path, &actual)?;
            return Ok(());
        }
        // Only the deliberate value rewrites: `BLESS=0` or a typo must not pass silently.
        Ok(other) => anyhow::bail!("BLESS={other:?}: set BLESS=1 to rewrite the golden files"),
        Err(_) => {}
    }
    let expected = std::fs::read_to_string(&path)
        .with_context(|| format!("{} missing: run with BLESS=1", path.display()))?;
    let d = diff(&expected, &actual);
    anyhow::ensure!(
        d.is_empty(),
        "golden {name} differs (BLESS=1 to accept):\n{d}"
    );
    Ok(())
}
