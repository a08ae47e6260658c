//! The encoders' fuzz target, for the stable toolchain (no cargo-fuzz, no nightly).
//!
//! [`check`] takes one input (bytes), puts it in every field an event copies from the wire,
//! encodes the event in every format, and checks the invariants: one line, no raw control,
//! separator, bidi, invisible or TAG character, JSON formats parse, and every JSON value
//! reads back as the input's lossy text or its marked cut. `src/main.rs` mutates the
//! corpus (`corpus/encoders/`) for a fixed time; `tests/corpus.rs` replays the corpus.

use vigil_policies::action::Action;
use vigil_policies::encode::encode;
use vigil_policies::escape::{must_escape, TRUNCATION_MARKER};
use vigil_policies::event::{AlertInfo, Event, User, UserSource};
use vigil_policies::policy::Format;

/// The cap the checks use (the default `output.field_max_bytes`).
pub const CAP: usize = 1024;

fn event(v: &[u8]) -> Event {
    Event {
        time_ns: 1_795_424_401_000_000_000,
        id: "fuzz".into(),
        action: Some(Action::AuthnLoginFail),
        reason: "bad_credentials".into(),
        rule: "login".into(),
        source_ip: "203.0.113.7".parse().ok(),
        source_port: Some(1),
        user: Some(User::new(v.to_vec(), UserSource::LoginBody, false)),
        user_agent: Some(v.to_vec()),
        method: Some(v.to_vec()),
        domain: Some(v.to_vec()),
        path: Some(v.to_vec()),
        request_id: Some(v.to_vec()),
        status: Some(401),
        code_details: Some(v.to_vec()),
        alert: Some(AlertInfo {
            count: 1,
            window_seconds: 1,
            baseline: None,
            confidence: None,
            key: "user",
            value: v.to_vec(),
        }),
        captured: vec![("query", "q".into(), v.to_vec())],
        ..Event::default()
    }
}

fn reads_back(v: &[u8], got: &str) -> bool {
    let lossy = String::from_utf8_lossy(v);
    got == lossy
        || got
            .strip_suffix(TRUNCATION_MARKER)
            .is_some_and(|h| lossy.starts_with(h) && got.encode_utf16().count() <= CAP)
}

/// Checks one input; the first broken invariant, if any.
pub fn check(v: &[u8]) -> Result<(), String> {
    let e = event(v);
    for f in Format::ALL {
        let (line, _) = encode(f, &e, CAP);
        if line.contains('\n') || line.contains('\r') {
            return Err(format!("{f:?}: more than one line"));
        }
        if let Some(c) = line.chars().find(|c| must_escape(*c)) {
            return Err(format!("{f:?}: raw {c:?}"));
        }
        if f == Format::Cef {
            if !line.starts_with("CEF:0|") {
                return Err("CEF: bad header".into());
            }
            continue;
        }
        let j: serde_json::Value =
            serde_json::from_str(&line).map_err(|err| format!("{f:?}: not JSON: {err}"))?;
        let paths: &[&str] = match f {
            Format::Ecs => &["/user/name", "/url/path", "/user_agent/original"],
            Format::Ocsf => &[
                "/evidences/0/user/name",
                "/evidences/0/http_request/url/path",
            ],
            _ => &["/request_uri", "/useragent"],
        };
        for p in paths {
            let got = j.pointer(p).and_then(serde_json::Value::as_str);
            match got {
                Some(g) if reads_back(v, g) => {}
                other => return Err(format!("{f:?} {p}: {other:?}")),
            }
        }
    }
    Ok(())
}

/// A tiny deterministic generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Pieces a mutation inserts: what attacks logs.
pub const TOKENS: &[&[u8]] = &[
    b"\r\n",
    "\u{85}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{202e}".as_bytes(),
    "\u{200b}".as_bytes(),
    "\u{e0041}".as_bytes(),
    "\u{feff}".as_bytes(),
    b"\x1b[31m",
    b"\0",
    b"\"},{\"admin\":true",
    b"|=\\",
    b"${jndi:ldap://x/a}",
    b"\xC0\xA7",
    b"\xED\xA0\x80",
    b"\xF4\x90\x80\x80",
    b"\xE2\x82",
    "…[truncated]".as_bytes(),
    "é".as_bytes(),
    "\u{1F600}".as_bytes(),
];

/// One mutation of `v`.
pub fn mutate(rng: &mut Rng, v: &mut Vec<u8>) {
    match rng.below(6) {
        0 if !v.is_empty() => {
            let i = rng.below(v.len());
            v[i] ^= 1 << rng.below(8);
        }
        1 => {
            let t = TOKENS[rng.below(TOKENS.len())];
            let i = rng.below(v.len() + 1);
            v.splice(i..i, t.iter().copied());
        }
        2 if !v.is_empty() => {
            let i = rng.below(v.len());
            v.remove(i);
        }
        3 => {
            let b = (rng.next_u64() & 0xff) as u8;
            let n = rng.below(1200);
            v.extend(std::iter::repeat_n(b, n));
        }
        4 if v.len() > 1 => {
            let i = rng.below(v.len());
            v.truncate(i);
        }
        _ => v.push((rng.next_u64() & 0xff) as u8),
    }
}
