//! The traffic parser's unit tests.
#![allow(clippy::unwrap_used)]

use super::*;

const LINE: &str = r#"{"time": "2026-11-23T09:00:01.000Z", "source": "203.0.113.7:40001", "request": {"method": "POST", "path": "/login?x=1", "headers": [["Host","a"], ["user-agent",{"base64":"wKc="}]], "body": "pw"}, "response": {"status": 401, "headers": [["content-type","text/plain"]]}, "envoy": {"response_flags": ["RL", "UAEX"], "filter_metadata": {"ns": {"key": {"leaf": "v"}}}}}"#;

#[test]
fn parses_full_line() {
    let x = parse_exchange(LINE).unwrap();
    assert_eq!(x.request.headers[0], ("host".into(), b"a".to_vec()));
    assert_eq!(x.request.headers[1].1, vec![0xC0, 0xA7]);
    assert_eq!(x.request.body, b"pw");
    assert_eq!(x.envoy.response_flags, 0x800 | 0x1000);
    assert_eq!(x.time_ns, 1_795_424_401_000_000_000);
}

#[test]
fn flags_map_to_bits() {
    assert_eq!(response_flag_bit("LH"), Some(1));
    assert_eq!(response_flag_bit("RL"), Some(0x800));
    assert_eq!(response_flag_bit("RLSE"), Some(0x2000));
    assert_eq!(response_flag_bit("UDO"), Some(0x2000_0000));
    assert_eq!(response_flag_bit("XX"), None);
}

#[test]
fn strict_and_line_numbers() {
    let bad = LINE.replace("\"source\"", "\"sauce\"");
    let text = format!("{FORMAT_LINE}\n{LINE}\n\n{bad}\n");
    let e = parse_traffic("t.jsonl", &text).unwrap_err();
    assert_eq!(e.line, 4);
    assert!(e.to_string().starts_with("t.jsonl:4: "), "{e}");
    let unk = with_format_line([LINE.replace("\"RL\"", "\"NOPE\"")]);
    let e = parse_traffic("t", &unk).unwrap_err();
    assert!(e.message.contains("NOPE"));
}

#[test]
fn the_format_line_is_required_and_versioned() {
    let e = parse_traffic("t", &format!("{LINE}\n")).unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.message.contains(FORMAT_LINE), "{e}");
    let e = parse_traffic("t", &format!("{{\"vigil_traffic\": 2}}\n{LINE}\n")).unwrap_err();
    assert!(e.message.contains("version 2"), "{e}");
    let e = parse_traffic("t", "\n").unwrap_err();
    assert!(e.message.contains("empty"), "{e}");
    assert_eq!(
        parse_traffic("t", &with_format_line([LINE])).unwrap().len(),
        1
    );
    let e = parse_traffic("t", &with_format_line([FORMAT_LINE])).unwrap_err();
    assert_eq!(e.line, 2);
}

#[test]
fn bodies_in_chunks() {
    let line = LINE.replace(
        r#""body": "pw""#,
        r#""body": ["p", {"base64": "dw=="}, "x"]"#,
    );
    let x = parse_exchange(&line).unwrap();
    assert_eq!(x.request.body, b"pwx");
    assert_eq!(x.request.chunks, [1, 1, 1]);
    let x = parse_exchange(LINE).unwrap();
    assert_eq!(x.request.chunks, [2]);
    let bad = LINE.replace(r#""body": "pw""#, r#""body": ["p", ""]"#);
    assert!(parse_exchange(&bad).unwrap_err().contains("empty"));
}

#[test]
fn codec_and_filter_rejections() {
    let codec = r#"{"time": "2026-11-23T09:00:01Z", "source": "203.0.113.7:1", "response": {"status": 431}, "envoy": {"rejected_by": "codec", "response_code_details": "http1.headers_too_large"}}"#;
    let x = parse_exchange(codec).unwrap();
    assert_eq!(x.envoy.rejected_by, Some(RejectedBy::Codec));
    assert_eq!(x.response.body, b"Request Header Fields Too Large");
    assert_eq!(x.response.chunks, [31]);
    let with_headers = codec.replace(
        r#""status": 431"#,
        r#""status": 431, "headers": [["a", "b"]]"#,
    );
    assert!(parse_exchange(&with_headers).unwrap_err().contains("codec"));
    let no_request = codec.replace("codec", "filter");
    assert!(parse_exchange(&no_request).unwrap_err().contains("request"));
}
