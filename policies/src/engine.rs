//! The engine: one policy applied to finished requests, producing encoded events.
//!
//! The adapter calls [`Engine::on_request_headers`] when a request starts (it reads the
//! method, and the path only for a login method, and says whether to scan the body), feeds
//! body chunks to the returned state's scanner, and calls [`Engine::on_log`] when the
//! request is done. `on_log` reads the response code and flags first; a benign request stops
//! there (or after reading its path, when admin routes are configured). Only a request that
//! yields an event pays for the rest, and only a login failure touches shared data.

use crate::action::Action;
use crate::body_scan::BodyScanner;
use crate::brute_force;
use crate::classify::{classify, is_login, Signals};
use crate::event::{AlertInfo, Event};
use crate::exchange::{host_only, le_u64, path_only, split_address, Exchange};
use crate::fingerprint::{find_cookie, Fingerprinter};
use crate::metrics::{Metric, Metrics};
use crate::policy::Policy;
use crate::shared::SharedStore;

/// What the engine remembers between a request's headers and its log.
#[derive(Debug, Clone, Default)]
pub struct RequestState {
    method: Option<Vec<u8>>,
    path: Option<Vec<u8>>,
    login: bool,
    /// The login-body scanner, when this is a login route with body scanning on.
    pub scanner: Option<BodyScanner>,
}

/// A policy ready to run.
#[derive(Debug)]
pub struct Engine {
    policy: Policy,
    fingerprinter: Option<Fingerprinter>,
    id_seed: u64,
    seq: std::cell::Cell<u64>,
}

