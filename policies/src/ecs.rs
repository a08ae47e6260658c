//! The Elastic Common Schema encoder: one [`Event`] → one line of JSON.
//!
//! Written directly into a `String` (no intermediate JSON tree). Every string from the wire
//! goes through [`crate::escape`], so the line is valid UTF-8, has no raw control, C1, line
//! separator or bidi characters, and each value is capped.
//!
//! ## Wire format, field by field
//! | field | type | value |
//! |---|---|---|
//! | `@timestamp` | date | `request.time`, RFC 3339 UTC, milliseconds |
//! | `ecs.version` | keyword | [`ECS_VERSION`] |
//! | `event.id` | keyword | unique per event: VM seed + sequence |
//! | `event.kind` | keyword | `event`, or `alert` |
//! | `event.category` | keyword[] | from the action table ([`crate::action`]) |
//! | `event.type` | keyword[] | from the action table |
//! | `event.action` | keyword | the OWASP (or documented Vigil) name |
//! | `event.outcome` | keyword | `success`, `failure`, `unknown` |
//! | `event.reason` | keyword | a fixed code ([`crate::classify`]) |
//! | `event.dataset`, `event.module` | keyword | `vigil.security`, `vigil` |
//! | `log.level`, `log.logger` | keyword | from the action table; `vigil` |
//! | `source.ip`, `source.port` | ip, long | the downstream peer (`source.address`) |
//! | `user.name` | keyword | when known ([`crate::identity`]) |
//! | `user_agent.original` | keyword | `user-agent` |
//! | `http.request.method`, `http.request.id` | keyword | `:method`, `x-request-id` |
//! | `http.response.status_code` | long | `response.code` |
//! | `url.domain`, `url.path` | keyword | `:authority` without port; `:path` without query |
//! | `observer.vendor`, `.product`, `.type` | keyword | `Envoy`, `Envoy`, `proxy` |
//! | `agent.name`, `.type`, `.version` | keyword | `vigil`, `vigil`, the crate version |
//! | `vigil.rule` | keyword | the policy rule that fired |
//! | `vigil.response_code_details` | keyword | Envoy's `response.code_details`, raw |
//! | `vigil.response_flags` | long | Envoy's `response.flags` bitmask |
//! | `vigil.user.source`, `vigil.user.verified` | keyword, boolean | `jwt`/`basic`/`login_body`; verified only for jwt |
//! | `vigil.user.ambiguous`, `vigil.user.truncated` | boolean | present (true) when the login body repeated the user field with different values, or the name was cut by the scan limit |
//! | `vigil.grpc.status` | long | a gRPC response's `grpc-status` |
//! | `vigil.captured.request_headers.<name>`, `.response_headers.<name>`, `.query.<name>`, `.body.<name>` | keyword | what the policy rule that decided captured, redacted ([`crate::redact`]) |
//! | `vigil.session.fingerprint`, `vigil.session.source` | keyword | HMAC fingerprint of the session cookie or credential, and where it came from |
//! | `vigil.source.address` | keyword | the raw peer address, only when it is not an IP |
//! | `vigil.alert.count`, `vigil.alert.window_seconds` | long | alerts only: the count that crossed the threshold (failures, or distinct users for stuffing) and the window |
//! | `vigil.alert.baseline` | long | rate alerts only (`authn_login_stuffing_distributed`): the learned login failures per window the count was compared with |
//! | `vigil.alert.confidence` | keyword | alerts only: `low` when the signal is trivially faked (a user agent) |
//! | `vigil.alert.key`, `vigil.alert.value` | keyword | alerts only: what the detector counts by (`source_ip`, `source_prefix`, `user`) and its value (`198.51.100.9`, `2001:db8:1:2::/64`, the user name); a user-keyed alert's `user.name` is that user, a source-keyed alert has no `user` |
//! | `vigil.original.<field>` | keyword | only for a value that was not valid UTF-8: the value's exact bytes, base64 (the field itself holds the text with U+FFFD for each invalid sequence; [`crate::escape`]); at most 765 bytes |
//! | `vigil.truncated` | keyword[] | names of the fields cut at the cap (`user_agent.original`, `vigil.captured.body.plan`, …): the authoritative truncation signal (a value that merely ends with `…[truncated]` was not cut) |
//!
//! Every string value is the text as sent (JSON escapes read back to it exactly), capped at
//! `output.field_max_bytes` characters (UTF-16 units, as Elasticsearch's `ignore_above` counts;
//! 1024 by default) including the marker.

use crate::event::Event;
use crate::jsonw::W;
use std::fmt::Write as _;

/// The ECS version events conform to (tests check fields against this schema).
pub const ECS_VERSION: &str = "9.5.0";

