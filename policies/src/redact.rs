//! Redaction: what never reaches an event, whatever a field holds.
//!
//! Every value an event carries as text (the path, the user agent, the user name, captured
//! headers and query parameters) is scanned for secrets and personal data by value:
//! - `jwt`: a JSON Web Token (`eyJ….….…`);
//! - `bearer`: a bearer credential (`Bearer <token>`, any case);
//! - `card_number`: 13 to 19 digits, optionally grouped by spaces or dashes, that pass the
//!   Luhn check (payment card numbers);
//! - `email`: an e-mail address (personal data: kept unless the policy says PII stays out).
//!
//! Captured headers and query parameters are also redacted by name (`headers`, `query`), and
//! some names are never captured whole (`authorization`, `cookie`, `access_token`, …).
//!
//! Modes: `keep`; `mask` (the match becomes `[redacted:<kind>]`); `fingerprint` (the match
//! becomes `[fp:<key_id>:<32 hex digits>]`, a keyed HMAC, so equal values correlate across
//! events without being readable; masked when no fingerprint key is configured); `drop` (the
//! whole field is left out of the event). Each redaction is counted
//! (`vigil.redactions`).

use crate::fingerprint::Fingerprinter;

/// What to do with a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Leave it.
    Keep,
    /// Replace the match with `[redacted:<kind>]`.
    Mask,
    /// Replace the match with its keyed fingerprint.
    Fingerprint,
    /// Leave the whole field out.
    Drop,
}

impl Mode {
    /// Every mode, in the order of their names.
    pub const ALL: [Mode; 4] = [Mode::Keep, Mode::Mask, Mode::Fingerprint, Mode::Drop];
    /// The names, as policies write them.
    pub const NAMES: &'static [&'static str] = &["keep", "mask", "fingerprint", "drop"];
}

/// `redaction`.
#[derive(Debug, Clone, PartialEq)]
pub struct Redaction {
    /// Personal data may be logged (`false`: e-mail addresses are fingerprinted everywhere,
    /// `user.name` included, whatever `email` says).
    pub pii: bool,
    /// Mode for JSON Web Tokens.
    pub jwt: Mode,
    /// Mode for bearer credentials.
    pub bearer: Mode,
    /// Mode for payment card numbers.
    pub card_number: Mode,
    /// Mode for e-mail addresses.
    pub email: Mode,
    /// Captured headers by (lower-case) name.
    pub headers: Vec<(String, Mode)>,
    /// Captured query parameters by name.
    pub query: Vec<(String, Mode)>,
    /// Captured request-body fields by name.
    pub body: Vec<(String, Mode)>,
    /// Names fingerprints with the key in use (`[fp:<key_id>:…]`), so a rotated key shows.
    pub key_id: String,
}

/// Headers never captured whole (their mode is at least `drop` unless the policy names
/// them): credentials and sessions.
pub const SECRET_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-csrf-token",
];

/// Query parameters never captured whole unless the policy names them.
pub const SECRET_PARAMS: [&str; 13] = [
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "key",
    "code",
    "signature",
];

impl Default for Redaction {
    fn default() -> Self {
        Redaction {
            pii: true,
            jwt: Mode::Mask,
            bearer: Mode::Mask,
            card_number: Mode::Mask,
            email: Mode::Keep,
            headers: Vec::new(),
            query: Vec::new(),
            body: Vec::new(),
            key_id: "default".into(),
        }
    }
}

/// A header's mode: the policy's, else `drop` for [`SECRET_HEADERS`], else keep.
pub fn header_mode(r: &Redaction, name: &str) -> Mode {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, m)| *m)
        .unwrap_or(if SECRET_HEADERS.contains(&name) {
            Mode::Drop
        } else {
            Mode::Keep
        })
}

