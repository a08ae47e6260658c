//! Finds the claimed user name in a login request body, without holding the request back.
//!
//! The plugin feeds each request body chunk to a [`BodyScanner`] as it passes (the filter
//! always continues); the scanner keeps at most the first `max_scan_bytes`. At log time,
//! [`BodyScanner::user`] looks for the first configured field (`username`, `email`, `login`)
//! as the backend reads it:
//! - a form body (`a=b&c=d`, percent-decoded): pairs end at `&` or `;` (a `;`-separated
//!   body never lets a field's value run on into the next field, such as a password);
//! - a JSON body: the top-level object's members only (a nested `{"x":{"username":…}}` is
//!   not what the backend reads), string values only.
//!
//! A field given twice is resolved by the policy ([`Duplicates`]): the first, the last, or
//! (default) the first marked *ambiguous* when another differs. A value cut by the scan
//! limit is returned with what was read, marked *truncated*. Password fields are never
//! extracted: only the named fields' values are returned.

use crate::policy::Duplicates;

/// The claimed user name of a login body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The value, as read (a truncated one is its head).
    pub name: Vec<u8>,
    /// Another occurrence of the field disagrees (`vigil.user.ambiguous`).
    pub ambiguous: bool,
    /// The value was cut by the scan limit (`vigil.user.truncated`).
    pub truncated: bool,
}

/// The scan limit when the policy scans no login body (`identity.login_body` null) but a
/// rule captures body fields.
pub const DEFAULT_LIMIT: usize = 8192;

/// Accumulates the head of a login request body.
#[derive(Debug, Clone, Default)]
pub struct BodyScanner {
    buf: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl BodyScanner {
    /// A scanner that keeps at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        BodyScanner {
            buf: Vec::new(),
            limit,
            overflowed: false,
        }
    }

    /// How many more bytes the scanner wants (0 once full).
    pub fn wants(&self) -> usize {
        self.limit.saturating_sub(self.buf.len())
    }

    /// Appends a chunk (or its head). `chunk_len` is the chunk's full size, so a chunk
    /// larger than what was read marks the scan as overflowed.
    pub fn feed(&mut self, head: &[u8], chunk_len: usize) {
        let take = head.len().min(self.wants());
        self.buf.extend_from_slice(&head[..take]);
        if chunk_len > take {
            self.overflowed = true;
        }
    }

    /// Whether the body was longer than the scan limit.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The body's top-level fields: a JSON object's string members, or a form's fields
    /// (nothing for a JSON array or an empty body).
    fn pairs(&self) -> Vec<Field> {
        let body = &self.buf;
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => json_top_level(body, self.overflowed),
            Some(b'[') | None => Vec::new(),
            Some(_) => form_pairs(body, self.overflowed),
        }
    }

    /// A top-level field of the body by name (a form field or a JSON string member): the
    /// first non-empty value, and whether it was cut by the scan limit.
    pub fn field(&self, name: &str) -> Option<(Vec<u8>, bool)> {
        self.pairs()
            .into_iter()
            .find(|p| p.key == name.as_bytes() && !p.value.is_empty())
            .map(|p| (p.value, p.cut))
    }

    /// The first configured field (by `fields` order) that has a non-empty value, resolved
    /// by `duplicates`.
    pub fn user(&self, fields: &[String], duplicates: Duplicates) -> Option<Claimed> {
        let pairs = self.pairs();
        fields.iter().find_map(|f| {
            let values: Vec<&Field> = pairs
                .iter()
                .filter(|p| p.key == f.as_bytes() && !p.value.is_empty())
                .collect();
            let (head, rest) = values.split_first()?;
            let chosen = match duplicates {
                Duplicates::Last => values.last().copied().unwrap_or(head),
                Duplicates::First | Duplicates::Ambiguous => head,
            };
            Some(Claimed {
                name: chosen.value.clone(),
                ambiguous: duplicates == Duplicates::Ambiguous
                    && rest.iter().any(|v| v.value != head.value),
                truncated: chosen.cut,
            })
        })
    }
}

/// One `key = value` of a body.
#[derive(Debug)]
struct Field {
    key: Vec<u8>,
    value: Vec<u8>,
    /// The value ran into the end of a body cut at the scan limit.
    cut: bool,
}

