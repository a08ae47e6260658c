//! The request headers an event may need, taken from the request in one read.
//!
//! Envoy prices every hostcall that returns bytes at about 0.7 µs (the host allocates the
//! answer inside the VM), and one `get_header_map_pairs` costs about the same as one header
//! read. So the engine reads the whole request map once, when the request headers arrive,
//! and keeps only the headers an event or the policy can use ([`Snapshot`]). The values are
//! the client's, before any later filter changes them (jwt_authn may remove the token).
//! The first occurrence of a name wins, as a single header read would return it.

use crate::envoy::for_each_pair;
use crate::policy::Policy;

/// The headers every event may carry, the identity rules read, or that say a request is
/// gRPC (`content-type`).
pub const EVENT_HEADERS: [&str; 8] = [
    ":method",
    ":path",
    ":authority",
    "user-agent",
    "x-request-id",
    "authorization",
    "cookie",
    "content-type",
];

/// The kept request headers, in the order of the engine's names ([`Snapshot::names_for`]):
/// the values side by side in one buffer (one allocation per request), each found by its
/// range.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    bytes: Vec<u8>,
    ranges: Vec<Option<(u32, u32)>>,
}

impl Snapshot {
    /// The names a policy needs: [`EVENT_HEADERS`], the headers its jwt_authn reads tokens
    /// from, and the request headers its rules match.
    pub fn names_for(policy: &Policy) -> Vec<String> {
        let mut names: Vec<String> = EVENT_HEADERS.iter().map(|s| s.to_string()).collect();
        if let Some(j) = &policy.identity.jwt {
            for h in &j.from_headers {
                if !names.contains(h) {
                    names.push(h.clone());
                }
            }
        }
        for h in crate::rules::header_names(&policy.rules).0 {
            if !names.contains(&h) {
                names.push(h);
            }
        }
        names
    }

    /// Keeps the values of `names` from a serialized header map.
    pub fn take(map: &[u8], names: &[String]) -> Snapshot {
        let mut s = Snapshot {
            bytes: Vec::with_capacity(256),
            ranges: vec![None; names.len()],
        };
        for_each_pair(map, |k, v| {
            if let Some(i) = names.iter().position(|n| n.as_bytes() == k) {
                if s.ranges[i].is_none() {
                    let start = s.bytes.len();
                    s.bytes.extend_from_slice(v);
                    // A header map is far below 4 GiB (Envoy caps it at 96 KiB).
                    s.ranges[i] = Some((start as u32, v.len() as u32));
                }
            }
        });
        s
    }

    /// A kept header: `Some(None)` when the request did not carry it, `None` when the name
    /// is not among `names` (the caller reads it from the host).
    pub fn get(&self, names: &[String], name: &str) -> Option<Option<&[u8]>> {
        let i = names.iter().position(|n| n == name)?;
        Some(self.ranges.get(i)?.and_then(|(start, len)| {
            self.bytes
                .get(start as usize..start as usize + len as usize)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_value_of_each_wanted_name() {
        let map = crate::envoy::serialize_pairs(&[
            (":method", "GET"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
            ("x", "y"),
        ]);
        let names = Snapshot::names_for(&crate::presets::baseline());
        let s = Snapshot::take(&map, &names);
        assert_eq!(s.get(&names, ":method"), Some(Some(&b"GET"[..])));
        assert_eq!(s.get(&names, "cookie"), Some(Some(&b"a=1"[..])));
        assert_eq!(s.get(&names, "user-agent"), Some(None));
        assert_eq!(s.get(&names, "x"), None);
    }
}
