//! Builds a [`Policy`] from a JSON document: strict, with the JSON path in every error.
//!
//! Three steps. [`crate::json`] reads the bytes into a [`Value`]. [`check`] then walks the
//! value against [`SCHEMA`], a table that says what every field must be; this is where all
//! errors come from. Members are visited in document order, so the first problem in the
//! document is the one reported; a missing field is reported once its object has been read;
//! an unknown field is an error naming the field (`brute_force.x`) and the allowed ones.
//! Messages follow the usual deserializer wording: ``invalid type: integer `5`, expected a
//! sequence``, ``missing field `version` ``, ``unknown variant `syslog`, expected
//! `access_log` or `envoy_log` ``. Finally [`policy`] builds the Rust structs from the
//! checked value, where nothing can fail any more; sections the document omits keep the
//! baseline's values, and optional fields take their defaults.
//!
//! The split is for size: one small interpreter of a static table instead of a decoder per
//! struct. A policy is read once, at configuration time, so speed does not matter.

use super::{Policy, PolicyError};
use crate::json::{self, Number, Segment, Value};

/// Parses a policy document. The sections it names replace `start`'s; with `complete` (the
/// presets), every section must be named.
pub(super) fn from_slice(
    bytes: &[u8],
    start: Policy,
    complete: bool,
) -> Result<Policy, PolicyError> {
    let v = json::parse(bytes).map_err(|e| PolicyError::at(e.path(), e.to_string()))?;
    let mut errs = Vec::new();
    schema_errors(&v, complete, &mut errs);
    match errs.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(policy(&v, preset_start(&v, start))),
    }
}

/// The policy a document's sections replace: the preset it names, else `start`.
fn preset_start(v: &Value, start: Policy) -> Policy {
    match build::get(v, "preset") {
        Some(Value::String(name)) => crate::presets::by_name(name).unwrap_or(start),
        _ => start,
    }
}

fn schema_errors(v: &Value, complete: bool, errs: &mut Vec<PolicyError>) {
    let required = if complete {
        SCHEMA.every() & !OPTIONAL_IN_PRESETS
    } else {
        SCHEMA.required
    };
    object(v, &SCHEMA, required, &Path::Root, errs);
}

/// Every problem of a policy document, in document order (syntax, then types, then what
/// the types alone cannot catch), for `vigil check`: empty when the policy is good.
pub(super) fn all_errors(bytes: &[u8], start: Policy) -> Vec<PolicyError> {
    let v = match json::parse(bytes) {
        Ok(v) => v,
        Err(e) => return vec![PolicyError::at(e.path(), e.to_string())],
    };
    let mut errs = Vec::new();
    schema_errors(&v, false, &mut errs);
    if errs.is_empty() {
        errs = policy(&v, preset_start(&v, start)).problems();
    }
    errs
}

