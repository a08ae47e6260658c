//! The policy schema: what to classify, what to redact, when to alert.
//!
//! A policy is JSON, versioned (`"version": 1`) and strict: unknown fields are rejected, and
//! every error names the JSON path of the offending field (e.g. `login.paths[2]`). The
//! baseline preset ([`crate::presets::OWASP_BASELINE`]) lists every field explicitly; in a
//! user's policy, every section except `version` may be omitted and takes the baseline's value.
//!
//! | field | meaning |
//! |---|---|
//! | `version` | must be `1` |
//! | `identity.jwt` | where jwt_authn's `payload_in_metadata` lives: `metadata_namespace` (filter name), `payload_key`, and the `claim` that names the user (`""`: the key itself is the user, a flat string, as the dynamic module needs); where jwt_authn finds tokens (`from_headers`, `from_params`, `from_cookies`, as in its providers; default `["authorization"]`, `["access_token"]`, `[]`): the claim is read only when the request carries one; `null` disables |
//! | `identity.basic_auth` | take the user from an HTTP Basic `Authorization` header (the password is never read into an event) |
//! | `identity.login_body` | on login routes, scan the first `max_scan_bytes` of a form or JSON body for the first of `fields` (a top-level field: the value the backend uses); `duplicates`: `ambiguous` (default: the first value, marked `vigil.user.ambiguous` when a repeat differs), `first` or `last`, as the backend's framework reads a repeated field |
//! | `login` | login routes: `methods`, `paths` (exact paths without query, or pattern objects: [`Route`]), `failure_statuses`; 2xx is success, any other status is outcome `unknown` |
//! | `admin.path_prefixes` | a 2xx response under these prefixes (segment-aware strings, or pattern objects: [`Route`]) is an `authz_admin` event |
//! | `rate_limit` | `statuses` and Envoy `response_flags` (short names) that mean "rate limited" |
//! | `input_validation.statuses` | statuses that mean the input was rejected |
//! | `brute_force` | per source sliding window: more than `max_failures` login failures within `window_seconds` raises an alert; the source is the IP, or for IPv6 its `ipv6_prefix`-bit prefix (default 64); `slots` is the size of the shared source table (buckets of 4 entries, [`crate::detect::table`]) |
//! | `detectors.account` | per account (the claimed user name, from any source): more than `max_failures` within `window_seconds` raises `authn_login_fail_max` |
//! | `detectors.stuffing` | per source: more than `max_users` distinct user names failing within `window_seconds` raises `authn_login_stuffing` |
//! | `detectors.success_after_fail` | a login success for a source or account with at least `min_failures` failures in that detector's window raises `authn_login_successafterfail` |
//! | `detectors.slots` | size of the shared account table |
//! | `detectors.alert_cap_per_window`, `detectors.alert_cap_window_seconds` | at most this many detector alerts per window over all workers; the rest are counted (`vigil.alerts_suppressed.global_cap`) |
//! | `fingerprint` | HMAC-SHA256 key for fingerprints: `key` (inline) or `key_env` (VM environment variable); `session_cookies` names the cookies that carry a session |
//! | `routes.case_insensitive` | compare request paths with `login.paths` and `admin.path_prefixes` ignoring ASCII case (default false); both sides are normalized first ([`crate::route`]: unreserved escapes decoded once, path parameters, repeated slashes, dot segments and a trailing slash removed) |
//! | `output.field_max_bytes` | cap on each logged string value (default 1024) |
//! | `output.sinks` | where events go, each `{"type": "access_log" \| "envoy_log", "format": "ecs"}`; default `[{"type": "envoy_log"}]` |
//! | `output.heartbeat_seconds` | liveness gauges and counter flushes, per worker, in seconds (default 1) |

use crate::envoy::flag_bit;
use crate::pattern::Pattern;

mod parse;
mod validate;

