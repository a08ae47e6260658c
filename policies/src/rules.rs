//! Rules: the policy's own classification, evaluated before the built-in one
//! ([`crate::classify`]). A rule says when (method, path, host, status, request and
//! response headers, Envoy response flags, `response.code_details`, gRPC status) and what
//! (an event action, a reason, optionally a level). The first rule whose every condition
//! holds decides the request's event; none: the built-in classification decides.
//!
//! ```json
//! {"name": "legacy-login-error-redirect",
//!  "when": {"methods": ["POST"], "path": "/legacy/login", "status": ["3xx"],
//!           "response_headers": {"location": {"glob": "*error*"}}},
//!  "event": "authn_login_fail", "reason": "redirect_to_error"}
//! ```
//!
//! Paths are matched normalized ([`crate::route::normalize`]), so a rule for `/legacy/login`
//! also holds for `//legacy/login/` and `/legacy/%6Cogin`. A pattern is a string (exact) or
//! one of `{"exact": …}`, `{"prefix": …}`, `{"glob": …}`, `{"regex": …}`
//! ([`crate::pattern`]), compiled when the policy loads. A status is a code (`401`) or a
//! class (`"4xx"`). A rule whose event is a login outcome (`authn_login_*`) counts for the
//! detectors and reads the login body like a login route.

use crate::action::Action;
use crate::pattern::Pattern;

/// `"4xx"` or `401`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    /// One code.
    Code(u16),
    /// A class: the hundreds digit (`4` for `4xx`).
    Class(u16),
}

impl StatusMatch {
    /// Whether `status` matches.
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusMatch::Code(c) => c == status,
            StatusMatch::Class(h) => status / 100 == h,
        }
    }

    /// Parses `"4xx"` or `"401"`.
    pub fn parse(s: &str) -> Option<StatusMatch> {
        let b = s.as_bytes();
        if b.len() != 3 || !(b'1'..=b'5').contains(&b[0]) {
            return None;
        }
        if b[1..].eq_ignore_ascii_case(b"xx") {
            return Some(StatusMatch::Class(u16::from(b[0] - b'0')));
        }
        s.parse().ok().map(StatusMatch::Code)
    }
}

/// The conditions of a rule (all must hold; an empty one always does).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct When {
    /// Request methods (case-insensitive).
    pub methods: Vec<String>,
    /// The normalized request path.
    pub path: Option<Pattern>,
    /// The request host (`:authority` without its port).
    pub host: Option<Pattern>,
    /// Response statuses.
    pub status: Vec<StatusMatch>,
    /// Request headers by lower-case name: each must be present and match.
    pub request_headers: Vec<(String, Pattern)>,
    /// Response headers by lower-case name: each must be present and match.
    pub response_headers: Vec<(String, Pattern)>,
    /// Envoy response flags (short names): any of them set.
    pub response_flags: u64,
    /// `response.code_details`.
    pub code_details: Option<Pattern>,
    /// gRPC statuses: any of them.
    pub grpc_status: Vec<u32>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `vigil.rule` of the events it yields.
    pub name: String,
    /// When it holds.
    pub when: When,
    /// The event's action.
    pub event: Action,
    /// `event.reason`.
    pub reason: String,
    /// `log.level`, when not the action's.
    pub level: Option<Level>,
    /// What the event carries beyond the usual fields (`vigil.captured.*`), redacted
    /// ([`crate::redact`]).
    pub capture: Capture,
}

/// `capture`: request and response headers, query parameters and request-body fields, by
/// name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capture {
    /// Request headers (lower-case names).
    pub request_headers: Vec<String>,
    /// Response headers (lower-case names).
    pub response_headers: Vec<String>,
    /// Query parameters.
    pub query: Vec<String>,
    /// Top-level fields of a form or JSON request body (as the login-body scanner reads it,
    /// within its scan limit).
    pub body: Vec<String>,
}

/// An event's `log.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `info`
    Info,
    /// `warn`
    Warn,
    /// `critical`
    Critical,
}