impl Engine {
    /// Builds an engine. `env` looks up the VM's environment variables; `id_seed` makes
    /// `event.id` unique across VMs. Returns the warnings to log once at start.
    pub fn new(
        policy: Policy,
        env: impl Fn(&str) -> Option<String>,
        id_seed: u64,
    ) -> (Engine, Vec<String>) {
        let mut warnings = Vec::new();
        let key = policy
            .fingerprint
            .key
            .clone()
            .or_else(|| policy.fingerprint.key_env.as_deref().and_then(&env));
        let fingerprinter = key
            .as_deref()
            .and_then(|k| Fingerprinter::new(k.as_bytes()));
        if fingerprinter.is_none() {
            let env_name = policy.fingerprint.key_env.as_deref().unwrap_or("(none)");
            warnings.push(format!(
                "no fingerprint key (policy fingerprint.key or VM environment variable {env_name}): events will carry no session fingerprints"
            ));
        }
        (
            Engine {
                policy,
                fingerprinter,
                id_seed,
                seq: std::cell::Cell::new(0),
            },
            warnings,
        )
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Creates the shared-data slots detectors use (once per worker, at start).
    pub fn init_shared(&self, store: &mut impl SharedStore) {
        brute_force::init_slots(&self.policy.brute_force, store);
    }

    /// Called with the request headers: remembers the method (and the path on a login
    /// method) and decides whether the body is scanned.
    pub fn on_request_headers(&self, x: &mut impl Exchange) -> RequestState {
        let method = x.request_header(":method");
        let mut st = RequestState {
            method,
            ..RequestState::default()
        };
        let m = st.method.as_deref().unwrap_or_default();
        if self
            .policy
            .login
            .methods
            .iter()
            .any(|lm| lm.as_bytes() == m)
        {
            st.path = x.request_header(":path");
            st.login = is_login(
                &self.policy,
                m,
                path_only(st.path.as_deref().unwrap_or_default()),
            );
            if st.login {
                st.scanner = self
                    .policy
                    .identity
                    .login_body
                    .as_ref()
                    .map(|lb| BodyScanner::new(lb.max_scan_bytes));
            }
        }
        st
    }

    /// Called when the request is done: classifies it and returns the encoded events (the
    /// event, then any alert). `req` is `None` when the host skipped the request callbacks.
    pub fn on_log(
        &self,
        x: &mut impl Exchange,
        req: Option<&RequestState>,
        store: &mut impl SharedStore,
        metrics: &mut impl Metrics,
    ) -> Vec<String> {
        let status = x
            .property(&["response", "code"])
            .as_deref()
            .and_then(le_u64)
            .unwrap_or(0);
        let status = u16::try_from(status).unwrap_or(0);
        let flags = x
            .property(&["response", "flags"])
            .as_deref()
            .and_then(le_u64)
            .unwrap_or(0);
        let method = match req {
            Some(r) => r.method.clone(),
            None => x.request_header(":method"),
        };
        let m = method.as_deref().unwrap_or_default();
        let login_method = self
            .policy
            .login
            .methods
            .iter()
            .any(|lm| lm.as_bytes() == m);
        let want_path = login_method
            || ((200..300).contains(&status) && !self.policy.admin.path_prefixes.is_empty());
        let mut path = req.and_then(|r| r.path.clone());
        if want_path && path.is_none() {
            path = x.request_header(":path");
        }
        let details = if matches!(status, 401 | 403) {
            x.property(&["response", "code_details"])
        } else {
            None
        };
        let signals = Signals {
            status,
            flags,
            method: m,
            path: path_only(path.as_deref().unwrap_or_default()),
            details: details.as_deref().unwrap_or_default(),
        };
        let Some(c) = classify(&self.policy, &signals) else {
            return Vec::new();
        };

        if let Some(scan) = req.and_then(|r| r.scanner.as_ref()) {
            if scan.overflowed() {
                metrics.add(Metric::BodyScanOverflows, 1);
            }
        }
        let path = path.or_else(|| x.request_header(":path"));
        let details = details.or_else(|| x.property(&["response", "code_details"]));
        let time_ns = x
            .property(&["request", "time"])
            .as_deref()
            .and_then(le_u64)
            .unwrap_or(0);
        let addr = x.property(&["source", "address"]).unwrap_or_default();
        let (source_ip, source_port) = split_address(&addr);
        let authorization = x.request_header("authorization");
        let on_login = c.rule == "login";
        let scan = if on_login {
            req.and_then(|r| r.scanner.as_ref())
        } else {
            None
        };
        let user = crate::identity::resolve(&self.policy, x, authorization.as_deref(), scan);
        let session = self.session(x, authorization.as_deref());
        let mut event = Event {
            time_ns,
            id: String::new(),
            action: Some(c.action),
            reason: c.reason,
            rule: c.rule,
            source_ip,
            source_port,
            source_address_raw: if source_ip.is_none() && !addr.is_empty() {
                Some(addr)
            } else {
                None
            },
            user,
            user_agent: x.request_header("user-agent"),
            method,
            domain: x
                .request_header(":authority")
                .map(|a| host_only(&a).to_vec()),
            path: path.map(|p| path_only(&p).to_vec()),
            request_id: x.request_header("x-request-id"),
            status: (status != 0).then_some(status),
            code_details: details,
            response_flags: flags,
            session,
            alert: None,
        };
        let mut lines = vec![self.finish(&mut event, metrics)];
        if c.action == Action::AuthnLoginFail {
            if let Some(ip) = source_ip {
                let ip = ip.to_string();
                let now_ms = time_ns / 1_000_000;
                if let Some(a) = brute_force::record_failure(
                    &self.policy.brute_force,
                    store,
                    metrics,
                    ip.as_bytes(),
                    now_ms,
                ) {
                    event.action = Some(Action::AuthnLoginFailMax);
                    event.reason = "too_many_login_failures";
                    event.rule = "brute_force";
                    event.alert = Some(AlertInfo {
                        count: a.count,
                        window_seconds: a.window_seconds,
                    });
                    metrics.add(Metric::Alerts, 1);
                    lines.push(self.finish(&mut event, metrics));
                }
            }
        }
        lines
    }

    fn session(
        &self,
        x: &mut impl Exchange,
        authorization: Option<&[u8]>,
    ) -> Option<(String, String)> {
        let fp = self.fingerprinter.as_ref()?;
        let cookies = &self.policy.fingerprint.session_cookies;
        if !cookies.is_empty() {
            if let Some(header) = x.request_header("cookie") {
                if let Some((name, v)) = find_cookie(&header, cookies) {
                    return Some((fp.fingerprint(v), format!("cookie:{name}")));
                }
            }
        }
        let auth = authorization?;
        Some((fp.fingerprint(auth.trim_ascii()), "authorization".into()))
    }

    fn finish(&self, event: &mut Event, metrics: &mut impl Metrics) -> String {
        self.seq.set(self.seq.get() + 1);
        event.id = format!("{:016x}{:08x}", self.id_seed, self.seq.get());
        let (line, truncated) = crate::ecs::encode(event, self.policy.output.field_max_bytes);
        if truncated > 0 {
            metrics.add(Metric::Truncations, truncated as u64);
        }
        if let Some(a) = event.action {
            metrics.add(Metric::Event(a), 1);
        }
        line
    }
}