/// A parsed, validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Schema version; must be 1.
    pub version: u32,
    /// Where the user's identity comes from.
    pub identity: Identity,
    /// Login routes.
    pub login: Login,
    /// Admin routes.
    pub admin: Admin,
    /// What counts as rate limited.
    pub rate_limit: RateLimit,
    /// What counts as rejected input.
    pub input_validation: InputValidation,
    /// Brute-force detection per source.
    pub brute_force: BruteForce,
    /// The other detectors, and the global alert cap.
    pub detectors: Detectors,
    /// Keyed fingerprints.
    pub fingerprint: Fingerprint,
    /// Output limits.
    pub output: Output,
    /// How request paths are matched against route lists.
    pub routes: Routes,
    /// The policy's own classification rules, before the built-in one ([`crate::rules`]).
    pub rules: Vec<crate::rules::Rule>,
    /// What never reaches an event ([`crate::redact`]).
    pub redaction: crate::redact::Redaction,
}

/// `routes`: how request paths are compared with `login.paths` and `admin.path_prefixes`
/// (both normalized, see [`crate::route`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routes {
    /// Compare paths ignoring ASCII case (for backends that route case-insensitively).
    pub case_insensitive: bool,
}

/// `identity`: sources of `user.name`, in order of trust.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// A verified JWT's claim, from jwt_authn's `payload_in_metadata`.
    pub jwt: Option<JwtIdentity>,
    /// The HTTP Basic user name.
    pub basic_auth: bool,
    /// The login body's user field.
    pub login_body: Option<LoginBody>,
}

/// `identity.jwt`.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtIdentity {
    /// The dynamic-metadata namespace jwt_authn writes (its filter name).
    pub metadata_namespace: String,
    /// jwt_authn's `payload_in_metadata` key.
    pub payload_key: String,
    /// The claim that names the user (a top-level string claim); empty: the `payload_key`
    /// itself holds the user, as a flat string (what the dynamic module can read).
    pub claim: String,
    /// Where jwt_authn looks for tokens, as its providers' `from_headers`, `from_params` and
    /// `from_cookies` say (default: jwt_authn's own, `authorization` and `access_token`).
    /// jwt_authn writes its payload only after verifying a token it found there, so Vigil
    /// reads the claim (a property read, the dearest hostcall) only when the request
    /// carries one of them.
    pub from_headers: Vec<String>,
    /// Query parameters that carry tokens.
    pub from_params: Vec<String>,
    /// Cookies that carry tokens.
    pub from_cookies: Vec<String>,
}

/// `identity.login_body`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginBody {
    /// Field names that carry the user name, first match wins.
    pub fields: Vec<String>,
    /// How much of the body is scanned (the request is never held back).
    pub max_scan_bytes: usize,
    /// Which of a repeated field the backend uses (`identity.login_body.duplicates`).
    pub duplicates: Duplicates,
}

/// A login field given twice: frameworks disagree (Flask and Spring take the first, Django
/// and PHP the last, Express makes a list), so the policy says which the backend uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// The first value, marked `vigil.user.ambiguous` when a later one differs (default).
    #[default]
    Ambiguous,
    /// The first value (Flask, Spring).
    First,
    /// The last value (Django, PHP).
    Last,
}

impl Duplicates {
    /// Every variant, in the order of their names in the policy.
    pub const ALL: [Duplicates; 3] = [Duplicates::Ambiguous, Duplicates::First, Duplicates::Last];
}

/// `login`.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    /// HTTP methods of login requests.
    pub methods: Vec<String>,
    /// Login routes: exact paths (without query), or patterns.
    pub paths: Vec<Route>,
    /// Statuses that mean the login failed.
    pub failure_statuses: Vec<u16>,
}

/// One entry of `login.paths` or `admin.path_prefixes`: a plain string keeps its meaning
/// (an exact login path; a segment-aware admin prefix, `/admin` covering `/admin/x` but not
/// `/administrator`), an object is a pattern ([`crate::pattern`]: `exact`, `prefix` (bytes),
/// `glob`, `regex`). Both are matched against the normalized request path; `exact` and
/// `prefix` strings are normalized like the path, globs and regexes are not (write them for
/// the normalized, and with `routes.case_insensitive` lower-case, path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A plain string.
    Path(String),
    /// A pattern object.
    Pattern(Pattern),
}