/// Vigil's version, as `agent.version`.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Encodes an event as one ECS JSON line (no trailing newline). Returns the line and the
/// number of truncated fields.
pub fn encode(e: &Event, field_max_bytes: usize) -> (String, usize) {
    let mut w = W::new(field_max_bytes);
    w.out.push('{');
    w.text("@timestamp", &crate::time::rfc3339_millis(e.time_ns));
    w.open("ecs");
    w.text("version", ECS_VERSION);
    w.close();
    let action = e.action.unwrap_or(crate::action::Action::AuthnLoginAttempt);
    let m = action.mapping();
    w.open("event");
    w.text("id", &e.id);
    w.text("kind", m.kind);
    w.list("category", m.category);
    w.list("type", m.types);
    w.text("action", action.name());
    w.text("outcome", m.outcome.as_str());
    w.text("reason", &e.reason);
    w.text("dataset", "vigil.security");
    w.text("module", "vigil");
    w.close();
    w.open("log");
    w.text("level", e.level.map_or(m.level, crate::rules::Level::name));
    w.text("logger", "vigil");
    w.close();
    if e.source_ip.is_some() || e.source_port.is_some() {
        w.open("source");
        if let Some(ip) = e.source_ip {
            w.key("ip");
            w.out.push('"');
            // An IpAddr's text is digits, dots, colons and hex: nothing to escape.
            let _ = write!(w.out, "{ip}");
            w.out.push('"');
        }
        if let Some(p) = e.source_port {
            w.num("port", u64::from(p));
        }
        w.close();
    }
    if let Some(u) = &e.user {
        w.open("user");
        w.bytes("name", "user.name", &u.name);
        w.close();
    }
    if let Some(ua) = &e.user_agent {
        w.open("user_agent");
        w.bytes("original", "user_agent.original", ua);
        w.close();
    }
    if e.method.is_some() || e.request_id.is_some() || e.status.is_some() {
        w.open("http");
        if e.method.is_some() || e.request_id.is_some() {
            w.open("request");
            w.opt_bytes("method", "http.request.method", &e.method);
            w.opt_bytes("id", "http.request.id", &e.request_id);
            w.close();
        }
        if let Some(s) = e.status {
            w.open("response");
            w.num("status_code", u64::from(s));
            w.close();
        }
        w.close();
    }
    if e.domain.is_some() || e.path.is_some() {
        w.open("url");
        w.opt_bytes("domain", "url.domain", &e.domain);
        w.opt_bytes("path", "url.path", &e.path);
        w.close();
    }
    w.open("observer");
    w.text("vendor", "Envoy");
    w.text("product", "Envoy");
    w.text("type", "proxy");
    w.close();
    w.open("agent");
    w.text("name", "vigil");
    w.text("type", "vigil");
    w.text("version", AGENT_VERSION);
    w.close();
    w.open("vigil");
    vigil_members(&mut w, e, "vigil.");
    let n = w.finish_vigil_extras();
    w.close();
    w.out.push('}');
    (w.out, n)
}

/// The members of Vigil's extension object (ECS `vigil`, OCSF `unmapped.vigil`, OWASP
/// `vigil`), into the open object; `p` prefixes the names of cut or lossy fields.
pub(crate) fn vigil_members(w: &mut W, e: &Event, p: &str) {
    w.text("rule", &e.rule);
    w.opt_bytes(
        "response_code_details",
        &format!("{p}response_code_details"),
        &e.code_details,
    );
    w.num("response_flags", e.response_flags);
    if let Some(u) = &e.user {
        w.open("user");
        w.text("source", u.source.as_str());
        w.key("verified");
        w.out.push_str(if u.verified { "true" } else { "false" });
        for (k, on) in [("ambiguous", u.ambiguous), ("truncated", u.truncated)] {
            if on {
                w.key(k);
                w.out.push_str("true");
            }
        }
        w.close();
    }
    if !e.captured.is_empty() {
        w.open("captured");
        for kind in ["request_headers", "response_headers", "query", "body"] {
            if e.captured.iter().any(|(k, _, _)| *k == kind) {
                w.open(kind);
                for (_, name, v) in e.captured.iter().filter(|(k, _, _)| *k == kind) {
                    w.bytes(name, &format!("{p}captured.{kind}.{name}"), v);
                }
                w.close();
            }
        }
        w.close();
    }
    if let Some(g) = e.grpc_status {
        w.open("grpc");
        w.num("status", u64::from(g));
        w.close();
    }
    if let Some((fp, src)) = &e.session {
        w.open("session");
        w.text("fingerprint", fp);
        w.bytes("source", &format!("{p}session.source"), src.as_bytes());
        w.close();
    }
    if let Some(raw) = &e.source_address_raw {
        w.open("source");
        w.bytes("address", &format!("{p}source.address"), raw);
        w.close();
    }
    if let Some(a) = &e.alert {
        w.open("alert");
        if let Some(b) = a.baseline {
            w.num("baseline", u64::from(b));
        }
        w.num("count", u64::from(a.count));
        w.num("window_seconds", u64::from(a.window_seconds));
        w.text("key", a.key);
        w.bytes("value", &format!("{p}alert.value"), &a.value);
        if let Some(c) = a.confidence {
            w.text("confidence", c);
        }
        w.close();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::action::Action;
    use crate::event::{User, UserSource};

    #[test]
    fn encodes_nested_valid_json_with_truncation() {
        let e = Event {
            time_ns: 1_795_424_401_000_000_000,
            id: "abc".into(),
            action: Some(Action::AuthnLoginFail),
            reason: "bad_credentials".into(),
            rule: "login".into(),
            source_ip: "203.0.113.7".parse().ok(),
            source_port: Some(40001),
            user: Some(User::new(
                b"al\x1bice".to_vec(),
                UserSource::LoginBody,
                false,
            )),
            user_agent: Some(vec![b'a'; 100]),
            path: Some(b"/login".to_vec()),
            status: Some(401),
            ..Event::default()
        };
        let (line, n) = encode(&e, 64);
        assert_eq!(n, 1);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"]["action"], "authn_login_fail");
        assert_eq!(v["user"]["name"], "al\u{1b}ice");
        assert_eq!(v["source"]["port"], 40001);
        assert_eq!(v["vigil"]["truncated"][0], "user_agent.original");
        assert_eq!(v["@timestamp"], "2026-11-23T09:00:01.000Z");
        assert!(!line.contains('\u{1b}'));
    }
}
