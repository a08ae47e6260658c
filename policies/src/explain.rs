//! What a policy does, in words (`vigil check`): its routes, who a request is about, what
//! never reaches a log, the detectors with their thresholds and the shared memory they may
//! take, the alert cap, and where events go.

use std::fmt::Write as _;

use crate::detect::{account_shape, source_shape};
use crate::policy::{Duplicates, Policy};

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

fn statuses(s: &[u16]) -> String {
    s.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// A readable account of `p`, one topic per paragraph.
pub fn explain(p: &Policy) -> String {
    let mut o = String::new();
    let ci = if p.routes.case_insensitive {
        "case-insensitive"
    } else {
        "case-sensitive"
    };
    let _ = writeln!(o, "routes (paths normalized before matching: escapes of unreserved characters decoded, dot segments and repeated slashes removed, path parameters and a trailing slash ignored; {ci}):");
    let _ = writeln!(
        o,
        "  login: {} {} -> failure on {}",
        list(&p.login.methods),
        routes(&p.login.paths),
        statuses(&p.login.failure_statuses)
    );
    let _ = writeln!(o, "  admin prefixes: {}", routes(&p.admin.path_prefixes));
    let _ = writeln!(
        o,
        "  rate limited: status {} or response flags {}",
        statuses(&p.rate_limit.statuses),
        list(&p.rate_limit.response_flags)
    );
    let _ = writeln!(
        o,
        "  input rejected: status {}",
        statuses(&p.input_validation.statuses)
    );

    let _ = writeln!(o, "identity, most trusted first:");
    if let Some(j) = &p.identity.jwt {
        let _ = writeln!(
            o,
            "  verified JWT claim `{}` from jwt_authn metadata `{}`.`{}`",
            j.claim, j.metadata_namespace, j.payload_key
        );
    }
    if let Some(lb) = &p.identity.login_body {
        let dup = match lb.duplicates {
            Duplicates::Ambiguous => "the first, marked ambiguous when a repeat differs",
            Duplicates::First => "the first",
            Duplicates::Last => "the last",
        };
        let _ = writeln!(
            o,
            "  login body field {} (first {} bytes scanned; a repeated field: {dup})",
            list(&lb.fields),
            lb.max_scan_bytes
        );
    }
    if p.identity.basic_auth {
        let _ = writeln!(o, "  HTTP Basic user (not when it looks like a credential)");
    }

    let _ = writeln!(o, "never logged: passwords, tokens and Basic credentials, query strings, path-parameter values; values longer than {} bytes are cut and marked", p.output.field_max_bytes);
    let body: Vec<String> = p
        .rules
        .iter()
        .flat_map(|r| &r.capture.body)
        .map(|f| {
            let m = crate::redact::body_mode(&p.redaction, f);
            let i = crate::redact::Mode::ALL
                .iter()
                .position(|x| *x == m)
                .unwrap_or(0);
            format!("{f} ({})", crate::redact::Mode::NAMES[i])
        })
        .collect();
    if !body.is_empty() {
        let _ = writeln!(
            o,
            "request-body fields rules capture (mode; credential-like names are never kept raw): {}",
            list(&body)
        );
    }
    let fp = match (&p.fingerprint.key, &p.fingerprint.key_env) {
        (Some(_), _) => "the policy's key".to_string(),
        (None, Some(env)) => format!("the VM environment variable {env}"),
        (None, None) => "no key: no fingerprints".to_string(),
    };
    let _ = writeln!(
        o,
        "fingerprints (keyed HMAC) of session cookies {} and credentials: {fp}",
        list(&p.fingerprint.session_cookies)
    );

    let _ = writeln!(o, "detectors (counted across all workers in shared data):");
    let bf = &p.brute_force;
    let d = &p.detectors;
    let on = |e: bool| if e { "" } else { " (off)" };
    let _ = writeln!(
        o,
        "  authn_login_fail_max per source{}: more than {} failures in {} s from one IPv4 address or IPv6 /{}",
        on(bf.enabled),
        bf.max_failures,
        bf.window_seconds,
        bf.ipv6_prefix
    );
    let _ = writeln!(
        o,
        "  authn_login_fail_max per account{}: more than {} failures in {} s for one user name",
        on(d.account.enabled),
        d.account.max_failures,
        d.account.window_seconds
    );
    let _ = writeln!(
        o,
        "  authn_login_stuffing{}: more than {} distinct user names failing in {} s from one source",
        on(d.stuffing.enabled),
        d.stuffing.max_users,
        d.stuffing.window_seconds
    );
    let dd = &d.distributed;
    let _ = writeln!(
        o,
        "  authn_login_stuffing_distributed{}: more than max({}, {} x the learned failures per {} s window) login failures over all sources (before {} windows are learned: more than {}); the baseline rises at most {}% per window",
        on(dd.enabled),
        dd.min_failures,
        dd.factor,
        dd.window_seconds,
        dd.warmup_windows,
        dd.min_failures.saturating_mul(dd.factor),
        dd.max_growth_percent
    );
    let _ = writeln!(
        o,
        "  authn_login_successafterfail{}: a success after {} or more failures (per source and per account)",
        on(d.success_after_fail.enabled),
        d.success_after_fail.min_failures
    );
    let sg = &d.signals;
    let off = |n: u32| {
        if n == 0 {
            " (off)".to_string()
        } else {
            format!(": more than {n}")
        }
    };
    let _ = writeln!(
        o,
        "  per source in {} s, on every request: malicious_excess_404{} 404s; authz_fail_max{} access-control failures; excess_rate_limit_storm{} rate-limited requests; malicious_attack_tool{} (a known tool's user agent, low confidence)",
        sg.window_seconds,
        off(sg.excess_404),
        off(sg.authz_failures),
        off(sg.rate_limit_storm),
        on(sg.attack_tool)
    );
    let _ = writeln!(
        o,
        "  at most {} alerts per {} s in all (the rest counted, not sent)",
        d.alert_cap_per_window, d.alert_cap_window_seconds
    );
    for (name, shape) in [
        ("source", source_shape(p)),
        ("account", account_shape(p)),
        ("signal", crate::detect::signal_shape(p)),
    ] {
        if let Some(s) = shape {
            let _ = writeln!(
                o,
                "  {name} table: {} buckets x 4 keys, at most {} bytes per key, {} in all",
                s.slots,
                s.max_entry_bytes(),
                kib(s.max_table_bytes())
            );
        }
    }

    let _ = writeln!(o, "output:");
    for s in &p.output.sinks {
        let how = match s.kind {
            crate::policy::SinkKind::AccessLog => {
                "filter state wasm.vigil.event.<i>, written by Envoy's access loggers"
            }
            crate::policy::SinkKind::EnvoyLog => "Envoy's log at info",
        };
        let _ = writeln!(o, "  {} ({}): {how}", s.kind.name(), s.format.name());
    }
    for (a, n) in &p.output.sample {
        let what = match n {
            0 => "none kept".to_string(),
            1 => "every one kept".to_string(),
            n => format!("1 in {n} kept"),
        };
        let _ = writeln!(
            o,
            "  {}: {what} (the rest counted; detectors see all)",
            a.name()
        );
    }
    let _ = writeln!(
        o,
        "  liveness heartbeat every {} s",
        p.output.heartbeat_seconds
    );
    o
}

/// A route list as the policy wrote it.
fn routes(r: &[crate::policy::Route]) -> String {
    let v: Vec<String> = r.iter().map(crate::policy::Route::describe).collect();
    list(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_explains_every_topic() {
        let e = explain(&crate::presets::baseline());
        for topic in [
            "routes",
            "login: POST",
            "identity",
            "never logged",
            "authn_login_stuffing",
            "source table: 1024 buckets",
            "output:",
        ] {
            assert!(e.contains(topic), "{topic} in {e}");
        }
    }
}