impl Route {
    /// The entry as the policy wrote it (`/login`, `{"glob": "/api/*/login"}`).
    pub fn describe(&self) -> String {
        match self {
            Route::Path(p) => p.clone(),
            Route::Pattern(p) => p.describe(),
        }
    }
}

impl PartialEq<&str> for Route {
    fn eq(&self, other: &&str) -> bool {
        matches!(self, Route::Path(p) if p == other)
    }
}

/// `admin`.
#[derive(Debug, Clone, PartialEq)]
pub struct Admin {
    /// Administrative routes: path prefixes (segment-aware), or patterns.
    pub path_prefixes: Vec<Route>,
}

/// `rate_limit`.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    /// Statuses that mean rate limited.
    pub statuses: Vec<u16>,
    /// Envoy response flags (short names, e.g. `RL`) that mean rate limited.
    pub response_flags: Vec<String>,
}

/// `input_validation`.
#[derive(Debug, Clone, PartialEq)]
pub struct InputValidation {
    /// Statuses that mean the request's input was rejected.
    pub statuses: Vec<u16>,
}

/// `brute_force`.
#[derive(Debug, Clone, PartialEq)]
pub struct BruteForce {
    /// Whether the detector runs.
    pub enabled: bool,
    /// Failures allowed in the window; the next one raises the alert.
    pub max_failures: u32,
    /// Sliding window length.
    pub window_seconds: u32,
    /// Buckets of the fixed shared-data source table (4 tracked sources each).
    pub slots: u32,
    /// IPv6 sources are counted per prefix of this many bits (an attacker holds a whole
    /// /64); IPv4 per address.
    pub ipv6_prefix: u8,
}

/// `detectors`: the detectors beside per-source brute force ([`crate::detect`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Detectors {
    /// Brute force per account.
    pub account: AccountBruteForce,
    /// Credential stuffing per source.
    pub stuffing: Stuffing,
    /// Success after failures.
    pub success_after_fail: SuccessAfterFail,
    /// Distributed stuffing: the site's login-failure rate against its baseline.
    pub distributed: Distributed,
    /// Buckets of the shared account table (4 tracked accounts each).
    pub slots: u32,
    /// Detector alerts allowed per cap window, over all workers.
    pub alert_cap_per_window: u32,
    /// The cap's window.
    pub alert_cap_window_seconds: u32,
    /// Detectors of other signals per source, on every request ([`crate::detect`]).
    pub signals: Signals,
}

/// `detectors.signals`: per-source counts of outcomes that give no login signal of their
/// own (0 turns a count off).
#[derive(Debug, Clone, PartialEq)]
pub struct Signals {
    /// Their window.
    pub window_seconds: u32,
    /// More 404s than this in the window: `malicious_excess_404`.
    pub excess_404: u32,
    /// More access-control failures (`authz_fail`) than this: `authz_fail_max`.
    pub authz_failures: u32,
    /// More rate-limited requests than this: `excess_rate_limit_storm`.
    pub rate_limit_storm: u32,
    /// Alert once per window on a known attack tool's user agent: `malicious_attack_tool`.
    pub attack_tool: bool,
    /// Buckets of the shared signal table (4 tracked keys each).
    pub slots: u32,
}

impl Signals {
    /// Whether any of them runs.
    pub fn any(&self) -> bool {
        self.excess_404 > 0
            || self.authz_failures > 0
            || self.rate_limit_storm > 0
            || self.attack_tool
    }
}

/// `detectors.account`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountBruteForce {
    /// Whether the detector runs.
    pub enabled: bool,
    /// Failures allowed in the window; the next one raises the alert.
    pub max_failures: u32,
    /// Sliding window length.
    pub window_seconds: u32,
}

/// `detectors.stuffing`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stuffing {
    /// Whether the detector runs.
    pub enabled: bool,
    /// Distinct failing users allowed from one source in the window; the next raises it.
    pub max_users: u32,
    /// Sliding window length.
    pub window_seconds: u32,
}

