//! End to end: hostile bytes from a raw socket never break an event line, and events keep
//! flowing afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;
use vigil_tests::envoy::{new_request_id, send_raw, Envoy, Options, Req};

const FORM: &str = "application/x-www-form-urlencoded";

/// Bytes that must never appear raw in an event line: C0 controls, DEL, and U+2028/U+2029
/// (line separators for many log pipelines and JavaScript).
fn check_line(line: &[u8]) {
    let text = std::str::from_utf8(line).unwrap_or_else(|e| {
        panic!(
            "event line is not UTF-8 ({e}): {:?}",
            String::from_utf8_lossy(line)
        )
    });
    for c in text.chars() {
        assert!(
            !(c.is_control() || c == '\u{2028}' || c == '\u{2029}'),
            "raw {c:?} in event line {text:?}"
        );
    }
    let v: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("event line not JSON ({e}): {text}"));
    assert!(v.is_object(), "{text}");
}

#[test]
fn e2e_hostile_bytes_keep_events_one_line_json() {
    let envoy = Envoy::start(&Options::new("hostile")).unwrap();
    let hostile_ua: &[u8] = b"curl/8 \xC0\xA7\xC0\xA2 \xE2\x80\xA8 \xE2\x80\xA9 \xFF end";

    // Accepted by Envoy's codec (obs-text bytes in a header value): the plugin must cope.
    let id_ua = new_request_id("hostile-ua");
    let r = envoy
        .send(
            &Req::post("/login", FORM, "username=alice&password=wrong")
                .header_bytes("user-agent", hostile_ua)
                .header_bytes("cookie", b"session=\xC0\xA7\xE2\x80\xA8")
                .id(&id_ua),
        )
        .unwrap();
    assert_eq!(r.status, 401);

    // Control characters and line separators decoded from the body into user.name.
    let id_body = new_request_id("hostile-body");
    let r = envoy
        .send(
            &Req::post(
                "/login",
                FORM,
                "username=%1B%5B31mroot%0A%7B%22event%22%3A1%7D%E2%80%A8%C0%A7&password=x",
            )
            .id(&id_body),
        )
        .unwrap();
    assert_eq!(r.status, 401);
    let id_json = new_request_id("hostile-json");
    let r = envoy
        .send(
            &Req::post(
                "/api/login",
                "application/json",
                "{\"username\":\"a\\u0000b\\u001b\\u2028c\\\"}\\n\",\"password\":\"x\"}",
            )
            .id(&id_json),
        )
        .unwrap();
    assert_eq!(r.status, 401);

    // Rejected by Envoy's HTTP/1 codec (400 before any request callback): ESC in a header
    // value, raw U+2028 / C0 A7 / ESC in the path. The plugin's on_log still runs for them
    // (without request headers); whatever it emits must be clean.
    for raw in [
        &b"GET /x HTTP/1.1\r\nhost: a\r\nuser-agent: a\x1b[31mb\r\nconnection: close\r\n\r\n"[..],
        &b"GET /login\xE2\x80\xA8x HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"[..],
        &b"GET /login\xC0\xA7\xC0\xA2 HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"[..],
        &b"GET /a\x1bb HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"[..],
    ] {
        let r = send_raw(envoy.listen, raw).unwrap();
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(raw));
    }

    // Events still flow afterwards.
    let id_after = new_request_id("after");
    let r = envoy
        .send(&Req::post("/login", FORM, "username=alice&password=nope").id(&id_after))
        .unwrap();
    assert_eq!(r.status, 401);
    envoy.event_for(&id_after, Duration::from_secs(5)).unwrap();
    for id in [&id_ua, &id_body, &id_json] {
        let e = envoy.event_for(id, Duration::from_secs(1)).unwrap();
        assert_eq!(e.action(), "authn_login_fail", "{}", e.raw);
    }
    let lines = envoy.event_lines_raw();
    assert!(lines.len() >= 4, "{lines:?}");
    for line in &lines {
        check_line(line);
    }
    // The VM never failed: no panic, no reload.
    let stats = envoy.stats().unwrap();
    assert_eq!(
        stats.get("wasm.vigil.vm_reload_success"),
        Some(&0),
        "the VM was reloaded"
    );
    let log = envoy.log();
    assert!(!log.contains("panicked"), "plugin panicked:\n{log}");
}
