//! The checks a policy's types alone cannot make; every error names the JSON path.

use super::{Policy, PolicyError};
use crate::envoy::flag_bit;

impl Policy {
    /// Checks what the types alone cannot: the first problem.
    pub fn validate(&self) -> Result<(), PolicyError> {
        match self.problems().into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every problem the types alone cannot catch, in field order.
    pub fn problems(&self) -> Vec<PolicyError> {
        let mut errs = Vec::new();
        self.collect_problems(&mut errs);
        errs
    }

    fn collect_problems(&self, errs: &mut Vec<PolicyError>) {
        if self.version != 1 {
            errs.push(PolicyError::at(
                "version",
                format!("unsupported version {}, expected 1", self.version),
            ));
        }
        if let Some(j) = &self.identity.jwt {
            for (name, v) in [
                ("metadata_namespace", &j.metadata_namespace),
                ("payload_key", &j.payload_key),
                ("claim", &j.claim),
            ] {
                // `claim` may be empty: the key itself then holds the user.
                if (v.is_empty() && name != "claim") || v.contains('\0') {
                    errs.push(PolicyError::at(
                        format!("identity.jwt.{name}"),
                        "must be a non-empty string without NUL",
                    ));
                }
            }
            for (i, h) in j.from_headers.iter().enumerate() {
                if h.is_empty()
                    || h.bytes()
                        .any(|b| !b.is_ascii_graphic() || b.is_ascii_uppercase())
                {
                    errs.push(PolicyError::at(
                        format!("identity.jwt.from_headers[{i}]"),
                        "must be a lower-case header name",
                    ));
                }
            }
            for (field, names) in [
                ("from_params", &j.from_params),
                ("from_cookies", &j.from_cookies),
            ] {
                if let Some(i) = names.iter().position(String::is_empty) {
                    errs.push(PolicyError::at(
                        format!("identity.jwt.{field}[{i}]"),
                        "must not be empty",
                    ));
                }
            }
        }
        if let Some(lb) = &self.identity.login_body {
            if lb.fields.is_empty() {
                errs.push(PolicyError::at(
                    "identity.login_body.fields",
                    "must name at least one field",
                ));
            }
            if !(64..=65536).contains(&lb.max_scan_bytes) {
                errs.push(PolicyError::at(
                    "identity.login_body.max_scan_bytes",
                    "must be between 64 and 65536",
                ));
            }
        }
        for (i, m) in self.login.methods.iter().enumerate() {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                errs.push(PolicyError::at(
                    format!("login.methods[{i}]"),
                    "must be an upper-case HTTP method such as \"POST\"",
                ));
            }
        }
        note(errs, check_paths("login.paths", &self.login.paths));
        note(
            errs,
            check_paths("admin.path_prefixes", &self.admin.path_prefixes),
        );
        note(
            errs,
            check_statuses("login.failure_statuses", &self.login.failure_statuses),
        );
        note(
            errs,
            check_statuses("rate_limit.statuses", &self.rate_limit.statuses),
        );
        note(
            errs,
            check_statuses("input_validation.statuses", &self.input_validation.statuses),
        );
        for (i, f) in self.rate_limit.response_flags.iter().enumerate() {
            if flag_bit(f).is_none() {
                errs.push(PolicyError::at(
                    format!("rate_limit.response_flags[{i}]"),
                    format!("unknown Envoy response flag {f:?}"),
                ));
            }
        }
        self.validate_detectors(errs);
        self.validate_rules(errs);
        self.validate_redaction(errs);
        if let Some(k) = &self.fingerprint.key {
            if k.len() < 16 {
                errs.push(PolicyError::at(
                    "fingerprint.key",
                    "must be at least 16 bytes",
                ));
            }
        }
        if let Some(k) = &self.fingerprint.key_env {
            if k.is_empty() {
                errs.push(PolicyError::at("fingerprint.key_env", "must not be empty"));
            }
        }
        if !(64..=65536).contains(&self.output.field_max_bytes) {
            errs.push(PolicyError::at(
                "output.field_max_bytes",
                "must be between 64 and 65536",
            ));
        }
        if self.output.sinks.is_empty() {
            errs.push(PolicyError::at(
                "output.sinks",
                "must name at least one sink",
            ));
        }
        for (i, s) in self.output.sinks.iter().enumerate() {
            if self.output.sinks[..i].iter().any(|o| o.kind == s.kind) {
                errs.push(PolicyError::at(
                    format!("output.sinks[{i}].type"),
                    format!("sink {:?} is listed twice", s.kind.name()),
                ));
            }
        }
        if !(1..=3600).contains(&self.output.heartbeat_seconds) {
            errs.push(PolicyError::at(
                "output.heartbeat_seconds",
                "must be between 1 and 3600",
            ));
        }
    }

