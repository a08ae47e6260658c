//! Safe JSON string encoding: the one place where untrusted bytes become log text.
//!
//! Every value Vigil logs passes through [`write_json_str`]. The output is a JSON string
//! literal that is valid UTF-8, fits on one line, and contains none of the characters that
//! enable log injection or display spoofing: C0 controls, DEL, C1 controls (U+0080..U+009F),
//! U+2028/U+2029 and the bidirectional controls (U+061C, U+200E, U+200F, U+202A..U+202E,
//! U+2066..U+2069) are written as `\uXXXX` escapes, which JSON parsers turn back into the
//! original characters. `serde_json` leaves several of these raw; this module does not.
//!
//! ## Invalid UTF-8: the `\xHH` scheme (reversible)
//! Header values and paths are bytes, not text. Vigil keeps every byte visible with one
//! documented, reversible scheme applied to the *decoded* string value:
//! - a byte that is not part of well-formed UTF-8 is written as the four characters `\xHH`
//!   (backslash, `x`, two uppercase hex digits);
//! - a literal backslash is written as two backslashes `\\`;
//! - everything else is the character itself.
//!
//! [`decode_bytes`] inverts it: `\\` → `\`, `\xHH` → the byte. So the bytes `C0 A7` become the
//! value `\xC0\xA7`, whose JSON text is `"\\xC0\\xA7"`. A property test checks that
//! `decode_bytes(parse(write_json_str(b))) == b` for arbitrary bytes.
//!
//! ## Truncation
//! A value longer than the cap (measured in bytes of the decoded value) is cut at a
//! character boundary and ends with [`TRUNCATION_MARKER`]; the caller records which field was
//! truncated (`vigil.truncated`). A truncated value is not reversible past the cut.

use std::fmt::Write as _;

/// Appended to a value that was cut at its cap.
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// Whether a character must be written as a `\uXXXX` escape.
fn must_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{2028}' | '\u{2029}'
        | '\u{61c}' | '\u{200e}' | '\u{200f}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{feff}')
}

/// Printable ASCII that is written as itself (no quote, no backslash).
fn is_plain(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'
}

/// Writes `bytes` as a JSON string literal (with quotes) into `out`, applying the `\xHH`
/// scheme and the cap. Returns `true` when the value was truncated.
pub fn write_json_str(out: &mut String, bytes: &[u8], cap: usize) -> bool {
    out.reserve(bytes.len().min(cap) + 2);
    out.push('"');
    let mut used = 0usize;
    let mut truncated = false;
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
                let fit = (i - start).min(cap.saturating_sub(used));
                out.push_str(&s[start..start + fit]);
                used += fit;
                if fit < i - start {
                    truncated = true;
                    break 'outer;
                }
            }
            let Some(c) = s.get(i..).and_then(|t| t.chars().next()) else {
                break;
            };
            i += c.len_utf8();
            let cost = if c == '\\' { 2 } else { c.len_utf8() };
            if used + cost > cap {
                truncated = true;
                break 'outer;
            }
            used += cost;
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if must_escape(c) => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            if used + 4 > cap {
                truncated = true;
                break 'outer;
            }
            used += 4;
            let _ = write!(out, "\\\\x{b:02X}");
        }
    }
    if truncated {
        out.push_str(TRUNCATION_MARKER);
    }
    out.push('"');
    truncated
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

/// An error decoding a value written with the `\xHH` scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A backslash followed by something other than `\` or `xHH`.
    #[error("bad escape at byte {0}: expected `\\\\` or `\\xHH`")]
    BadEscape(usize),
}

/// Inverts the `\xHH` scheme on a decoded JSON string value, giving back the original bytes.
pub fn decode_bytes(s: &str) -> Result<Vec<u8>, DecodeError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'\\') => {
                out.push(b'\\');
                i += 2;
            }
            Some(b'x') => {
                let hex = b.get(i + 2..i + 4).ok_or(DecodeError::BadEscape(i))?;
                let hex = std::str::from_utf8(hex).map_err(|_| DecodeError::BadEscape(i))?;
                let v = u8::from_str_radix(hex, 16).map_err(|_| DecodeError::BadEscape(i))?;
                out.push(v);
                i += 4;
            }
            _ => return Err(DecodeError::BadEscape(i)),
        }
    }
    Ok(out)
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

    fn assert_clean(line: &str) {
        for c in line.chars() {
            assert!(!must_escape(c), "raw {c:?} in {line:?}");
        }
    }

    #[test]
    fn hostile_bytes_are_visible_and_clean() {
        let s = enc(b"\xC0\xA7\xC0\xA2\x1b[31m\xe2\x80\xa8x\\y\"");
        assert_eq!(s, r#""\\xC0\\xA7\\xC0\\xA2\u001b[31m\u2028x\\\\y\"""#);
        assert_clean(&s);
        let v: String = serde_json::from_str(&s).unwrap();
        assert_eq!(
            decode_bytes(&v).unwrap(),
            b"\xC0\xA7\xC0\xA2\x1b[31m\xe2\x80\xa8x\\y\""
        );
    }

    #[test]
    fn truncation_marks_and_respects_char_boundaries() {
        let mut s = String::new();
        assert!(write_json_str(&mut s, "ééé".as_bytes(), 5));
        assert_eq!(s, format!("\"éé{TRUNCATION_MARKER}\""));
        let mut s = String::new();
        assert!(!write_json_str(&mut s, b"abc", 3));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;
        use proptest::prelude::*;
        proptest! {
            #[test]
            fn decode_inverts_encode(b in proptest::collection::vec(any::<u8>(), 0..256)) {
                let s = enc(&b);
                assert_clean(&s);
                prop_assert!(!s.contains('\n'));
                let v: String = serde_json::from_str(&s).unwrap();
                prop_assert_eq!(decode_bytes(&v).unwrap(), b);
            }

            #[test]
            fn decode_inverts_encode_on_text(t in "\\PC*|[\\x00-\\x20\u{2028}\u{202e}\\\\x]*") {
                let s = enc(t.as_bytes());
                assert_clean(&s);
                let v: String = serde_json::from_str(&s).unwrap();
                prop_assert_eq!(decode_bytes(&v).unwrap(), t.as_bytes());
            }
        }
    }
}