fn form_pairs(body: &[u8], overflowed: bool) -> Vec<Field> {
    let n = body.split(|&b| b == b'&' || b == b';').count();
    body.split(|&b| b == b'&' || b == b';')
        .enumerate()
        .filter_map(|(i, kv)| {
            let mut it = kv.splitn(2, |&b| b == b'=');
            let k = it.next()?;
            let v = it.next()?;
            Some(Field {
                key: percent_decode(k),
                value: percent_decode(v),
                cut: overflowed && i + 1 == n,
            })
        })
        .collect()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes `application/x-www-form-urlencoded` (`+` is a space, `%HH` a byte).
pub fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => match (hex(s[i + 1]), hex(s[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// The string-valued members of a (possibly truncated) JSON text's top-level object. A
/// string cut by the end of a truncated text is returned with what was read, marked cut.
fn json_top_level(body: &[u8], overflowed: bool) -> Vec<Field> {
    let mut out = Vec::new();
    let mut i = skip_ws(body, 0);
    if body.get(i) != Some(&b'{') {
        return out;
    }
    i += 1;
    loop {
        i = skip_ws(body, i);
        match body.get(i) {
            Some(b'"') => {}
            _ => return out,
        }
        let Some((key, next)) = json_string(body, i) else {
            return out;
        };
        i = skip_ws(body, next);
        if body.get(i) != Some(&b':') {
            return out;
        }
        i = skip_ws(body, i + 1);
        if body.get(i) == Some(&b'"') {
            match json_string(body, i) {
                Some((value, next)) => {
                    out.push(Field {
                        key,
                        value,
                        cut: false,
                    });
                    i = next;
                }
                None => {
                    if overflowed {
                        let value = json_string_head(body, i);
                        out.push(Field {
                            key,
                            value,
                            cut: true,
                        });
                    }
                    return out;
                }
            }
        } else {
            match skip_value(body, i) {
                Some(next) => i = next,
                None => return out,
            }
        }
        i = skip_ws(body, i);
        match body.get(i) {
            Some(b',') => i += 1,
            _ => return out,
        }
    }
}

/// The index after the (non-string) JSON value at `i`: a number or literal, or a nested
/// object or array (strings inside skipped whole). `None` when the text ends first.
fn skip_value(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        match *b.get(i)? {
            b'"' => i = json_string(b, i)?.1,
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b',' | b'}' | b']' if depth == 0 => return Some(i),
            _ => i += 1,
        }
    }
}

/// What a truncated text holds of the JSON string starting at `b[start]`.
fn json_string_head(b: &[u8], start: usize) -> Vec<u8> {
    // Close the string where the text ends (dropping a half escape) and decode that.
    let mut t = b[start..].to_vec();
    if let Some(pos) = t.iter().rposition(|&c| c == b'\\') {
        if t.len() - pos < 6 {
            t.truncate(pos);
        }
    }
    t.push(b'"');
    json_string(&t, 0).map(|(v, _)| v).unwrap_or_default()
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// Parses the JSON string starting at `b[start] == '"'`; returns its bytes and the index
/// after the closing quote. `None` when the text ends first.
fn json_string(b: &[u8], start: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut i = start + 1;
    loop {
        match *b.get(i)? {
            b'"' => return Some((out, i + 1)),
            b'\\' => {
                let e = *b.get(i + 1)?;
                i += 2;
                match e {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'u' => {
                        let cp = u4(b, i)?;
                        i += 4;
                        let c = if (0xD800..0xDC00).contains(&cp)
                            && b.get(i) == Some(&b'\\')
                            && b.get(i + 1) == Some(&b'u')
                        {
                            let lo = u4(b, i + 2)?;
                            i += 6;
                            char::from_u32(
                                0x10000 + ((cp - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF),
                            )
                        } else {
                            char::from_u32(cp)
                        };
                        let mut tmp = [0u8; 4];
                        out.extend_from_slice(
                            c.unwrap_or('\u{FFFD}').encode_utf8(&mut tmp).as_bytes(),
                        );
                    }
                    other => out.push(other),
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

fn u4(b: &[u8], i: usize) -> Option<u32> {
    let s = std::str::from_utf8(b.get(i..i + 4)?).ok()?;
    u32::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fields() -> Vec<String> {
        vec!["username".into(), "email".into(), "login".into()]
    }

    fn scan(body: &[u8], limit: usize) -> BodyScanner {
        let mut s = BodyScanner::new(limit);
        for chunk in body.chunks(5) {
            s.feed(&chunk[..chunk.len().min(s.wants())], chunk.len());
        }
        s
    }

    fn user(body: &[u8], limit: usize) -> Option<Vec<u8>> {
        scan(body, limit)
            .user(&fields(), Duplicates::Ambiguous)
            .map(|c| c.name)
    }

    #[test]
    fn form_and_json() {
        assert_eq!(
            user(b"password=x&username=al%69ce+b", 100).unwrap(),
            b"alice b"
        );
        assert_eq!(
            user(br#" {"password":"p","email":"a\u0040b.c"}"#, 100).unwrap(),
            b"a@b.c"
        );
        assert_eq!(user(b"password=only", 100), None);
        assert_eq!(user(b"%zz=%4", 100), None);
    }

    #[test]
    fn priority_follows_fields_order() {
        assert_eq!(
            user(br#"{"email":"e@x","username":"u"}"#, 100).unwrap(),
            b"u"
        );
    }

    #[test]
    fn finding_a_nested_decoy_is_not_the_user_the_backend_reads() {
        assert_eq!(user(br#"{"user":{"login":"bob"}}"#, 100), None);
        assert_eq!(
            user(
                br#"{"meta":{"username":"decoy","x":[1,"]"]},"username":"alice"}"#,
                100
            )
            .unwrap(),
            b"alice"
        );
        assert_eq!(user(br#"[{"username":"alice"}]"#, 100), None);
    }

    #[test]
    fn finding_a_semicolon_separated_body_never_leaks_the_next_field() {
        assert_eq!(
            user(b"username=alice;password=hunter2", 100).unwrap(),
            b"alice"
        );
        assert_eq!(user(b"password=hunter2;username=bob", 100).unwrap(), b"bob");
    }

    #[test]
    fn finding_duplicate_user_fields_are_marked_or_resolved_as_the_backend_does() {
        let s = scan(b"username=alice&username=bob", 100);
        let f = fields();
        let a = s.user(&f, Duplicates::Ambiguous).unwrap();
        assert_eq!((a.name.as_slice(), a.ambiguous), (&b"alice"[..], true));
        assert_eq!(s.user(&f, Duplicates::First).unwrap().name, b"alice");
        assert_eq!(s.user(&f, Duplicates::Last).unwrap().name, b"bob");
        assert!(!s.user(&f, Duplicates::First).unwrap().ambiguous);
        let same = scan(br#"{"username":"alice","username":"alice"}"#, 100);
        assert!(!same.user(&f, Duplicates::Ambiguous).unwrap().ambiguous);
        let json = scan(br#"{"username":"alice","username":"mallory"}"#, 100);
        assert!(json.user(&f, Duplicates::Ambiguous).unwrap().ambiguous);
        assert_eq!(json.user(&f, Duplicates::Last).unwrap().name, b"mallory");
    }

    #[test]
    fn finding_a_name_cut_by_the_scan_limit_is_marked_truncated() {
        let body = format!("username={}&password=x", "a".repeat(100));
        let c = scan(body.as_bytes(), 40)
            .user(&fields(), Duplicates::Ambiguous)
            .unwrap();
        assert!(c.truncated);
        assert_eq!(c.name, "a".repeat(31).as_bytes());
        let json = format!(r#"{{"username":"{}","password":"x"}}"#, "b".repeat(100));
        let c = scan(json.as_bytes(), 40)
            .user(&fields(), Duplicates::Ambiguous)
            .unwrap();
        assert!(c.truncated);
        assert_eq!(c.name, "b".repeat(27).as_bytes());
        // Whole names are not marked.
        let c = scan(b"username=carol&password=xxxxxxxxxxxxxxxxxxxx", 20)
            .user(&fields(), Duplicates::Ambiguous)
            .unwrap();
        assert_eq!((c.name.as_slice(), c.truncated), (&b"carol"[..], false));
    }

    #[test]
    fn truncated_body_still_scans_and_counts_overflow() {
        let body = br#"{"username":"carol","password":"xxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
        let s = scan(body, 24);
        assert!(s.overflowed());
        assert_eq!(
            s.user(&fields(), Duplicates::Ambiguous).unwrap().name,
            b"carol"
        );
        // An unterminated name in a body that was not cut is no name.
        assert_eq!(user(br#"{"username":"car"#, 100), None);
    }
}