    fn validate_rules(&self, errs: &mut Vec<PolicyError>) {
        for (i, r) in self.rules.iter().enumerate() {
            let at = |f: &str| format!("rules[{i}].{f}");
            if r.name.is_empty() || r.name.len() > 64 {
                errs.push(PolicyError::at(at("name"), "must be 1 to 64 characters"));
            } else if self.rules[..i].iter().any(|o| o.name == r.name) {
                errs.push(PolicyError::at(
                    at("name"),
                    format!("rule {:?} is named twice", r.name),
                ));
            }
            let code = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_';
            if r.reason.is_empty() || r.reason.len() > 64 || !r.reason.bytes().all(code) {
                errs.push(PolicyError::at(
                    at("reason"),
                    "must be 1 to 64 of [a-z0-9_] (an event.reason code)",
                ));
            }
            for (field, names) in [
                ("request_headers", &r.when.request_headers),
                ("response_headers", &r.when.response_headers),
            ] {
                for (n, _) in names {
                    if n.is_empty()
                        || n.bytes()
                            .any(|b| !b.is_ascii_graphic() || b.is_ascii_uppercase())
                    {
                        errs.push(PolicyError::at(
                            format!("rules[{i}].when.{field}.{n}"),
                            "must be a lower-case header name",
                        ));
                    }
                }
            }
            // Captured names become JSON keys: plain tokens only.
            let token = |n: &str, upper_ok: bool| {
                !n.is_empty()
                    && n.len() <= 64
                    && n.bytes().all(|b| {
                        b.is_ascii_digit()
                            || b.is_ascii_lowercase()
                            || (upper_ok && b.is_ascii_uppercase())
                            || matches!(b, b'-' | b'_' | b'.')
                    })
            };
            for (field, names, upper_ok) in [
                ("request_headers", &r.capture.request_headers, false),
                ("response_headers", &r.capture.response_headers, false),
                ("query", &r.capture.query, true),
            ] {
                for (k, n) in names.iter().enumerate() {
                    if !token(n, upper_ok) {
                        errs.push(PolicyError::at(
                            format!("rules[{i}].capture.{field}[{k}]"),
                            "must be a name of [a-z0-9._-] (query: also A-Z), 1 to 64 characters",
                        ));
                    }
                }
            }
            if let Some(m) = r.when.methods.iter().position(String::is_empty) {
                errs.push(PolicyError::at(
                    format!("rules[{i}].when.methods[{m}]"),
                    "must not be empty",
                ));
            }
        }
    }