/// `detectors.distributed` ([`crate::detect::distributed`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Distributed {
    /// Whether the detector runs.
    pub enabled: bool,
    /// The counting window (tumbling, started by the first failure after the last one).
    pub window_seconds: u32,
    /// Failures per window never alerted on, whatever the baseline.
    pub min_failures: u32,
    /// The alert fires above this multiple of the baseline.
    pub factor: u32,
    /// Windows learned before the baseline is trusted (until then: `factor × min_failures`).
    pub warmup_windows: u32,
    /// How much the baseline may rise per window, in percent.
    pub max_growth_percent: u32,
}

/// `detectors.success_after_fail`.
#[derive(Debug, Clone, PartialEq)]
pub struct SuccessAfterFail {
    /// Whether the detector runs.
    pub enabled: bool,
    /// Failures (in the source's or account's window) that make a success an alert.
    pub min_failures: u32,
}

/// `fingerprint`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    /// The HMAC key, inline (prefer `key_env`).
    pub key: Option<String>,
    /// The VM environment variable holding the HMAC key.
    pub key_env: Option<String>,
    /// Cookie names that carry a session id.
    pub session_cookies: Vec<String>,
}

/// `output`: where events go and how they are written.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Cap on each logged string value, in bytes.
    pub field_max_bytes: usize,
    /// The sinks every event goes to (at least one; each kind at most once).
    pub sinks: Vec<Sink>,
    /// How often each worker refreshes its liveness gauges and flushes its counters.
    pub heartbeat_seconds: u32,
    /// Per action, keep 1 event in N (`output.sample`): 1 keeps every one (the default for
    /// an action not listed), 0 none. Detectors see every outcome regardless.
    pub sample: Vec<(crate::action::Action, u32)>,
    /// Hash chains and checkpoints over every sink's records ([`crate::chain`]).
    pub chain: crate::chain::ChainPolicy,
}

impl Output {
    /// The 1-in-N rate for `a` (1: every event).
    pub fn sample_rate(&self, a: crate::action::Action) -> u32 {
        self.sample
            .iter()
            .find(|(x, _)| *x == a)
            .map_or(1, |(_, n)| *n)
    }
}

/// `output.sinks[]`: one destination of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sink {
    /// Which sink.
    pub kind: SinkKind,
    /// The encoding of its records.
    pub format: Format,
}

/// The kinds of sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum SinkKind {
    /// Filter state for Envoy's access loggers (production): each record is set as
    /// `wasm.vigil.event.<i>` in `on_log`, and an access logger per slot writes it.
    AccessLog = 0,
    /// Envoy's application log (`proxy_log` at info), for development.
    EnvoyLog = 1,
}

impl SinkKind {
    /// Every kind, in index order.
    pub const ALL: [SinkKind; 2] = [SinkKind::AccessLog, SinkKind::EnvoyLog];

    /// The sink's name in policies and metric names.
    pub fn name(self) -> &'static str {
        match self {
            SinkKind::AccessLog => "access_log",
            SinkKind::EnvoyLog => "envoy_log",
        }
    }
}

/// Record encodings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Elastic Common Schema JSON, one object per record ([`crate::ecs`]).
    #[default]
    Ecs,
    /// Open Cybersecurity Schema Framework JSON ([`crate::ocsf`]).
    Ocsf,
    /// ArcSight Common Event Format, one `CEF:0|…` line per record ([`crate::cef`]).
    Cef,
    /// The OWASP Logging Vocabulary's JSON ([`crate::owasp`]).
    Owasp,
}

impl Format {
    /// Every encoding.
    pub const ALL: [Format; 4] = [Format::Ecs, Format::Ocsf, Format::Cef, Format::Owasp];

    /// The encoding's name in policies.
    pub fn name(self) -> &'static str {
        match self {
            Format::Ecs => "ecs",
            Format::Ocsf => "ocsf",
            Format::Cef => "cef",
            Format::Owasp => "owasp",
        }
    }

    /// The encoding named `s` in a policy.
    pub fn from_name(s: &str) -> Option<Format> {
        Format::ALL.iter().copied().find(|f| f.name() == s)
    }
}

