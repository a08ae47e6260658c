//! `vigil-web`: the policy playground's engine. The same `vigil-policies` code the plugin
//! runs (classification, detectors, redaction, identity, encoders), compiled for the
//! browser with wasm-bindgen: [`check::check`] is `vigil check`, [`replay::replay`] is
//! `vigil replay` over a traffic file (parsed by `vigil-traffic`, as the harness does),
//! with, per exchange, the records, the rule that fired and the detectors' counts.
//!
//! The page (`web/page/`) calls the two exports of [`wasm`]; a test compares
//! [`replay::replay`] with `vigil replay` byte for byte (`tests/all/playground.rs`).

pub mod check;
pub mod detectors;
pub mod ids;
mod locate;
pub mod replay;
pub mod stream;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

/// [`replay::replay`]'s result as the page's JSON: `{"ok": true, "format", "sink",
/// "series": [{"name", "threshold"}], "exchanges": [{"line", "records", "rules",
/// "actions", "detectors"}], "notes"}` or `{"ok": false, "error": "…"}`.
pub fn replay_json(policy: &str, traffic: &str, format: Option<&str>) -> serde_json::Value {
    use serde_json::json;
    match replay::replay(policy, traffic, format) {
        Ok(r) => json!({
            "ok": true,
            "format": r.format,
            "sink": r.sink,
            "series": r.series.iter().map(|s| json!({"name": s.name, "threshold": s.threshold})).collect::<Vec<_>>(),
            "exchanges": r.exchanges.iter().map(|x| json!({
                "line": x.line,
                "records": x.records,
                "rules": x.rules,
                "actions": x.actions,
                "detectors": x.detectors,
            })).collect::<Vec<_>>(),
            "notes": r.notes,
        }),
        Err(e) => json!({"ok": false, "error": e}),
    }
}
