//! The ArcSight Common Event Format encoder: one [`Event`] → one `CEF:0|…` line.
//!
//! ## Wire format
//! `CEF:0|Vigil|Vigil|<version>|<signature>|<name>|<severity>|<extension>`
//! | part | value |
//! |---|---|
//! | signature id, name | the action (`authn_login_fail`) |
//! | severity | `log.level`: info 3, warn 6, critical 10 |
//! | `rt` | `request.time`, ms since the epoch |
//! | `externalId` | the event id |
//! | `cat` | the event kind (`event`, `alert`) |
//! | `outcome`, `reason` | `success`/`failure`/`unknown`; the reason code |
//! | `act` | `blocked` for a refused request, `allowed` for an allowed one (as OCSF's security control), absent otherwise |
//! | `src`, `spt` | the client's address and port |
//! | `suser` | the user name |
//! | `requestMethod`, `request`, `dhost`, `requestClientApplication` | method, path, host, user agent |
//! | `cn1Label=httpStatus cn1`, `cn2Label=alertCount cn2`, `cn3Label=alertWindowSeconds cn3` | status; an alert's count and window |
//! | `cs1Label=vigilRule cs1`, `cs2Label=requestId cs2`, `cs3Label=responseCodeDetails cs3`, `cs4Label=alertKey cs4` (`<key>:<value>`), `cs5Label=truncated cs5` (comma-separated fields), `cs6Label=original cs6` (`<field>:<base64>` per lossy field, comma-separated) | Vigil's rule, `x-request-id`, Envoy's details, what an alert counted, cut fields, the exact bytes of values that were not UTF-8 |
//! | `vigilGrpcStatus`, `vigilSession`, `vigilUserSource`, `vigilAlertBaseline`, `vigilAlertConfidence`, `vigilCaptured_<kind>_<name>` (other characters than letters and digits as `_`) | Vigil's own keys for the rest |
//!
//! ## Escaping, and what "parses back" means
//! Header fields escape `\` and `|` with a backslash; extension values escape `\` and `=`,
//! and write CR and LF as `\r` and `\n`, as the CEF specification says. CEF has no escape
//! for other characters: every control character, C1 (NEL), line or paragraph separator,
//! bidi control, zero-width, invisible or TAG character ([`crate::escape::must_escape`]) is
//! written as the visible text `<U+XXXX>` (`<U+200B>`). A CEF parser that undoes the
//! specification's escapes gets the value as sent with those characters shown as
//! `<U+XXXX>` (a value that itself contains such text reads the same: these marks are for
//! people, the exact bytes of a non-UTF-8 value are in `cs6`). Invalid UTF-8 is U+FFFD, as
//! in every format. Values are capped like JSON ones ([`crate::escape`]), the marker
//! included, and listed in `cs5`.

use crate::action::{Action, Outcome};
use crate::ecs::AGENT_VERSION;
use crate::escape::{base64, must_escape, TRUNCATION_MARKER};
use crate::event::Event;

/// A value decoded (U+FFFD for invalid UTF-8) and capped at `cap` UTF-16 units with the
/// marker: `(text, truncated, lossy, bytes consumed)`.
pub fn capped(bytes: &[u8], cap: usize) -> (String, bool, bool, usize) {
    let mut out = String::with_capacity(bytes.len().min(cap.saturating_mul(3)));
    let total: usize = bytes
        .utf8_chunks()
        .map(|c| c.valid().encode_utf16().count() + usize::from(!c.invalid().is_empty()))
        .sum();
    let budget = if total <= cap {
        usize::MAX
    } else {
        cap.saturating_sub(12)
    };
    let (mut used, mut pos, mut lossy) = (0usize, 0usize, false);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if used + c.len_utf16() > budget {
                out.push_str(TRUNCATION_MARKER);
                return (out, true, lossy, pos);
            }
            used += c.len_utf16();
            pos += c.len_utf8();
            out.push(c);
        }
        if !chunk.invalid().is_empty() {
            if used + 1 > budget {
                out.push_str(TRUNCATION_MARKER);
                return (out, true, lossy, pos);
            }
            used += 1;
            pos += chunk.invalid().len();
            lossy = true;
            out.push('\u{fffd}');
        }
    }
    (out, false, lossy, pos)
}

/// `<U+XXXX>` for a character CEF cannot show.
fn mark(out: &mut String, c: char) {
    out.push_str("<U+");
    let v = c as u32;
    let width = if v > 0xffff { 5 } else { 4 };
    crate::escape::push_hex(out, u64::from(v), width);
    let n = out.len();
    out[n - width as usize..].make_ascii_uppercase();
    out.push('>');
}

/// Escapes an extension value.
fn ext_escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if must_escape(c) => mark(out, c),
            c => out.push(c),
        }
    }
}

/// The line being built, with the fields cut or lossy.
struct C {
    out: String,
    cap: usize,
    truncated: Vec<String>,
    original: Vec<(String, Vec<u8>)>,
}

