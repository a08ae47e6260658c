//! The Open Cybersecurity Schema Framework encoder (OCSF 1.9): one [`Event`] → one line of
//! JSON, checked against the vendored schema by `tests/all/formats.rs`.
//!
//! ## Classes
//! | Vigil actions | OCSF class | `class_uid` | `category_uid` | `activity_id` |
//! |---|---|---|---|---|
//! | `authn_login_success`, `_fail`, `_attempt`, `authn_token_invalid` | Authentication | 3002 | 3 (IAM) | 1 Logon |
//! | `authz_fail`, `authz_admin`, `excess_rate_limit_exceeded`, `input_validation_fail` | HTTP Activity (the request is the activity: OCSF's HTTP class has the method, URL and status Vigil reports; API Activity 6003 is for cloud control-plane calls) | 4002 | 4 (Network) | the HTTP method (1 Connect … 9 Patch, 99 Other) |
//! | every alert (`event.kind: alert` in ECS) | Detection Finding | 2004 | 2 (Findings) | 1 Create |
//!
//! ## Fields
//! | field | value |
//! |---|---|
//! | `type_uid` | `class_uid × 100 + activity_id` |
//! | `time` | `request.time`, ms since the epoch |
//! | `severity_id` | `log.level`: info 1 (Informational), warn 3 (Medium), critical 5 (Critical) |
//! | `status_id` | events: outcome success 1, failure 2, unknown 0; findings: 1 (New) |
//! | `status_detail`, `message` | the reason code; the action name |
//! | `metadata.product` | `{name: "Vigil", vendor_name: "Vigil", version}`; `metadata.version` [`OCSF_VERSION`]; `metadata.uid` the event id; `metadata.event_code` the action; `metadata.log_provider` `Envoy`; `metadata.profiles` `["security_control"]` |
//! | `action_id`, `disposition_id` (Security Control profile) | a refused request (outcome failure: 401 outside login, 403, 429, 4xx input): 2 Denied / 2 Blocked; an allowed one (login success, admin access): 1 Allowed / 1 Allowed; a failed login (the application, not a control, said no) and findings: absent |
//! | `src_endpoint` | `{ip, port}` (events); in a finding, inside `evidences[0]` |
//! | `user` | Authentication: `{name}`, or `{name: "unknown"}` (it requires a user); HTTP Activity: `actor.user.name` when known; a finding: `evidences[0].user.name` |
//! | `http_request` | `{http_method, uid: x-request-id, user_agent, url: {hostname, path}}` |
//! | `http_response` | `{code}` |
//! | `finding_info` | `{uid: event id, title: action, desc: reason, types: [action], analytic: {name: rule, type_id: 1}}`; `is_alert: true`, `confidence_id` 1 (Low) for a user-agent signal, else 3 (High) |
//! | `unmapped.vigil` | everything else, as ECS's `vigil.*` ([`crate::ecs`]): rule, details, flags, user marks, captures, gRPC status, session, alert counts, `original`, `truncated` |
//!
//! The record always ends with its `unmapped.vigil` object.

use crate::action::{Action, Outcome};
use crate::ecs::{vigil_members, AGENT_VERSION};
use crate::event::Event;
use crate::jsonw::W;

/// The OCSF version events conform to (`metadata.version`).
pub const OCSF_VERSION: &str = "1.9.0";

/// An OCSF class Vigil writes: `(class_uid, category_uid)`.
fn class(e: &Event, action: Action) -> (u32, u32) {
    if e.alert.is_some() || action.mapping().kind == "alert" {
        return (2004, 2);
    }
    match action {
        Action::AuthnLoginSuccess
        | Action::AuthnLoginFail
        | Action::AuthnLoginAttempt
        | Action::AuthnTokenInvalid => (3002, 3),
        _ => (4002, 4),
    }
}

/// HTTP Activity's `activity_id` for a method.
fn http_activity(method: Option<&[u8]>) -> u32 {
    match method.unwrap_or_default() {
        b"CONNECT" => 1,
        b"DELETE" => 2,
        b"GET" => 3,
        b"HEAD" => 4,
        b"OPTIONS" => 5,
        b"POST" => 6,
        b"PUT" => 7,
        b"TRACE" => 8,
        b"PATCH" => 9,
        _ => 99,
    }
}

fn severity(level: &str) -> u64 {
    match level {
        "info" => 1,
        "warn" => 3,
        _ => 5,
    }
}

fn endpoint(w: &mut W, e: &Event) {
    if e.source_ip.is_some() || e.source_port.is_some() {
        w.open("src_endpoint");
        if let Some(ip) = e.source_ip {
            w.text("ip", &ip.to_string());
        }
        if let Some(p) = e.source_port {
            w.num("port", u64::from(p));
        }
        w.close();
    }
}