    fn validate_redaction(&self, errs: &mut Vec<PolicyError>) {
        let r = &self.redaction;
        if r.key_id.is_empty()
            || r.key_id.len() > 32
            || !r
                .key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            errs.push(PolicyError::at(
                "redaction.key_id",
                "must be 1 to 32 of [A-Za-z0-9._-]",
            ));
        }
        for (n, _) in &r.headers {
            if n.is_empty()
                || n.bytes()
                    .any(|b| !b.is_ascii_graphic() || b.is_ascii_uppercase())
            {
                errs.push(PolicyError::at(
                    format!("redaction.headers.{n}"),
                    "must be a lower-case header name",
                ));
            }
        }
    }

    fn validate_detectors(&self, errs: &mut Vec<PolicyError>) {
        let bf = &self.brute_force;
        let d = &self.detectors;
        note(
            errs,
            in_range("brute_force.max_failures", bf.max_failures, 1, 1000),
        );
        note(
            errs,
            in_range("brute_force.window_seconds", bf.window_seconds, 1, 86_400),
        );
        note(errs, in_range("brute_force.slots", bf.slots, 1, 65_536));
        note(
            errs,
            in_range(
                "brute_force.ipv6_prefix",
                u32::from(bf.ipv6_prefix),
                16,
                128,
            ),
        );
        note(
            errs,
            in_range(
                "detectors.account.max_failures",
                d.account.max_failures,
                1,
                1000,
            ),
        );
        note(
            errs,
            in_range(
                "detectors.account.window_seconds",
                d.account.window_seconds,
                1,
                86_400,
            ),
        );
        note(
            errs,
            in_range("detectors.stuffing.max_users", d.stuffing.max_users, 1, 100),
        );
        let dd = &d.distributed;
        for (field, v, lo, hi) in [
            ("window_seconds", dd.window_seconds, 10, 3600),
            ("min_failures", dd.min_failures, 1, 1_000_000),
            ("factor", dd.factor, 2, 1000),
            ("warmup_windows", dd.warmup_windows, 0, 10_000),
            ("max_growth_percent", dd.max_growth_percent, 1, 1000),
        ] {
            note(
                errs,
                in_range(&format!("detectors.distributed.{field}"), v, lo, hi),
            );
        }
        note(
            errs,
            in_range(
                "detectors.stuffing.window_seconds",
                d.stuffing.window_seconds,
                1,
                86_400,
            ),
        );
        note(
            errs,
            in_range(
                "detectors.success_after_fail.min_failures",
                d.success_after_fail.min_failures,
                1,
                1000,
            ),
        );
        note(errs, in_range("detectors.slots", d.slots, 1, 65_536));
        note(
            errs,
            in_range(
                "detectors.alert_cap_per_window",
                d.alert_cap_per_window,
                1,
                1_000_000,
            ),
        );
        note(
            errs,
            in_range(
                "detectors.alert_cap_window_seconds",
                d.alert_cap_window_seconds,
                1,
                86_400,
            ),
        );
    }
}

fn note(errs: &mut Vec<PolicyError>, r: Result<(), PolicyError>) {
    if let Err(e) = r {
        errs.push(e);
    }
}

fn in_range(field: &str, v: u32, lo: u32, hi: u32) -> Result<(), PolicyError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(PolicyError::at(
            field,
            format!("must be between {lo} and {hi}"),
        ))
    }
}

fn check_paths(field: &str, paths: &[super::Route]) -> Result<(), PolicyError> {
    use crate::pattern::Pattern;
    for (i, r) in paths.iter().enumerate() {
        // Plain strings and exact/prefix patterns are paths; globs and regexes are free.
        let p = match r {
            super::Route::Path(p) => p.as_bytes(),
            super::Route::Pattern(Pattern::Exact(b) | Pattern::Prefix(b)) => b.as_slice(),
            super::Route::Pattern(_) => continue,
        };
        if !p.starts_with(b"/") || p.contains(&b'?') {
            return Err(PolicyError::at(
                format!("{field}[{i}]"),
                "must start with '/' and have no query",
            ));
        }
    }
    Ok(())
}

fn check_statuses(field: &str, statuses: &[u16]) -> Result<(), PolicyError> {
    for (i, s) in statuses.iter().enumerate() {
        if !(100..=599).contains(s) {
            return Err(PolicyError::at(
                format!("{field}[{i}]"),
                format!("{s} is not an HTTP status (100..=599)"),
            ));
        }
    }
    Ok(())
}
