//! The shared table: codec, ordering of times, eviction rule, CAS and host refusals.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::metrics::MemoryMetrics;
use crate::shared::SetOutcome;
use crate::shared::{HostRefused, MemoryStore};

fn shape(slots: u32) -> Shape {
    Shape {
        kind: TableKind::Source,
        slots,
        window_ms: 60_000,
        keep_failures: 11,
        user_window_ms: 600_000,
        keep_users: 11,
    }
}

fn fail(s: &Shape, st: &mut MemoryStore, m: &mut MemoryMetrics, fp: u64, now: u64) -> Option<u32> {
    update(s, st, m, fp, now, Missing::Insert, |e| {
        e.record(s, now, None);
        (true, e.failures_in_window(s, now))
    })
}

fn count(s: &Shape, st: &mut MemoryStore, fp: u64, now: u64) -> Option<u32> {
    let mut m = MemoryMetrics::default();
    update(s, st, &mut m, fp, now, Missing::Skip, |e| {
        (false, e.failures_in_window(s, now))
    })
}

#[test]
fn buckets_round_trip_and_garbage_is_empty() {
    let e = Entry {
        fp: 0xdead_beef,
        alerted: [1, 2, 3],
        failures: vec![10, 20, 30],
        users: vec![(7, 11), (8, 12)],
    };
    let b = encode(&[e.clone(), Entry::default()]);
    assert_eq!(b.len(), 2 + (35 + 24 + 24) + 35, "the documented size");
    assert_eq!(decode(&b), vec![e, Entry::default()]);
    assert_eq!(decode(b"garbage"), vec![]);
    assert_eq!(decode(&b[..b.len() - 1]), vec![]);
    // Version 1 (the old per-IP slot) reads as empty.
    assert_eq!(decode(&[1, 9, 49]), vec![]);
}

/// Finding (issue 7): the window dropped failures "newer" than the one being recorded when
/// a slow request completed after faster ones. Times now go in order, and trimming drops
/// the oldest.
#[test]
fn finding_a_late_slow_failure_never_drops_newer_ones() {
    let s = shape(4);
    let mut e = Entry::default();
    for t in [20_000, 21_000, 22_000] {
        e.record(&s, t, None);
    }
    // Recorded by another worker whose clock is a little behind.
    e.record(&s, 19_500, None);
    assert_eq!(e.failures, vec![19_500, 20_000, 21_000, 22_000]);
    assert_eq!(e.failures_in_window(&s, 22_000), 4);
    // At the cap, the oldest goes, never a newer one.
    let mut e = Entry::default();
    for t in 0..11u64 {
        e.record(&s, 30_000 + t, None);
    }
    e.record(&s, 29_000, None);
    assert_eq!(e.failures.len(), 11);
    assert_eq!(e.failures.last(), Some(&30_010));
    assert_eq!(e.failures.first(), Some(&30_000));
}

#[test]
fn two_keys_in_one_bucket_keep_their_own_counts() {
    // One bucket: every key collides.
    let s = shape(1);
    let (mut st, mut m) = (MemoryStore::default(), MemoryMetrics::default());
    init(&s, &mut st);
    for i in 0..5 {
        assert_eq!(fail(&s, &mut st, &mut m, 1, 1000 + i), Some(i as u32 + 1));
        assert_eq!(fail(&s, &mut st, &mut m, 2, 1000 + i), Some(i as u32 + 1));
    }
    assert_eq!(count(&s, &mut st, 1, 2000), Some(5));
    assert_eq!(m.0.get("vigil.detector.source.evicted"), None);
}

/// Finding (issue 7): a flood of one-failure keys evicted live counts. Now a newcomer only
/// displaces an entry with no more live failures than itself.
#[test]
fn finding_a_flood_of_newcomers_cannot_erase_a_live_count() {
    let s = shape(1);
    let (mut st, mut m) = (MemoryStore::default(), MemoryMetrics::default());
    fail(&s, &mut st, &mut m, 1, 1000);
    fail(&s, &mut st, &mut m, 1, 1001);
    for k in 100..1100u64 {
        fail(&s, &mut st, &mut m, k, 1002 + k);
    }
    assert_eq!(count(&s, &mut st, 1, 3000), Some(2));
    assert!(m.0["vigil.detector.source.evicted"] > 900);
    // A bucket full of heavier entries refuses a newcomer, counted.
    let (mut st, mut m) = (MemoryStore::default(), MemoryMetrics::default());
    for k in 1..=4 {
        fail(&s, &mut st, &mut m, k, 1000);
        fail(&s, &mut st, &mut m, k, 1001);
    }
    assert_eq!(fail(&s, &mut st, &mut m, 9, 1002), None);
    assert_eq!(m.0["vigil.detector.source.refused"], 1);
    // Once they go stale, the newcomer gets in, silently.
    assert_eq!(fail(&s, &mut st, &mut m, 9, 70_000), Some(1));
    assert_eq!(m.0.get("vigil.detector.source.evicted"), None);
}

