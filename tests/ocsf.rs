//! The vendored OCSF schema (`data/ocsf/`, ocsf-schema a5cfc68e, Apache-2.0), and a checker
//! for Vigil's OCSF records against it.
//!
//! [`check_event`] finds the record's class by `class_uid` (the category's uid × 1000 + the
//! class file's `uid`), gathers its attributes through `extends` up to `base_event` and every
//! `$include`d profile, and checks: every required attribute is present; every attribute is
//! one the class knows (`unmapped` holds Vigil's own, unchecked); each value has the
//! dictionary's type; `*_id` values are in their enum (the class's own enum first);
//! objects recursively against their object definitions (through `extends`), with their
//! `at_least_one` constraints.

use anyhow::{anyhow, Context, Result};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/ocsf")
}

fn load(rel: &str) -> Result<Value> {
    let p = dir().join(rel);
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// The schema pieces the checker needs.
pub struct Schema {
    dictionary: Map<String, Value>,
    /// class_uid → its attributes (merged along `extends` and includes).
    classes: BTreeMap<u64, Map<String, Value>>,
    /// object name → its attributes (merged along `extends`), and constraints.
    objects: BTreeMap<String, (Map<String, Value>, Value)>,
}

const CLASSES: &[(&str, u64)] = &[
    ("events/iam/authentication.json", 3),
    ("events/network/http_activity.json", 4),
    ("events/findings/detection_finding.json", 2),
];

/// Merges `child` over `base` (the child's keys win; attribute maps merge key by key).
fn merge(base: &mut Map<String, Value>, child: &Map<String, Value>) {
    for (k, v) in child {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(c)) => {
                for (ck, cv) in c {
                    b.insert(ck.clone(), cv.clone());
                }
            }
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

fn attributes_with_includes(file: &Value) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let attrs = file["attributes"].as_object().cloned().unwrap_or_default();
    if let Some(incs) = attrs.get("$include").and_then(Value::as_array) {
        for inc in incs {
            let p = load(inc.as_str().unwrap_or_default())?;
            // A profile's attributes apply (their requirements too) only when the record
            // names the profile in `metadata.profiles`.
            let mut a = p["attributes"].as_object().cloned().unwrap_or_default();
            if let Some(name) = p["name"].as_str() {
                for v in a.values_mut() {
                    if let Some(o) = v.as_object_mut() {
                        o.insert("_profile".into(), Value::String(name.into()));
                    }
                }
            }
            merge(&mut out, &a);
        }
    }
    for (k, v) in attrs {
        if k != "$include" {
            out.insert(k, v);
        }
    }
    Ok(out)
}

fn event_file_by_name(name: &str) -> Option<&'static str> {
    match name {
        "base_event" => Some("events/base_event.json"),
        "iam" => Some("events/iam/iam.json"),
        "network" => Some("events/network/network.json"),
        "finding" => Some("events/findings/finding.json"),
        _ => None,
    }
}

fn class_attributes(rel: &str) -> Result<Map<String, Value>> {
    let f = load(rel)?;
    let mut attrs = match f["extends"].as_str().and_then(event_file_by_name) {
        Some(parent) => class_attributes(parent)?,
        None => Map::new(),
    };
    let own = attributes_with_includes(&f)?;
    for (k, v) in own {
        let merged = match (attrs.get(&k), &v) {
            (Some(Value::Object(b)), Value::Object(c)) => {
                let mut m = b.clone();
                for (ck, cv) in c {
                    m.insert(ck.clone(), cv.clone());
                }
                Value::Object(m)
            }
            _ => v,
        };
        attrs.insert(k, merged);
    }
    Ok(attrs)
}

fn object_attributes(name: &str) -> Result<(Map<String, Value>, Value)> {
    let f = load(&format!("objects/{name}.json"))?;
    let mut attrs = match f["extends"].as_str() {
        Some(p) if p != "object" => object_attributes(p)?.0,
        _ => Map::new(),
    };
    for (k, v) in attributes_with_includes(&f)? {
        attrs.insert(k, v);
    }
    Ok((attrs, f["constraints"].clone()))
}

/// Loads the vendored schema.
pub fn schema() -> Result<Schema> {
    let dictionary = load("dictionary.json")?["attributes"]
        .as_object()
        .cloned()
        .ok_or_else(|| anyhow!("dictionary without attributes"))?;
    let mut classes = BTreeMap::new();
    for (rel, category) in CLASSES {
        let f = load(rel)?;
        let uid = f["uid"].as_u64().ok_or_else(|| anyhow!("{rel}: no uid"))?;
        classes.insert(category * 1000 + uid, class_attributes(rel)?);
    }
    let mut objects = BTreeMap::new();
    for entry in std::fs::read_dir(dir().join("objects"))? {
        let name = entry?.file_name().to_string_lossy().replace(".json", "");
        objects.insert(name.clone(), object_attributes(&name)?);
    }
    Ok(Schema {
        dictionary,
        classes,
        objects,
    })
}

