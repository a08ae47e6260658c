//! Each detector, and each finding of issue 7, over an in-memory store.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::metrics::MemoryMetrics;
use crate::shared::MemoryStore;

const SECRET: Key = Key([0x5a; 16]);
const T0: u64 = 1_795_424_401_000;

struct Rig {
    p: Policy,
    store: MemoryStore,
    m: MemoryMetrics,
}

impl Rig {
    fn new(policy: &str) -> Rig {
        let p = Policy::from_json(policy.as_bytes()).unwrap();
        let mut store = MemoryStore::default();
        init(&p, &mut store);
        Rig {
            p,
            store,
            m: MemoryMetrics::default(),
        }
    }
    fn baseline() -> Rig {
        Rig::new("")
    }
    fn fail(&mut self, ip: &str, user: Option<&str>, now: u64) -> Vec<Found> {
        let ip = ip.parse().ok();
        on_failure(
            &self.p,
            &SECRET,
            &mut self.store,
            &mut self.m,
            ip,
            user.map(str::as_bytes),
            now,
        )
    }
    fn ok(&mut self, ip: &str, user: Option<&str>, now: u64) -> Vec<Found> {
        let ip = ip.parse().ok();
        on_success(
            &self.p,
            &SECRET,
            &mut self.store,
            &mut self.m,
            ip,
            user.map(str::as_bytes),
            now,
        )
    }
}

fn detectors(f: &[Found]) -> Vec<Detector> {
    f.iter().map(|f| f.detector).collect()
}

#[test]
fn per_source_alerts_on_the_eleventh_failure_once_per_window_then_rearms() {
    let mut r = Rig::baseline();
    let mut alerts = vec![];
    for i in 0..30u64 {
        for f in r.fail("203.0.113.7", Some("u"), T0 + i * 1000) {
            if f.detector == Detector::SourceBruteForce {
                alerts.push((i, f.count, f.window_seconds));
            }
        }
    }
    assert_eq!(alerts, vec![(10, 11, 60)]);
    let again = r.fail("203.0.113.7", None, T0 + 70_000);
    assert_eq!(detectors(&again), vec![Detector::SourceBruteForce]);
    assert_eq!(
        again[0].key,
        AlertKey::SourceIp("203.0.113.7".parse().unwrap())
    );
}

#[test]
fn slow_failures_never_alert() {
    let mut r = Rig::baseline();
    for i in 0..50u64 {
        assert_eq!(r.fail("198.51.100.1", None, T0 + i * 6_001), vec![]);
    }
}

/// Finding (issue 7): rotating through an IPv6 /64 never alerted (each address was its own
/// key). Sources are counted per /64 by default.
#[test]
fn finding_rotating_through_an_ipv6_64_alerts() {
    let mut r = Rig::baseline();
    let mut found = vec![];
    for i in 0..11u64 {
        let ip = format!("2001:db8:1:2:{:x}::{:x}", i * 7 + 1, i + 1);
        found.extend(r.fail(&ip, None, T0 + i * 100));
    }
    assert_eq!(detectors(&found), vec![Detector::SourceBruteForce]);
    let key = &found[0].key;
    assert_eq!(key.kind(), "source_prefix");
    assert_eq!(key.value(), b"2001:db8:1:2::/64");
    // Configurable: per address, the same traffic raises nothing.
    let mut r = Rig::new(
        r#"{"version":1,"brute_force":{"enabled":true,"max_failures":10,"window_seconds":60,"slots":64,"ipv6_prefix":128}}"#,
    );
    for i in 0..11u64 {
        let ip = format!("2001:db8:1:2:{:x}::{:x}", i * 7 + 1, i + 1);
        assert_eq!(r.fail(&ip, None, T0 + i * 100), vec![]);
    }
    // IPv4-mapped IPv6 is the IPv4 address.
    assert_eq!(
        source_key("::ffff:192.0.2.1".parse().unwrap(), 64),
        AlertKey::SourceIp("192.0.2.1".parse().unwrap())
    );
    assert_eq!(
        source_key("2001:db8::1".parse().unwrap(), 48).value(),
        b"2001:db8::/48"
    );
}

/// Finding (issue 7): one account attacked from many addresses never alerted.
#[test]
fn finding_one_account_from_many_addresses_alerts_naming_the_account() {
    let mut r = Rig::baseline();
    let mut found = vec![];
    for i in 0..25u64 {
        let ip = format!("198.51.100.{}", i + 1);
        found.extend(r.fail(&ip, Some("alice"), T0 + i * 10_000));
    }
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!(f.detector, Detector::AccountBruteForce);
    assert_eq!(f.key, AlertKey::User(b"alice".to_vec()));
    assert_eq!((f.count, f.window_seconds), (21, 600));
}

