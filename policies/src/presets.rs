//! The policy presets users start from, as data.
//!
//! `owasp-baseline.json` is the default when the plugin has no configuration. It is the
//! reference for every field: copy it, change what you need, and load it as the plugin's
//! configuration. The detectors' default thresholds and why they are where they are:
//! [`crate::detect`]. The other presets are what they change of the baseline:
//! - `lean`: failures and alerts only, for high-traffic edges (successful logins, logins
//!   of unknown outcome and admin access are counted by the detectors, not logged);
//! - `oauth-jwt-api`: an OAuth 2.0 / JWT API behind jwt_authn (token endpoints as the login
//!   routes, client credentials in a Basic header, no admin area).
//!
//! A policy names the preset it starts from with `"preset": "<name>"`; its sections then
//! replace the preset's. Each preset has test cases beside it (`<name>.cases.jsonl`, run
//! with `vigil test`).

use crate::policy::Policy;

/// The OWASP baseline policy, verbatim.
pub const OWASP_BASELINE: &str = include_str!("../presets/owasp-baseline.json");
/// The lean preset (over the baseline), verbatim.
pub const LEAN: &str = include_str!("../presets/lean.json");
/// The OAuth/JWT API preset (over the baseline), verbatim.
pub const OAUTH_JWT_API: &str = include_str!("../presets/oauth-jwt-api.json");

/// The presets' names, as a policy's `preset` names them.
pub const NAMES: &[&str] = &["owasp-baseline", "lean", "oauth-jwt-api"];

/// A preset by name (`None`: no such preset). A preset that fails to parse (tests prevent
/// it) falls back to the baseline.
pub fn by_name(name: &str) -> Option<Policy> {
    let doc = match name {
        "owasp-baseline" => return Some(baseline()),
        "lean" => LEAN,
        "oauth-jwt-api" => OAUTH_JWT_API,
        _ => return None,
    };
    Some(
        Policy::from_json_over(doc.as_bytes(), baseline())
            .map(Policy::with_normalized_routes)
            .unwrap_or_else(|_| baseline()),
    )
}

/// The parsed baseline policy.
///
/// The preset is part of the build and covered by tests, so parsing cannot fail at run time;
/// should it ever, the fallback is a minimal policy that still classifies by status.
pub fn baseline() -> Policy {
    Policy::from_complete_json(OWASP_BASELINE.as_bytes(), fallback())
        .unwrap_or_else(|_| fallback())
        .with_normalized_routes()
}

fn fallback() -> Policy {
    use crate::policy::*;
    Policy {
        version: 1,
        identity: Identity {
            jwt: None,
            basic_auth: false,
            login_body: None,
        },
        login: Login {
            methods: vec![],
            paths: vec![],
            failure_statuses: vec![],
        },
        admin: Admin {
            path_prefixes: vec![],
        },
        rate_limit: RateLimit {
            statuses: vec![429],
            response_flags: vec!["RL".into()],
        },
        input_validation: InputValidation {
            statuses: vec![400],
        },
        brute_force: BruteForce {
            enabled: false,
            max_failures: 10,
            window_seconds: 60,
            slots: 1,
            ipv6_prefix: 64,
        },
        detectors: Detectors {
            account: AccountBruteForce {
                enabled: false,
                max_failures: 20,
                window_seconds: 600,
            },
            stuffing: Stuffing {
                enabled: false,
                max_users: 10,
                window_seconds: 600,
            },
            success_after_fail: SuccessAfterFail {
                enabled: false,
                min_failures: 5,
            },
            distributed: Distributed {
                enabled: false,
                window_seconds: 60,
                min_failures: 50,
                factor: 4,
                warmup_windows: 5,
                max_growth_percent: 25,
            },
            slots: 1,
            alert_cap_per_window: 100,
            alert_cap_window_seconds: 60,
            signals: Signals {
                window_seconds: 60,
                excess_404: 0,
                authz_failures: 0,
                rate_limit_storm: 0,
                attack_tool: false,
                slots: 1,
            },
        },
        fingerprint: Fingerprint {
            key: None,
            key_env: None,
            session_cookies: vec![],
        },
        output: Output {
            field_max_bytes: 1024,
            sinks: vec![Sink {
                kind: SinkKind::EnvoyLog,
                format: Format::Ecs,
            }],
            heartbeat_seconds: 1,
            sample: Vec::new(),
            chain: crate::chain::ChainPolicy::default(),
        },
        routes: Routes {
            case_insensitive: false,
        },
        rules: Vec::new(),
        redaction: crate::redact::Redaction::default(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn baseline_parses_strictly_and_validates() {
        let p = Policy::from_complete_json(OWASP_BASELINE.as_bytes(), fallback()).unwrap();
        p.validate().unwrap();
        assert_eq!(p, baseline());
        assert_ne!(p, fallback());
    }
}
