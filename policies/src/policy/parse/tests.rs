//! Tests of the policy walker: messages and paths, wrong types and nulls at every field,
//! unknown and missing fields at every object, defaults, and the extraction of every field.

#![allow(clippy::unwrap_used, clippy::panic)]
use super::super::*;
use super::{from_slice, FORMATS, SINK_KINDS};
use crate::presets::{baseline, OWASP_BASELINE};
use serde_json::{json, Value as J};

/// Parses over the baseline without validating, so that any value the types allow passes.
fn parse(doc: &str) -> Result<Policy, PolicyError> {
    from_slice(doc.as_bytes(), baseline(), false)
}

fn err(doc: &str) -> (String, String) {
    match Policy::from_json(doc.as_bytes()) {
        Ok(p) => panic!("{doc} parsed as {p:?}"),
        Err(e) => (e.path, e.problem),
    }
}

fn preset() -> J {
    serde_json::from_str(OWASP_BASELINE).unwrap()
}

/// Every location in `v` with its policy path, the document itself (`.`) first.
fn locations(v: &J, path: &str, out: &mut Vec<(String, Vec<PathStep>)>, at: &mut Vec<PathStep>) {
    out.push((path.to_owned(), at.clone()));
    let join = |k: &str| {
        if path == "." {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        J::Object(m) => {
            for (k, v) in m {
                at.push(PathStep::Key(k.clone()));
                locations(v, &join(k), out, at);
                at.pop();
            }
        }
        J::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                at.push(PathStep::Index(i));
                let p = if path == "." {
                    format!("[{i}]")
                } else {
                    format!("{path}[{i}]")
                };
                locations(v, &p, out, at);
                at.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at_mut<'v>(v: &'v mut J, steps: &[PathStep]) -> &'v mut J {
    steps.iter().fold(v, |v, s| match s {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

/// Fields that may be `null` (or absent): `null` means none.
const NULLABLE: &[&str] = &[
    "identity.jwt",
    "identity.login_body",
    "fingerprint.key",
    "fingerprint.key_env",
    "fingerprint.session_cookies",
];

#[test]
fn messages_follow_the_deserializer_wording() {
    let cases = [
        ("{}", ".", "missing field `version`"),
        ("[]", ".", "invalid type: sequence, expected struct Policy"),
        ("null", ".", "invalid type: null, expected struct Policy"),
        (r#"{"version":1,"nope":true}"#, "nope", "unknown field `nope`, expected one of `version`, `identity`, `login`, `admin`, `rate_limit`, `input_validation`, `brute_force`, `fingerprint`, `output`, `routes`, `detectors`, `preset`, `rules`, `redaction`"),
        (r#"{"version":1,"admin":{"a":1}}"#, "admin.a", "unknown field `a`, expected `path_prefixes`"),
        (r#"{"version":1,"output":{"sinks":[{"type":"envoy_log","x":1}]}}"#, "output.sinks[0].x", "unknown field `x`, expected `type` or `format`"),
        (r#"{"version":1,"login":{"methods":["POST"],"paths":5,"failure_statuses":[]}}"#, "login.paths", "invalid type: integer `5`, expected a sequence"),
        (r#"{"version":1,"login":{"methods":["POST"],"paths":[null],"failure_statuses":[]}}"#, "login.paths[0]", "invalid type: null, expected a string or a pattern object"),
        (r#"{"version":1,"login":{"methods":["POST"],"paths":["/a"]}}"#, "login", "missing field `failure_statuses`"),
        (r#"{"version":1,"login":{"methods":[],"paths":[],"failure_statuses":[70000]}}"#, "login.failure_statuses[0]", "invalid value: integer `70000`, expected u16"),
        (r#"{"version":1,"login":{"methods":[],"paths":[],"failure_statuses":[-1]}}"#, "login.failure_statuses[0]", "invalid value: integer `-1`, expected u16"),
        (r#"{"version":1,"login":{"methods":[],"paths":[],"failure_statuses":[1.5]}}"#, "login.failure_statuses[0]", "invalid type: floating point `1.5`, expected u16"),
        (r#"{"version":1,"login":{"methods":[],"paths":[],"failure_statuses":["x"]}}"#, "login.failure_statuses[0]", "invalid type: string \"x\", expected u16"),
        (r#"{"version":1,"login":{"methods":[],"paths":[],"failure_statuses":[{}]}}"#, "login.failure_statuses[0]", "invalid type: map, expected u16"),
        (r#"{"version":"1"}"#, "version", "invalid type: string \"1\", expected u32"),
        (r#"{"version":1.0}"#, "version", "invalid type: floating point `1.0`, expected u32"),
        (r#"{"version":4294967296}"#, "version", "invalid value: integer `4294967296`, expected u32"),
        (r#"{"version":99999999999999999999}"#, "version", "invalid value: integer `99999999999999999999`, expected u32"),
        (r#"{"version":true}"#, "version", "invalid type: boolean `true`, expected u32"),
        (r#"{"version":1,"identity":{"basic_auth":null}}"#, "identity.basic_auth", "invalid type: null, expected a boolean"),
        (r#"{"version":1,"identity":{"jwt":5,"basic_auth":true}}"#, "identity.jwt", "invalid type: integer `5`, expected struct JwtIdentity"),
        (r#"{"version":1,"identity":{"jwt":{},"basic_auth":true}}"#, "identity.jwt", "missing field `metadata_namespace`"),
        (r#"{"version":1,"identity":{"basic_auth":true,"login_body":{"fields":["u"],"max_scan_bytes":-5}}}"#, "identity.login_body.max_scan_bytes", "invalid value: integer `-5`, expected usize"),
        (r#"{"version":1,"output":{"sinks":[{"type":"syslog"}]}}"#, "output.sinks[0].type", "unknown variant `syslog`, expected `access_log` or `envoy_log`"),
        (r#"{"version":1,"output":{"sinks":[{"type":5}]}}"#, "output.sinks[0].type", "invalid type: integer `5`, expected `access_log` or `envoy_log`"),
        (r#"{"version":1,"output":{"sinks":[{"type":"envoy_log","format":"xml"}]}}"#, "output.sinks[0].format", "unknown variant `xml`, expected one of `ecs`, `ocsf`, `cef`, `owasp`"),
        (r#"{"version":1,"output":{"sinks":[{"type":"envoy_log","format":null}]}}"#, "output.sinks[0].format", "invalid type: null, expected one of `ecs`, `ocsf`, `cef`, `owasp`"),
        (r#"{"version":1,"output":{"sinks":[{"format":"ecs"}]}}"#, "output.sinks[0]", "missing field `type`"),
        (r#"{"version":1,"output":null}"#, "output", "invalid type: null, expected struct Output"),
        // Syntax errors name the path being read, and where.
        (r#"{"version":1,"login":{"paths":["/a",]}}"#, "login.paths", "trailing comma at line 1 column 37"),
        (r#"{"version":1,"version":1}"#, "version", "duplicate key `version` at line 1 column 14"),
        ("{\"version\":1} x", ".", "trailing characters at line 1 column 15"),
        ("{", ".", "EOF while parsing an object at line 1 column 2"),
        // Keys are echoed on one line.
        ("{\"version\":1,\"a\\nb\":1}", "a\\u{a}b", "unknown field `a\\u{a}b`, expected one of `version`, `identity`, `login`, `admin`, `rate_limit`, `input_validation`, `brute_force`, `fingerprint`, `output`, `routes`, `detectors`, `preset`, `rules`, `redaction`"),
    ];
    for (doc, path, problem) in cases {
        assert_eq!(err(doc), (path.to_owned(), problem.to_owned()), "{doc}");
    }
}

#[test]
fn the_first_problem_in_document_order_is_reported() {
    assert_eq!(err(r#"{"version":"x","nope":1}"#).0, "version");
    assert_eq!(err(r#"{"nope":1,"version":"x"}"#).0, "nope");
    // A missing field is reported once its object has been read.
    assert_eq!(err(r#"{"login":{"paths":5}}"#).0, "login.paths");
    assert_eq!(err(r#"{"login":5}"#).0, "login");
    assert_eq!(
        err(r#"{"login":{"paths":[]}}"#).1,
        "missing field `methods`"
    );
}

#[test]
fn wrong_types_and_nulls_at_every_field() {
    let base = preset();
    let mut all = Vec::new();
    locations(&base, ".", &mut all, &mut Vec::new());
    assert!(all.len() > 40, "{}", all.len());
    for (path, steps) in &all {
        let original = at_mut(&mut base.clone(), steps).clone();
        let wrong = match original {
            J::Bool(_) | J::Number(_) => vec![json!("x"), json!([])],
            // A route entry may be an object (a pattern): `{}` is a bad pattern there.
            J::String(_)
                if path.starts_with("login.paths[") || path.starts_with("admin.path_prefixes[") =>
            {
                vec![json!(5), json!(true)]
            }
            J::String(_) => vec![json!(5), json!(true), json!({})],
            J::Array(_) => vec![json!({}), json!("x")],
            J::Object(_) => vec![json!([]), json!(5)],
            J::Null => vec![],
        };
        for w in wrong.into_iter().chain([J::Null]) {
            let mut doc = base.clone();
            *at_mut(&mut doc, steps) = w.clone();
            let got = parse(&doc.to_string());
            if w.is_null() && NULLABLE.contains(&path.as_str()) {
                assert!(got.is_ok(), "{path} = null: {got:?}");
                continue;
            }
            let e = got.err().unwrap_or_else(|| panic!("{path} = {w} accepted"));
            assert_eq!(&e.path, path, "{path} = {w}: {e}");
            assert!(e.problem.starts_with("invalid type: "), "{path} = {w}: {e}");
        }
    }
}

#[test]
fn unknown_fields_at_every_object() {
    let base = preset();
    let mut all = Vec::new();
    locations(&base, ".", &mut all, &mut Vec::new());
    let mut objects = 0;
    for (path, steps) in &all {
        let mut doc = base.clone();
        let J::Object(m) = at_mut(&mut doc, steps) else {
            continue;
        };
        objects += 1;
        m.insert("zz".into(), json!(1));
        let e = parse(&doc.to_string()).unwrap_err();
        let want = if path == "." {
            "zz".to_owned()
        } else {
            format!("{path}.zz")
        };
        assert_eq!(e.path, want);
        assert!(
            e.problem.starts_with("unknown field `zz`, expected "),
            "{e}"
        );
    }
    assert_eq!(objects, 19);
}

#[test]
fn missing_fields_at_every_object() {
    const OPTIONAL: &[&str] = &[
        "identity.jwt",
        "identity.jwt.from_headers",
        "identity.jwt.from_params",
        "identity.jwt.from_cookies",
        "identity.login_body",
        "fingerprint.key_env",
        "fingerprint.session_cookies",
        "output.field_max_bytes",
        "output.sinks",
        "output.heartbeat_seconds",
        "output.sinks[0].format",
        "brute_force.ipv6_prefix",
        "detectors.account",
        "detectors.stuffing",
        "detectors.success_after_fail",
        "detectors.slots",
        "detectors.alert_cap_per_window",
        "detectors.alert_cap_window_seconds",
        "detectors.distributed",
        "detectors.signals",
        "detectors.signals.window_seconds",
        "detectors.signals.excess_404",
        "detectors.signals.authz_failures",
        "detectors.signals.rate_limit_storm",
        "detectors.signals.attack_tool",
        "detectors.signals.slots",
    ];
    let base = preset();
    let mut all = Vec::new();
    locations(&base, ".", &mut all, &mut Vec::new());
    for (path, steps) in &all {
        let Some((PathStep::Key(k), parent)) = steps.split_last() else {
            continue;
        };
        let mut doc = base.clone();
        at_mut(&mut doc, parent).as_object_mut().unwrap().remove(k);
        let got = parse(&doc.to_string());
        let section = parent.is_empty() && k != "version";
        if section || OPTIONAL.contains(&path.as_str()) {
            assert!(got.is_ok(), "without {path}: {got:?}");
            // The preset (every section required) refuses a missing section.
            let complete = from_slice(doc.to_string().as_bytes(), baseline(), true);
            assert_eq!(complete.is_err(), section, "{path}");
        } else {
            let e = got.unwrap_err();
            let parent_path = path.rsplit_once('.').map_or(".", |(p, _)| p);
            assert_eq!(
                (e.path.as_str(), e.problem),
                (parent_path, format!("missing field `{k}`"))
            );
        }
    }
}

/// The policy as the JSON it was read from.
fn to_json(p: &Policy) -> J {
    let i = &p.identity;
    json!({
        "version": p.version,
        "identity": {
            "jwt": i.jwt.as_ref().map(|j| json!({
                "metadata_namespace": j.metadata_namespace,
                "payload_key": j.payload_key,
                "claim": j.claim,
                "from_headers": j.from_headers,
                "from_params": j.from_params,
                "from_cookies": j.from_cookies,
            })),
            "basic_auth": i.basic_auth,
            "login_body": i.login_body.as_ref().map(|b| json!({
                "fields": b.fields, "max_scan_bytes": b.max_scan_bytes,
            })),
        },
        "login": {
            "methods": p.login.methods,
            "paths": p.login.paths.iter().map(crate::policy::Route::describe).collect::<Vec<_>>(),
            "failure_statuses": p.login.failure_statuses,
        },
        "admin": {"path_prefixes": p.admin.path_prefixes.iter().map(crate::policy::Route::describe).collect::<Vec<_>>()},
        "rate_limit": {
            "statuses": p.rate_limit.statuses,
            "response_flags": p.rate_limit.response_flags,
        },
        "input_validation": {"statuses": p.input_validation.statuses},
        "brute_force": {
            "enabled": p.brute_force.enabled,
            "max_failures": p.brute_force.max_failures,
            "window_seconds": p.brute_force.window_seconds,
            "slots": p.brute_force.slots,
            "ipv6_prefix": p.brute_force.ipv6_prefix,
        },
        "detectors": {
            "account": {
                "enabled": p.detectors.account.enabled,
                "max_failures": p.detectors.account.max_failures,
                "window_seconds": p.detectors.account.window_seconds,
            },
            "stuffing": {
                "enabled": p.detectors.stuffing.enabled,
                "max_users": p.detectors.stuffing.max_users,
                "window_seconds": p.detectors.stuffing.window_seconds,
            },
            "success_after_fail": {
                "enabled": p.detectors.success_after_fail.enabled,
                "min_failures": p.detectors.success_after_fail.min_failures,
            },
            "distributed": {
                "enabled": p.detectors.distributed.enabled,
                "window_seconds": p.detectors.distributed.window_seconds,
                "min_failures": p.detectors.distributed.min_failures,
                "factor": p.detectors.distributed.factor,
                "warmup_windows": p.detectors.distributed.warmup_windows,
                "max_growth_percent": p.detectors.distributed.max_growth_percent,
            },
            "slots": p.detectors.slots,
            "alert_cap_per_window": p.detectors.alert_cap_per_window,
            "alert_cap_window_seconds": p.detectors.alert_cap_window_seconds,
            "signals": {
                "window_seconds": p.detectors.signals.window_seconds,
                "excess_404": p.detectors.signals.excess_404,
                "authz_failures": p.detectors.signals.authz_failures,
                "rate_limit_storm": p.detectors.signals.rate_limit_storm,
                "attack_tool": p.detectors.signals.attack_tool,
                "slots": p.detectors.signals.slots,
            },
        },
        "fingerprint": {
            "key": p.fingerprint.key,
            "key_env": p.fingerprint.key_env,
            "session_cookies": p.fingerprint.session_cookies,
        },
        "output": {
            "field_max_bytes": p.output.field_max_bytes,
            "sinks": p.output.sinks.iter().map(|s| json!({
                "type": s.kind.name(), "format": s.format.name(),
            })).collect::<Vec<_>>(),
            "heartbeat_seconds": p.output.heartbeat_seconds,
        },
        "routes": {"case_insensitive": p.routes.case_insensitive},
        "rules": p.rules.iter().map(|r| json!({"name": r.name})).collect::<Vec<_>>(),
    })
}

#[test]
fn every_field_is_read_from_its_name() {
    let mut want = preset();
    want["fingerprint"]["key"] = J::Null;
    assert_eq!(to_json(&baseline()), want);
    // A policy where every value differs from the baseline's.
    let doc = json!({
        "version": 7,
        "identity": {
            "jwt": {"metadata_namespace": "ns", "payload_key": "pk", "claim": "c",
                    "from_headers": ["x-jwt"], "from_params": ["t"], "from_cookies": ["jwt"]},
            "basic_auth": false,
            "login_body": {"fields": ["u"], "max_scan_bytes": 64},
        },
        "login": {"methods": ["PUT", "GET"], "paths": ["/x"], "failure_statuses": [65535]},
        "admin": {"path_prefixes": ["/a", "/b"]},
        "rate_limit": {"statuses": [503], "response_flags": ["UO", "RL"]},
        "input_validation": {"statuses": []},
        "brute_force": {"enabled": false, "max_failures": 4294967295u32, "window_seconds": 2, "slots": 3, "ipv6_prefix": 255},
        "detectors": {
            "account": {"enabled": false, "max_failures": 11, "window_seconds": 12},
            "stuffing": {"enabled": false, "max_users": 13, "window_seconds": 14},
            "success_after_fail": {"enabled": false, "min_failures": 15},
            "distributed": {"enabled": false, "window_seconds": 31, "min_failures": 32, "factor": 33,
                            "warmup_windows": 34, "max_growth_percent": 35},
            "slots": 16, "alert_cap_per_window": 17, "alert_cap_window_seconds": 18,
            "signals": {"window_seconds": 19, "excess_404": 20, "authz_failures": 21,
                        "rate_limit_storm": 22, "attack_tool": false, "slots": 23},
        },
        "fingerprint": {"key": "k", "key_env": "E", "session_cookies": ["s"]},
        "output": {
            "field_max_bytes": 99,
            "sinks": [{"type": "access_log", "format": "ecs"}, {"type": "envoy_log", "format": "ecs"}],
            "heartbeat_seconds": 9,
        },
        "routes": {"case_insensitive": true},
        "rules": [{"name": "r1"}, {"name": "r2"}],
    });
    let mut with_rules = doc.clone();
    with_rules["rules"] = json!([
        {"name": "r1", "when": {}, "event": "authz_fail", "reason": "x"},
        {"name": "r2", "when": {}, "event": "authz_fail", "reason": "y"},
    ]);
    assert_eq!(to_json(&parse(&with_rules.to_string()).unwrap()), doc);
    assert_eq!(SinkKind::ALL.map(SinkKind::name), SINK_KINDS);
    assert_eq!(Format::ALL.map(Format::name), FORMATS);
}

#[test]
fn defaults() {
    let base = baseline();
    let p = parse(r#"{"version":1}"#).unwrap();
    assert_eq!(p, base);
    let p = parse(r#"{"version":1,"fingerprint":{},"output":{},"identity":{"basic_auth":true}}"#)
        .unwrap();
    assert_eq!(
        p.fingerprint,
        Fingerprint {
            key: None,
            key_env: None,
            session_cookies: vec![]
        }
    );
    assert_eq!(p.identity.jwt, None);
    assert_eq!(p.identity.login_body, None);
    assert_eq!(p.output.field_max_bytes, 1024);
    assert_eq!(p.output.heartbeat_seconds, 1);
    assert_eq!(
        p.output.sinks,
        vec![Sink {
            kind: SinkKind::EnvoyLog,
            format: Format::Ecs
        }]
    );
    assert_eq!(p.login, base.login);
    let p = parse(r#"{"version":1,"fingerprint":{"key":null,"key_env":null,"session_cookies":null},"identity":{"jwt":null,"basic_auth":true,"login_body":null}}"#).unwrap();
    assert_eq!(p.fingerprint.session_cookies, Vec::<String>::new());
    assert_eq!((p.identity.jwt, p.identity.login_body), (None, None));
    let p = parse(r#"{"version":1,"output":{"sinks":[{"type":"access_log"}]}}"#).unwrap();
    assert_eq!(p.output.sinks[0].format, Format::Ecs);
}

#[test]
fn integers_are_bounded_by_their_type() {
    let status = |n: &str| {
        parse(&format!(
            r#"{{"version":1,"input_validation":{{"statuses":[{n}]}}}}"#
        ))
    };
    assert_eq!(status("65535").unwrap().input_validation.statuses, [65535]);
    for n in ["65536", "-1", "-0", "18446744073709551616"] {
        assert!(
            status(n)
                .unwrap_err()
                .problem
                .starts_with("invalid value: integer"),
            "{n}"
        );
    }
    for n in ["1e2", "200.0", "-0.0"] {
        assert!(
            status(n)
                .unwrap_err()
                .problem
                .starts_with("invalid type: floating point"),
            "{n}"
        );
    }
    assert_eq!(
        parse(r#"{"version":4294967295}"#).unwrap().version,
        u32::MAX
    );
    let scan = |n: &str| {
        parse(&format!(
            r#"{{"version":1,"identity":{{"basic_auth":true,"login_body":{{"fields":[],"max_scan_bytes":{n}}}}}}}"#
        ))
    };
    assert_eq!(
        scan("4294967295")
            .unwrap()
            .identity
            .login_body
            .unwrap()
            .max_scan_bytes,
        4294967295
    );
}

#[test]
fn the_action_names_of_output_sample_are_the_actions() {
    let names: Vec<&str> = crate::action::Action::ALL
        .iter()
        .map(|a| a.name())
        .collect();
    assert_eq!(names, super::ACTIONS);
}

#[test]
fn output_sample_keys_are_actions_and_values_rates() {
    let p = Policy::from_json(
        br#"{"version":1,"output":{"sample":{"authn_login_success":10,"authz_admin":0}}}"#,
    )
    .unwrap();
    assert_eq!(
        p.output
            .sample_rate(crate::action::Action::AuthnLoginSuccess),
        10
    );
    assert_eq!(p.output.sample_rate(crate::action::Action::AuthzAdmin), 0);
    assert_eq!(
        p.output.sample_rate(crate::action::Action::AuthnLoginFail),
        1
    );
    let e = Policy::from_json(br#"{"version":1,"output":{"sample":{"authn_login_sucess":10}}}"#)
        .unwrap_err();
    assert_eq!(e.path, "output.sample.authn_login_sucess");
    let e =
        Policy::from_json(br#"{"version":1,"output":{"sample":{"authz_admin":-1}}}"#).unwrap_err();
    assert_eq!(e.path, "output.sample.authz_admin");
}

#[test]
fn a_policy_starts_from_the_preset_it_names() {
    use crate::action::Action;
    let lean = Policy::from_json(br#"{"version":1,"preset":"lean"}"#).unwrap();
    assert_eq!(lean.output.sample_rate(Action::AuthnLoginSuccess), 0);
    assert_eq!(lean.output.sample_rate(Action::AuthnLoginFail), 1);
    // Its own sections replace the preset's.
    let p = Policy::from_json(
        br#"{"version":1,"preset":"oauth-jwt-api","admin":{"path_prefixes":["/ops"]}}"#,
    )
    .unwrap();
    assert!(p.login.paths.iter().any(|x| *x == "/oauth/token"));
    assert_eq!(p.admin.path_prefixes, ["/ops"]);
    let e = Policy::from_json(br#"{"version":1,"preset":"strict"}"#).unwrap_err();
    assert_eq!(e.path, "preset");
    for name in crate::presets::NAMES {
        let p = crate::presets::by_name(name).unwrap();
        p.validate().unwrap();
    }
}

#[test]
fn the_flag_names_of_rules_are_envoys() {
    let names: Vec<&str> = crate::envoy::RESPONSE_FLAGS
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(names, super::FLAG_NAMES);
}

#[test]
fn rules_parse_and_bad_patterns_name_their_path() {
    use crate::rules::StatusMatch;
    let p = Policy::from_json(
        br#"{"version":1,"rules":[{"name":"legacy","when":{"methods":["POST"],"path":{"glob":"/legacy/*"},"status":["3xx",401],"response_headers":{"location":{"regex":"error"}},"response_flags":["UAEX"]},"event":"authn_login_fail","reason":"redirect_to_error","level":"critical"}]}"#,
    )
    .unwrap();
    let r = &p.rules[0];
    assert_eq!(
        r.when.status,
        [StatusMatch::Class(3), StatusMatch::Code(401)]
    );
    assert!(r.when.path.as_ref().unwrap().is_match(b"/legacy/login"));
    assert_eq!(r.when.response_flags, crate::envoy::FLAG_UAEX);
    let err = |doc: &str| Policy::from_json(doc.as_bytes()).unwrap_err();
    let e = err(
        r#"{"version":1,"rules":[{"name":"x","when":{"path":{"regex":"(a"}},"event":"authz_fail","reason":"r"}]}"#,
    );
    assert_eq!(e.path, "rules[0].when.path.regex", "{e}");
    let e = err(
        r#"{"version":1,"rules":[{"name":"x","when":{"path":{"wildcard":"*"}},"event":"authz_fail","reason":"r"}]}"#,
    );
    assert_eq!(e.path, "rules[0].when.path.wildcard", "{e}");
    let e = err(
        r#"{"version":1,"rules":[{"name":"x","when":{"status":["6xx"]},"event":"authz_fail","reason":"r"}]}"#,
    );
    assert_eq!(e.path, "rules[0].when.status[0]", "{e}");
    let e = err(
        r#"{"version":1,"rules":[{"name":"x","when":{},"event":"authn_login_fail_max","reason":"r"}]}"#,
    );
    assert_eq!(e.path, "rules[0].event", "{e}");
    let e = err(
        r#"{"version":1,"rules":[{"name":"x","when":{},"event":"authz_fail","reason":"Bad Reason"}]}"#,
    );
    assert_eq!(e.path, "rules[0].reason", "{e}");
    let e = err(
        r#"{"version":1,"rules":[{"name":"x","when":{"request_headers":{"X-Api":"a"}},"event":"authz_fail","reason":"r"}]}"#,
    );
    assert_eq!(e.path, "rules[0].when.request_headers.X-Api", "{e}");
    let e = err(
        r#"{"version":1,"rules":[{"name":"x","when":{},"event":"authz_fail","reason":"r"},{"name":"x","when":{},"event":"authz_fail","reason":"r"}]}"#,
    );
    assert_eq!(e.path, "rules[1].name", "{e}");
}

#[test]
fn redaction_parses_and_names_its_errors() {
    use crate::redact::Mode;
    let p = Policy::from_json(br#"{"version":1,"redaction":{"pii":false,"card_number":"drop","headers":{"x-tenant":"fingerprint"},"query":{"order":"mask"},"key_id":"k2"}}"#).unwrap();
    assert!(!p.redaction.pii);
    assert_eq!(p.redaction.card_number, Mode::Drop);
    assert_eq!(
        p.redaction.jwt,
        Mode::Mask,
        "unnamed members keep the baseline's"
    );
    assert_eq!(
        p.redaction.headers,
        [("x-tenant".to_string(), Mode::Fingerprint)]
    );
    assert_eq!(p.redaction.key_id, "k2");
    let err = |d: &str| Policy::from_json(d.as_bytes()).unwrap_err();
    assert_eq!(
        err(r#"{"version":1,"redaction":{"jwt":"erase"}}"#).path,
        "redaction.jwt"
    );
    assert_eq!(
        err(r#"{"version":1,"redaction":{"key_id":"a b"}}"#).path,
        "redaction.key_id"
    );
    assert_eq!(
        err(r#"{"version":1,"rules":[{"name":"x","when":{},"event":"authz_fail","reason":"r","capture":{"query":["a\"b"]}}]}"#).path,
        "rules[0].capture.query[0]"
    );
}
