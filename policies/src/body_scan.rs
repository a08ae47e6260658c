//! Finds the claimed user name in a login request body, without holding the request back.
//!
//! The plugin feeds each request body chunk to a [`BodyScanner`] as it passes (the filter
//! always continues); the scanner keeps at most the first `max_scan_bytes`. At log time,
//! [`BodyScanner::user`] looks for the first configured field (`username`, `email`, `login`)
//! in a form (`a=b&c=d`, percent-decoded) or JSON body (any depth, string values only; a
//! body cut at the scan limit is still scanned up to the cut). Password fields are never
//! extracted: only the named fields are returned.

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

    /// The first configured field's value, by `fields` order.
    pub fn user(&self, fields: &[String]) -> Option<Vec<u8>> {
        let body = &self.buf;
        let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
        let pairs = if *first == b'{' || *first == b'[' {
            json_string_pairs(body)
        } else {
            form_pairs(body)
        };
        fields.iter().find_map(|f| {
            pairs
                .iter()
                .find(|(k, v)| k == f.as_bytes() && !v.is_empty())
                .map(|(_, v)| v.clone())
        })
    }
}

fn form_pairs(body: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    body.split(|&b| b == b'&')
        .filter_map(|kv| {
            let mut it = kv.splitn(2, |&b| b == b'=');
            let k = it.next()?;
            let v = it.next()?;
            Some((percent_decode(k), percent_decode(v)))
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

/// Every `"key": "string value"` pair in a (possibly truncated) JSON text, at any depth.
fn json_string_pairs(body: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'"' {
            i += 1;
            continue;
        }
        let Some((key, next)) = json_string(body, i) else {
            break;
        };
        i = skip_ws(body, next);
        if body.get(i) != Some(&b':') {
            continue;
        }
        i = skip_ws(body, i + 1);
        if body.get(i) == Some(&b'"') {
            let Some((val, next)) = json_string(body, i) else {
                break;
            };
            pairs.push((key, val));
            i = next;
        }
    }
    pairs
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

    #[test]
    fn form_and_json() {
        assert_eq!(
            scan(b"password=x&username=al%69ce+b", 100)
                .user(&fields())
                .unwrap(),
            b"alice b"
        );
        assert_eq!(
            scan(br#" {"password":"p","email":"a\u0040b.c"}"#, 100)
                .user(&fields())
                .unwrap(),
            b"a@b.c"
        );
        assert_eq!(
            scan(br#"{"user":{"login":"bob"}}"#, 100)
                .user(&fields())
                .unwrap(),
            b"bob"
        );
        assert_eq!(scan(b"password=only", 100).user(&fields()), None);
        assert_eq!(scan(b"%zz=%4", 100).user(&fields()), None);
    }

    #[test]
    fn priority_follows_fields_order() {
        assert_eq!(
            scan(br#"{"email":"e@x","username":"u"}"#, 100)
                .user(&fields())
                .unwrap(),
            b"u"
        );
    }

    #[test]
    fn truncated_body_still_scans_and_counts_overflow() {
        let body = br#"{"username":"carol","password":"xxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
        let s = scan(body, 24);
        assert!(s.overflowed());
        assert_eq!(s.user(&fields()).unwrap(), b"carol");
        let s = scan(br#"{"username":"car"#, 100);
        assert_eq!(s.user(&fields()), None);
    }
}