/// A query parameter's mode: the policy's, else `drop` for [`SECRET_PARAMS`], else keep.
pub fn param_mode(r: &Redaction, name: &str) -> Mode {
    r.query
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, m)| *m)
        .unwrap_or(
            if SECRET_PARAMS.contains(&name.to_ascii_lowercase().as_str()) {
                Mode::Drop
            } else {
                Mode::Keep
            },
        )
}

/// Whether a body field's name says it holds a credential: ASCII case folded, `-` read as
/// `_`, it contains `pass`, `pwd`, `secret`, `token`, `apikey`, `api_key`, `private_key`,
/// `credential`, or it is one of `otp`, `totp`, `mfa`, `mfa_code`, `pin`, `cvv`, `cvc`,
/// `ssn`, `code`.
pub fn is_secret_field(name: &str) -> bool {
    let n: Vec<u8> = name
        .bytes()
        .map(|b| {
            if b == b'-' {
                b'_'
            } else {
                b.to_ascii_lowercase()
            }
        })
        .collect();
    const PARTS: [&[u8]; 8] = [
        b"pass",
        b"pwd",
        b"secret",
        b"token",
        b"apikey",
        b"api_key",
        b"private_key",
        b"credential",
    ];
    const WHOLE: [&[u8]; 9] = [
        b"otp",
        b"totp",
        b"mfa",
        b"mfa_code",
        b"pin",
        b"cvv",
        b"cvc",
        b"ssn",
        b"code",
    ];
    PARTS.iter().any(|p| n.windows(p.len()).any(|w| w == *p)) || WHOLE.contains(&n.as_slice())
}

/// A body field's mode: the policy's, else `drop` for a credential-like name
/// ([`is_secret_field`]), else keep. A credential-like field is never kept raw: `keep`
/// becomes `drop` (mask or fingerprint it to see that it was there).
pub fn body_mode(r: &Redaction, name: &str) -> Mode {
    let secret = is_secret_field(name);
    let m = r.body.iter().find(|(n, _)| n == name).map(|(_, m)| *m);
    match m {
        Some(Mode::Keep) | None if secret => Mode::Drop,
        Some(m) => m,
        None => Mode::Keep,
    }
}

/// A whole value under `mode` (a captured header or parameter named in `headers`/`query`):
/// `None` to drop it. Values kept go through [`scrub`].
pub fn by_name(
    r: &Redaction,
    fp: Option<&Fingerprinter>,
    mode: Mode,
    kind: &str,
    v: &[u8],
    count: &mut u64,
) -> Option<Vec<u8>> {
    match mode {
        Mode::Keep => scrub(r, fp, v, count),
        Mode::Drop => {
            *count += 1;
            None
        }
        m => {
            *count += 1;
            Some(replacement(r, fp, m, kind, v))
        }
    }
}

fn replacement(
    r: &Redaction,
    fp: Option<&Fingerprinter>,
    mode: Mode,
    kind: &str,
    v: &[u8],
) -> Vec<u8> {
    match (mode, fp) {
        (Mode::Fingerprint, Some(f)) => {
            format!("[fp:{}:{}]", r.key_id, f.fingerprint(v)).into_bytes()
        }
        _ => format!("[redacted:{kind}]").into_bytes(),
    }
}

/// A span found in a value, and the kind of secret.
struct Found {
    start: usize,
    end: usize,
    kind: &'static str,
    mode: Mode,
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
}

fn b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A JWT at `i` (`eyJ` + three base64url parts): its end.
fn jwt_at(v: &[u8], i: usize) -> Option<usize> {
    if !v[i..].starts_with(b"eyJ") {
        return None;
    }
    let mut j = i;
    for part in 0..3 {
        let s = j;
        while j < v.len() && b64url(v[j]) {
            j += 1;
        }
        if j == s && part < 2 {
            return None;
        }
        if part < 2 {
            if v.get(j) != Some(&b'.') {
                return None;
            }
            j += 1;
        }
    }
    Some(j)
}

