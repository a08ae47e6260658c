//! Unit tests, hostile inputs and property tests against the `regex` crate for [`super`].
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;

fn re(p: &str) -> Pattern {
    match Pattern::regex(p) {
        Ok(p) => p,
        Err(e) => panic!("{p:?}: {e}"),
    }
}

fn glob(p: &str) -> Pattern {
    match Pattern::glob(p) {
        Ok(p) => p,
        Err(e) => panic!("{p:?}: {e}"),
    }
}

/// Asserts `p` matches each of `yes` and none of `no`.
fn check(p: &Pattern, yes: &[&str], no: &[&str]) {
    for h in yes {
        assert!(p.is_match(h.as_bytes()), "{p:?} should match {h:?}");
    }
    for h in no {
        assert!(!p.is_match(h.as_bytes()), "{p:?} should not match {h:?}");
    }
}

fn err(p: &str) -> PatternError {
    match Pattern::regex(p) {
        Ok(_) => panic!("{p:?} should be rejected"),
        Err(e) => e,
    }
}

#[test]
fn exact_and_prefix() {
    check(&Pattern::exact("/a"), &["/a"], &["/a/", "/", ""]);
    check(
        &Pattern::prefix("/a"),
        &["/a", "/ab", "/a/b"],
        &["/", "", "a"],
    );
    check(&Pattern::prefix(""), &["", "x"], &[]);
}

#[test]
fn literals_and_search() {
    check(&re("abc"), &["abc", "xabcx", "ababc"], &["ab", "acb", ""]);
    check(&re(""), &["", "x"], &[]);
    check(&re("é"), &["café"], &["cafe"]);
    check(&re("é+$"), &["cafééé"], &["cafe\u{e8}"]);
    check(&re("a]}"), &["a]}"], &["a]"]);
}

#[test]
fn dot_and_escapes() {
    check(&re("a.c"), &["abc", "a/c", "a\u{7f}c"], &["a\nc", "ac"]);
    assert!(re("a.c").is_match(b"a\xffc"));
    check(&re(r"\d+"), &["x42"], &["x"]);
    check(&re(r"^\D$"), &["x", "\n"], &["4"]);
    check(&re(r"^\w+$"), &["a_Z9"], &["a-b", ""]);
    check(&re(r"^\W$"), &["-", "\n"], &["a", "_"]);
    assert!(re(r"^\W$").is_match(b"\xff"));
    check(
        &re(r"^\s\S$"),
        &[" x", "\tx", "\u{b}x", "\u{c}x", "\rx", "\nx"],
        &["  ", "x "],
    );
    check(&re(r"a\nb\tc\rd"), &["a\nb\tc\rd"], &["anbtcrd"]);
    check(&re(r"\x41\x7e"), &["A~"], &["a~"]);
    assert!(re(r"\xff\x00").is_match(b"\xff\x00"));
    check(
        &re(r"\.\*\+\?\(\)\[\]\{\}\|\^\$\\\/\-"),
        &[r".*+?()[]{}|^$\/-"],
        &["x"],
    );
}

#[test]
fn classes() {
    check(&re("^[abc]+$"), &["abcba"], &["abd", ""]);
    check(&re("^[a-cx-z]$"), &["b", "y"], &["d", "w"]);
    check(&re("^[^a-c]$"), &["d", "\n"], &["a", "c"]);
    assert!(re("^[^a]$").is_match(b"\xff"));
    check(&re("^[]a]+$"), &["]a]"], &["b"]);
    check(&re("^[^]a]$"), &["b"], &["]", "a"]);
    check(&re("^[-a]+$"), &["-a"], &["b"]);
    check(&re("^[a-]+$"), &["-a"], &["b"]);
    check(&re("^[a^]+$"), &["^a"], &["b"]);
    check(&re(r"^[\d_]+$"), &["1_2"], &["a"]);
    check(&re(r"^[\]\\\-\[]+$"), &[r"]\-["], &["a"]);
    check(&re(r"^[\x00-\x1f\n]$"), &["\n", "\u{1}"], &[" "]);
    check(&re(r"^[\s\w]+$"), &["a b"], &["-"]);
    check(&re(r"^[^\s]+$"), &["ab"], &["a b"]);
    assert!(!re(r"[^\x00-\xff]").is_match(b"abc\xff"));
}

