//! Safe JSON string encoding: the one place where untrusted bytes become log text.
//!
//! Every value Vigil logs passes through [`write_json_str`]. The output is a JSON string
//! literal that is valid UTF-8, fits on one line, and shows no character that enables log
//! injection, display spoofing or text smuggling: C0 controls, DEL, C1 controls (NEL
//! included), U+2028/U+2029, the bidirectional controls (U+061C, U+200E/F, U+202A-E,
//! U+2066-9), invisible and zero-width characters (U+00AD soft hyphen, U+034F, U+115F,
//! U+1160, U+17B4/5, U+180E, U+200B-D, U+2060-4, U+3164, U+FEFF, U+FFA0, U+FFF9-B) and the
//! TAG characters U+E0000-U+E007F are written as `\uXXXX` escapes (a surrogate pair above
//! U+FFFF). `serde_json` leaves several of these raw; this module does not.
//!
//! ## Text is kept exactly
//! A JSON parser turns the literal back into **exactly** the text that was sent: `CORP\alice`
//! is written `"CORP\\alice"` and reads back as `CORP\alice`; the escapes above decode to
//! the characters they stand for. Nothing Vigil adds changes valid text.
//!
//! ## Invalid UTF-8: lossy text here, the exact bytes beside it
//! Header values and paths are bytes. A byte sequence that is not UTF-8 is written as one
//! U+FFFD REPLACEMENT CHARACTER per maximal invalid subpart (as `String::from_utf8_lossy`
//! does), and [`Written::lossy`] tells the encoder, which writes the exact bytes of the
//! value beside it, base64 (`vigil.original.<field>` in ECS; [`base64`]): so a reader that
//! needs the bytes has them, and valid text is never altered to make room for them.
//!
//! ## Caps
//! A value is capped at `cap` characters **including** the [`TRUNCATION_MARKER`],
//! counted in UTF-16 code units as Elasticsearch's `ignore_above` counts them (1024 for an ECS
//! keyword), so a capped value is still indexed. It is cut at a character boundary. The
//! marker is only a hint for people: a value that merely ends with the marker text is not
//! truncated; the authoritative signal is the record's list of truncated fields
//! (`vigil.truncated` in ECS), which only Vigil writes.

use std::fmt::Write as _;

/// Appended to a value that was cut at its cap (a hint; `vigil.truncated` is authoritative).
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// The marker's length in UTF-16 code units.
const MARKER_UNITS: usize = 12;

/// Whether a character must be written as a `\uXXXX` escape.
pub fn must_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
        | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{3164}' | '\u{feff}'
        | '\u{ffa0}' | '\u{fff9}'..='\u{fffb}' | '\u{e0000}'..='\u{e007f}')
}

/// Printable ASCII that is written as itself (no quote, no backslash).
fn is_plain(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'
}

/// What [`write_json_str`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// The value was cut at its cap (the marker appended).
    pub truncated: bool,
    /// Invalid UTF-8 was written as U+FFFD: the exact bytes belong beside the value.
    pub lossy: bool,
    /// How many input bytes the written value stands for (all, unless truncated).
    pub consumed: usize,
}

/// The length of `bytes`, decoded (invalid subparts as U+FFFD), in UTF-16 code units.
fn units(bytes: &[u8]) -> usize {
    bytes
        .utf8_chunks()
        .map(|c| c.valid().encode_utf16().count() + usize::from(!c.invalid().is_empty()))
        .sum()
}

fn push_escape(out: &mut String, c: char) {
    let mut buf = [0u16; 2];
    for u in c.encode_utf16(&mut buf) {
        let _ = write!(out, "\\u{:04x}", u);
    }
}

