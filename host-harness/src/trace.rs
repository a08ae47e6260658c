//! What a plugin was asked and what it answered: every callback into the plugin, with its
//! arguments and its return value, when [`crate::VmOptions::trace`] is on
//! ([`crate::ExchangeOutcome::trace`], `vigil replay --trace`).

use std::fmt;

/// One callback into the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// The export called (`proxy_on_request_headers`).
    pub name: String,
    /// The context it ran for.
    pub context: u32,
    /// Its arguments, as a tuple (`(2, 9, 1)`).
    pub args: String,
    /// What it returned (`0`, `()`), or `trap: …`.
    pub result: String,
}

impl fmt::Display for Callback {
    /// `proxy_on_request_headers(2, 9, 1) -> 1 (Pause)`: stream callbacks' actions named.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args = self.args.trim_start_matches('(').trim_end_matches(')');
        write!(f, "{}({args}) -> {}", self.name, self.result)?;
        let stream = ["_headers", "_body", "_trailers"]
            .iter()
            .any(|s| self.name.ends_with(s));
        match (stream, self.result.as_str()) {
            (true, "0") => write!(f, " (Continue)"),
            (true, "1") => write!(f, " (Pause)"),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_actions() {
        let c = Callback {
            name: "proxy_on_request_headers".into(),
            context: 2,
            args: "(2, 9, 1)".into(),
            result: "1".into(),
        };
        assert_eq!(
            c.to_string(),
            "proxy_on_request_headers(2, 9, 1) -> 1 (Pause)"
        );
        let c = Callback {
            name: "proxy_on_log".into(),
            context: 2,
            args: "(2,)".into(),
            result: "()".into(),
        };
        assert_eq!(c.to_string(), "proxy_on_log(2,) -> ()");
    }
}