/// Finding (issue 7): the alert named whichever user the crossing request claimed. The
/// per-account alert's key is the account counted; the per-source one names no user.
#[test]
fn finding_the_alert_names_the_targeted_user_not_the_last_claimed() {
    let mut r = Rig::baseline();
    let mut found = vec![];
    // Twenty failures for "victim" from twenty addresses; the crossing request for
    // "victim" is interleaved with failures for other names from the same addresses.
    for i in 0..21u64 {
        let ip = format!("192.0.2.{}", i + 1);
        found.extend(r.fail(&ip, Some("decoy"), T0 + i * 1000));
        found.extend(r.fail(&ip, Some("victim"), T0 + i * 1000 + 1));
    }
    let acct: Vec<&Found> = found
        .iter()
        .filter(|f| f.detector == Detector::AccountBruteForce)
        .collect();
    assert_eq!(acct.len(), 2, "one per account: {acct:?}");
    assert_eq!(acct[0].key, AlertKey::User(b"decoy".to_vec()));
    assert_eq!(acct[1].key, AlertKey::User(b"victim".to_vec()));
}

#[test]
fn stuffing_counts_distinct_users_from_one_source() {
    let mut r = Rig::baseline();
    let mut found = vec![];
    // One name every 10 s: never 11 failures within 60 s, so no per-source alert.
    for i in 0..15u64 {
        let user = format!("user{}", i % 12);
        found.extend(r.fail("203.0.113.50", Some(&user), T0 + i * 10_000));
    }
    assert_eq!(detectors(&found), vec![Detector::Stuffing]);
    assert_eq!((found[0].count, found[0].window_seconds), (11, 600));
    assert_eq!(found[0].key.value(), b"203.0.113.50");
    // The same name again and again is not stuffing.
    let mut r = Rig::baseline();
    for i in 0..15u64 {
        assert_eq!(
            r.fail("203.0.113.51", Some("same"), T0 + i * 10_000),
            vec![]
        );
    }
}

#[test]
fn success_after_failures_alerts_for_source_and_account() {
    let mut r = Rig::baseline();
    for i in 0..4u64 {
        r.fail("203.0.113.9", Some("bob"), T0 + i * 1000);
    }
    // Four failures then a success: a few typos.
    assert_eq!(r.ok("203.0.113.9", Some("bob"), T0 + 5000), vec![]);
    r.fail("203.0.113.9", Some("bob"), T0 + 6000);
    let found = r.ok("203.0.113.9", Some("bob"), T0 + 7000);
    assert_eq!(
        detectors(&found),
        vec![
            Detector::SourceSuccessAfterFail,
            Detector::AccountSuccessAfterFail
        ]
    );
    assert_eq!((found[0].count, found[0].window_seconds), (5, 60));
    assert_eq!((found[1].count, found[1].window_seconds), (5, 600));
    // Once per window.
    assert_eq!(r.ok("203.0.113.9", Some("bob"), T0 + 8000), vec![]);
    // A success for someone never seen failing reads, and writes nothing.
    assert_eq!(r.ok("192.0.2.200", Some("carol"), T0 + 9000), vec![]);
}

#[test]
fn a_benign_day_raises_no_alert() {
    // A shared office address: 40 people logging in over 10 minutes, every fourth with a
    // typo or two first, one password manager retrying a stale password three times, and
    // a user who gets it right on the fourth try.
    let mut r = Rig::baseline();
    let mut found = vec![];
    let office = "192.0.2.10";
    for i in 0..40u64 {
        let t = T0 + i * 15_000;
        let user = format!("employee{i}");
        if i % 4 == 0 {
            found.extend(r.fail(office, Some(&user), t));
            if i % 8 == 0 {
                found.extend(r.fail(office, Some(&user), t + 3000));
            }
        }
        found.extend(r.ok(office, Some(&user), t + 6000));
    }
    for k in 0..3 {
        found.extend(r.fail("198.51.100.77", Some("pm-user"), T0 + k * 500));
    }
    for k in 0..3 {
        found.extend(r.fail("198.51.100.78", Some("typist"), T0 + k * 8000));
    }
    found.extend(r.ok("198.51.100.78", Some("typist"), T0 + 30_000));
    assert_eq!(found, vec![]);
}