/// What a value must be.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Str,
    /// A non-negative integer up to the maximum; the name is the type's, for errors.
    Int(&'static str, u64),
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// An array of the kind.
    List(&'static Kind),
    /// `null`, or the kind.
    Nullable(&'static Kind),
    Object(&'static Schema),
    /// An object whose keys are among these names (any key when there are none), each
    /// value of the kind.
    Map(&'static [&'static str], &'static Kind),
    /// A pattern ([`crate::pattern`]): a string (exact), or one of `{"exact": s}`,
    /// `{"prefix": s}`, `{"glob": s}`, `{"regex": s}` (compiled here, so a bad one is an
    /// error at its path).
    Pattern,
    /// A status: a code (`401`) or a class (`"4xx"`).
    Status,
}

/// What an object must be.
struct Schema {
    /// The type's name, for errors: `struct Login`.
    name: &'static str,
    /// Its fields, in declaration order.
    fields: &'static [(&'static str, Kind)],
    /// The fields that must be present, as bits by index (an absent field takes a default).
    required: u32,
}

impl Schema {
    /// Every field required.
    const fn every(&self) -> u32 {
        (1 << self.fields.len()) - 1
    }
}

const STR: Kind = Kind::Str;
const STRINGS: Kind = Kind::List(&STR);
const PATTERN: Kind = Kind::Pattern;
/// Route lists: strings (their plain meaning) or pattern objects.
const PATTERNS: Kind = Kind::List(&PATTERN);
const U8: Kind = Kind::Int("u8", u8::MAX as u64);
const U16: Kind = Kind::Int("u16", u16::MAX as u64);
const U32: Kind = Kind::Int("u32", u32::MAX as u64);
const USIZE: Kind = Kind::Int("usize", usize::MAX as u64);
const STATUSES: Kind = Kind::List(&U16);
/// [`SinkKind::name`] of each of [`SinkKind::ALL`].
const SINK_KINDS: &[&str] = &["access_log", "envoy_log"];
/// [`Format::name`] of each of [`Format::ALL`].
const FORMATS: &[&str] = &["ecs", "ocsf", "cef", "owasp"];

/// The policy. Only `version` is required: a missing section takes the baseline's value.
const SCHEMA: Schema = Schema {
    name: "struct Policy",
    fields: &[
        ("version", U32),
        ("identity", Kind::Object(&IDENTITY)),
        ("login", Kind::Object(&LOGIN)),
        ("admin", Kind::Object(&ADMIN)),
        ("rate_limit", Kind::Object(&RATE_LIMIT)),
        ("input_validation", Kind::Object(&INPUT_VALIDATION)),
        ("brute_force", Kind::Object(&BRUTE_FORCE)),
        ("fingerprint", Kind::Object(&FINGERPRINT)),
        ("output", Kind::Object(&OUTPUT)),
        ("routes", Kind::Object(&ROUTES)),
        ("detectors", Kind::Object(&DETECTORS)),
        ("preset", Kind::Enum(crate::presets::NAMES)),
        ("rules", Kind::List(&Kind::Object(&RULE))),
        ("redaction", Kind::Object(&REDACTION)),
    ],
    required: 0b1,
};

/// The root fields a complete document (a preset) need not name: `preset`, `redaction`.
const OPTIONAL_IN_PRESETS: u32 = PRESET_BIT | (1 << 13);

const MODE: Kind = Kind::Enum(crate::redact::Mode::NAMES);

const REDACTION: Schema = Schema {
    name: "struct Redaction",
    fields: &[
        ("pii", Kind::Bool),
        ("jwt", MODE),
        ("bearer", MODE),
        ("card_number", MODE),
        ("email", MODE),
        ("headers", Kind::Map(&[], &MODE)),
        ("query", Kind::Map(&[], &MODE)),
        ("body", Kind::Map(&[], &MODE)),
        ("key_id", STR),
    ],
    required: 0,
};

const CAPTURE: Schema = Schema {
    name: "struct Capture",
    fields: &[
        ("request_headers", STRINGS),
        ("response_headers", STRINGS),
        ("query", STRINGS),
        ("body", STRINGS),
    ],
    required: 0,
};

const RULE: Schema = Schema {
    name: "struct Rule",
    fields: &[
        ("name", STR),
        ("when", Kind::Object(&WHEN)),
        ("event", Kind::Enum(RULE_EVENTS)),
        ("reason", STR),
        ("level", Kind::Enum(crate::rules::Level::NAMES)),
        ("capture", Kind::Object(&CAPTURE)),
    ],
    required: 0b001111,
};

const WHEN: Schema = Schema {
    name: "struct When",
    fields: &[
        ("methods", STRINGS),
        ("path", Kind::Pattern),
        ("host", Kind::Pattern),
        ("status", Kind::List(&Kind::Status)),
        ("request_headers", Kind::Map(&[], &Kind::Pattern)),
        ("response_headers", Kind::Map(&[], &Kind::Pattern)),
        ("response_flags", Kind::List(&Kind::Enum(FLAG_NAMES))),
        ("code_details", Kind::Pattern),
        ("grpc_status", Kind::List(&U32)),
    ],
    required: 0,
};

/// The actions a rule may yield: every event action but the detectors' alerts.
pub(super) const RULE_EVENTS: &[&str] = &[
    "authn_login_success",
    "authn_login_fail",
    "authn_login_attempt",
    "authn_token_invalid",
    "authz_fail",
    "authz_admin",
    "excess_rate_limit_exceeded",
    "input_validation_fail",
];

/// Envoy's short response flag names ([`crate::envoy::RESPONSE_FLAGS`] order; a test keeps
/// them equal).
pub(super) const FLAG_NAMES: &[&str] = &[
    "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC",
    "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO", "DR",
    "UDO",
];

/// The kinds of pattern, as a pattern object names them.
const PATTERN_KINDS: &[&str] = &["exact", "prefix", "glob", "regex"];

/// Compiles a checked pattern value (a string, or a one-member object).
pub(super) fn pattern(v: &Value) -> Result<crate::pattern::Pattern, (String, String)> {
    use crate::pattern::Pattern;
    match v {
        Value::String(s) => Ok(Pattern::exact(s)),
        Value::Object(members) => match members.as_slice() {
            [(k, Value::String(s))] => match k.as_str() {
                "exact" => Ok(Pattern::exact(s)),
                "prefix" => Ok(Pattern::prefix(s)),
                "glob" => Pattern::glob(s).map_err(|e| (k.clone(), format!("invalid glob: {e}"))),
                "regex" => {
                    Pattern::regex(s).map_err(|e| (k.clone(), format!("invalid regex: {e}")))
                }
                _ => Err((k.clone(), String::new())),
            },
            _ => Err((String::new(), String::new())),
        },
        _ => Err((String::new(), String::new())),
    }
}

/// The root field a complete document (a preset) does not name: `preset`.
const PRESET_BIT: u32 = 1 << 11;

const ROUTES: Schema = Schema {
    name: "struct Routes",
    fields: &[("case_insensitive", Kind::Bool)],
    required: 0b1,
};

const IDENTITY: Schema = Schema {
    name: "struct Identity",
    fields: &[
        ("jwt", Kind::Nullable(&Kind::Object(&JWT))),
        ("basic_auth", Kind::Bool),
        ("login_body", Kind::Nullable(&Kind::Object(&LOGIN_BODY))),
    ],
    required: 0b010,
};

const JWT: Schema = Schema {
    name: "struct JwtIdentity",
    fields: &[
        ("metadata_namespace", STR),
        ("payload_key", STR),
        ("claim", STR),
        ("from_headers", STRINGS),
        ("from_params", STRINGS),
        ("from_cookies", STRINGS),
    ],
    required: 0b000111,
};

const LOGIN_BODY: Schema = Schema {
    name: "struct LoginBody",
    fields: &[
        ("fields", STRINGS),
        ("max_scan_bytes", USIZE),
        ("duplicates", Kind::Enum(DUPLICATES)),
    ],
    required: 0b011,
};

/// `identity.login_body.duplicates`, in [`super::Duplicates::ALL`] order.
pub(super) const DUPLICATES: &[&str] = &["ambiguous", "first", "last"];

const LOGIN: Schema = Schema {
    name: "struct Login",
    fields: &[
        ("methods", STRINGS),
        ("paths", PATTERNS),
        ("failure_statuses", STATUSES),
    ],
    required: 0b111,
};

const ADMIN: Schema = Schema {
    name: "struct Admin",
    fields: &[("path_prefixes", PATTERNS)],
    required: 0b1,
};

const RATE_LIMIT: Schema = Schema {
    name: "struct RateLimit",
    fields: &[("statuses", STATUSES), ("response_flags", STRINGS)],
    required: 0b11,
};

const INPUT_VALIDATION: Schema = Schema {
    name: "struct InputValidation",
    fields: &[("statuses", STATUSES)],
    required: 0b1,
};

const BRUTE_FORCE: Schema = Schema {
    name: "struct BruteForce",
    fields: &[
        ("enabled", Kind::Bool),
        ("max_failures", U32),
        ("window_seconds", U32),
        ("slots", U32),
        ("ipv6_prefix", U8),
    ],
    required: 0b01111,
};

const DETECTORS: Schema = Schema {
    name: "struct Detectors",
    fields: &[
        ("account", Kind::Object(&ACCOUNT)),
        ("stuffing", Kind::Object(&STUFFING)),
        ("success_after_fail", Kind::Object(&SUCCESS_AFTER_FAIL)),
        ("distributed", Kind::Object(&DISTRIBUTED)),
        ("slots", U32),
        ("alert_cap_per_window", U32),
        ("alert_cap_window_seconds", U32),
        ("signals", Kind::Object(&SIGNALS)),
    ],
    required: 0,
};

const SIGNALS: Schema = Schema {
    name: "struct Signals",
    fields: &[
        ("window_seconds", U32),
        ("excess_404", U32),
        ("authz_failures", U32),
        ("rate_limit_storm", U32),
        ("attack_tool", Kind::Bool),
        ("slots", U32),
    ],
    required: 0,
};

const ACCOUNT: Schema = Schema {
    name: "struct AccountBruteForce",
    fields: &[
        ("enabled", Kind::Bool),
        ("max_failures", U32),
        ("window_seconds", U32),
    ],
    required: 0b111,
};

const STUFFING: Schema = Schema {
    name: "struct Stuffing",
    fields: &[
        ("enabled", Kind::Bool),
        ("max_users", U32),
        ("window_seconds", U32),
    ],
    required: 0b111,
};

const DISTRIBUTED: Schema = Schema {
    name: "struct Distributed",
    fields: &[
        ("enabled", Kind::Bool),
        ("window_seconds", U32),
        ("min_failures", U32),
        ("factor", U32),
        ("warmup_windows", U32),
        ("max_growth_percent", U32),
    ],
    required: 0b11_1111,
};

const SUCCESS_AFTER_FAIL: Schema = Schema {
    name: "struct SuccessAfterFail",
    fields: &[("enabled", Kind::Bool), ("min_failures", U32)],
    required: 0b11,
};

const FINGERPRINT: Schema = Schema {
    name: "struct Fingerprint",
    fields: &[
        ("key", Kind::Nullable(&STR)),
        ("key_env", Kind::Nullable(&STR)),
        ("session_cookies", Kind::Nullable(&STRINGS)),
    ],
    required: 0,
};

const OUTPUT: Schema = Schema {
    name: "struct Output",
    fields: &[
        ("field_max_bytes", USIZE),
        ("sinks", Kind::List(&Kind::Object(&SINK))),
        ("heartbeat_seconds", U32),
        ("sample", Kind::Map(ACTIONS, &U32)),
        ("chain", Kind::Object(&CHAIN)),
    ],
    required: 0,
};

const CHAIN: Schema = Schema {
    name: "struct Chain",
    fields: &[
        ("enabled", Kind::Bool),
        ("checkpoint_every", U32),
        ("checkpoint_seconds", U32),
        ("key_env", Kind::Nullable(&STR)),
    ],
    required: 0b1,
};

/// Every action's name, in [`crate::action::Action::ALL`] order (a test keeps them equal).
pub(super) const ACTIONS: &[&str] = &[
    "authn_login_success",
    "authn_login_fail",
    "authn_login_attempt",
    "authn_login_fail_max",
    "authn_token_invalid",
    "authz_fail",
    "authz_admin",
    "excess_rate_limit_exceeded",
    "input_validation_fail",
    "authn_login_stuffing",
    "authn_login_successafterfail",
    "malicious_excess_404",
    "authz_fail_max",
    "excess_rate_limit_storm",
    "malicious_attack_tool",
    "authn_login_stuffing_distributed",
    "vigil_chain_start",
    "vigil_chain_checkpoint",
];

const SINK: Schema = Schema {
    name: "struct Sink",
    fields: &[
        ("type", Kind::Enum(SINK_KINDS)),
        ("format", Kind::Enum(FORMATS)),
    ],
    required: 0b01,
};

/// Where a value sits in the document.
enum Path<'a> {
    Root,
    Child(&'a Path<'a>, Segment<'a>),
}

impl Path<'_> {
    fn render_into(&self, out: &mut String) {
        if let Path::Child(parent, seg) = self {
            parent.render_into(out);
            json::push_segment(out, *seg);
        }
    }

    #[cold]
    #[inline(never)]
    fn error(&self, problem: String) -> PolicyError {
        let mut path = String::new();
        self.render_into(&mut path);
        if path.is_empty() {
            path.push('.');
        }
        PolicyError::at(path, problem)
    }
}

