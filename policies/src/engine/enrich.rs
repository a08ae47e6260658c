//! The engine's finishing of an event: what the deciding rule captures, redaction, the
//! rules that adjust an outcome, alerts, sessions and the stamp every event gets.

use super::*;

impl Engine {
    /// What the rule that decided captures, each value redacted by name and by value;
    /// returns how many redactions it made.
    pub(super) fn capture(
        &self,
        x: &mut impl Exchange,
        req: Option<&RequestState>,
        rule: &rules::Rule,
        event: &mut Event,
    ) -> u64 {
        use crate::redact::{by_name, header_mode, param_mode};
        let r = &self.policy.redaction;
        let fp = self.fingerprinter.as_ref();
        let mut n = 0;
        for name in &rule.capture.request_headers {
            if let Some(v) = self.header(x, req, name) {
                if let Some(v) = by_name(r, fp, header_mode(r, name), name, &v, &mut n) {
                    event.captured.push(("request_headers", name.clone(), v));
                }
            }
        }
        let read: &[(String, Option<Vec<u8>>)] = req.map_or(&[], |r| &r.rule_headers);
        for name in &rule.capture.response_headers {
            if let Some((_, Some(v))) = read.iter().find(|(k, _)| k == name) {
                if let Some(v) = by_name(r, fp, header_mode(r, name), name, v, &mut n) {
                    event.captured.push(("response_headers", name.clone(), v));
                }
            }
        }
        if let Some(scan) = req.and_then(|r| r.scanner.as_ref()) {
            for name in &rule.capture.body {
                if let Some((v, _cut)) = scan.field(name) {
                    let mode = crate::redact::body_mode(r, name);
                    if let Some(v) = by_name(r, fp, mode, name, &v, &mut n) {
                        event.captured.push(("body", name.clone(), v));
                    }
                }
            }
        }
        if !rule.capture.query.is_empty() {
            let path = self.header(x, req, ":path").unwrap_or_default();
            let query = path
                .iter()
                .position(|b| *b == b'?')
                .map_or(&[][..], |i| &path[i + 1..]);
            for name in &rule.capture.query {
                let v = query.split(|b| *b == b'&').find_map(|kv| {
                    let (k, v) = match kv.iter().position(|b| *b == b'=') {
                        Some(i) => (&kv[..i], &kv[i + 1..]),
                        None => (kv, &[][..]),
                    };
                    (crate::body_scan::percent_decode(k) == name.as_bytes())
                        .then(|| crate::body_scan::percent_decode(v))
                });
                if let Some(v) = v {
                    if let Some(v) = by_name(r, fp, param_mode(r, name), name, &v, &mut n) {
                        event.captured.push(("query", name.clone(), v));
                    }
                }
            }
        }
        n
    }

    /// Redacts the event's free-text fields by value ([`crate::redact`]); returns how many
    /// redactions it made (captured values were redacted as they were captured).
    pub(super) fn redact(&self, event: &mut Event) -> u64 {
        use crate::redact::scrub_in_place;
        let r = &self.policy.redaction;
        let fp = self.fingerprinter.as_ref();
        let mut n = 0;
        let mut field = |v: &mut Option<Vec<u8>>| {
            if let Some(x) = v.as_mut() {
                if !scrub_in_place(r, fp, x, &mut n) {
                    *v = None;
                }
            }
        };
        field(&mut event.path);
        field(&mut event.user_agent);
        if let Some(u) = event.user.as_mut() {
            if !scrub_in_place(r, fp, &mut u.name, &mut n) {
                event.user = None;
            }
        }
        n
    }

    /// The first of the policy's rules that holds for this request, as a classification.
    pub(super) fn apply_rules(
        &self,
        x: &mut impl Exchange,
        req: Option<&RequestState>,
        s: &Signals<'_>,
        flags_read: u64,
        details_read: Option<&[u8]>,
    ) -> Option<Classified> {
        if self.policy.rules.is_empty() {
            return None;
        }
        let uses = |f: fn(&rules::When) -> bool| self.policy.rules.iter().any(|r| f(&r.when));
        // What the built-in path did not read (it reads flags from 400 up, details for 401
        // and 403), read only when a rule matches on it.
        let flags = if s.status < 400 && s.status != 0 && uses(|w| w.response_flags != 0) {
            x.property(envoy::RESPONSE_FLAGS_PROPERTY)
                .as_deref()
                .and_then(le_u64)
                .unwrap_or(0)
        } else {
            flags_read
        };
        let details = match details_read {
            Some(d) => Some(d.to_vec()),
            None if uses(|w| w.code_details.is_some()) => x.property(envoy::RESPONSE_CODE_DETAILS),
            None => None,
        };
        let method = self.header(x, req, ":method").unwrap_or_default();
        let path = self.header(x, req, ":path").unwrap_or_default();
        let norm = crate::route::normalize(path_only(&path), self.policy.routes.case_insensitive);
        let authority = self.header(x, req, ":authority").unwrap_or_default();
        let mut f = facts(&self.policy, &method, &norm, &authority, s.status);
        f.flags = flags;
        f.details = details.as_deref().unwrap_or_default();
        f.grpc_status = s.grpc_status;
        let read: &[(String, Option<Vec<u8>>)] = req.map_or(&[], |r| &r.rule_headers);
        let mut request_header = |n: &str| self.header(x, req, n);
        let mut response_header = |n: &str| {
            read.iter()
                .find(|(k, _)| k == n)
                .and_then(|(_, v)| v.clone())
        };
        let r = rules::first(
            &self.policy.rules,
            &f,
            &mut request_header,
            &mut response_header,
        )?;
        Some(Classified {
            action: r.event,
            reason: r.reason.clone().into(),
            rule: r.name.clone().into(),
            level: r.level,
            by_rule: true,
            rule_index: self.policy.rules.iter().position(|x| std::ptr::eq(x, r)),
        })
    }