#[test]
fn a_success_lookup_never_inserts_or_writes() {
    let s = shape(2);
    let mut st = MemoryStore::default();
    init(&s, &mut st);
    let before = st.clone().get(&s.bucket_key(0)).unwrap();
    assert_eq!(count(&s, &mut st, 42, 1000), None);
    assert_eq!(st.get(&s.bucket_key(0)).unwrap(), before);
}

/// A store whose host refuses every read, or every write.
struct Refusing {
    reads: bool,
}

impl SharedStore for Refusing {
    fn get(&mut self, _: &str) -> Result<Option<(Vec<u8>, u32)>, HostRefused> {
        if self.reads {
            Err(HostRefused)
        } else {
            Ok(Some((Vec::new(), 7)))
        }
    }
    fn set(&mut self, _: &str, _: &[u8], cas: u32) -> SetOutcome {
        assert_ne!(cas, 0, "a refused read must never lead to a blind write");
        SetOutcome::Failed
    }
}

#[test]
fn host_refusals_are_shared_data_errors_not_cas_give_ups() {
    let s = shape(8);
    for reads in [true, false] {
        let mut m = MemoryMetrics::default();
        let r = update(
            &s,
            &mut Refusing { reads },
            &mut m,
            1,
            1000,
            Missing::Insert,
            |e| {
                e.record(&s, 1000, None);
                (true, ())
            },
        );
        assert_eq!(r, None);
        assert_eq!(m.0.get("vigil.shared_data_errors"), Some(&1));
        assert_eq!(m.0.get("vigil.cas_gave_up"), None);
    }
}

/// A store where another worker writes between every read and write.
struct Contended(MemoryStore);

impl SharedStore for Contended {
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostRefused> {
        self.0.get(key)
    }
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> SetOutcome {
        let cur = self.0.get(key).ok().flatten().unwrap_or_default().0;
        self.0.set(key, &cur, 0);
        self.0.set(key, value, cas)
    }
}

#[test]
fn cas_retries_are_bounded_and_counted() {
    let s = shape(1);
    let mut m = MemoryMetrics::default();
    assert_eq!(fail(&s, &mut MemoryStore::default(), &mut m, 1, 1), Some(1));
    let mut st = Contended(MemoryStore::default());
    init(&s, &mut st.0);
    let r = update(&s, &mut st, &mut m, 1, 1000, Missing::Insert, |_| {
        (true, ())
    });
    assert_eq!(r, None);
    assert_eq!(m.0["vigil.cas_gave_up"], 1);
    assert_eq!(m.0["vigil.cas_retries"], u64::from(MAX_CAS_ATTEMPTS - 1));
}

#[cfg(not(target_arch = "wasm32"))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever order failures are recorded in (requests completing out of order, across
        /// workers), the count at the end is the number of failures within the window,
        /// capped at what an entry keeps.
        #[test]
        fn the_count_does_not_depend_on_the_order_of_recording(
            times in proptest::collection::vec(0u64..120_000, 1..40),
            seed in any::<u64>(),
        ) {
            let s = shape(4);
            let now = *times.iter().max().unwrap();
            let mut shuffled = times.clone();
            // A deterministic shuffle from the seed.
            let mut x = seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let (mut st, mut m) = (MemoryStore::default(), MemoryMetrics::default());
            for &t in &shuffled {
                fail(&s, &mut st, &mut m, 7, t);
            }
            let live = times.iter().filter(|&&t| now - t < s.window_ms).count();
            let got = count(&s, &mut st, 7, now).unwrap();
            // Recording an old time prunes by that time, so what aged out before a newer
            // one arrived can't come back: the count is at most the truth, and exact when
            // every live failure is among the newest kept.
            prop_assert!(got as usize <= live.min(s.keep_failures));
            let mut sorted = times.clone();
            sorted.sort_unstable();
            let newest_kept = sorted.iter().rev().take(s.keep_failures).filter(|&&t| now - t < s.window_ms).count();
            prop_assert_eq!(got as usize, newest_kept);
        }

        /// A key with more live failures than every newcomer survives any sequence of
        /// one-failure newcomers in its bucket.
        #[test]
        fn a_heavier_entry_survives_any_flood(
            newcomers in proptest::collection::vec(2u64..u64::MAX, 0..200),
        ) {
            let s = shape(1);
            let (mut st, mut m) = (MemoryStore::default(), MemoryMetrics::default());
            fail(&s, &mut st, &mut m, 1, 1000);
            fail(&s, &mut st, &mut m, 1, 1000);
            for (i, k) in newcomers.iter().enumerate() {
                fail(&s, &mut st, &mut m, *k, 1000 + i as u64);
            }
            prop_assert_eq!(count(&s, &mut st, 1, 1500), Some(2));
        }

        #[test]
        fn buckets_round_trip(
            entries in proptest::collection::vec(
                (any::<u64>(), any::<[u64; 3]>(),
                 proptest::collection::vec(any::<u64>(), 0..20),
                 proptest::collection::vec((any::<u32>(), any::<u64>()), 0..20)),
                0..=WAYS),
        ) {
            let entries: Vec<Entry> = entries
                .into_iter()
                .map(|(fp, alerted, failures, users)| Entry { fp, alerted, failures, users })
                .collect();
            prop_assert_eq!(decode(&encode(&entries)), entries);
        }
    }
}
