//! The event model: what Vigil knows about one security event, before encoding.
//!
//! Values from the wire stay bytes here; encoders make them safe. Secrets never enter the
//! model: the engine copies only the fields below, and credentials only as fingerprints.

use crate::action::Action;

/// Where `user.name` came from (`vigil.user.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSource {
    /// A JWT verified by jwt_authn (its `payload_in_metadata`).
    Jwt,
    /// An HTTP Basic `Authorization` header (claimed, not verified by Vigil).
    Basic,
    /// The login request body (claimed).
    LoginBody,
}

impl UserSource {
    /// The `vigil.user.source` keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            UserSource::Jwt => "jwt",
            UserSource::Basic => "basic",
            UserSource::LoginBody => "login_body",
        }
    }
}

/// The user an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `user.name`
    pub name: Vec<u8>,
    /// `vigil.user.source`
    pub source: UserSource,
    /// `vigil.user.verified`: true only when a gateway filter verified the identity (JWT).
    pub verified: bool,
    /// `vigil.user.ambiguous`: the login body gave the field twice, with different values.
    pub ambiguous: bool,
    /// `vigil.user.truncated`: the name was cut by the body scan limit.
    pub truncated: bool,
}

impl User {
    /// A user with no marks.
    pub fn new(name: Vec<u8>, source: UserSource, verified: bool) -> Self {
        User {
            name,
            source,
            verified,
            ambiguous: false,
            truncated: false,
        }
    }
}

/// The alert details (`vigil.alert.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertInfo {
    /// Failures (or, for stuffing, distinct users) within the window.
    pub count: u32,
    /// Window length in seconds.
    pub window_seconds: u32,
    /// `vigil.alert.baseline`: the learned failures per window a rate alert compared with.
    pub baseline: Option<u32>,
    /// `vigil.alert.confidence`: `low` when the signal is easily faked (a user agent).
    pub confidence: Option<&'static str>,
    /// `vigil.alert.key`: what the detector counts by (`source_ip`, `source_prefix`, `user`).
    pub key: &'static str,
    /// `vigil.alert.value`: the key's value (the IP, `2001:db8::/64`, the user name).
    pub value: Vec<u8>,
}

/// One security event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// `request.time`, ns since the epoch.
    pub time_ns: u64,
    /// `event.id`
    pub id: String,
    /// `event.action`; `None` only in a default value.
    pub action: Option<Action>,
    /// `event.reason`
    pub reason: std::borrow::Cow<'static, str>,
    /// `vigil.rule`
    pub rule: std::borrow::Cow<'static, str>,
    /// `log.level`, when a policy rule sets it (else the action's).
    pub level: Option<crate::rules::Level>,
    /// `source.ip` (validated)
    pub source_ip: Option<std::net::IpAddr>,
    /// `source.port`
    pub source_port: Option<u16>,
    /// `vigil.source.address`: the raw address when it is not an IP.
    pub source_address_raw: Option<Vec<u8>>,
    /// The user, when known.
    pub user: Option<User>,
    /// `user_agent.original`
    pub user_agent: Option<Vec<u8>>,
    /// `http.request.method`
    pub method: Option<Vec<u8>>,
    /// `url.domain`
    pub domain: Option<Vec<u8>>,
    /// `url.path` (no query string: it carries tokens)
    pub path: Option<Vec<u8>>,
    /// `http.request.id` (`x-request-id`)
    pub request_id: Option<Vec<u8>>,
    /// `http.response.status_code`
    pub status: Option<u16>,
    /// `vigil.response_code_details`
    pub code_details: Option<Vec<u8>>,
    /// `vigil.response_flags` (Envoy's bitmask)
    pub response_flags: u64,
    /// `vigil.grpc.status`: a gRPC response's `grpc-status`, when it was read.
    pub grpc_status: Option<u32>,
    /// `vigil.session.fingerprint` and `vigil.session.source` (`cookie:<name>` or `authorization`)
    pub session: Option<(String, String)>,
    /// `vigil.alert`
    pub alert: Option<AlertInfo>,
    /// `vigil.captured.<kind>.<name>`: what a policy rule captured (redacted), with `kind`
    /// `request_headers`, `response_headers` or `query`.
    pub captured: Vec<(&'static str, String, Vec<u8>)>,
}
