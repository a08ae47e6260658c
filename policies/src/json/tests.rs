//! Tests of the JSON reader: valid and invalid documents, escapes, numbers, depth, duplicate
//! keys, error positions and paths, and agreement with `serde_json` on random documents.

#![allow(clippy::unwrap_used, clippy::panic)]
use super::*;

fn ok(s: &str) -> Value {
    parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &[u8]) -> Error {
    match parse(s) {
        Ok(v) => panic!("{:?} parsed as {v:?}", String::from_utf8_lossy(s)),
        Err(e) => e,
    }
}

fn string(s: &str) -> Value {
    Value::String(s.into())
}

fn uint(n: u64) -> Value {
    Value::Number(Number::Uint(n))
}

fn other(s: &str) -> Value {
    Value::Number(Number::Other(s.into()))
}

#[test]
fn scalars() {
    assert_eq!(ok("null"), Value::Null);
    assert_eq!(ok("true"), Value::Bool(true));
    assert_eq!(ok(" \t\r\nfalse \n"), Value::Bool(false));
    assert_eq!(ok(r#""""#), string(""));
    assert_eq!(ok(r#""héllo ✓""#), string("héllo ✓"));
}

#[test]
fn containers_keep_document_order() {
    assert_eq!(ok("[]"), Value::Array(vec![]));
    assert_eq!(ok("{}"), Value::Object(vec![]));
    assert_eq!(
        ok(r#" { "z" : [1, {"a": null}] , "a":"x" } "#),
        Value::Object(vec![
            (
                "z".into(),
                Value::Array(vec![
                    uint(1),
                    Value::Object(vec![("a".into(), Value::Null)])
                ])
            ),
            ("a".into(), string("x")),
        ])
    );
}

#[test]
fn escapes() {
    assert_eq!(
        ok(r#""\" \\ \/ \b \f \n \r \t""#),
        string("\" \\ / \u{8} \u{c} \n \r \t")
    );
    assert_eq!(ok(r#""\u0041\u00e9\u20AC\u0000""#), string("Aé€\0"));
    // A surrogate pair is one character.
    assert_eq!(ok(r#""\ud83d\ude00""#), string("😀"));
    assert_eq!(ok(r#""\uD834\uDD1Ex""#), string("𝄞x"));
    // Escaped and raw forms of a key are the same key.
    assert_eq!(ok(r#"{"\u0061":1}"#), ok(r#"{"a":1}"#));
}

#[test]
fn numbers_stay_integers_when_written_as_integers() {
    assert_eq!(ok("0"), uint(0));
    assert_eq!(ok("18446744073709551615"), uint(u64::MAX));
    assert_eq!(ok("-1"), Value::Number(Number::Int(-1)));
    assert_eq!(
        ok("-9223372036854775808"),
        Value::Number(Number::Int(i64::MIN))
    );
    // Everything else is kept as written.
    for s in [
        "18446744073709551616",
        "-9223372036854775809",
        "-0",
        "1.5",
        "-0.0",
        "1e3",
        "1E+3",
        "2.5e-3",
        "1e400",
    ] {
        assert_eq!(ok(s), other(s), "{s}");
    }
    assert!(Number::is_integer_literal("-0"));
    assert!(Number::is_integer_literal("18446744073709551616"));
    assert!(!Number::is_integer_literal("1e3"));
    assert!(!Number::is_integer_literal("1.0"));
}

#[test]
fn invalid_documents() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "EOF while parsing a value"),
        (b"  ", "EOF while parsing a value"),
        (b"1 2", "trailing characters"),
        (b"{} x", "trailing characters"),
        (b"[]]", "trailing characters"),
        (b"01", "invalid number: leading zero"),
        (b"-01", "invalid number: leading zero"),
        (b"1.", "invalid number"),
        (b".5", "expected value"),
        (b"+1", "expected value"),
        (b"-", "invalid number"),
        (b"-x", "invalid number"),
        (b"1e", "invalid number"),
        (b"1e+", "invalid number"),
        (b"NaN", "expected value"),
        (b"Infinity", "expected value"),
        (b"tru", "expected `true`"),
        (b"nul", "expected `null`"),
        (b"fals", "expected `false`"),
        (b"\"abc", "EOF while parsing a string"),
        (b"\"\\", "EOF while parsing a string"),
        (b"\"\\x\"", "invalid escape"),
        (b"\"\\u12\"", "invalid \\u escape: expected 4 hex digits"),
        (b"\"\\u12G4\"", "invalid \\u escape: expected 4 hex digits"),
        (b"\"\\u12", "EOF while parsing a string"),
        (b"\"\\ud800\"", "lone leading surrogate in \\u escape"),
        (
            b"\"\\ud800\\u0041\"",
            "lone leading surrogate in \\u escape",
        ),
        (
            b"\"\\ud800\\ud800\"",
            "lone leading surrogate in \\u escape",
        ),
        (b"\"\\udc00\"", "lone trailing surrogate in \\u escape"),
        (b"\"a\tb\"", "control character in string"),
        (b"\"a\nb\"", "control character in string"),
        (b"\"\x00\"", "control character in string"),
        (b"\"\xff\"", "invalid UTF-8 in string"),
        (b"\"\xc0\x80\"", "invalid UTF-8 in string"),
        (b"\"\xed\xa0\x80\"", "invalid UTF-8 in string"),
        (b"\"\xe2\x82\"", "invalid UTF-8 in string"),
        (b"\xef\xbb\xbf{}", "expected value"),
        (b"\xff", "expected value"),
        (b"'a'", "expected value"),
        (b"[1,]", "trailing comma"),
        (b"{\"a\":1,}", "trailing comma"),
        (b"[1 2]", "expected `,` or `]`"),
        (b"{\"a\":1 \"b\":2}", "expected `,` or `}`"),
        (b"{\"a\" 1}", "expected `:`"),
        (b"{\"a\"", "EOF while parsing an object"),
        (b"{\"a\":", "EOF while parsing a value"),
        (b"{1:2}", "key must be a string"),
        (b"{a:2}", "key must be a string"),
        (b"{,}", "key must be a string"),
        (b"[", "EOF while parsing a value"),
        (b"[1", "EOF while parsing an array"),
        (b"{", "EOF while parsing an object"),
        (b"{\"a\":1", "EOF while parsing an object"),
        (b"[1]//", "trailing characters"),
        (b"/* */1", "expected value"),
        (b"\x0c1", "expected value"),
    ];
    for (doc, message) in cases {
        let e = err(doc);
        assert_eq!(e.message, *message, "{:?}", String::from_utf8_lossy(doc));
    }
}

#[test]
fn duplicate_keys_are_errors_at_the_repeated_key() {
    let e = err(br#"{"a":1,"b":2,"a":3}"#);
    assert_eq!(e.message, "duplicate key `a`");
    assert_eq!(e.path(), "a");
    assert_eq!((e.line, e.column), (1, 14));
    // Once unescaped.
    assert_eq!(err(br#"{"a":1,"\u0061":2}"#).message, "duplicate key `a`");
    // Nested.
    let e = err(br#"{"x":[{"k":1},{"k":1,"k":2}]}"#);
    assert_eq!(e.path(), "x[1].k");
    // The same key in different objects is fine, and many distinct keys are too.
    ok(r#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}"#);
    let many: Vec<String> = (0..500).map(|i| format!("\"k{i}\":{i}")).collect();
    let doc = format!("{{{}}}", many.join(","));
    let Value::Object(members) = ok(&doc) else {
        panic!("not an object")
    };
    assert_eq!(members.len(), 500);
    assert_eq!(members[499].0, "k499");
    let doc = format!("{{{},\"k250\":0}}", many.join(","));
    assert_eq!(err(doc.as_bytes()).path(), "k250");
}

#[test]
fn nesting_is_bounded() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    ok(&deep(MAX_DEPTH));
    let e = err(deep(MAX_DEPTH + 1).as_bytes());
    assert_eq!(e.message, "nesting deeper than 64 levels");
    assert_eq!(e.column, MAX_DEPTH + 1);
    assert_eq!(e.path(), format!("{}", "[0]".repeat(MAX_DEPTH)));
    // Objects count too, and a hostile depth fails fast without exhausting the stack.
    let objects = format!(
        "{}1{}",
        r#"{"a":"#.repeat(MAX_DEPTH + 1),
        "}".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(
        err(objects.as_bytes()).message,
        "nesting deeper than 64 levels"
    );
    assert_eq!(
        err("[".repeat(100_000).as_bytes()).message,
        "nesting deeper than 64 levels"
    );
}

#[test]
fn errors_carry_line_column_and_path() {
    let e = err(b"{\n  \"a\": [1,\n    tru]\n}");
    assert_eq!((e.line, e.column), (3, 5));
    assert_eq!(e.path(), "a[1]");
    assert_eq!(e.to_string(), "expected `true` at line 3 column 5");
    // Columns count characters, not bytes.
    let e = err("{\"é€😀\": x}".as_bytes());
    assert_eq!((e.line, e.column), (1, 9));
    assert_eq!(e.path(), "é€😀");
    // The document itself.
    assert_eq!(err(b"x").path(), ".");
    assert_eq!(err(b"{} x").path(), ".");
    // An error in a key names the object, an error in a value names the member.
    assert_eq!(err(br#"{"a":{"b\q":1}}"#).path(), "a");
    assert_eq!(err(br#"{"a":{"b":"\q"}}"#).path(), "a.b");
    // Invalid UTF-8 is located at its first bad byte.
    let e = err(b"[\"ab\xffc\"]");
    assert_eq!((e.column, e.path().as_str()), (5, "[0]"));
}

#[test]
fn paths_escape_control_characters_in_keys() {
    let e = err(b"{\"a\\nb\\u001b\\u007f\":x}");
    assert_eq!(e.path(), "a\\u{a}b\\u{1b}\\u{7f}");
    let mut s = String::new();
    push_segment(&mut s, Segment::Index(3));
    push_segment(&mut s, Segment::Key("k"));
    push_segment(&mut s, Segment::Index(0));
    assert_eq!(s, "[3].k[0]");
}

#[cfg(not(target_arch = "wasm32"))]
mod agrees_with_serde_json {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value as J;

    /// Random JSON documents: deep enough to hit every shape, numbers of every kind, strings
    /// with any characters.
    fn doc() -> impl Strategy<Value = J> {
        let leaf = prop_oneof![
            Just(J::Null),
            any::<bool>().prop_map(J::Bool),
            any::<u64>().prop_map(J::from),
            any::<i64>().prop_map(J::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(J::from),
            any::<String>().prop_map(J::String),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(J::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| J::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Whether our value is serde_json's.
    fn same(ours: &Value, theirs: &J) -> bool {
        match (ours, theirs) {
            (Value::Null, J::Null) => true,
            (Value::Bool(a), J::Bool(b)) => a == b,
            (Value::String(a), J::String(b)) => a == b,
            (Value::Number(Number::Uint(a)), J::Number(b)) => b.as_u64() == Some(*a),
            (Value::Number(Number::Int(a)), J::Number(b)) => !b.is_u64() && b.as_i64() == Some(*a),
            (Value::Number(Number::Other(t)), J::Number(b)) => {
                // serde_json's default float parser may miss the nearest f64 (by more than
                // an ulp among subnormals); this reader does not parse floats at all.
                match (t.parse::<f64>(), b.as_f64()) {
                    (Ok(x), Some(y)) => {
                        b.is_f64() && (x - y).abs() <= y.abs().max(f64::MIN_POSITIVE) * 1e-9
                    }
                    _ => false,
                }
            }
            (Value::Array(a), J::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
            }
            (Value::Object(a), J::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
            }
            _ => false,
        }
    }

    /// Writes `v` with every character of every string as a `\u` escape (surrogate pairs
    /// beyond the BMP), to exercise the escape decoder.
    fn escaped(v: &J, out: &mut String) {
        let string = |s: &str, out: &mut String| {
            out.push('"');
            for unit in s.encode_utf16() {
                out.push_str(&format!("\\u{unit:04x}"));
            }
            out.push('"');
        };
        match v {
            J::Array(items) => {
                out.push_str("[ ");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" ,\n");
                    }
                    escaped(item, out);
                }
                out.push(']');
            }
            J::Object(members) => {
                out.push('{');
                for (i, (k, item)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    string(k, out);
                    out.push_str("\t:\r");
                    escaped(item, out);
                }
                out.push_str(" }");
            }
            J::String(s) => string(s, out),
            other => out.push_str(&other.to_string()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn valid_documents_read_the_same(v in doc()) {
            for text in [
                serde_json::to_string(&v).unwrap(),
                serde_json::to_string_pretty(&v).unwrap(),
                { let mut s = String::new(); escaped(&v, &mut s); s },
            ] {
                let ours = parse(text.as_bytes());
                prop_assert!(ours.is_ok(), "{text}: {:?}", ours);
                prop_assert!(same(&ours.unwrap(), &v), "{text}");
            }
        }

        /// Damaged documents: both readers accept or both reject, except where the two are
        /// meant to differ (serde_json's `Value` takes the last of repeated keys and refuses
        /// numbers beyond f64; this reader nests at most 64 deep).
        #[test]
        fn damaged_documents_are_judged_the_same(
            v in doc(),
            edits in proptest::collection::vec(
                (any::<prop::sample::Index>(), 0usize..3, prop::sample::select(
                    b"{}[],:\"\\ \t\n0123456789eE.-+tfnulx\x00\x1f\x7f\x80\xc3\xff".to_vec(),
                )),
                1..4,
            ),
        ) {
            let mut bytes = serde_json::to_vec(&v).unwrap();
            for (at, op, b) in edits {
                let i = at.index(bytes.len() + 1);
                match op {
                    0 => bytes.insert(i, b),
                    1 if i < bytes.len() => bytes[i] = b,
                    _ if i < bytes.len() => { bytes.remove(i); }
                    _ => bytes.push(b),
                }
            }
            let ours = parse(&bytes);
            let theirs = serde_json::from_slice::<J>(&bytes);
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => prop_assert!(same(a, b)),
                (Err(_), Err(_)) => {}
                (Err(e), Ok(_)) => prop_assert!(
                    e.message.starts_with("duplicate key") || e.message.starts_with("nesting"),
                    "{:?}: {e}", String::from_utf8_lossy(&bytes)
                ),
                (Ok(_), Err(e)) => prop_assert!(
                    e.to_string().starts_with("number out of range"),
                    "{:?}: {e}", String::from_utf8_lossy(&bytes)
                ),
            }
        }
    }
}