/// What a value is, for "invalid type" messages.
fn unexpected(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(Number::Uint(n)) => format!("integer `{n}`"),
        Value::Number(Number::Int(n)) => format!("integer `-{}`", n.unsigned_abs()),
        Value::Number(Number::Other(t)) if Number::is_integer_literal(t) => {
            format!("integer `{t}`")
        }
        Value::Number(Number::Other(t)) => format!("floating point `{t}`"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "sequence".into(),
        Value::Object(_) => "map".into(),
    }
}

/// ``invalid type: integer `5`, expected a string``, or ``invalid value: ...``.
#[cold]
#[inline(never)]
fn invalid(what: &str, v: &Value, p: &Path<'_>, expected: &str) -> PolicyError {
    p.error(format!(
        "invalid {what}: {}, expected {expected}",
        unexpected(v)
    ))
}

/// `` `a` ``, `` `a` or `b` ``, `` one of `a`, `b`, `c` ``.
fn alternatives(names: &[&str]) -> String {
    let mut s = String::new();
    if names.len() > 2 {
        s.push_str("one of ");
    }
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            s.push_str(if names.len() == 2 { " or " } else { ", " });
        }
        s.push('`');
        s.push_str(n);
        s.push('`');
    }
    s
}

/// ``unknown field `x`, expected one of `a`, `b`, `c` ``.
#[cold]
#[inline(never)]
fn unknown(what: &str, got: &str, names: &[&str], p: &Path<'_>) -> PolicyError {
    let mut s = format!("unknown {what} `");
    json::push_escaped(&mut s, got);
    s.push_str("`, expected ");
    s.push_str(&alternatives(names));
    p.error(s)
}