#[test]
fn groups_alternation_quantifiers() {
    check(
        &re("^(ab|cd)+$"),
        &["ab", "abcd", "cdab"],
        &["", "abc", "ac"],
    );
    check(&re("^(?:a|)b$"), &["ab", "b"], &["aab"]);
    check(&re("^()$"), &[""], &["a"]);
    check(&re("^a|b$"), &["ax", "xb"], &["xa", "bx"]);
    check(&re("^ab*c?$"), &["a", "abbb", "abbc", "ac"], &["abcc", "b"]);
    check(&re("^a{3}$"), &["aaa"], &["aa", "aaaa"]);
    check(&re("^a{2,}$"), &["aa", "aaaaa"], &["a"]);
    check(&re("^a{1,3}$"), &["a", "aaa"], &["", "aaaa"]);
    check(&re("^a{0}b$"), &["b"], &["ab"]);
    check(&re("^(a{2}){3}$"), &["aaaaaa"], &["aaaaa", "aaaaaaa"]);
    check(&re("^a{2}{3}$"), &["aaaaaa"], &["aaaa"]);
    check(&re("^a*?b+?c??d{1,2}?$"), &["bd", "aabbcdd"], &["ab"]);
    check(&re("^é{2}$"), &["éé"], &["é"]);
    check(&re("^(a*)*b$"), &["b", "aaab"], &["aaa"]);
}

#[test]
fn anchors() {
    check(&re("^a"), &["ab"], &["ba"]);
    check(&re("a$"), &["ba"], &["ab", "a\n"]);
    check(&re("^$"), &[""], &["a", "\n"]);
    check(&re("$"), &["", "abc"], &[]);
    check(&re("a^b"), &[], &["ab", "a^b"]);
    check(&re("(^|/)x"), &["x", "a/x"], &["ax"]);
    check(&re("x($|/)"), &["x", "x/a"], &["xa"]);
}

#[test]
fn case_insensitive() {
    check(&re("(?i)^abc$"), &["ABC", "aBc"], &["abd"]);
    check(&re("(?i)^[a-c]+$"), &["AbC"], &["d"]);
    check(&re("(?i)^[^a]$"), &["b", "B"], &["a", "A"]);
    check(&re("(?i)^[A]$"), &["a"], &[]);
    check(&re("(?i)^\\x41_$"), &["a_", "A_"], &["a-"]);
    check(&re("^abc$"), &["abc"], &["ABC"]);
}

