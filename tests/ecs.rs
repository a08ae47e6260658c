//! The vendored Elastic Common Schema, and a checker for Vigil's events against it.
//!
//! `data/ecs/ecs_flat.yml` (elastic/ecs at b85f7573, Apache-2.0) lists every ECS field with
//! its type and, for the categorization fields, the allowed values (and which `event.type`
//! values go with each `event.category`). [`check_event`] flattens an event and checks each
//! field: a name ECS does not define must live under `vigil.`; a defined name must have a
//! value of its type; categorization fields must use allowed values that fit together.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One allowed value of a categorization field.
#[derive(Debug, Deserialize)]
pub struct Allowed {
    /// The value.
    pub name: String,
    /// For `event.category` values: the `event.type` values that fit.
    #[serde(default)]
    pub expected_event_types: Vec<String>,
}

/// One ECS field.
#[derive(Debug, Deserialize)]
pub struct Field {
    /// ECS type (`keyword`, `ip`, `long`, `date`, `boolean`, ...).
    #[serde(rename = "type")]
    pub ty: String,
    /// Allowed values, for categorization fields.
    #[serde(default)]
    pub allowed_values: Vec<Allowed>,
    /// `array` when the field holds a list.
    #[serde(default)]
    pub normalize: Vec<String>,
}

/// The schema, by flat field name.
pub fn schema() -> anyhow::Result<BTreeMap<String, Field>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/ecs/ecs_flat.yml");
    let text = std::fs::read_to_string(path)?;
    Ok(serde_yaml::from_str(&text)?)
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "keyword" | "constant_keyword" | "wildcard" | "match_only_text" | "text" => v.is_string(),
        "ip" => v
            .as_str()
            .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
        "long" | "integer" | "short" | "byte" => v.is_i64() || v.is_u64(),
        "date" => v
            .as_str()
            .is_some_and(|s| s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T'),
        "boolean" => v.is_boolean(),
        _ => false,
    }
}

/// Every problem with one event (empty when it conforms).
pub fn check_event(schema: &BTreeMap<String, Field>, event: &Value) -> Vec<String> {
    let mut flat = Vec::new();
    flatten("", event, &mut flat);
    let mut problems = Vec::new();
    for (name, value) in &flat {
        if name.starts_with("vigil.") {
            continue;
        }
        let Some(f) = schema.get(name) else {
            problems.push(format!("{name}: not an ECS field (put it under vigil.)"));
            continue;
        };
        let values: Vec<&Value> = match value {
            Value::Array(items) => {
                if !f.normalize.iter().any(|n| n == "array") {
                    problems.push(format!("{name}: ECS does not expect an array"));
                }
                items.iter().collect()
            }
            v => vec![v],
        };
        for v in values {
            if !type_ok(&f.ty, v) {
                problems.push(format!("{name}: {v} is not of ECS type {}", f.ty));
            }
            if !f.allowed_values.is_empty()
                && !f
                    .allowed_values
                    .iter()
                    .any(|a| Some(a.name.as_str()) == v.as_str())
            {
                problems.push(format!("{name}: {v} is not an allowed value"));
            }
        }
    }
    // Each event.type must be expected by at least one of the event's categories.
    if let (Some(cat), Some(types), Some(f)) = (
        event["event"]["category"].as_array(),
        event["event"]["type"].as_array(),
        schema.get("event.category"),
    ) {
        for t in types.iter().filter_map(Value::as_str) {
            let fits = cat.iter().filter_map(Value::as_str).any(|c| {
                f.allowed_values
                    .iter()
                    .any(|a| a.name == c && a.expected_event_types.iter().any(|e| e == t))
            });
            if !fits {
                problems.push(format!(
                    "event.type {t} fits none of the categories {cat:?}"
                ));
            }
        }
    }
    problems
}