/// A policy that cannot be used, with the JSON path of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy: at `{path}`: {problem}")]
pub struct PolicyError {
    /// JSON path of the offending field (`.` for the document itself).
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

impl PolicyError {
    #[cold]
    #[inline(never)]
    fn at(path: impl Into<String>, problem: impl Into<String>) -> Self {
        PolicyError {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

impl Policy {
    /// Parses a complete policy (every section present) over `start`, without validating
    /// it: the presets.
    pub(crate) fn from_complete_json(bytes: &[u8], start: Policy) -> Result<Policy, PolicyError> {
        parse::from_slice(bytes, start, true)
    }

    /// Parses a policy whose sections replace `start`'s, without validating it: the presets
    /// other than the baseline.
    pub(crate) fn from_json_over(bytes: &[u8], start: Policy) -> Result<Policy, PolicyError> {
        parse::from_slice(bytes, start, false)
    }

    /// Every problem of a policy document, each naming its JSON path (`vigil check`); empty
    /// for a good one (an empty document is the baseline).
    pub fn all_errors(bytes: &[u8]) -> Vec<PolicyError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Vec::new();
        }
        parse::all_errors(bytes, crate::presets::baseline())
    }

    /// Parses and validates a policy. Empty (or all-whitespace) input means the baseline.
    pub fn from_json(bytes: &[u8]) -> Result<Policy, PolicyError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(crate::presets::baseline());
        }
        let policy = parse::from_slice(bytes, crate::presets::baseline(), false)?;
        policy.validate()?;
        Ok(policy.with_normalized_routes())
    }

    /// The policy with its route lists normalized as request paths are ([`crate::route`]),
    /// so that a route written `/Login/` or `/%6Cogin` means what the backend routes.
    pub fn with_normalized_routes(mut self) -> Policy {
        let ci = self.routes.case_insensitive;
        let norm = |p: &String| {
            String::from_utf8_lossy(&crate::route::normalize(p.as_bytes(), ci)).into_owned()
        };
        let norm_route = |r: &Route| match r {
            Route::Path(p) => Route::Path(norm(p)),
            Route::Pattern(Pattern::Exact(b)) => {
                Route::Pattern(Pattern::Exact(crate::route::normalize(b, ci)))
            }
            Route::Pattern(Pattern::Prefix(b)) => {
                Route::Pattern(Pattern::Prefix(crate::route::normalize(b, ci)))
            }
            other => other.clone(),
        };
        self.login.paths = self.login.paths.iter().map(norm_route).collect();
        self.admin.path_prefixes = self.admin.path_prefixes.iter().map(norm_route).collect();
        self
    }