impl Level {
    /// Every level, in the order of their names in policies.
    pub const ALL: [Level; 3] = [Level::Info, Level::Warn, Level::Critical];
    /// The names, as policies write them.
    pub const NAMES: &'static [&'static str] = &["info", "warn", "critical"];

    /// The ECS keyword.
    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Critical => "critical",
        }
    }
}

/// What a finished request offers the rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    /// The method.
    pub method: &'a [u8],
    /// The normalized path.
    pub path: &'a [u8],
    /// The host, without port.
    pub host: &'a [u8],
    /// The status (0: none).
    pub status: u16,
    /// `response.flags`.
    pub flags: u64,
    /// `response.code_details`.
    pub details: &'a [u8],
    /// gRPC status, when known.
    pub grpc_status: Option<u32>,
}

impl When {
    /// The conditions known when the request headers arrive: method, path, host and
    /// request headers (`header` looks one up).
    pub fn request_holds(
        &self,
        f: &Facts<'_>,
        header: &mut dyn FnMut(&str) -> Option<Vec<u8>>,
    ) -> bool {
        (self.methods.is_empty()
            || self
                .methods
                .iter()
                .any(|m| m.as_bytes().eq_ignore_ascii_case(f.method)))
            && self.path.as_ref().is_none_or(|p| p.is_match(f.path))
            && self.host.as_ref().is_none_or(|p| p.is_match(f.host))
            && self
                .request_headers
                .iter()
                .all(|(n, p)| header(n).is_some_and(|v| p.is_match(&v)))
    }

    /// The status and gRPC conditions.
    pub fn status_holds(&self, f: &Facts<'_>) -> bool {
        (self.status.is_empty() || self.status.iter().any(|s| s.matches(f.status)))
            && (self.grpc_status.is_empty()
                || f.grpc_status.is_some_and(|g| self.grpc_status.contains(&g)))
    }

    /// The conditions on what Envoy knows at the end: flags and details.
    pub fn outcome_holds(&self, f: &Facts<'_>) -> bool {
        (self.response_flags == 0 || f.flags & self.response_flags != 0)
            && self
                .code_details
                .as_ref()
                .is_none_or(|p| p.is_match(f.details))
    }
}

/// The first rule that holds, given the response headers its conditions name
/// (`response_header` looks one up in what was read).
pub fn first<'r>(
    rules: &'r [Rule],
    f: &Facts<'_>,
    request_header: &mut dyn FnMut(&str) -> Option<Vec<u8>>,
    response_header: &mut dyn FnMut(&str) -> Option<Vec<u8>>,
) -> Option<&'r Rule> {
    rules.iter().find(|r| {
        r.when.status_holds(f)
            && r.when.outcome_holds(f)
            && r.when.request_holds(f, request_header)
            && r.when
                .response_headers
                .iter()
                .all(|(n, p)| response_header(n).is_some_and(|v| p.is_match(&v)))
    })
}

/// The header names rules read (to match or to capture) from the request, and from the
/// response.
pub fn header_names(rules: &[Rule]) -> (Vec<String>, Vec<String>) {
    let mut req: Vec<String> = Vec::new();
    let mut resp: Vec<String> = Vec::new();
    for r in rules {
        let reqs = r
            .when
            .request_headers
            .iter()
            .map(|(n, _)| n)
            .chain(&r.capture.request_headers);
        for n in reqs {
            if !req.contains(n) {
                req.push(n.clone());
            }
        }
        let resps = r
            .when
            .response_headers
            .iter()
            .map(|(n, _)| n)
            .chain(&r.capture.response_headers);
        for n in resps {
            if !resp.contains(n) {
                resp.push(n.clone());
            }
        }
    }
    (req, resp)
}

/// Whether an action is a login outcome (detectors count it, the body names the user).
pub fn is_login_action(a: Action) -> bool {
    matches!(
        a,
        Action::AuthnLoginSuccess | Action::AuthnLoginFail | Action::AuthnLoginAttempt
    )
}
