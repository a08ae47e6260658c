//! `check`: what `vigil check` says of a policy, for the editor: every error at its JSON
//! path (with where that path is in the text, for an inline mark), or the explanation.

use serde_json::{json, Value};
use vigil_policies::policy::Policy;

/// Where in `text` the error at `path` (`a.b[2]`, empty for the document) is, in UTF-16
/// code units (a JavaScript string index, for the editor): the deepest part of the path
/// found by scanning the text again; the document's start when nothing of it is found.
pub fn locate(text: &str, path: &str) -> usize {
    let bytes = crate::locate::offset(text, path).unwrap_or(0);
    text.get(..bytes).map_or(0, |t| t.encode_utf16().count())
}

/// The check of `policy` as JSON: `{"ok": true, "explanation": "…"}` or
/// `{"ok": false, "errors": [{"path": "a.b", "problem": "…", "offset": n}]}` ([`locate`]).
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
