//! Builds the Rust structs from a document that passed [`super::check`]: nothing can fail
//! here any more.

use super::super::{
    AccountBruteForce, Admin, BruteForce, Detectors, Distributed, Duplicates, Fingerprint, Format,
    Identity, InputValidation, JwtIdentity, Login, LoginBody, Output, Policy, RateLimit, Routes,
    Sink, SinkKind, Stuffing, SuccessAfterFail,
};
use super::{FORMATS, SINK_KINDS};
use crate::json::{Number, Value};

// Extraction, from a value that passed `check`: absent (or null) fields take their
// defaults, and the other shapes cannot occur.

/// The member `key` of an object.
#[inline(never)]
pub(super) fn get<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    match v {
        Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

#[inline(never)]
fn string(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

#[inline(never)]
fn strings(v: Option<&Value>) -> Vec<String> {
    items(v).filter_map(|v| string(Some(v))).collect()
}

fn items<'v>(v: Option<&'v Value>) -> core::slice::Iter<'v, Value> {
    match v {
        Some(Value::Array(items)) => items.iter(),
        _ => [].iter(),
    }
}

fn int(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::Number(Number::Uint(n))) => *n,
        _ => 0,
    }
}

// The casts below cannot truncate: `check` bounded every integer by its type.
#[allow(clippy::cast_possible_truncation)]
fn u32_(v: Option<&Value>) -> u32 {
    int(v) as u32
}

#[allow(clippy::cast_possible_truncation)]
fn usize_(v: Option<&Value>) -> usize {
    int(v) as usize
}

#[allow(clippy::cast_possible_truncation)]
#[inline(never)]
fn statuses(v: Option<&Value>) -> Vec<u16> {
    items(v).map(|v| int(Some(v)) as u16).collect()
}