/// `Bearer <token>` at `i`: its end.
fn bearer_at(v: &[u8], i: usize) -> Option<usize> {
    let word = v.get(i..i + 7)?;
    if !word.eq_ignore_ascii_case(b"bearer ") || (i > 0 && v[i - 1].is_ascii_alphanumeric()) {
        return None;
    }
    let mut j = i + 7;
    while v.get(j) == Some(&b' ') {
        j += 1;
    }
    let s = j;
    while j < v.len() && is_token_byte(v[j]) {
        j += 1;
    }
    (j - s >= 8).then_some(j)
}

/// A card number at `i` (13-19 digits, groups split by one space or dash, Luhn-valid, not
/// part of a longer digit run): its end.
fn card_at(v: &[u8], i: usize) -> Option<usize> {
    if !v[i].is_ascii_digit() || (i > 0 && v[i - 1].is_ascii_digit()) {
        return None;
    }
    // No allocation: at most 20 digits are looked at (more is no card number).
    let mut buf = [0u8; 20];
    let mut len = 0;
    let mut j = i;
    let mut end = i;
    while j < v.len() && len < buf.len() {
        match v[j] {
            d @ b'0'..=b'9' => {
                buf[len] = d - b'0';
                len += 1;
                j += 1;
                end = j;
            }
            b' ' | b'-' if v.get(j + 1).is_some_and(u8::is_ascii_digit) && j > i => j += 1,
            _ => break,
        }
    }
    let digits = &buf[..len];
    if v.get(end).is_some_and(u8::is_ascii_digit) || !(13..=19).contains(&digits.len()) {
        return None;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, d)| {
            let d = u32::from(*d);
            if k % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10).then_some(end)
}

/// An e-mail address around the `@` at `at`: its span.
fn email_around(v: &[u8], at: usize) -> Option<(usize, usize)> {
    let local = |b: u8| b.is_ascii_alphanumeric() || b"._%+-".contains(&b);
    let domain = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    let mut s = at;
    while s > 0 && local(v[s - 1]) {
        s -= 1;
    }
    let mut e = at + 1;
    while e < v.len() && domain(v[e]) {
        e += 1;
    }
    let host = &v[at + 1..e];
    let dot = host.iter().rposition(|b| *b == b'.')?;
    (s < at && dot > 0 && host.len() - dot > 2).then_some((s, e))
}

fn find(r: &Redaction, v: &[u8]) -> Vec<Found> {
    let email_mode = if r.pii { r.email } else { Mode::Fingerprint };
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let hit = if r.jwt != Mode::Keep {
            jwt_at(v, i).map(|e| (i, e, "jwt", r.jwt))
        } else {
            None
        }
        .or_else(|| {
            (r.bearer != Mode::Keep)
                .then(|| bearer_at(v, i))
                .flatten()
                .map(|e| (i, e, "bearer", r.bearer))
        })
        .or_else(|| {
            (r.card_number != Mode::Keep)
                .then(|| card_at(v, i))
                .flatten()
                .map(|e| (i, e, "card_number", r.card_number))
        })
        .or_else(|| {
            (email_mode != Mode::Keep && v[i] == b'@')
                .then(|| email_around(v, i))
                .flatten()
                .map(|(s, e)| (s, e, "email", email_mode))
        });
        match hit {
            Some((s, e, kind, mode)) => {
                // An e-mail's local part was already passed over: take back what it covers.
                while out.last().is_some_and(|f: &Found| f.end > s) {
                    out.pop();
                }
                out.push(Found {
                    start: s,
                    end: e,
                    kind,
                    mode,
                });
                i = e.max(i + 1);
            }
            None => i += 1,
        }
    }
    out
}

