//! Keyed fingerprints: correlate a credential or session across events without logging it.
//!
//! A fingerprint is HMAC-SHA256(key, value), truncated to 128 bits, as 32 lower-case hex
//! digits. The key comes from the policy (`fingerprint.key`) or from the VM's environment
//! (`fingerprint.key_env`). There is no built-in key: without one, events carry no
//! fingerprints and the plugin warns once at start.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Computes keyed fingerprints.
#[derive(Clone)]
pub struct Fingerprinter {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter(<key redacted>)")
    }
}

impl Fingerprinter {
    /// A fingerprinter over `key`; `None` for an empty key.
    pub fn new(key: &[u8]) -> Option<Self> {
        if key.is_empty() {
            return None;
        }
        Hmac::<Sha256>::new_from_slice(key)
            .ok()
            .map(|mac| Fingerprinter { mac })
    }

    /// The fingerprint of `value`.
    pub fn fingerprint(&self, value: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(value);
        let out = mac.finalize().into_bytes();
        let mut s = String::with_capacity(32);
        for b in &out[..16] {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
        }
        s
    }
}

/// The first cookie of `names` (in that order of preference) present in a `Cookie` header:
/// its name and value.
pub fn find_cookie<'a, 'n>(header: &'a [u8], names: &'n [String]) -> Option<(&'n str, &'a [u8])> {
    let pairs: Vec<(&[u8], &[u8])> = header
        .split(|&b| b == b';')
        .filter_map(|kv| {
            let kv = kv.trim_ascii();
            let eq = kv.iter().position(|&b| b == b'=')?;
            Some((&kv[..eq], &kv[eq + 1..]))
        })
        .collect();
    names.iter().find_map(|n| {
        pairs
            .iter()
            .find(|(k, _)| *k == n.as_bytes())
            .map(|(_, v)| (n.as_str(), *v))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rfc4231_case_2_prefix() {
        let f = Fingerprinter::new(b"Jefe").unwrap();
        assert_eq!(
            f.fingerprint(b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c7"
        );
        assert!(Fingerprinter::new(b"").is_none());
        assert_eq!(format!("{f:?}"), "Fingerprinter(<key redacted>)");
    }

    #[test]
    fn cookies() {
        let names = vec!["sid".to_string(), "session".to_string()];
        assert_eq!(
            find_cookie(b"a=1; session=xyz; sid=abc", &names),
            Some(("sid", &b"abc"[..]))
        );
        assert_eq!(find_cookie(b"a=1", &names), None);
    }
}