fn boolean(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

/// The index of an enum's name.
fn variant(v: Option<&Value>, names: &[&str]) -> Option<usize> {
    match v {
        Some(Value::String(s)) => names.iter().position(|n| n == s),
        _ => None,
    }
}

pub(super) fn policy(v: &Value, base: Policy) -> Policy {
    Policy {
        version: u32_(get(v, "version")),
        identity: get(v, "identity").map_or(base.identity, |v| Identity {
            jwt: get(v, "jwt")
                .filter(|v| !matches!(v, Value::Null))
                .map(|v| JwtIdentity {
                    metadata_namespace: string(get(v, "metadata_namespace")).unwrap_or_default(),
                    payload_key: string(get(v, "payload_key")).unwrap_or_default(),
                    claim: string(get(v, "claim")).unwrap_or_default(),
                    from_headers: get(v, "from_headers")
                        .map_or_else(|| vec!["authorization".into()], |v| strings(Some(v))),
                    from_params: get(v, "from_params")
                        .map_or_else(|| vec!["access_token".into()], |v| strings(Some(v))),
                    from_cookies: strings(get(v, "from_cookies")),
                }),
            basic_auth: boolean(get(v, "basic_auth")),
            login_body: get(v, "login_body")
                .filter(|v| !matches!(v, Value::Null))
                .map(|v| LoginBody {
                    fields: strings(get(v, "fields")),
                    max_scan_bytes: usize_(get(v, "max_scan_bytes")),
                    duplicates: variant(get(v, "duplicates"), super::DUPLICATES)
                        .and_then(|i| Duplicates::ALL.get(i).copied())
                        .unwrap_or_default(),
                }),
        }),
        login: get(v, "login").map_or(base.login, |v| Login {
            methods: strings(get(v, "methods")),
            paths: routes(get(v, "paths")),
            failure_statuses: statuses(get(v, "failure_statuses")),
        }),
        admin: get(v, "admin").map_or(base.admin, |v| Admin {
            path_prefixes: routes(get(v, "path_prefixes")),
        }),
        rate_limit: get(v, "rate_limit").map_or(base.rate_limit, |v| RateLimit {
            statuses: statuses(get(v, "statuses")),
            response_flags: strings(get(v, "response_flags")),
        }),
        input_validation: get(v, "input_validation").map_or(base.input_validation, |v| {
            InputValidation {
                statuses: statuses(get(v, "statuses")),
            }
        }),
        brute_force: get(v, "brute_force").map_or(base.brute_force, |v| BruteForce {
            enabled: boolean(get(v, "enabled")),
            max_failures: u32_(get(v, "max_failures")),
            window_seconds: u32_(get(v, "window_seconds")),
            slots: u32_(get(v, "slots")),
            ipv6_prefix: get(v, "ipv6_prefix").map_or(64, |v| u32_(Some(v)) as u8),
        }),
        detectors: get(v, "detectors")
            .map_or(base.detectors.clone(), |v| detectors(v, base.detectors)),
        fingerprint: get(v, "fingerprint").map_or(base.fingerprint, |v| Fingerprint {
            key: string(get(v, "key")),
            key_env: string(get(v, "key_env")),
            session_cookies: strings(get(v, "session_cookies")),
        }),
        output: get(v, "output").map_or(base.output, output),
        routes: get(v, "routes").map_or(base.routes, |v| Routes {
            case_insensitive: boolean(get(v, "case_insensitive")),
        }),
        rules: match get(v, "rules") {
            Some(r) => items(Some(r)).map(rule).collect(),
            None => base.rules,
        },
        redaction: get(v, "redaction")
            .map_or(base.redaction.clone(), |v| redaction(v, base.redaction)),
    }
}

fn mode(v: Option<&Value>, default: crate::redact::Mode) -> crate::redact::Mode {
    use crate::redact::Mode;
    variant(v, Mode::NAMES)
        .and_then(|i| Mode::ALL.get(i).copied())
        .unwrap_or(default)
}

fn modes(v: Option<&Value>) -> Vec<(String, crate::redact::Mode)> {
    match v {
        Some(Value::Object(members)) => members
            .iter()
            .map(|(k, m)| (k.clone(), mode(Some(m), crate::redact::Mode::Keep)))
            .collect(),
        _ => Vec::new(),
    }
}

fn redaction(v: &Value, base: crate::redact::Redaction) -> crate::redact::Redaction {
    crate::redact::Redaction {
        pii: get(v, "pii").map_or(base.pii, |b| boolean(Some(b))),
        jwt: mode(get(v, "jwt"), base.jwt),
        bearer: mode(get(v, "bearer"), base.bearer),
        card_number: mode(get(v, "card_number"), base.card_number),
        email: mode(get(v, "email"), base.email),
        headers: get(v, "headers").map_or(base.headers, |h| modes(Some(h))),
        query: get(v, "query").map_or(base.query, |q| modes(Some(q))),
        body: get(v, "body").map_or(base.body, |q| modes(Some(q))),
        key_id: string(get(v, "key_id")).unwrap_or(base.key_id),
    }
}

fn pattern(v: Option<&Value>) -> Option<crate::pattern::Pattern> {
    v.and_then(|v| super::pattern(v).ok())
}

/// A route list: strings as written, objects as compiled patterns (already checked).
fn routes(v: Option<&Value>) -> Vec<crate::policy::Route> {
    use crate::policy::Route;
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(Route::Path(s.clone())),
                other => super::pattern(other).ok().map(Route::Pattern),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn header_patterns(v: Option<&Value>) -> Vec<(String, crate::pattern::Pattern)> {
    match v {
        Some(Value::Object(members)) => members
            .iter()
            .filter_map(|(k, p)| Some((k.clone(), super::pattern(p).ok()?)))
            .collect(),
        _ => Vec::new(),
    }
}

fn rule(v: &Value) -> crate::rules::Rule {
    use crate::rules::{Level, Rule, StatusMatch, When};
    let w = get(v, "when");
    let at = |k: &str| w.and_then(|w| get(w, k));
    Rule {
        name: string(get(v, "name")).unwrap_or_default(),
        when: When {
            methods: strings(at("methods")),
            path: pattern(at("path")),
            host: pattern(at("host")),
            status: items(at("status"))
                .filter_map(|s| match s {
                    Value::String(s) => StatusMatch::parse(s),
                    Value::Number(Number::Uint(n)) => u16::try_from(*n).ok().map(StatusMatch::Code),
                    _ => None,
                })
                .collect(),
            request_headers: header_patterns(at("request_headers")),
            response_headers: header_patterns(at("response_headers")),
            response_flags: strings(at("response_flags"))
                .iter()
                .filter_map(|f| crate::envoy::flag_bit(f))
                .fold(0, |a, b| a | b),
            code_details: pattern(at("code_details")),
            grpc_status: items(at("grpc_status")).map(|n| u32_(Some(n))).collect(),
        },
        event: variant(get(v, "event"), super::RULE_EVENTS)
            .and_then(|i| super::RULE_EVENTS.get(i))
            .and_then(|name| {
                crate::action::Action::ALL
                    .iter()
                    .find(|a| a.name() == *name)
                    .copied()
            })
            .unwrap_or(crate::action::Action::AuthnLoginAttempt),
        reason: string(get(v, "reason")).unwrap_or_default(),
        level: variant(get(v, "level"), Level::NAMES).and_then(|i| Level::ALL.get(i).copied()),
        capture: {
            let c = get(v, "capture");
            let at = |k: &str| c.and_then(|c| get(c, k));
            crate::rules::Capture {
                request_headers: strings(at("request_headers")),
                response_headers: strings(at("response_headers")),
                query: strings(at("query")),
                body: strings(at("body")),
            }
        },
    }
}

fn output(v: &Value) -> Output {
    Output {
        field_max_bytes: get(v, "field_max_bytes").map_or(1024, |v| usize_(Some(v))),
        sinks: match get(v, "sinks") {
            Some(sinks) => items(Some(sinks)).map(sink).collect(),
            None => vec![Sink {
                kind: SinkKind::EnvoyLog,
                format: Format::Ecs,
            }],
        },
        heartbeat_seconds: get(v, "heartbeat_seconds").map_or(1, |v| u32_(Some(v))),
        chain: get(v, "chain").map_or_else(crate::chain::ChainPolicy::default, |c| {
            let d = crate::chain::ChainPolicy::default();
            crate::chain::ChainPolicy {
                enabled: boolean(get(c, "enabled")),
                checkpoint_every: get(c, "checkpoint_every")
                    .map_or(d.checkpoint_every, |v| u32_(Some(v))),
                checkpoint_seconds: get(c, "checkpoint_seconds")
                    .map_or(d.checkpoint_seconds, |v| u32_(Some(v))),
                key_env: string(get(c, "key_env")),
            }
        }),
        sample: match get(v, "sample") {
            Some(Value::Object(members)) => members
                .iter()
                .filter_map(|(k, n)| {
                    let i = super::ACTIONS.iter().position(|a| a == k)?;
                    Some((*crate::action::Action::ALL.get(i)?, u32_(Some(n))))
                })
                .collect(),
            _ => Vec::new(),
        },
    }
}

fn sink(v: &Value) -> Sink {
    let kind = variant(get(v, "type"), SINK_KINDS).and_then(|i| SinkKind::ALL.get(i));
    let format = variant(get(v, "format"), FORMATS).and_then(|i| Format::ALL.get(i));
    Sink {
        kind: kind.copied().unwrap_or(SinkKind::EnvoyLog),
        format: format.copied().unwrap_or_default(),
    }
}

/// `detectors`: each member the document names replaces the base's (the baseline's).
fn detectors(v: &Value, base: Detectors) -> Detectors {
    Detectors {
        account: get(v, "account").map_or(base.account, |v| AccountBruteForce {
            enabled: boolean(get(v, "enabled")),
            max_failures: u32_(get(v, "max_failures")),
            window_seconds: u32_(get(v, "window_seconds")),
        }),
        stuffing: get(v, "stuffing").map_or(base.stuffing, |v| Stuffing {
            enabled: boolean(get(v, "enabled")),
            max_users: u32_(get(v, "max_users")),
            window_seconds: u32_(get(v, "window_seconds")),
        }),
        distributed: get(v, "distributed").map_or(base.distributed.clone(), |v| Distributed {
            enabled: boolean(get(v, "enabled")),
            window_seconds: u32_(get(v, "window_seconds")),
            min_failures: u32_(get(v, "min_failures")),
            factor: u32_(get(v, "factor")),
            warmup_windows: u32_(get(v, "warmup_windows")),
            max_growth_percent: u32_(get(v, "max_growth_percent")),
        }),
        success_after_fail: get(v, "success_after_fail").map_or(base.success_after_fail, |v| {
            SuccessAfterFail {
                enabled: boolean(get(v, "enabled")),
                min_failures: u32_(get(v, "min_failures")),
            }
        }),
        slots: get(v, "slots").map_or(base.slots, |v| u32_(Some(v))),
        alert_cap_per_window: get(v, "alert_cap_per_window")
            .map_or(base.alert_cap_per_window, |v| u32_(Some(v))),
        alert_cap_window_seconds: get(v, "alert_cap_window_seconds")
            .map_or(base.alert_cap_window_seconds, |v| u32_(Some(v))),
        signals: get(v, "signals").map_or(base.signals.clone(), |v| {
            let b = &base.signals;
            let n = |k: &str, d: u32| get(v, k).map_or(d, |x| u32_(Some(x)));
            crate::policy::Signals {
                window_seconds: n("window_seconds", b.window_seconds),
                excess_404: n("excess_404", b.excess_404),
                authz_failures: n("authz_failures", b.authz_failures),
                rate_limit_storm: n("rate_limit_storm", b.rate_limit_storm),
                attack_tool: get(v, "attack_tool").map_or(b.attack_tool, |x| boolean(Some(x))),
                slots: n("slots", b.slots),
            }
        }),
    }
}
