//! The event vocabulary: every action Vigil emits and how it maps onto ECS.
//!
//! Names follow the OWASP Logging Vocabulary (`authn_login_success`, `authz_fail`, ...).
//! Names marked *Vigil* extend it where the vocabulary has no word for what a gateway sees.
//!
//! | `event.action` | origin | `event.kind` | `event.category` | `event.type` | `event.outcome` | `log.level` |
//! |---|---|---|---|---|---|---|
//! | `authn_login_success` | OWASP | event | authentication | start | success | info |
//! | `authn_login_fail` | OWASP | event | authentication | start | failure | warn |
//! | `authn_login_attempt` | *Vigil*: a login whose status tells neither success nor failure (e.g. 302, 5xx) | event | authentication | start | unknown | info |
//! | `authn_login_fail_max` | OWASP (as an alert) | alert | authentication, intrusion_detection | info | failure | critical |
//! | `authn_login_stuffing` | *Vigil* (as an alert): many distinct user names failing from one source (credential stuffing) | alert | authentication, intrusion_detection | info | failure | critical |
//! | `authn_login_successafterfail` | OWASP (as an alert): a success for a source or account that just failed many times | alert | authentication, intrusion_detection | info | success | warn |
//! | `authn_token_invalid` | *Vigil*: a 401 outside login routes (token missing, expired, bad signature, rejected upstream) | event | authentication | info | failure | warn |
//! | `authz_fail` | OWASP | event | api | denied | failure | warn |
//! | `authz_admin` | OWASP | event | api, iam | admin | success | info |
//! | `excess_rate_limit_exceeded` | OWASP | event | api | denied | failure | warn |
//! | `input_validation_fail` | OWASP | event | web | error | failure | warn |
//! | `malicious_excess_404` | OWASP (as an alert): many 404s from one source | alert | web, intrusion_detection | info | failure | warn |
//! | `authz_fail_max` | *Vigil* (as an alert): many access-control failures from one source | alert | api, intrusion_detection | denied | failure | critical |
//! | `excess_rate_limit_storm` | *Vigil* (as an alert): many rate-limited requests from one source | alert | api, intrusion_detection | denied | failure | warn |
//! | `malicious_attack_tool` | OWASP (as an alert, low confidence: a user agent is trivially changed) | alert | intrusion_detection | info | unknown | warn |
//! | `vigil_chain_start`, `vigil_chain_checkpoint` | *Vigil*: a record chain's genesis and checkpoints ([`crate::chain`]) | event | configuration | info | success | info |
//! | `authn_login_stuffing_distributed` | *Vigil* (as an alert): the site's login-failure rate far above its learned baseline (many sources, many users, few tries each) | alert | authentication, intrusion_detection | info | failure | critical |

/// An event action (the `event.action` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Action {
    /// A login succeeded.
    AuthnLoginSuccess = 0,
    /// A login failed.
    AuthnLoginFail = 1,
    /// A login whose outcome the status does not tell.
    AuthnLoginAttempt = 2,
    /// Too many login failures from one source, or for one account (an alert).
    AuthnLoginFailMax = 3,
    /// A request outside login routes was refused as unauthenticated (401).
    AuthnTokenInvalid = 4,
    /// An authenticated or anonymous request was refused (403).
    AuthzFail = 5,
    /// An administrative route was used successfully.
    AuthzAdmin = 6,
    /// A rate limit refused the request.
    ExcessRateLimitExceeded = 7,
    /// The request's input was rejected.
    InputValidationFail = 8,
    /// Many distinct users failing from one source (an alert).
    AuthnLoginStuffing = 9,
    /// A login success right after many failures (an alert).
    AuthnLoginSuccessAfterFail = 10,
    /// Many 404s from one source: scanning for content (an alert).
    MaliciousExcess404 = 11,
    /// Many access-control failures from one source (an alert).
    AuthzFailMax = 12,
    /// Many rate-limited requests from one source (an alert).
    ExcessRateLimitStorm = 13,
    /// A known attack tool's user agent (an alert, low confidence).
    MaliciousAttackTool = 14,
    /// The site's login-failure rate far above its baseline (an alert).
    AuthnLoginStuffingDistributed = 15,
    /// A record chain began ([`crate::chain`]).
    VigilChainStart = 16,
    /// A record chain's checkpoint ([`crate::chain`]).
    VigilChainCheckpoint = 17,
}

/// `event.outcome` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `success`
    Success,
    /// `failure`
    Failure,
    /// `unknown`
    Unknown,
}

impl Outcome {
    /// The ECS keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Unknown => "unknown",
        }
    }
}

/// How an action maps onto ECS categorization fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// `event.kind`
    pub kind: &'static str,
    /// `event.category`
    pub category: &'static [&'static str],
    /// `event.type`
    pub types: &'static [&'static str],
    /// `event.outcome`
    pub outcome: Outcome,
    /// `log.level`
    pub level: &'static str,
}

