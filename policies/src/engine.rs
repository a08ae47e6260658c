//! The engine: one policy applied to each request, producing typed events.
//!
//! The adapter calls [`Engine::on_request_headers`] when a request starts (it reads the
//! request header map once, keeping what events need ([`crate::headers`]), and the host
//! clock, and says whether to scan the body), feeds body chunks to the returned state's
//! scanner, calls
//! [`Engine::on_response_headers`] with the response headers (it reads `:status`, a header
//! read instead of a property read), and calls [`Engine::on_log`] when the request is done.
//! `on_log` reads `response.flags` only for statuses of 400 and above (a rate-limit flag
//! only ever comes with one); a benign request stops there, having cost two header-map reads
//! (the request map and `:status`) and a clock read. Only a
//! request that yields an event or a detector signal (a 404, an attack tool's user agent)
//! pays for the rest, and only login outcomes and signals touch shared data (a failure or a
//! signal updates the detectors' entries, a success only reads them). Encoding is
//! the sinks' business ([`crate::encode`]).
//!
//! Login failures and successes go to the detectors ([`crate::detect`]) with the engine's
//! clock in `on_log` (when Vigil saw the outcome), and each alert they raise becomes an
//! event of its own after the request's, up to two per request and within the global cap.

use crate::action::Action;
use crate::body_scan::BodyScanner;
use crate::classify::{classify, is_login, Classified, Signals};
use crate::detect::{self, siphash::Key, AlertKey, Detector, Found};
use crate::envoy::{self, le_u64, parse_status, split_address};
use crate::event::{AlertInfo, Event, User};
use crate::exchange::{host_only, path_only, Exchange};
use crate::fingerprint::{find_cookie, Fingerprinter};
use crate::headers::Snapshot;
use crate::metrics::{Metric, Metrics};
use crate::policy::Policy;
use crate::rules::{self, Facts};
use crate::shared::SharedStore;

mod enrich;

/// A `grpc-status` value (a decimal code, 0 to 16).
fn grpc_code(v: &[u8]) -> Option<u32> {
    std::str::from_utf8(v)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|c| *c <= 16)
}

/// What the engine remembers of a request between its callbacks.
#[derive(Debug, Clone, Default)]
pub struct RequestState {
    /// The request headers events and the policy need, read in one hostcall.
    headers: Option<Snapshot>,
    login: bool,
    /// The host clock when the request headers arrived (0: never seen).
    time_ns: u64,
    /// `:status` of the response headers, when they were seen.
    status: Option<u16>,
    /// A gRPC request (`content-type: application/grpc…`).
    grpc: bool,
    /// Its `grpc-status`, from the response headers (a trailers-only response) or trailers.
    grpc_status: Option<u32>,
    /// The response headers the policy's rules match, read when a rule could still hold.
    rule_headers: Vec<(String, Option<Vec<u8>>)>,
    /// The login-body scanner, when this is a login route with body scanning on.
    pub scanner: Option<BodyScanner>,
}

/// A policy ready to run.
#[derive(Debug)]
pub struct Engine {
    policy: Policy,
    /// The request headers kept per request ([`Snapshot::names_for`]).
    header_names: Vec<String>,
    fingerprinter: Option<Fingerprinter>,
    id_seed: u64,
    seq: std::cell::Cell<u64>,
    /// The detectors' secret, agreed with the other workers ([`Engine::init_shared`]).
    secret: std::cell::Cell<Key>,
    /// Per action, events seen so far on this worker (for `output.sample`).
    sampled: [std::cell::Cell<u64>; Action::ALL.len()],
}