#[test]
fn the_global_cap_suppresses_and_counts_then_reopens() {
    let mut r = Rig::new(
        r#"{"version":1,"detectors":{"alert_cap_per_window":2,"alert_cap_window_seconds":60}}"#,
    );
    let admitted: Vec<bool> = (0..4)
        .map(|i| admit(&r.p, &mut r.store, &mut r.m, T0 + i))
        .collect();
    assert_eq!(admitted, vec![true, true, false, false]);
    assert_eq!(r.m.0["vigil.alerts_suppressed.global_cap"], 2);
    assert!(admit(&r.p, &mut r.store, &mut r.m, T0 + 60_000));
}

/// Finding (issue 7): a second address of the attacker hashing into the same slot evicted
/// the count (FNV was unkeyed, one slot per key). Now keys share a 4-way bucket, and which
/// keys share one depends on the secret.
#[test]
fn finding_a_colliding_address_no_longer_evicts_the_count() {
    // One bucket: every source collides.
    let mut r = Rig::new(
        r#"{"version":1,"brute_force":{"enabled":true,"max_failures":10,"window_seconds":60,"slots":1}}"#,
    );
    let mut found = vec![];
    for i in 0..11u64 {
        found.extend(r.fail("203.0.113.7", None, T0 + i * 100));
        found.extend(r.fail("203.0.113.8", None, T0 + i * 100 + 1));
    }
    assert_eq!(found.len(), 2, "both addresses alert: {found:?}");
    assert_eq!(r.m.0.get("vigil.detector.source.evicted"), None);
    // The bucket of a key moves with the secret.
    let s = source_shape(&r.p).unwrap();
    let s = Shape { slots: 1024, ..s };
    let key = AlertKey::SourceIp("203.0.113.7".parse().unwrap());
    let buckets: std::collections::BTreeSet<u32> = (0u8..16)
        .map(|b| s.bucket_of(fingerprint(&Key([b; 16]), &key)))
        .collect();
    assert!(buckets.len() > 8, "{buckets:?}");
}

/// Finding (issue 7): a flood of addresses blinded the detector for everyone. Attackers
/// that start during a flood of one-failure addresses still alert.
#[test]
fn finding_an_address_flood_does_not_blind_the_detector() {
    let mut r = Rig::new(
        r#"{"version":1,"brute_force":{"enabled":true,"max_failures":10,"window_seconds":60,"slots":64}}"#,
    );
    let mut alerted = std::collections::BTreeSet::new();
    let mut flood = 0u32;
    for i in 0..11u64 {
        // 20 fresh addresses between two failures of each attacker.
        for _ in 0..20 {
            flood += 1;
            let ip = format!("10.{}.{}.{}", flood >> 16, (flood >> 8) & 255, flood & 255);
            r.fail(&ip, None, T0 + i * 1000);
        }
        for a in 1..=3 {
            let ip = format!("203.0.113.{a}");
            for f in r.fail(&ip, None, T0 + i * 1000 + 500) {
                alerted.insert(f.key.value());
            }
        }
    }
    assert_eq!(alerted.len(), 3, "{alerted:?}");
    assert!(r.m.0["vigil.detector.source.evicted"] > 0);
}

#[test]
fn no_source_ip_is_counted_and_disabled_detectors_stay_silent() {
    let mut r = Rig::baseline();
    assert_eq!(r.fail("not-an-ip", Some("x"), T0), vec![]);
    assert_eq!(r.m.0["vigil.detector_skipped.no_source_ip"], 1);
    let off = r#"{"version":1,
        "brute_force":{"enabled":false,"max_failures":1,"window_seconds":60,"slots":4},
        "detectors":{"account":{"enabled":false,"max_failures":1,"window_seconds":60},
                     "stuffing":{"enabled":false,"max_users":1,"window_seconds":60},
                     "success_after_fail":{"enabled":false,"min_failures":1}}}"#;
    let mut r = Rig::new(off);
    for i in 0..5 {
        assert_eq!(
            r.fail("203.0.113.7", Some(&format!("u{i}")), T0 + i),
            vec![]
        );
        assert_eq!(r.ok("203.0.113.7", Some("u1"), T0 + i), vec![]);
    }
    assert_eq!(r.store.get("vigil.det.v1.source.0").unwrap(), None);
}