fn request(w: &mut W, e: &Event, at: &str) {
    w.open("http_request");
    w.opt_bytes(
        "http_method",
        &format!("{at}http_request.http_method"),
        &e.method,
    );
    w.opt_bytes("uid", &format!("{at}http_request.uid"), &e.request_id);
    w.opt_bytes(
        "user_agent",
        &format!("{at}http_request.user_agent"),
        &e.user_agent,
    );
    if e.domain.is_some() || e.path.is_some() {
        w.open("url");
        w.opt_bytes(
            "hostname",
            &format!("{at}http_request.url.hostname"),
            &e.domain,
        );
        w.opt_bytes("path", &format!("{at}http_request.url.path"), &e.path);
        w.close();
    }
    w.close();
    if let Some(s) = e.status {
        w.open("http_response");
        w.num("code", u64::from(s));
        w.close();
    }
}

fn user(w: &mut W, e: &Event, at: &str, required: bool) {
    match &e.user {
        Some(u) => {
            w.open("user");
            w.bytes("name", &format!("{at}user.name"), &u.name);
            w.close();
        }
        None if required => {
            w.open("user");
            w.text("name", "unknown");
            w.close();
        }
        None => {}
    }
}

/// Encodes an event as one OCSF JSON line; returns it and the number of truncated fields.
pub fn encode(e: &Event, field_max_bytes: usize) -> (String, usize) {
    let action = e.action.unwrap_or(Action::AuthnLoginAttempt);
    let m = action.mapping();
    let (class_uid, category_uid) = class(e, action);
    let activity_id = match class_uid {
        4002 => http_activity(e.method.as_deref()),
        _ => 1,
    };
    let level = e.level.map_or(m.level, crate::rules::Level::name);
    let mut w = W::new(field_max_bytes);
    w.out.push('{');
    w.num("activity_id", u64::from(activity_id));
    w.num("category_uid", u64::from(category_uid));
    w.num("class_uid", u64::from(class_uid));
    w.num(
        "type_uid",
        u64::from(class_uid) * 100 + u64::from(activity_id),
    );
    w.num("severity_id", severity(level));
    w.num("time", e.time_ns / 1_000_000);
    w.text("message", action.name());
    w.open("metadata");
    w.open("product");
    w.text("name", "Vigil");
    w.text("vendor_name", "Vigil");
    w.text("version", AGENT_VERSION);
    w.close();
    w.text("version", OCSF_VERSION);
    w.text("uid", &e.id);
    w.text("event_code", action.name());
    w.text("log_provider", "Envoy");
    w.list("profiles", &["security_control"]);
    w.close();
    if class_uid == 2004 {
        w.num("status_id", 1);
        w.key("is_alert");
        w.out.push_str("true");
        let low = e.alert.as_ref().and_then(|a| a.confidence) == Some("low");
        w.num("confidence_id", if low { 1 } else { 3 });
        w.open("finding_info");
        w.text("uid", &e.id);
        w.text("title", action.name());
        w.text("desc", &e.reason);
        w.list("types", &[action.name()]);
        w.open("analytic");
        w.text("name", &e.rule);
        w.num("type_id", 1);
        w.close();
        w.close();
        w.key("evidences");
        w.out.push('[');
        w.first = true;
        w.out.push('{');
        endpoint(&mut w, e);
        user(&mut w, e, "evidences[0].", false);
        request(&mut w, e, "evidences[0].");
        w.out.push('}');
        w.out.push(']');
        w.first = false;
    } else {
        let status = match m.outcome {
            Outcome::Success => 1,
            Outcome::Failure => 2,
            Outcome::Unknown => 0,
        };
        w.num("status_id", status);
        w.text("status_detail", &e.reason);
        let control = match (action, m.outcome) {
            (Action::AuthnLoginFail | Action::AuthnLoginAttempt, _) => None,
            (_, Outcome::Failure) => Some(2),
            (_, Outcome::Success) => Some(1),
            _ => None,
        };
        if let Some(c) = control {
            w.num("action_id", c);
            w.num("disposition_id", c);
        }
        endpoint(&mut w, e);
        if class_uid == 3002 {
            user(&mut w, e, "", true);
        } else if e.user.is_some() {
            // HTTP Activity has no `user`: the requester is the actor.
            w.open("actor");
            user(&mut w, e, "actor.", false);
            w.close();
        }
        request(&mut w, e, "");
    }
    w.open("unmapped");
    w.open("vigil");
    vigil_members(&mut w, e, "unmapped.vigil.");
    let n = w.finish_vigil_extras();
    w.close();
    w.close();
    w.out.push('}');
    (w.out, n)
}