impl C {
    fn raw(&mut self, k: &str, v: &str) {
        self.out.push(' ');
        self.out.push_str(k);
        self.out.push('=');
        ext_escape(&mut self.out, v);
    }
    fn num(&mut self, k: &str, v: u64) {
        self.out.push(' ');
        self.out.push_str(k);
        self.out.push('=');
        crate::escape::push_u64(&mut self.out, v);
    }
    fn bytes(&mut self, k: &str, field: &str, v: &[u8]) {
        let (text, cut, lossy, used) = capped(v, self.cap);
        if cut {
            self.truncated.push(field.to_string());
        }
        if lossy {
            self.original
                .push((field.to_string(), v[..used.min(765)].to_vec()));
        }
        self.raw(k, &text);
    }
    fn opt(&mut self, k: &str, field: &str, v: &Option<Vec<u8>>) {
        if let Some(v) = v {
            self.bytes(k, field, v);
        }
    }
}

/// Encodes an event as one CEF line; returns it and the number of truncated fields.
pub fn encode(e: &Event, field_max_bytes: usize) -> (String, usize) {
    let action = e.action.unwrap_or(Action::AuthnLoginAttempt);
    let m = action.mapping();
    let level = e.level.map_or(m.level, crate::rules::Level::name);
    let severity = match level {
        "info" => "3",
        "warn" => "6",
        _ => "10",
    };
    let mut c = C {
        out: String::with_capacity(768),
        cap: field_max_bytes,
        truncated: Vec::new(),
        original: Vec::new(),
    };
    c.out.push_str("CEF:0|Vigil|Vigil|");
    c.out.push_str(AGENT_VERSION);
    c.out.push('|');
    c.out.push_str(action.name());
    c.out.push('|');
    c.out.push_str(action.name());
    c.out.push('|');
    c.out.push_str(severity);
    c.out.push('|');
    c.out.push_str("rt=");
    crate::escape::push_u64(&mut c.out, e.time_ns / 1_000_000);
    c.raw("externalId", &e.id);
    c.raw("cat", m.kind);
    c.raw("outcome", m.outcome.as_str());
    c.raw("reason", &e.reason);
    if e.alert.is_none() && !matches!(action, Action::AuthnLoginFail | Action::AuthnLoginAttempt) {
        match m.outcome {
            Outcome::Failure => c.raw("act", "blocked"),
            Outcome::Success => c.raw("act", "allowed"),
            Outcome::Unknown => {}
        }
    }
    if let Some(ip) = e.source_ip {
        c.raw("src", &ip.to_string());
    }
    if let Some(p) = e.source_port {
        c.num("spt", u64::from(p));
    }
    if let Some(u) = &e.user {
        c.bytes("suser", "suser", &u.name);
        c.raw("vigilUserSource", u.source.as_str());
    }
    c.opt("requestMethod", "requestMethod", &e.method);
    c.opt("request", "request", &e.path);
    c.opt("dhost", "dhost", &e.domain);
    c.opt(
        "requestClientApplication",
        "requestClientApplication",
        &e.user_agent,
    );
    if let Some(s) = e.status {
        c.raw("cn1Label", "httpStatus");
        c.num("cn1", u64::from(s));
    }
    c.raw("cs1Label", "vigilRule");
    c.raw("cs1", &e.rule);
    if e.request_id.is_some() {
        c.raw("cs2Label", "requestId");
        c.opt("cs2", "cs2", &e.request_id);
    }
    if e.code_details.is_some() {
        c.raw("cs3Label", "responseCodeDetails");
        c.opt("cs3", "cs3", &e.code_details);
    }
    if let Some(a) = &e.alert {
        c.raw("cn2Label", "alertCount");
        c.num("cn2", u64::from(a.count));
        c.raw("cn3Label", "alertWindowSeconds");
        c.num("cn3", u64::from(a.window_seconds));
        let mut kv = a.key.as_bytes().to_vec();
        kv.push(b':');
        kv.extend_from_slice(&a.value);
        c.raw("cs4Label", "alertKey");
        c.bytes("cs4", "cs4", &kv);
        if let Some(b) = a.baseline {
            c.num("vigilAlertBaseline", u64::from(b));
        }
        if let Some(conf) = a.confidence {
            c.raw("vigilAlertConfidence", conf);
        }
    }
    if let Some(g) = e.grpc_status {
        c.num("vigilGrpcStatus", u64::from(g));
    }
    if let Some((fp, src)) = &e.session {
        c.raw("vigilSession", &format!("{src}:{fp}"));
    }
    for (kind, name, v) in &e.captured {
        // A CEF key is letters, digits and `_`: other characters of a header name become `_`.
        let k: String = format!("vigilCaptured_{kind}_{name}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        c.bytes(&k, &k, v);
    }
    if !c.original.is_empty() {
        let o = std::mem::take(&mut c.original);
        let list: Vec<String> = o
            .iter()
            .map(|(f, b)| format!("{f}:{}", base64(b)))
            .collect();
        c.raw("cs6Label", "original");
        c.raw("cs6", &list.join(","));
    }
    let n = c.truncated.len();
    if n > 0 {
        let t = c.truncated.join(",");
        c.raw("cs5Label", "truncated");
        c.raw("cs5", &t);
    }
    (c.out, n)
}