#[test]
fn case_variants_of_one_name_are_one_account() {
    let mut r = Rig::baseline();
    let mut found = vec![];
    for i in 0..21u64 {
        let ip = format!("198.51.100.{}", i + 1);
        let name = if i % 2 == 0 { "Alice" } else { " aLICE" };
        found.extend(r.fail(&ip, Some(name), T0 + i * 1000));
    }
    assert_eq!(detectors(&found), vec![Detector::AccountBruteForce]);
    assert_eq!(found[0].key, AlertKey::User(b"alice".to_vec()));
    // A blank name is no account.
    let mut r = Rig::baseline();
    for i in 0..30u64 {
        let ip = format!("198.51.100.{}", i + 1);
        assert_eq!(r.fail(&ip, Some("  "), T0 + i * 1000), vec![]);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// The failures (indexes) a reference sliding window alerts on: `count_at(i)` over the
    /// window ending at `t[i]` above `max`, at most once per `window`.
    fn reference(t: &[u64], window: u64, max: u32, count_at: impl Fn(usize) -> u32) -> Vec<usize> {
        let mut last: Option<u64> = None;
        let mut out = vec![];
        for (i, &now) in t.iter().enumerate() {
            if count_at(i) > max && last.is_none_or(|l| now - l >= window) {
                last = Some(now);
                out.push(i);
            }
        }
        out
    }

    fn times(gaps: &[u64]) -> Vec<u64> {
        gaps.iter()
            .scan(T0, |t, g| {
                *t += g;
                Some(*t)
            })
            .collect()
    }

    proptest! {
        /// Per source: an alert exactly when more than 10 failures fall within 60 s, once
        /// per window, whatever the timing.
        #[test]
        fn per_source_matches_a_reference_window(gaps in proptest::collection::vec(0u64..12_000, 1..80)) {
            let t = times(&gaps);
            let want = reference(&t, 60_000, 10, |i| {
                t[..=i].iter().filter(|&&x| t[i] - x < 60_000).count() as u32
            });
            let mut r = Rig::baseline();
            let got: Vec<usize> = t
                .iter()
                .enumerate()
                .filter(|(_, &now)| !r.fail("203.0.113.7", None, now).is_empty())
                .map(|(i, _)| i)
                .collect();
            prop_assert_eq!(got, want);
        }

        /// Stuffing: an alert exactly when more than 10 distinct names failed within 600 s
        /// (each name's latest failure), once per window.
        #[test]
        fn stuffing_matches_a_reference_window(
            steps in proptest::collection::vec((0u64..90_000, 0u8..16), 1..80),
        ) {
            let gaps: Vec<u64> = steps.iter().map(|s| s.0).collect();
            let t = times(&gaps);
            let names: Vec<u8> = steps.iter().map(|s| s.1).collect();
            let want = reference(&t, 600_000, 10, |i| {
                let mut seen = std::collections::BTreeSet::new();
                for j in 0..=i {
                    if t[i] - t[j] < 600_000 {
                        seen.insert(names[j]);
                    }
                }
                seen.len() as u32
            });
            // Per-source brute force off, so only stuffing can alert.
            let mut r = Rig::new(r#"{"version":1,"brute_force":{"enabled":false,"max_failures":10,"window_seconds":60,"slots":64},"detectors":{"account":{"enabled":false,"max_failures":20,"window_seconds":600},"success_after_fail":{"enabled":false,"min_failures":5}}}"#);
            let mut got = vec![];
            for i in 0..t.len() {
                let name = format!("name{}", names[i]);
                if !r.fail("203.0.113.7", Some(&name), t[i]).is_empty() {
                    got.push(i);
                }
            }
            prop_assert_eq!(got, want);
        }
    }
}

/// The one-pass matcher agrees with the plain "any tool name anywhere, ASCII case folded"
/// definition: at the start, at the very end, cut short at the end, in mixed case, inside
/// other bytes (UTF-8, controls), and not on near misses.
#[test]
fn attack_tool_matcher_agrees_with_the_plain_definition() {
    let naive = |ua: &[u8]| {
        crate::detect::ATTACK_TOOLS.iter().any(|t| {
            let t = t.as_bytes();
            ua.len() >= t.len() && ua.windows(t.len()).any(|w| w.eq_ignore_ascii_case(t))
        })
    };
    let mut cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"s".to_vec(),
        b"sqlma".to_vec(),
        b"sqlmap".to_vec(),
        b"SQLMAP/1.7".to_vec(),
        b"Mozilla/5.0 (compatible; Nikto)".to_vec(),
        b"curl/8.0 sqlmap".to_vec(),
        b"curl/8.0 sqlma".to_vec(),
        b"n-map nm ap".to_vec(),
        "caf\u{e9} NmAp \u{202e}".as_bytes().to_vec(),
        b"\x00\xffhydra\x01".to_vec(),
        b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120".to_vec(),
    ];
    for t in crate::detect::ATTACK_TOOLS {
        cases.push(format!("x {} y", t.to_ascii_uppercase()).into_bytes());
        cases.push(t.as_bytes()[..t.len() - 1].to_vec());
    }
    for ua in &cases {
        assert_eq!(
            crate::detect::is_attack_tool(ua),
            naive(ua),
            "{:?}",
            String::from_utf8_lossy(ua)
        );
    }
}
