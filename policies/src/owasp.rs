//! The OWASP Logging Vocabulary encoder: one [`Event`] → one line of JSON with the cheat
//! sheet's fields, and Vigil's own in `vigil`.
//!
//! | field | value |
//! |---|---|
//! | `datetime` | `request.time`, RFC 3339 UTC with milliseconds |
//! | `appid` | `vigil` |
//! | `event` | the vocabulary's `name:arguments`: the action, then `:<user>` when the event names a user (`authn_login_fail:alice`); an alert adds its count (`authn_login_fail_max:alice,11`) |
//! | `level` | `INFO`, `WARN`, `CRITICAL` |
//! | `description` | the reason code |
//! | `useragent`, `source_ip`, `port`, `hostname`, `request_uri`, `request_method`, `protocol` | the user agent, the client's address and port, the host, the path, the method, `http` |
//! | `vigil` | as ECS's `vigil.*` ([`crate::ecs`]), plus `vigil.user_name` (the user exactly, since `event` joins it to other text) |
//!
//! The user in `event` is the text as sent: a name containing `:` or `,` makes the event
//! string ambiguous to a naive split, so `vigil.user_name` carries it alone.

use crate::action::Action;
use crate::ecs::vigil_members;
use crate::event::Event;
use crate::jsonw::W;

/// Encodes an event as one OWASP-vocabulary JSON line; returns it and the number of
/// truncated fields.
pub fn encode(e: &Event, field_max_bytes: usize) -> (String, usize) {
    let action = e.action.unwrap_or(Action::AuthnLoginAttempt);
    let m = action.mapping();
    let level = e.level.map_or(m.level, crate::rules::Level::name);
    let mut w = W::new(field_max_bytes);
    w.out.push('{');
    w.text("datetime", &crate::time::rfc3339_millis(e.time_ns));
    w.text("appid", "vigil");
    let mut ev = action.name().as_bytes().to_vec();
    if let Some(u) = &e.user {
        ev.push(b':');
        ev.extend_from_slice(&u.name);
    }
    if let Some(a) = &e.alert {
        ev.push(if e.user.is_some() { b',' } else { b':' });
        ev.extend_from_slice(a.count.to_string().as_bytes());
    }
    w.bytes("event", "event", &ev);
    w.text("level", &level.to_ascii_uppercase());
    w.text("description", &e.reason);
    w.opt_bytes("useragent", "useragent", &e.user_agent);
    if let Some(ip) = e.source_ip {
        w.text("source_ip", &ip.to_string());
    }
    if let Some(p) = e.source_port {
        w.num("port", u64::from(p));
    }
    w.opt_bytes("hostname", "hostname", &e.domain);
    w.text("protocol", "http");
    w.opt_bytes("request_uri", "request_uri", &e.path);
    w.opt_bytes("request_method", "request_method", &e.method);
    w.open("vigil");
    w.text("action", action.name());
    w.text("event_id", &e.id);
    if let Some(s) = e.status {
        w.num("status", u64::from(s));
    }
    if let Some(u) = &e.user {
        w.bytes("user_name", "vigil.user_name", &u.name);
    }
    vigil_members(&mut w, e, "vigil.");
    let n = w.finish_vigil_extras();
    w.close();
    w.out.push('}');
    (w.out, n)
}