/// Writes `bytes` as a JSON string literal (with quotes) into `out`: valid UTF-8 exactly,
/// invalid subparts as U+FFFD, capped at `cap` UTF-16 units including the marker.
pub fn write_json_str(out: &mut String, bytes: &[u8], cap: usize) -> Written {
    // Most values fit: UTF-16 units never exceed UTF-8 bytes.
    let fits = bytes.len() <= cap || units(bytes) <= cap;
    let budget = if fits {
        usize::MAX
    } else {
        cap.saturating_sub(MARKER_UNITS)
    };
    out.reserve(bytes.len().min(cap.saturating_mul(3)) + 2);
    out.push('"');
    let mut used = 0usize;
    let mut w = Written::default();
    let mut pos = 0usize;
    'outer: for chunk in bytes.utf8_chunks() {
        let s = chunk.valid();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            // The common case, a run of plain ASCII, is copied at once.
            let start = i;
            while i < b.len() && is_plain(b[i]) {
                i += 1;
            }
            if i > start {
                let fit = (i - start).min(budget.saturating_sub(used));
                out.push_str(&s[start..start + fit]);
                used += fit;
                if fit < i - start {
                    w.truncated = true;
                    pos += start + fit;
                    break 'outer;
                }
            }
            let Some(c) = s.get(i..).and_then(|t| t.chars().next()) else {
                break;
            };
            let cost = c.len_utf16();
            if used + cost > budget {
                w.truncated = true;
                pos += i;
                break 'outer;
            }
            used += cost;
            i += c.len_utf8();
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if must_escape(c) => push_escape(out, c),
                c => out.push(c),
            }
        }
        pos += b.len();
        if !chunk.invalid().is_empty() {
            if used + 1 > budget {
                w.truncated = true;
                break 'outer;
            }
            used += 1;
            w.lossy = true;
            out.push('\u{fffd}');
            pos += chunk.invalid().len();
        }
    }
    if w.truncated {
        out.push_str(TRUNCATION_MARKER);
    }
    out.push('"');
    w.consumed = if w.truncated { pos } else { bytes.len() };
    w
}