#[test]
fn regex_errors() {
    let cases: &[(&str, usize, &str)] = &[
        ("(a", 0, "unclosed group"),
        ("a)", 1, "unmatched ')'"),
        ("*a", 0, "missing expression"),
        ("a|+", 2, "missing expression"),
        ("(?=a)", 0, "lookahead"),
        ("(?!a)", 0, "lookahead"),
        ("(?<=a)", 0, "lookbehind"),
        ("(?<!a)", 0, "lookbehind"),
        ("(?P<n>a)", 0, "named groups"),
        ("(?<n>a)", 0, "named groups"),
        ("a(?i)b", 1, "only supported at the start"),
        ("(?s)a", 0, "unsupported group"),
        ("(?i:a)", 0, "unsupported group"),
        (r"(a)\1", 3, "backreferences"),
        (r"\bx", 0, "word boundaries"),
        (r"\<x", 0, "word boundaries"),
        (r"\Ax", 0, "\\A"),
        (r"\pL", 0, "Unicode classes"),
        (r"\x{41}", 0, "\\xHH"),
        (r"\x4", 0, "\\xHH"),
        (r"\q", 0, "unrecognized escape"),
        (r"a\", 2, "trailing backslash"),
        ("[abc", 0, "unclosed class"),
        ("[]", 0, "unclosed class"),
        ("[z-a]", 1, "start > end"),
        (r"[\d-z]", 3, "part of a range"),
        (r"[a-\d]", 3, "single byte"),
        ("[[:alpha:]]", 1, "posix"),
        ("[a&&b]", 2, "set operations"),
        ("[a--b]", 2, "set operations"),
        ("[a-b-c]", 4, "part of a range"),
        ("[é]", 1, "non-ASCII"),
        ("a{", 2, "expected a number"),
        ("a{2", 3, "expected '}'"),
        ("a{,2}", 2, "expected a number"),
        ("a{ 2}", 2, "expected a number"),
        ("a{3,2}", 1, "min > max"),
        ("a{1001}", 2, "exceeds 1000"),
        ("a{1,99999999999999}", 4, "exceeds 1000"),
    ];
    for &(p, offset, msg) in cases {
        let e = err(p);
        assert_eq!(e.offset, offset, "{p:?}: {e}");
        assert!(e.message.contains(msg), "{p:?}: {e}");
        assert!(e.to_string().starts_with(&format!("at offset {offset}: ")));
    }
    assert!(Pattern::regex("a{1000}").is_ok());
}

#[test]
fn hostile_sizes_are_rejected() {
    for p in [
        "a{1000}{1000}".to_string(),
        "(a{1000}){1000}".to_string(),
        "(?:(?:a{100}){100}){100}".to_string(),
        "[a-z]{1000}{11}".to_string(),
        vec!["a"; 10_000].join("|"),
        vec!["abc"; 5_000].join("|"),
        "x".repeat(20_000),
        format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("{}a{}", "(?:".repeat(101), ")".repeat(101)),
        format!("a{}", "*".repeat(20_000)),
    ] {
        assert!(Pattern::regex(&p).is_err(), "{:?} accepted", &p[..20]);
    }
    let e = err("a{1000}{1000}");
    assert!(e.message.contains("too large"), "{e}");
    assert!(Pattern::regex(&format!("{}a{}", "(".repeat(100), ")".repeat(100))).is_ok());
    assert!(Pattern::regex(&vec!["a"; 3_000].join("|")).is_ok());
    assert!(Pattern::glob(&"*".repeat(3).repeat(10_000)).is_ok()); // `**` runs collapse
    assert!(Pattern::glob(&"*/".repeat(5_000)).is_err());
}

#[test]
fn pathological_patterns_are_linear() {
    let a = vec![b'a'; 100_000];
    let x = vec![b'x'; 100_000];
    let start = std::time::Instant::now();
    assert!(!re("(a*)*b").is_match(&a));
    assert!(!re("(a|aa)*c").is_match(&a));
    assert!(!re("(x+x+)+y").is_match(&x));
    assert!(!re("^(a?){50}a{50}b").is_match(&a));
    assert!(!glob("**a**a**a**b").is_match(&a));
    assert!(re("(x+x+)+$").is_match(&x));
    let took = start.elapsed();
    assert!(took.as_secs() < 10, "took {took:?}");
}

#[test]
fn globs() {
    check(
        &glob("/api/*/login"),
        &["/api/v1/login", "/api//login"],
        &["/api/v1/x/login", "/api/v1/login/"],
    );
    check(
        &glob("/static/**"),
        &["/static/a/b.css", "/static/", "/static/x"],
        &["/static", "/stat/x"],
    );
    check(
        &glob("/a/**/b"),
        &["/a/b", "/a/x/b", "/a/x/y/b"],
        &["/a/xb", "/ab"],
    );
    check(
        &glob("**/x.css"),
        &["x.css", "a/x.css", "/a/b/x.css"],
        &["ax.css"],
    );
    check(&glob("/a**b"), &["/ab", "/a/x/b"], &["/a/x/c"]);
    check(&glob("/f?o"), &["/foo", "/f.o"], &["/f/o", "/fo"]);
    check(&glob("/[abc]x"), &["/ax", "/cx"], &["/dx"]);
    check(&glob("/[a-c]x"), &["/bx"], &["/dx"]);
    check(&glob("/[!a-c]x"), &["/dx"], &["/ax", "//x"]);
    check(&glob("/[^a]x"), &["/dx"], &["/ax"]);
    check(&glob("/[]]x"), &["/]x"], &["/ax"]);
    check(&glob(r"/[\]a]x"), &["/]x", "/ax"], &["/bx"]);
    check(&glob(r"/\*\?\[x"), &["/*?[x"], &["/a?[x"]);
    check(&glob("*.css"), &["a.css", ".css"], &["a/b.css"]);
    check(&glob(""), &[""], &["a"]);
    check(&glob("/é*"), &["/é", "/éte"], &["/e"]);
    for (g, offset) in [("/[ab", 1), ("/\\", 2), ("[b-a]", 1), ("[é]", 1), ("[!", 0)] {
        match Pattern::glob(g) {
            Ok(_) => panic!("{g:?} accepted"),
            Err(e) => assert_eq!(e.offset, offset, "{g:?}: {e}"),
        }
    }
}

#[test]
fn program_debug_shows_source() {
    let Pattern::Regex(p) = re("a+") else {
        panic!("not a regex")
    };
    assert_eq!(p.source(), "a+");
    assert_eq!(format!("{p:?}"), "Program(\"a+\")");
}

#[cfg(not(target_arch = "wasm32"))]
mod oracle {
    use super::*;
    use proptest::prelude::*;

    /// Random regexes of the supported subset from a small grammar.
    fn regex_strategy() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("a"),
            Just("b"),
            Just("A"),
            Just("/"),
            Just("\\."),
            Just("."),
            Just("\\n"),
            Just("[ab]"),
            Just("[^a]"),
            Just("[a-b/]"),
            Just("[^\\n.]"),
            Just("[B-b]"),
            Just("\\w"),
            Just("\\W"),
            Just("\\d"),
            Just("\\s"),
            Just("\\S"),
            Just("\\x61"),
            Just("^"),
            Just("$"),
            Just("()"),
            Just("[-a]"),
            Just("[]a]"),
            Just("[^]a]"),
            Just("\\D"),
            Just("[\\w/]"),
            Just("[^\\W.]"),
            Just("\\/"),
            Just("\\xff"),
            Just("[1-9\\x20]"),
        ]
        .prop_map(String::from);
        let quant = prop_oneof![
            Just("*"),
            Just("+"),
            Just("?"),
            Just("*?"),
            Just("+?"),
            Just("??"),
            Just("{2}"),
            Just("{0}"),
            Just("{1,}"),
            Just("{0,2}"),
            Just("{1,3}?"),
        ];
        leaf.prop_recursive(4, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
                prop::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join("|")),
                inner.clone().prop_map(|s| format!("({s})")),
                (inner.clone(), quant.clone()).prop_map(|(s, q)| format!("(?:{s}){q}")),
                (inner, quant.clone()).prop_map(|(s, q)| format!("{s}{q}")),
            ]
        })
    }

    fn hay_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(b"/.ab\nA1 _\xff".to_vec()), 0..16)
    }

    /// A reference glob matcher: plain backtracking over glob tokens.
    fn glob_ref(g: &[u8], h: &[u8], seg_start: bool) -> bool {
        match g {
            [] => h.is_empty(),
            [b'*', b'*', ..] => {
                let rest = g
                    .iter()
                    .position(|&c| c != b'*')
                    .map_or(&[][..], |i| &g[i..]);
                match rest {
                    [b'/', rest @ ..] if seg_start => {
                        glob_ref(rest, h, true)
                            || (1..=h.len())
                                .any(|k| h[k - 1] == b'/' && glob_ref(rest, &h[k..], true))
                    }
                    _ => (0..=h.len()).any(|k| glob_ref(rest, &h[k..], false)),
                }
            }
            [b'*', rest @ ..] => (0..=h.len())
                .take_while(|&k| k == 0 || h[k - 1] != b'/')
                .any(|k| glob_ref(rest, &h[k..], false)),
            [b'?', rest @ ..] => {
                matches!(h.first(), Some(c) if *c != b'/') && glob_ref(rest, &h[1..], false)
            }
            [c, rest @ ..] => h.first() == Some(c) && glob_ref(rest, &h[1..], *c == b'/'),
        }
    }

    fn glob_strategy() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec!["a", "b", "/", ".", "*", "**", "?", "**/"]),
            0..8,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn regex_agrees_with_regex_crate(
            p in regex_strategy(),
            icase in any::<bool>(),
            hays in prop::collection::vec(hay_strategy(), 8),
        ) {
            let p = if icase { format!("(?i){p}") } else { p };
            let ours = Pattern::regex(&p);
            let theirs = regex::bytes::RegexBuilder::new(&p).unicode(false).build();
            let (Ok(ours), Ok(theirs)) = (ours, theirs) else {
                panic!("{p:?}: only one side compiled");
            };
            for h in &hays {
                prop_assert_eq!(ours.is_match(h), theirs.is_match(h), "{:?} on {:?}", p, h);
            }
        }

        #[test]
        fn glob_agrees_with_reference(g in glob_strategy(), hays in prop::collection::vec(hay_strategy(), 8)) {
            let ours = glob(&g);
            for h in &hays {
                prop_assert_eq!(ours.is_match(h), glob_ref(g.as_bytes(), h, true), "{:?} on {:?}", g, h);
            }
        }

        #[test]
        fn arbitrary_patterns_never_panic(p in "[\\\\()\\[\\]{}|*+?^$.a-c0-9,:!=<-]{0,24}", h in hay_strategy()) {
            if let Ok(pat) = Pattern::regex(&p) {
                let _ = pat.is_match(&h);
            }
            if let Ok(pat) = Pattern::glob(&p) {
                let _ = pat.is_match(&h);
            }
        }
    }
}