/// The request facts the rules read, from the engine's view of a request.
fn facts<'a>(
    policy: &Policy,
    method: &'a [u8],
    norm_path: &'a [u8],
    authority: &'a [u8],
    status: u16,
) -> Facts<'a> {
    let _ = policy;
    Facts {
        method,
        path: norm_path,
        host: host_only(authority),
        status,
        ..Facts::default()
    }
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
                header_names: Snapshot::names_for(&policy),
                policy,
                fingerprinter,
                id_seed,
                seq: std::cell::Cell::new(0),
                secret: std::cell::Cell::new(Key::default()),
                sampled: Default::default(),
            },
            warnings,
        )
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Agrees on the detectors' secret with the other workers and creates the shared-data
    /// buckets detectors use (once per worker, at start). `fresh` is 16 random bytes from
    /// the host, stored if no worker has stored a secret yet. Returns a warning when the
    /// secret could not be agreed (the detectors then use `fresh` until
    /// [`Engine::refresh_shared`] succeeds).
    pub fn init_shared(&self, store: &mut impl SharedStore, fresh: [u8; 16]) -> Option<String> {
        self.secret.set(Key(fresh));
        let warning = self.refresh_shared(store);
        detect::init(&self.policy, store);
        warning
    }

    /// Re-reads the agreed secret (the plugin calls it on every heartbeat): a worker whose
    /// first write lost a race adopts the stored one. Returns a warning when it cannot.
    pub fn refresh_shared(&self, store: &mut impl SharedStore) -> Option<String> {
        if detect::source_shape(&self.policy).is_none()
            && detect::account_shape(&self.policy).is_none()
            && detect::signal_shape(&self.policy).is_none()
        {
            return None;
        }
        match detect::secret::agree(store, self.secret.get().0) {
            Ok(k) => {
                self.secret.set(k);
                None
            }
            Err(e) => Some(format!("{e}: this worker counts alone until it can")),
        }
    }

    /// Called with the request headers: keeps the headers an event may need (one read of
    /// the whole map) and decides whether the body is scanned.
    pub fn on_request_headers(&self, x: &mut impl Exchange) -> RequestState {
        let mut st = RequestState {
            headers: x
                .request_header_pairs()
                .map(|m| Snapshot::take(&m, &self.header_names)),
            time_ns: x.now_ns(),
            ..RequestState::default()
        };
        st.grpc = self
            .header(x, Some(&st), "content-type")
            .is_some_and(|ct| ct.starts_with(b"application/grpc"));
        let method = self.header(x, Some(&st), ":method");
        let m = method.as_deref().unwrap_or_default();
        if self.login_method(m) || !self.policy.rules.is_empty() {
            let path = self.header(x, Some(&st), ":path");
            let path = path_only(path.as_deref().unwrap_or_default());
            st.login = self.login_method(m) && is_login(&self.policy, m, path);
            let mut capture_body = false;
            if !self.policy.rules.is_empty() {
                // A rule that yields a login outcome makes its route a login route; a rule
                // that captures body fields needs the body scanned where it may apply.
                let norm = crate::route::normalize(path, self.policy.routes.case_insensitive);
                let authority = self.header(x, Some(&st), ":authority").unwrap_or_default();
                let f = facts(&self.policy, m, &norm, &authority, 0);
                let mut login = st.login;
                let mut hdr = |n: &str| self.header(x, Some(&st), n);
                for r in &self.policy.rules {
                    let l = !login && rules::is_login_action(r.event);
                    let b = !capture_body && !r.capture.body.is_empty();
                    if (l || b) && r.when.request_holds(&f, &mut hdr) {
                        login |= l;
                        capture_body |= b;
                    }
                }
                st.login = login;
            }
            let login_scan = self.policy.identity.login_body.as_ref();
            if st.login && login_scan.is_some() || capture_body {
                let limit =
                    login_scan.map_or(crate::body_scan::DEFAULT_LIMIT, |lb| lb.max_scan_bytes);
                st.scanner = Some(BodyScanner::new(limit));
            }
        }
        st
    }

    /// A request header: from the request's snapshot when it has one, else from the host
    /// (a request Envoy rejected before the filters ran has no snapshot).
    fn header(
        &self,
        x: &mut impl Exchange,
        req: Option<&RequestState>,
        name: &str,
    ) -> Option<Vec<u8>> {
        if let Some(v) = req
            .and_then(|r| r.headers.as_ref())
            .and_then(|s| s.get(&self.header_names, name))
        {
            return v.map(<[u8]>::to_vec);
        }
        x.request_header(name)
    }

    /// Whether `m` is a login method (compared case-insensitively).
    fn login_method(&self, m: &[u8]) -> bool {
        self.policy
            .login
            .methods
            .iter()
            .any(|lm| lm.as_bytes().eq_ignore_ascii_case(m))
    }

    /// Called with the response headers: remembers `:status`, and for a gRPC request a
    /// `grpc-status` header (a trailers-only response).
    pub fn on_response_headers(&self, x: &mut impl Exchange, st: &mut RequestState) {
        st.status = x
            .response_header(":status")
            .as_deref()
            .and_then(parse_status);
        if st.grpc {
            st.grpc_status = x
                .response_header("grpc-status")
                .as_deref()
                .and_then(grpc_code);
        }
        self.read_rule_headers(x, st);
    }

    /// Reads the response headers of the rules that could still hold (their request and
    /// status conditions do), once each.
    fn read_rule_headers(&self, x: &mut impl Exchange, st: &mut RequestState) {
        if !self
            .policy
            .rules
            .iter()
            .any(|r| !r.when.response_headers.is_empty() || !r.capture.response_headers.is_empty())
        {
            return;
        }
        let method = self.header(x, Some(st), ":method").unwrap_or_default();
        let path = self.header(x, Some(st), ":path").unwrap_or_default();
        let norm = crate::route::normalize(path_only(&path), self.policy.routes.case_insensitive);
        let authority = self.header(x, Some(st), ":authority").unwrap_or_default();
        let f = facts(
            &self.policy,
            &method,
            &norm,
            &authority,
            st.status.unwrap_or(0),
        );
        let mut wanted: Vec<String> = Vec::new();
        for r in &self.policy.rules {
            let status_ok =
                r.when.status.is_empty() || r.when.status.iter().any(|s| s.matches(f.status));
            let names = r
                .when
                .response_headers
                .iter()
                .map(|(n, _)| n)
                .chain(&r.capture.response_headers);
            if names.clone().next().is_none() || !status_ok {
                continue;
            }
            let mut hdr = |n: &str| self.header(x, Some(st), n);
            if r.when.request_holds(&f, &mut hdr) {
                for n in names {
                    if !wanted.contains(n) {
                        wanted.push(n.clone());
                    }
                }
            }
        }
        st.rule_headers = wanted
            .into_iter()
            .map(|n| {
                let v = x.response_header(&n);
                (n, v)
            })
            .collect();
    }

    /// Called with the response trailers: a gRPC request's `grpc-status`.
    pub fn on_response_trailers(&self, x: &mut impl Exchange, st: &mut RequestState) {
        if st.grpc && st.grpc_status.is_none() {
            st.grpc_status = x
                .response_trailer("grpc-status")
                .as_deref()
                .and_then(grpc_code);
        }
    }

    /// Called when the request is done: classifies it and returns its events (the event,
    /// then any alert), each with its `event.id`, counted by action. `req` is what the request
    /// callbacks saw (`None`, or a default state, when the host skipped them).
    pub fn on_log(
        &self,
        x: &mut impl Exchange,
        req: Option<&RequestState>,
        store: &mut impl SharedStore,
        metrics: &mut impl Metrics,
    ) -> Vec<Event> {
        let status = match req.and_then(|r| r.status) {
            Some(s) => s,
            None => x
                .property(envoy::RESPONSE_CODE)
                .as_deref()
                .and_then(le_u64)
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(0),
        };
        // Rate-limit flags come only with a local reply of 400 or above; so do UAEX and the
        // other flags classification reads.
        let flags = if status >= 400 || status == 0 {
            x.property(envoy::RESPONSE_FLAGS_PROPERTY)
                .as_deref()
                .and_then(le_u64)
                .unwrap_or(0)
        } else {
            0
        };
        let method = self.header(x, req, ":method");
        let m = method.as_deref().unwrap_or_default();
        let login_method = self.login_method(m);
        let want_path = login_method
            || ((200..300).contains(&status) && !self.policy.admin.path_prefixes.is_empty());
        let mut path = None;
        if want_path {
            path = self.header(x, req, ":path");
        }
        // Classification needs the details only for 401 and 403; the event carries them.
        let details_read = matches!(status, 401 | 403);
        let details = if details_read {
            x.property(envoy::RESPONSE_CODE_DETAILS)
        } else {
            None
        };
        let grpc_status = req.and_then(|r| r.grpc_status);
        let signals = Signals {
            status,
            flags,
            method: m,
            path: path_only(path.as_deref().unwrap_or_default()),
            details: details.as_deref().unwrap_or_default(),
            grpc_status,
        };
        let c = match self.apply_rules(x, req, &signals, flags, details.as_deref()) {
            Some(c) => Some(c),
            None => classify(&self.policy, &signals),
        };
        // The other signals detectors count, on every request (an attack tool's user agent
        // comes from the request snapshot: no hostcall).
        let sig = &self.policy.detectors.signals;
        let mut counted: Vec<detect::Signal> = Vec::new();
        match c.as_ref().map(|c| c.action) {
            _ if status == 404 && sig.excess_404 > 0 => counted.push(detect::Signal::NotFound),
            Some(Action::AuthzFail) if sig.authz_failures > 0 => {
                counted.push(detect::Signal::AuthzFailure)
            }
            Some(Action::ExcessRateLimitExceeded) if sig.rate_limit_storm > 0 => {
                counted.push(detect::Signal::RateLimited)
            }
            _ => {}
        }
        if sig.attack_tool
            && self
                .header(x, req, "user-agent")
                .is_some_and(|ua| detect::is_attack_tool(&ua))
        {
            counted.push(detect::Signal::AttackTool);
        }
        // No event of its own, but a signal to count: the event is built (alerts are made
        // from it) and not emitted.
        let emit = c.is_some();
        let Some(c) = c.or_else(|| {
            (!counted.is_empty()).then(|| Classified {
                action: Action::AuthnLoginAttempt,
                reason: "".into(),
                rule: "signal".into(),
                level: None,
                by_rule: false,
                rule_index: None,
            })
        }) else {
            return Vec::new();
        };

        if let Some(scan) = req.and_then(|r| r.scanner.as_ref()) {
            if scan.overflowed() {
                metrics.add(Metric::BodyScanOverflows, 1);
            }
        }
        let path = if want_path {
            path
        } else {
            self.header(x, req, ":path")
        };
        let details = if details_read {
            details
        } else {
            x.property(envoy::RESPONSE_CODE_DETAILS)
        };
        let time_ns = match req.map(|r| r.time_ns) {
            Some(t) if t > 0 => t,
            _ => x
                .property(envoy::REQUEST_TIME)
                .as_deref()
                .and_then(le_u64)
                .unwrap_or(0),
        };
        let addr = x.property(envoy::SOURCE_ADDRESS).unwrap_or_default();
        let (source_ip, source_port) = split_address(&addr);
        let authorization = self.header(x, req, "authorization");
        let cookie = if self.needs_cookie() {
            self.header(x, req, "cookie")
        } else {
            None
        };
        let on_login = c.rule == "login" || (c.by_rule && rules::is_login_action(c.action));
        let scan = if on_login {
            req.and_then(|r| r.scanner.as_ref())
        } else {
            None
        };
        let seen = crate::identity::Seen {
            authorization: authorization.as_deref(),
            cookie: cookie.as_deref(),
            path: path.as_deref(),
            snapshot: req
                .and_then(|r| r.headers.as_ref())
                .map(|s| (s, self.header_names.as_slice())),
        };
        let user = crate::identity::resolve(&self.policy, x, &seen, scan);
        let session = self.session(cookie.as_deref(), authorization.as_deref());
        let mut event = Event {
            time_ns,
            id: String::new(),
            action: Some(c.action),
            reason: c.reason,
            rule: c.rule,
            level: c.level,
            source_ip,
            source_port,
            source_address_raw: if source_ip.is_none() && !addr.is_empty() {
                Some(addr)
            } else {
                None
            },
            user,
            user_agent: self.header(x, req, "user-agent"),
            method,
            domain: self
                .header(x, req, ":authority")
                .map(|a| host_only(&a).to_vec()),
            path: path.map(|p| crate::route::loggable(&p)),
            request_id: self.header(x, req, "x-request-id"),
            status: (status != 0).then_some(status),
            code_details: details,
            response_flags: flags,
            session,
            grpc_status,
            alert: None,
            captured: Vec::new(),
        };
        let mut redacted = 0;
        if let Some(rule) = c.rule_index.and_then(|i| self.policy.rules.get(i)) {
            redacted += self.capture(x, req, rule, &mut event);
        }
        redacted += self.redact(&mut event);
        if redacted > 0 {
            metrics.add(Metric::Redactions, redacted);
        }
        // `output.sample`: 1 in N of this action's events (the first one kept) on this
        // worker; the rest are counted, and the detectors still see the outcome.
        let keep = match self.policy.output.sample_rate(c.action) {
            _ if !emit => false,
            1 => true,
            0 => false,
            n => {
                let seq = &self.sampled[c.action as usize];
                let k = seq.get();
                seq.set(k.wrapping_add(1));
                k.is_multiple_of(u64::from(n))
            }
        };
        if keep {
            self.stamp(&mut event, metrics);
        } else if emit {
            metrics.add(Metric::SampledOut(c.action), 1);
        }
        let found = match c.action {
            Action::AuthnLoginFail | Action::AuthnLoginSuccess => {
                let now_ms = match x.now_ns() {
                    0 => time_ns,
                    t => t,
                } / 1_000_000;
                let user = event.user.as_ref().map(|u| u.name.as_slice());
                let secret = self.secret.get();
                if c.action == Action::AuthnLoginFail {
                    let mut f = detect::on_failure(
                        &self.policy,
                        &secret,
                        store,
                        metrics,
                        source_ip,
                        user,
                        now_ms,
                    );
                    f.extend(detect::distributed::on_failure(
                        &self.policy,
                        store,
                        metrics,
                        now_ms,
                    ));
                    f
                } else {
                    detect::on_success(
                        &self.policy,
                        &secret,
                        store,
                        metrics,
                        source_ip,
                        user,
                        now_ms,
                    )
                }
                .into_iter()
                .map(|f| (f, now_ms))
                .collect()
            }
            _ => Vec::new(),
        };
        let mut found = found;
        if !counted.is_empty() {
            let now_ms = match x.now_ns() {
                0 => time_ns,
                t => t,
            } / 1_000_000;
            match source_ip {
                Some(ip) => {
                    let secret = self.secret.get();
                    for s in counted {
                        if let Some(f) =
                            detect::on_signal(&self.policy, &secret, store, metrics, s, ip, now_ms)
                        {
                            found.push((f, now_ms));
                        }
                    }
                }
                None => metrics.add(Metric::DetectorNoSourceIp, 1),
            }
        }
        let mut events = vec![event];
        for (f, now_ms) in found {
            if events.len() >= envoy::MAX_RECORDS {
                metrics.add(
                    Metric::AlertsSuppressed(crate::metrics::Suppressed::PerRequest),
                    1,
                );
                continue;
            }
            if !detect::admit(&self.policy, store, metrics, now_ms) {
                continue;
            }
            let alert = self.alert(&events[0], f, metrics);
            events.push(alert);
        }
        if !keep {
            events.remove(0);
        }
        events
    }
}