/// Standard base64 (RFC 4648, with padding) of `b`: the exact bytes of a lossy value.
pub fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(c.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(c.get(2).copied().unwrap_or(0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(char::from(A[(n >> (18 - 6 * k) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Writes a string that Vigil itself produced (a fixed code, a number rendered as text) as
/// a JSON string literal. Applies the same escaping, without a cap.
pub fn write_json_text(out: &mut String, s: &str) {
    // Vigil's own strings (codes, names, ids, times) are plain ASCII: copied as they are.
    if s.bytes().all(is_plain) {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        write_json_str(out, s.as_bytes(), usize::MAX);
    }
}

/// Appends the decimal digits of `v` (no allocation, no formatting machinery).
pub fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(char::from(b));
    }
}

/// Appends `v` as `width` lower-case hex digits (zero-padded, the low digits if wider).
pub fn push_hex(out: &mut String, v: u64, width: u32) {
    for k in (0..width).rev() {
        let d = ((v >> (4 * k)) & 0xf) as u8;
        out.push(char::from(if d < 10 { b'0' + d } else { b'a' + d - 10 }));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn digits_without_fmt() {
        for v in [0u64, 7, 10, 401, 65_535, u64::MAX] {
            let mut s = String::new();
            push_u64(&mut s, v);
            assert_eq!(s, v.to_string());
        }
        let mut s = String::new();
        push_hex(&mut s, 0xdead_beef, 16);
        push_hex(&mut s, 0x1_0000_0002, 8);
        assert_eq!(s, format!("{:016x}{:08x}", 0xdead_beefu64, 2));
        let mut t = String::new();
        write_json_text(&mut t, "a\"b");
        assert_eq!(t, "\"a\\\"b\"");
    }

    fn enc(b: &[u8]) -> String {
        let mut s = String::new();
        write_json_str(&mut s, b, usize::MAX);
        s
    }

    fn dec(s: &str) -> String {
        serde_json::from_str(s).unwrap()
    }

    fn assert_clean(line: &str) {
        for c in line.chars() {
            assert!(!must_escape(c), "raw {c:?} in {line:?}");
        }
    }

    /// Finding (issue 8): `CORP\alice` came out as `CORP\\alice` (the old `\xHH` scheme
    /// doubled every backslash), so a SIEM search for the real account missed it.
    #[test]
    fn finding_a_backslash_reads_back_as_sent() {
        let s = enc(br"CORP\alice");
        assert_eq!(s, r#""CORP\\alice""#);
        assert_eq!(dec(&s), r"CORP\alice");
    }

    #[test]
    fn invalid_utf8_is_replaced_and_reported_never_altering_valid_text() {
        let mut s = String::new();
        let w = write_json_str(
            &mut s,
            b"\xC0\xA7\xC0\xA2 ok \xED\xA0\x80 \xF4\x90\x80\x80 \xE2\x82",
            usize::MAX,
        );
        assert!(w.lossy && !w.truncated);
        assert_eq!(
            dec(&s),
            String::from_utf8_lossy(b"\xC0\xA7\xC0\xA2 ok \xED\xA0\x80 \xF4\x90\x80\x80 \xE2\x82")
        );
        let mut t = String::new();
        assert!(!write_json_str(&mut t, "é\u{fffd}".as_bytes(), usize::MAX).lossy);
    }

    #[test]
    fn invisible_and_control_characters_are_escaped_and_read_back() {
        let text = "a\u{200b}b\u{2060}c\u{ad}d\u{feff}e\u{202e}f\u{e0041}g\u{85}h\u{1b}[31m\u{2028}i\"}{\"admin\":true";
        let s = enc(text.as_bytes());
        assert_clean(&s);
        assert!(s.contains(r"\udb40\udc41"), "{s}");
        assert_eq!(dec(&s), text);
    }

    #[test]
    fn truncation_fits_the_cap_with_its_marker_and_respects_char_boundaries() {
        let v = "é".repeat(30);
        let mut s = String::new();
        let w = write_json_str(&mut s, v.as_bytes(), 20);
        assert!(w.truncated);
        let d = dec(&s);
        assert_eq!(d.encode_utf16().count(), 20, "{d}");
        assert_eq!(d, format!("{}{TRUNCATION_MARKER}", "é".repeat(8)));
        assert_eq!(w.consumed, 16);
        // 1024 ASCII bytes fit a 1024 cap exactly; 1025 do not, and come out at 1024.
        let mut s = String::new();
        assert!(!write_json_str(&mut s, &[b'a'; 1024], 1024).truncated);
        let mut s = String::new();
        assert!(write_json_str(&mut s, &[b'a'; 1025], 1024).truncated);
        assert_eq!(dec(&s).encode_utf16().count(), 1024);
    }

    #[test]
    fn base64_is_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;
        use proptest::prelude::*;
        proptest! {
            #[test]
            fn any_bytes_give_one_clean_line_that_reads_back(
                b in proptest::collection::vec(any::<u8>(), 0..512),
                cap in 12usize..600,
            ) {
                let mut s = String::new();
                let w = write_json_str(&mut s, &b, cap);
                assert_clean(&s);
                prop_assert!(!s.contains('\n') && !s.contains('\r'));
                let v: String = serde_json::from_str(&s).unwrap();
                prop_assert!(v.encode_utf16().count() <= cap.max(12));
                let lossy = String::from_utf8_lossy(&b[..w.consumed]).into_owned();
                if w.truncated {
                    prop_assert_eq!(v, format!("{lossy}{TRUNCATION_MARKER}"));
                } else {
                    prop_assert_eq!(v, lossy);
                    prop_assert_eq!(w.lossy, std::str::from_utf8(&b).is_err());
                }
            }

            #[test]
            fn valid_text_reads_back_exactly(t in "\\PC*|[\\x00-\\x20\u{2028}\u{202e}\u{200b}\u{e0001}\\\\x\"]*") {
                let s = enc(t.as_bytes());
                assert_clean(&s);
                let v: String = serde_json::from_str(&s).unwrap();
                prop_assert_eq!(v, t);
            }
        }
    }
}
