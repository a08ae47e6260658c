//! Expected events (`vigil test`): an exchange's `expect` list matched against the events
//! it produced, by field subset and in order, with a readable account of every mismatch.
//!
//! An expectation is a JSON object; every key it names must be in the event with the same
//! value, and the event may have more. A key is a field name, or a dotted path
//! (`"event.action"`) when the event has no field of that literal name. Objects compare
//! recursively as subsets; arrays, strings, numbers and booleans compare exactly; `null`
//! means "absent" (or null). `"expect": []` means "no event at all". The events of one
//! exchange are its records in the order the sink writes them: the event, then its alerts.

use serde_json::Value;

/// The value at `key` in `event`: the literal field, else the dotted path.
fn lookup<'a>(event: &'a Value, key: &str) -> Option<&'a Value> {
    if let Some(v) = event.get(key) {
        return Some(v);
    }
    if !key.contains('.') {
        return None;
    }
    key.split('.').try_fold(event, |v, seg| v.get(seg))
}

/// Every way `actual` fails `expected`, as `path: expected X, got Y` lines.
pub fn mismatches(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(expected, actual, "", &mut out);
    out
}

fn walk(expected: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    let Value::Object(want) = expected else {
        if expected != actual {
            out.push(format!(
                "{}: expected {expected}, got {actual}",
                if at.is_empty() { "(value)" } else { at }
            ));
        }
        return;
    };
    for (k, w) in want {
        let path = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        match (lookup(actual, k), w) {
            (None | Some(Value::Null), Value::Null) => {}
            (Some(got), Value::Null) => out.push(format!("{path}: expected absent, got {got}")),
            (None, _) => out.push(format!("{path}: expected {w}, absent")),
            (Some(got), Value::Object(_)) if got.is_object() => walk(w, got, &path, out),
            (Some(got), _) if got != w => out.push(format!("{path}: expected {w}, got {got}")),
            _ => {}
        }
    }
}

/// Checks an exchange's events (JSON text) against its expectations; `Ok` or the lines
/// that explain the failure.
pub fn check(expected: &[Value], events: &[String]) -> Result<(), Vec<String>> {
    let mut report = Vec::new();
    let parsed: Vec<Result<Value, String>> = events
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).map_err(|err| format!("{err}: {e}")))
        .collect();
    if expected.is_empty() && !events.is_empty() {
        report.push(format!("expected no event, got {}:", events.len()));
        report.extend(events.iter().map(|e| format!("  {e}")));
        return Err(report);
    }
    for (i, want) in expected.iter().enumerate() {
        let n = i + 1;
        match parsed.get(i) {
            None => report.push(format!("event {n}: expected {want}, but no event {n}")),
            Some(Err(e)) => report.push(format!("event {n}: not JSON ({e})")),
            Some(Ok(got)) => {
                let m = mismatches(want, got);
                if !m.is_empty() {
                    report.push(format!("event {n}: {want}"));
                    report.extend(m.into_iter().map(|l| format!("  {l}")));
                }
            }
        }
    }
    if events.len() > expected.len() {
        report.push(format!(
            "{} more event(s) than expected:",
            events.len() - expected.len()
        ));
        report.extend(events[expected.len()..].iter().map(|e| format!("  {e}")));
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const EVENT: &str = r#"{"event":{"action":"authn_login_fail","kind":"event"},"user":{"name":"alice"},"source":{"ip":"203.0.113.7"},"tags":["a","b"]}"#;

    #[test]
    fn subsets_and_dotted_paths_match() {
        let e: Value = serde_json::from_str(EVENT).unwrap();
        assert!(mismatches(&json!({"event": {"action": "authn_login_fail"}}), &e).is_empty());
        assert!(mismatches(
            &json!({"event.action": "authn_login_fail", "user.name": "alice"}),
            &e
        )
        .is_empty());
        assert!(mismatches(&json!({"http": null, "user.email": null}), &e).is_empty());
        assert!(mismatches(&json!({"tags": ["a", "b"]}), &e).is_empty());
    }

    #[test]
    fn mismatches_name_the_field() {
        let e: Value = serde_json::from_str(EVENT).unwrap();
        assert_eq!(
            mismatches(&json!({"event.action": "authn_login_success"}), &e),
            ["event.action: expected \"authn_login_success\", got \"authn_login_fail\""]
        );
        assert_eq!(
            mismatches(&json!({"user": {"id": "1"}}), &e),
            ["user.id: expected \"1\", absent"]
        );
        assert_eq!(
            mismatches(&json!({"user.name": null}), &e),
            ["user.name: expected absent, got \"alice\""]
        );
        assert_eq!(mismatches(&json!({"tags": ["a"]}), &e).len(), 1);
    }

    #[test]
    fn order_count_and_no_event() {
        let ev = vec![EVENT.to_string()];
        assert!(check(&[json!({"event.action": "authn_login_fail"})], &ev).is_ok());
        assert!(check(&[], &[]).is_ok());
        let r = check(&[], &ev).unwrap_err();
        assert!(r[0].starts_with("expected no event, got 1"), "{r:?}");
        let r = check(&[json!({}), json!({"event.kind": "alert"})], &ev).unwrap_err();
        assert!(r[0].contains("but no event 2"), "{r:?}");
        let two = vec![EVENT.to_string(), EVENT.to_string()];
        let r = check(&[json!({})], &two).unwrap_err();
        assert!(r[0].starts_with("1 more event(s) than expected"), "{r:?}");
    }
}