impl Action {
    /// Every action, in discriminant order.
    pub const ALL: [Action; 18] = [
        Action::AuthnLoginSuccess,
        Action::AuthnLoginFail,
        Action::AuthnLoginAttempt,
        Action::AuthnLoginFailMax,
        Action::AuthnTokenInvalid,
        Action::AuthzFail,
        Action::AuthzAdmin,
        Action::ExcessRateLimitExceeded,
        Action::InputValidationFail,
        Action::AuthnLoginStuffing,
        Action::AuthnLoginSuccessAfterFail,
        Action::MaliciousExcess404,
        Action::AuthzFailMax,
        Action::ExcessRateLimitStorm,
        Action::MaliciousAttackTool,
        Action::AuthnLoginStuffingDistributed,
        Action::VigilChainStart,
        Action::VigilChainCheckpoint,
    ];

    /// The `event.action` name.
    pub fn name(self) -> &'static str {
        match self {
            Action::AuthnLoginSuccess => "authn_login_success",
            Action::AuthnLoginFail => "authn_login_fail",
            Action::AuthnLoginAttempt => "authn_login_attempt",
            Action::AuthnLoginFailMax => "authn_login_fail_max",
            Action::AuthnTokenInvalid => "authn_token_invalid",
            Action::AuthzFail => "authz_fail",
            Action::AuthzAdmin => "authz_admin",
            Action::ExcessRateLimitExceeded => "excess_rate_limit_exceeded",
            Action::InputValidationFail => "input_validation_fail",
            Action::AuthnLoginStuffing => "authn_login_stuffing",
            Action::AuthnLoginSuccessAfterFail => "authn_login_successafterfail",
            Action::MaliciousExcess404 => "malicious_excess_404",
            Action::AuthzFailMax => "authz_fail_max",
            Action::ExcessRateLimitStorm => "excess_rate_limit_storm",
            Action::MaliciousAttackTool => "malicious_attack_tool",
            Action::AuthnLoginStuffingDistributed => "authn_login_stuffing_distributed",
            Action::VigilChainStart => "vigil_chain_start",
            Action::VigilChainCheckpoint => "vigil_chain_checkpoint",
        }
    }

    /// Whether the name extends the OWASP Logging Vocabulary.
    pub fn is_vigil_extension(self) -> bool {
        matches!(
            self,
            Action::AuthnLoginAttempt
                | Action::AuthnTokenInvalid
                | Action::AuthnLoginStuffing
                | Action::AuthnLoginStuffingDistributed
                | Action::VigilChainStart
                | Action::VigilChainCheckpoint
                | Action::AuthzFailMax
                | Action::ExcessRateLimitStorm
        )
    }

    /// The ECS mapping (see the table in the module docs).
    pub fn mapping(self) -> Mapping {
        use Outcome::*;
        const AUTHN: &[&str] = &["authentication"];
        const ALERT: &[&str] = &["authentication", "intrusion_detection"];
        let m = |kind, category, types, outcome, level| Mapping {
            kind,
            category,
            types,
            outcome,
            level,
        };
        match self {
            Action::AuthnLoginSuccess => m("event", AUTHN, &["start"], Success, "info"),
            Action::AuthnLoginFail => m("event", AUTHN, &["start"], Failure, "warn"),
            Action::AuthnLoginAttempt => m("event", AUTHN, &["start"], Unknown, "info"),
            Action::AuthnLoginFailMax
            | Action::AuthnLoginStuffing
            | Action::AuthnLoginStuffingDistributed => {
                m("alert", ALERT, &["info"], Failure, "critical")
            }
            Action::AuthnLoginSuccessAfterFail => m("alert", ALERT, &["info"], Success, "warn"),
            Action::AuthnTokenInvalid => m("event", AUTHN, &["info"], Failure, "warn"),
            Action::AuthzFail => m("event", &["api"], &["denied"], Failure, "warn"),
            Action::AuthzAdmin => m("event", &["api", "iam"], &["admin"], Success, "info"),
            Action::ExcessRateLimitExceeded => m("event", &["api"], &["denied"], Failure, "warn"),
            Action::InputValidationFail => m("event", &["web"], &["error"], Failure, "warn"),
            Action::MaliciousExcess404 => m(
                "alert",
                &["web", "intrusion_detection"],
                &["info"],
                Failure,
                "warn",
            ),
            Action::AuthzFailMax => m(
                "alert",
                &["api", "intrusion_detection"],
                &["denied"],
                Failure,
                "critical",
            ),
            Action::ExcessRateLimitStorm => m(
                "alert",
                &["api", "intrusion_detection"],
                &["denied"],
                Failure,
                "warn",
            ),
            Action::VigilChainStart | Action::VigilChainCheckpoint => {
                m("event", &["configuration"], &["info"], Success, "info")
            }
            Action::MaliciousAttackTool => m(
                "alert",
                &["intrusion_detection"],
                &["info"],
                Unknown,
                "warn",
            ),
        }
    }
}