impl Schema {
    fn check_value(
        &self,
        path: &str,
        attr: &Value,
        local: &Value,
        v: &Value,
        out: &mut Vec<String>,
    ) {
        let ty = attr["type"].as_str().unwrap_or("");
        let array = attr["is_array"].as_bool().unwrap_or(false);
        if array {
            match v.as_array() {
                Some(items) => {
                    let mut one = attr.clone();
                    one["is_array"] = Value::Bool(false);
                    for (i, it) in items.iter().enumerate() {
                        self.check_value(&format!("{path}[{i}]"), &one, local, it, out);
                    }
                }
                None => out.push(format!("{path}: expected an array")),
            }
            return;
        }
        let ok = match ty {
            "integer_t" | "long_t" | "timestamp_t" | "port_t" => v.is_u64() || v.is_i64(),
            "float_t" => v.is_number(),
            "boolean_t" => v.is_boolean(),
            "string_t" | "ip_t" | "hostname_t" | "url_t" | "uuid_t" | "datetime_t" | "email_t"
            | "username_t" | "file_name_t" | "mac_t" | "subnet_t" | "resource_uid_t"
            | "file_path_t" | "process_name_t" | "bytestring_t" | "json_t" | "hash_t" => {
                v.is_string()
            }
            "object" => v.is_object(),
            _ if self.objects.contains_key(ty) => {
                if let Some(o) = v.as_object() {
                    self.check_object(path, ty, o, out);
                    true
                } else {
                    false
                }
            }
            _ => {
                out.push(format!("{path}: type `{ty}` unknown to the checker"));
                true
            }
        };
        if !ok {
            out.push(format!("{path}: {v} is not a {ty}"));
        }
        // Enums: the class's (or object's) own first, then the dictionary's.
        let name = path.rsplit('.').next().unwrap_or(path);
        // The uids are checked by their arithmetic (`check_event`).
        if matches!(name, "class_uid" | "category_uid" | "type_uid") {
            return;
        }
        // The enum is the dictionary's values plus the class's (or object's) own.
        let local_enum = local.get("enum").and_then(Value::as_object);
        let dict_enum = self
            .dictionary
            .get(name)
            .and_then(|d| d.get("enum"))
            .and_then(Value::as_object);
        if let Some(n) = v.as_u64() {
            if local_enum.is_some() || dict_enum.is_some() {
                let key = n.to_string();
                let known = local_enum.is_some_and(|e| e.contains_key(&key))
                    || dict_enum.is_some_and(|e| e.contains_key(&key));
                if !known {
                    out.push(format!("{path}: {n} is not in its enum"));
                }
            }
        }
    }

    fn check_attrs(
        &self,
        path: &str,
        known: &Map<String, Value>,
        obj: &Map<String, Value>,
        out: &mut Vec<String>,
    ) {
        let profiles: Vec<&str> = obj
            .get("metadata")
            .and_then(|m| m.get("profiles"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (k, req) in known {
            let applies = req["_profile"]
                .as_str()
                .is_none_or(|p| path.is_empty() && profiles.contains(&p));
            if applies && req["requirement"] == "required" && !obj.contains_key(k) {
                out.push(format!("{path}{k}: required, missing"));
            }
        }
        for (k, v) in obj {
            if k == "unmapped" && path.is_empty() {
                continue;
            }
            let Some(local) = known.get(k) else {
                out.push(format!("{path}{k}: not an attribute here"));
                continue;
            };
            let Some(attr) = self.dictionary.get(k) else {
                out.push(format!("{path}{k}: not in the dictionary"));
                continue;
            };
            let mut attr = attr.clone();
            if let Some(t) = local.get("type") {
                attr["type"] = t.clone();
            }
            self.check_value(&format!("{path}{k}"), &attr, local, v, out);
        }
    }

    fn check_object(
        &self,
        path: &str,
        name: &str,
        obj: &Map<String, Value>,
        out: &mut Vec<String>,
    ) {
        let Some((attrs, constraints)) = self.objects.get(name) else {
            out.push(format!("{path}: object `{name}` not vendored"));
            return;
        };
        self.check_attrs(&format!("{path}."), attrs, obj, out);
        if let Some(one) = constraints["at_least_one"].as_array() {
            if !one
                .iter()
                .any(|k| k.as_str().is_some_and(|k| obj.contains_key(k)))
            {
                out.push(format!("{path}: needs one of {one:?}"));
            }
        }
    }

    /// Every problem of one record, empty when it conforms.
    pub fn check_event(&self, e: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let Some(obj) = e.as_object() else {
            return vec!["not an object".into()];
        };
        let Some(class_uid) = e["class_uid"].as_u64() else {
            return vec!["no class_uid".into()];
        };
        let Some(attrs) = self.classes.get(&class_uid) else {
            return vec![format!("class {class_uid} is not one Vigil writes")];
        };
        self.check_attrs("", attrs, obj, &mut out);
        let activity = e["activity_id"].as_u64().unwrap_or(0);
        if e["type_uid"].as_u64() != Some(class_uid * 100 + activity) {
            out.push("type_uid is not class_uid * 100 + activity_id".into());
        }
        if e["category_uid"].as_u64() != Some(class_uid / 1000) {
            out.push("category_uid does not match class_uid".into());
        }
        // Vigil's own data only under unmapped.vigil.
        if let Some(u) = e.get("unmapped") {
            let keys: Vec<&String> = u
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            if keys != ["vigil"] {
                out.push(format!("unmapped holds {keys:?}, not just `vigil`"));
            }
        }
        out
    }
}