/// Redacts `v` in place (no copy when it holds nothing to redact); `false` when the field
/// must be dropped. `count` grows by the redactions made.
pub fn scrub_in_place(
    r: &Redaction,
    fp: Option<&Fingerprinter>,
    v: &mut Vec<u8>,
    count: &mut u64,
) -> bool {
    if find(r, v).is_empty() {
        return true;
    }
    match scrub(r, fp, v, count) {
        Some(out) => {
            *v = out;
            true
        }
        None => false,
    }
}

/// `v` with every secret by value redacted; `None` when one of them says drop. `count`
/// grows by the redactions made.
pub fn scrub(
    r: &Redaction,
    fp: Option<&Fingerprinter>,
    v: &[u8],
    count: &mut u64,
) -> Option<Vec<u8>> {
    let found = find(r, v);
    if found.is_empty() {
        return Some(v.to_vec());
    }
    *count += found.len() as u64;
    if found.iter().any(|f| f.mode == Mode::Drop) {
        return None;
    }
    let mut out = Vec::with_capacity(v.len());
    let mut at = 0;
    for f in &found {
        out.extend_from_slice(&v[at..f.start]);
        out.extend(replacement(r, fp, f.mode, f.kind, &v[f.start..f.end]));
        at = f.end;
    }
    out.extend_from_slice(&v[at..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn s(r: &Redaction, v: &str) -> Option<String> {
        let mut n = 0;
        scrub(r, None, v.as_bytes(), &mut n).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn secrets_by_value_are_masked() {
        let r = Redaction::default();
        assert_eq!(
            s(&r, "/cards/4111111111111111/charge").unwrap(),
            "/cards/[redacted:card_number]/charge"
        );
        assert_eq!(
            s(&r, "/x/4111-1111-1111-1111").unwrap(),
            "/x/[redacted:card_number]"
        );
        // Not Luhn-valid, too short, or part of a longer number: kept.
        assert_eq!(
            s(&r, "/orders/4111111111111112").unwrap(),
            "/orders/4111111111111112"
        );
        assert_eq!(s(&r, "/orders/123456").unwrap(), "/orders/123456");
        assert_eq!(
            s(&r, "/n/41111111111111111111111").unwrap(),
            "/n/41111111111111111111111"
        );
        assert_eq!(
            s(&r, "curl/8 Bearer abcdefghijklmnop").unwrap(),
            "curl/8 [redacted:bearer]"
        );
        assert_eq!(
            s(&r, "/t/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln/x").unwrap(),
            "/t/[redacted:jwt]/x"
        );
        assert_eq!(s(&r, "alice@example.com").unwrap(), "alice@example.com");
    }

    #[test]
    fn without_pii_emails_are_fingerprinted_or_masked() {
        let r = Redaction {
            pii: false,
            key_id: "k1".into(),
            ..Redaction::default()
        };
        assert_eq!(
            s(&r, "/u/alice@example.com/x").unwrap(),
            "/u/[redacted:email]/x"
        );
        let f = Fingerprinter::new(b"key").unwrap();
        let mut n = 0;
        let out = scrub(&r, Some(&f), b"alice@example.com", &mut n).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with("[fp:k1:") && out.len() == 7 + 32 + 1,
            "{out}"
        );
        assert_eq!(n, 1);
        // Equal values, equal fingerprints.
        let again = scrub(&r, Some(&f), b"alice@example.com", &mut n).unwrap();
        assert_eq!(String::from_utf8(again).unwrap(), out);
    }

    #[test]
    fn drop_removes_the_field_and_names_have_defaults() {
        let r = Redaction {
            card_number: Mode::Drop,
            ..Redaction::default()
        };
        assert_eq!(s(&r, "/c/4111111111111111"), None);
        let d = Redaction::default();
        assert_eq!(header_mode(&d, "authorization"), Mode::Drop);
        assert_eq!(header_mode(&d, "x-tenant"), Mode::Keep);
        assert_eq!(param_mode(&d, "Access_Token"), Mode::Drop);
        assert_eq!(param_mode(&d, "order"), Mode::Keep);
    }
}