/// Checks `v` against `kind`, noting every problem in `errs`.
fn check(v: &Value, kind: Kind, p: &Path<'_>, errs: &mut Vec<PolicyError>) {
    let r = match (kind, v) {
        (Kind::Bool, Value::Bool(_)) | (Kind::Str, Value::String(_)) => Ok(()),
        (Kind::Bool, _) => Err(invalid("type", v, p, "a boolean")),
        (Kind::Str, _) => Err(invalid("type", v, p, "a string")),
        (Kind::Int(_, max), Value::Number(Number::Uint(n))) if *n <= max => Ok(()),
        (Kind::Int(name, _), Value::Number(n)) => match n {
            Number::Other(t) if !Number::is_integer_literal(t) => Err(invalid("type", v, p, name)),
            _ => Err(invalid("value", v, p, name)),
        },
        (Kind::Int(name, _), _) => Err(invalid("type", v, p, name)),
        (Kind::Enum(names), Value::String(s)) if names.contains(&s.as_str()) => Ok(()),
        (Kind::Enum(names), Value::String(s)) => Err(unknown("variant", s, names, p)),
        (Kind::Enum(names), _) => Err(invalid("type", v, p, &alternatives(names))),
        (Kind::List(item), Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                check(v, *item, &Path::Child(p, Segment::Index(i)), errs);
            }
            Ok(())
        }
        (Kind::List(_), _) => Err(invalid("type", v, p, "a sequence")),
        (Kind::Nullable(_), Value::Null) => Ok(()),
        (Kind::Nullable(kind), _) => {
            check(v, *kind, p, errs);
            Ok(())
        }
        (Kind::Object(schema), _) => {
            object(v, schema, schema.required, p, errs);
            Ok(())
        }
        (Kind::Pattern, Value::String(_)) => Ok(()),
        (Kind::Pattern, Value::Object(members)) => match members.as_slice() {
            [(k, val)] if PATTERN_KINDS.contains(&k.as_str()) => {
                let at = Path::Child(p, Segment::Key(k));
                match val {
                    Value::String(_) => match pattern(v) {
                        Ok(_) => Ok(()),
                        Err((_, msg)) => Err(at.error(msg)),
                    },
                    _ => Err(invalid("type", val, &at, "a string")),
                }
            }
            [(k, _)] => Err(unknown(
                "pattern kind",
                k,
                PATTERN_KINDS,
                &Path::Child(p, Segment::Key(k)),
            )),
            _ => Err(p.error(
                "a pattern object has exactly one of `exact`, `prefix`, `glob`, `regex`"
                    .to_string(),
            )),
        },
        (Kind::Pattern, _) => Err(invalid("type", v, p, "a string or a pattern object")),
        (Kind::Status, Value::Number(Number::Uint(n))) if (100..=599).contains(n) => Ok(()),
        (Kind::Status, Value::String(s)) if crate::rules::StatusMatch::parse(s).is_some() => Ok(()),
        (Kind::Status, _) => Err(invalid(
            "value",
            v,
            p,
            "a status code (`401`) or class (`\"4xx\"`)",
        )),
        (Kind::Map(keys, kind), Value::Object(members)) => {
            for (k, v) in members {
                let at = Path::Child(p, Segment::Key(k));
                if keys.is_empty() || keys.contains(&k.as_str()) {
                    check(v, *kind, &at, errs);
                } else {
                    errs.push(unknown("key", k, keys, &at));
                }
            }
            Ok(())
        }
        (Kind::Map(..), _) => Err(invalid("type", v, p, "a map")),
    };
    if let Err(e) = r {
        errs.push(e);
    }
}

/// Checks the object `v` against `schema`, in document order; the fields in `required`
/// (bits, by index) must be present. Every problem is noted in `errs`.
fn object(v: &Value, schema: &Schema, required: u32, p: &Path<'_>, errs: &mut Vec<PolicyError>) {
    let Value::Object(members) = v else {
        errs.push(invalid("type", v, p, schema.name));
        return;
    };
    let mut seen = 0u32;
    for (k, v) in members {
        let at = Path::Child(p, Segment::Key(k));
        let Some((i, (_, kind))) = schema.fields.iter().enumerate().find(|(_, f)| f.0 == k) else {
            let names: Vec<&str> = schema.fields.iter().map(|f| f.0).collect();
            errs.push(unknown("field", k, &names, &at));
            continue;
        };
        seen |= 1 << i;
        check(v, *kind, &at, errs);
    }
    for (i, (name, _)) in schema.fields.iter().enumerate() {
        if required & !seen & (1 << i) != 0 {
            errs.push(p.error(format!("missing field `{name}`")));
        }
    }
}

mod build;
use build::policy;

#[cfg(test)]
mod tests;