    /// The `response.flags` bits that mean rate limited.
    pub fn rate_limit_mask(&self) -> u64 {
        self.rate_limit
            .response_flags
            .iter()
            .filter_map(|f| flag_bit(f))
            .fold(0, |a, b| a | b)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn err(s: &str) -> PolicyError {
        Policy::from_json(s.as_bytes()).unwrap_err()
    }

    #[test]
    fn empty_config_is_the_baseline() {
        assert_eq!(Policy::from_json(b"").unwrap(), crate::presets::baseline());
        assert_eq!(
            Policy::from_json(b"{\"version\":1}").unwrap(),
            crate::presets::baseline()
        );
    }

    #[test]
    fn errors_name_the_json_path() {
        assert_eq!(
            err(r#"{"version":1,"login":{"methods":["POST"],"paths":5,"failure_statuses":[]}}"#)
                .path,
            "login.paths"
        );
        assert_eq!(err(r#"{"version":1,"nope":true}"#).path, "nope");
        assert!(err(r#"{"version":1,"nope":true}"#).problem.contains("nope"));
        assert_eq!(err(r#"{"version":2}"#).path, "version");
        assert_eq!(err(r#"{"version":1,"login":{"methods":["POST"],"paths":["/a","b"],"failure_statuses":[]}}"#).path, "login.paths[1]");
        assert_eq!(
            err(r#"{"version":1,"rate_limit":{"statuses":[429],"response_flags":["XX"]}}"#).path,
            "rate_limit.response_flags[0]"
        );
        assert_eq!(err(r#"{"version":1,"brute_force":{"enabled":true,"max_failures":10,"window_seconds":60,"slots":1,"x":1}}"#).path, "brute_force.x");
        assert_eq!(err("{").path, ".");
        assert!(err(r#"{}"#).problem.starts_with("missing field `version`"));
        assert_eq!(
            err(r#"{"version":1,"output":{"sinks":[{"type":"syslog"}]}}"#).path,
            "output.sinks[0].type"
        );
        assert_eq!(
            err(r#"{"version":1,"output":{"sinks":[{"type":"envoy_log"},{"type":"envoy_log"}]}}"#)
                .path,
            "output.sinks[1].type"
        );
        assert_eq!(
            err(r#"{"version":1,"output":{"sinks":[]}}"#).path,
            "output.sinks"
        );
    }

    #[test]
    fn detector_errors_name_their_json_path() {
        for (doc, path) in [
            (
                r#"{"version":1,"brute_force":{"enabled":true,"max_failures":10,"window_seconds":60,"slots":1,"ipv6_prefix":8}}"#,
                "brute_force.ipv6_prefix",
            ),
            (
                r#"{"version":1,"brute_force":{"enabled":true,"max_failures":10,"window_seconds":60,"slots":1,"ipv6_prefix":256}}"#,
                "brute_force.ipv6_prefix",
            ),
            (
                r#"{"version":1,"detectors":{"stuffing":{"enabled":true,"max_users":0,"window_seconds":60}}}"#,
                "detectors.stuffing.max_users",
            ),
            (
                r#"{"version":1,"detectors":{"account":{"enabled":true,"max_failures":5,"window_seconds":0}}}"#,
                "detectors.account.window_seconds",
            ),
            (
                r#"{"version":1,"detectors":{"success_after_fail":{"enabled":true}}}"#,
                "detectors.success_after_fail",
            ),
            (
                r#"{"version":1,"detectors":{"slots":0}}"#,
                "detectors.slots",
            ),
            (
                r#"{"version":1,"detectors":{"alert_cap_per_window":0}}"#,
                "detectors.alert_cap_per_window",
            ),
            (
                r#"{"version":1,"detectors":{"alert_cap_window_seconds":86401}}"#,
                "detectors.alert_cap_window_seconds",
            ),
            (
                r#"{"version":1,"detectors":{"stuffing":{"enabled":"yes","max_users":3,"window_seconds":60}}}"#,
                "detectors.stuffing.enabled",
            ),
            (
                r#"{"version":1,"detectors":{"per_ip":{}}}"#,
                "detectors.per_ip",
            ),
        ] {
            assert_eq!(err(doc).path, path, "{doc}");
        }
        // A partial `detectors` keeps the baseline's other members.
        let p = Policy::from_json(br#"{"version":1,"detectors":{"slots":7}}"#).unwrap();
        let base = crate::presets::baseline();
        assert_eq!(p.detectors.slots, 7);
        assert_eq!(p.detectors.stuffing, base.detectors.stuffing);
        // A `brute_force` section without `ipv6_prefix` counts IPv6 per /64.
        let p = Policy::from_json(br#"{"version":1,"brute_force":{"enabled":true,"max_failures":5,"window_seconds":300,"slots":4096}}"#).unwrap();
        assert_eq!(p.brute_force.ipv6_prefix, 64);
    }

    #[test]
    fn an_output_section_may_name_only_its_sinks() {
        let p = Policy::from_json(br#"{"version":1,"output":{"sinks":[{"type":"access_log"}]}}"#)
            .unwrap();
        assert_eq!(
            p.output.sinks,
            vec![Sink {
                kind: SinkKind::AccessLog,
                format: Format::Ecs
            }]
        );
        assert_eq!(p.output.field_max_bytes, 1024);
        assert_eq!(
            crate::presets::baseline().output.sinks[0].kind,
            SinkKind::EnvoyLog
        );
    }

    #[test]
    fn rate_limit_mask_is_rl() {
        assert_eq!(crate::presets::baseline().rate_limit_mask(), 0x800);
    }
}