    /// The alert event for a detector's finding, on the request that raised it.
    pub(super) fn alert(&self, request: &Event, f: Found, metrics: &mut impl Metrics) -> Event {
        let (action, reason, rule) = match f.detector {
            Detector::SourceBruteForce => (
                Action::AuthnLoginFailMax,
                "too_many_login_failures",
                "brute_force",
            ),
            Detector::AccountBruteForce => (
                Action::AuthnLoginFailMax,
                "too_many_login_failures",
                "brute_force_account",
            ),
            Detector::Stuffing => (
                Action::AuthnLoginStuffing,
                "too_many_users_failing",
                "credential_stuffing",
            ),
            Detector::SourceSuccessAfterFail | Detector::AccountSuccessAfterFail => (
                Action::AuthnLoginSuccessAfterFail,
                "success_after_failures",
                "success_after_fail",
            ),
            Detector::Excess404 => (
                Action::MaliciousExcess404,
                "too_many_not_found",
                "excess_404",
            ),
            Detector::AuthzFailures => (
                Action::AuthzFailMax,
                "too_many_access_denied",
                "authz_failures",
            ),
            Detector::RateLimitStorm => (
                Action::ExcessRateLimitStorm,
                "too_many_rate_limited",
                "rate_limit_storm",
            ),
            Detector::AttackTool => (
                Action::MaliciousAttackTool,
                "attack_tool_user_agent",
                "attack_tool",
            ),
            Detector::DistributedStuffing => (
                Action::AuthnLoginStuffingDistributed,
                "login_failure_rate_above_baseline",
                "distributed_stuffing",
            ),
        };
        let mut alert = request.clone();
        alert.action = Some(action);
        alert.reason = reason.into();
        alert.rule = rule.into();
        // A user-keyed alert names the targeted user (its key); a source-keyed one names no
        // user: whoever the crossing request claimed to be is not what was counted.
        alert.user = match &f.key {
            AlertKey::User(name) => request.user.as_ref().map(|u| User {
                name: name.clone(),
                ..u.clone()
            }),
            _ => None,
        };
        alert.alert = Some(AlertInfo {
            confidence: (f.detector == Detector::AttackTool).then_some("low"),
            count: f.count,
            window_seconds: f.window_seconds,
            baseline: f.baseline,
            key: f.key.kind(),
            value: f.key.value(),
        });
        metrics.add(Metric::Alerts, 1);
        self.stamp(&mut alert, metrics);
        alert
    }

    /// Whether the `cookie` header matters: for a session fingerprint, or a JWT in a cookie.
    pub(super) fn needs_cookie(&self) -> bool {
        (self.fingerprinter.is_some() && !self.policy.fingerprint.session_cookies.is_empty())
            || self
                .policy
                .identity
                .jwt
                .as_ref()
                .is_some_and(|j| !j.from_cookies.is_empty())
    }

    pub(super) fn session(
        &self,
        cookie: Option<&[u8]>,
        authorization: Option<&[u8]>,
    ) -> Option<(String, String)> {
        let fp = self.fingerprinter.as_ref()?;
        let cookies = &self.policy.fingerprint.session_cookies;
        if let Some(header) = cookie.filter(|_| !cookies.is_empty()) {
            if let Some((name, v)) = find_cookie(header, cookies) {
                return Some((fp.fingerprint(v), format!("cookie:{name}")));
            }
        }
        let auth = authorization?;
        Some((fp.fingerprint(auth.trim_ascii()), "authorization".into()))
    }

    /// Gives an event its id and counts it.
    pub(super) fn stamp(&self, event: &mut Event, metrics: &mut impl Metrics) {
        self.seq.set(self.seq.get() + 1);
        let mut id = String::with_capacity(24);
        crate::escape::push_hex(&mut id, self.id_seed, 16);
        crate::escape::push_hex(&mut id, self.seq.get(), 8);
        event.id = id;
        if let Some(a) = event.action {
            metrics.add(Metric::Event(a), 1);
        }
    }
}
