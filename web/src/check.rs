//! `check`: what `vigil check` says of a policy, for the editor: every error at its JSON
//! path (with where that path is in the text, for an inline mark), or the explanation.

use serde_json::{json, Value};
use vigil_policies::policy::Policy;

/// The byte offset in `text` of the value at `path` (`.a.b[2]`, `.` for the document),
/// found by parsing the text again with positions; the document's start when the path
/// cannot be followed.
pub fn locate(text: &str, path: &str) -> usize {
    crate::locate::offset(text, path).unwrap_or(0)
}

/// The check of `policy` as JSON: `{"ok": true, "explanation": "…"}` or
/// `{"ok": false, "errors": [{"path": ".a.b", "problem": "…", "offset": n}]}`.
pub fn check(policy: &str) -> Value {
    let errs = Policy::all_errors(policy.as_bytes());
    if !errs.is_empty() {
        let errors: Vec<Value> = errs
            .iter()
            .map(|e| json!({"path": e.path, "problem": e.problem, "offset": locate(policy, &e.path)}))
            .collect();
        return json!({"ok": false, "errors": errors});
    }
    match Policy::from_json(policy.as_bytes()) {
        Ok(p) => json!({"ok": true, "explanation": vigil_policies::explain::explain(&p)}),
        Err(e) => json!({"ok": false, "errors": [
            {"path": e.path, "problem": e.problem, "offset": locate(policy, &e.path)}
        ]}),
    }
}
