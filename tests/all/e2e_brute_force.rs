//! End to end: brute force is counted across Envoy workers (shared data), so the 11th failed
//! login from one client IP raises exactly one alert even when the attempts are spread over
//! two workers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;
use vigil_tests::envoy::{Envoy, Options};

const ATTEMPTS: usize = 14;

#[test]
fn e2e_brute_force_alert_across_two_workers() {
    let mut opts = Options::new("bruteforce");
    opts.concurrency = 2;
    let envoy = Envoy::start(&opts).unwrap();

    // Every connection first, spread over the two workers.
    let ids = envoy.failed_logins_spread(ATTEMPTS, "bf").unwrap();

    // ATTEMPTS failure events + exactly one alert. Every exchange has completed, so a
    // missing or extra record is a real one: wait for the expected count, then for Vigil's
    // counters (flushed on its 1 s tick) to say the same, and read the records again.
    envoy
        .wait_events(ATTEMPTS + 1, Duration::from_secs(5))
        .unwrap();
    let stats = envoy
        .wait_stats(Duration::from_secs(5), |s| {
            s.get("wasmcustom.vigil.sink.envoy_log.written") >= Some(&(ATTEMPTS as u64 + 1))
        })
        .unwrap();
    let events = envoy.events().unwrap();
    let fails = events
        .iter()
        .filter(|e| e.action() == "authn_login_fail" && e.event.kind == "event")
        .count();
    let alerts: Vec<_> = events
        .iter()
        .filter(|e| e.action() == "authn_login_fail_max")
        .collect();
    assert_eq!(
        fails,
        ATTEMPTS,
        "one failure event per attempt: {:#?}",
        envoy.event_lines()
    );
    assert_eq!(
        alerts.len(),
        1,
        "exactly one alert: {:#?}",
        envoy.event_lines()
    );
    let alert = alerts[0];
    assert_eq!(alert.event.kind, "alert", "{}", alert.raw);
    assert_eq!(
        alert.source.as_ref().and_then(|s| s.ip.as_deref()),
        Some("127.0.0.1"),
        "{}",
        alert.raw
    );
    // The alert comes with the 11th failure (max_failures 10 in the baseline).
    assert_eq!(alert.request_id(), Some(ids[10].as_str()), "{}", alert.raw);

    // Both workers served failed logins: each attempt had its own connection and nothing else
    // reached the listener, so per-worker connection counters show the split.
    let per_worker: Vec<(String, u64)> = stats
        .iter()
        .filter(|(k, _)| {
            k.starts_with("listener.127.0.0.1_")
                && k.ends_with(".downstream_cx_total")
                && k.contains(".worker_")
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(per_worker.len(), 2, "two workers: {per_worker:?}");
    for (name, v) in &per_worker {
        assert!(
            *v > 0,
            "{name} = {v}: a worker served no failed login ({per_worker:?})"
        );
    }
    assert_eq!(
        per_worker.iter().map(|(_, v)| v).sum::<u64>(),
        ATTEMPTS as u64,
        "{per_worker:?}"
    );
    assert_eq!(
        stats.get("wasmcustom.vigil.alerts"),
        Some(&1),
        "vigil.alerts counter"
    );
    assert_eq!(
        stats.get("wasmcustom.vigil.sink.envoy_log.written"),
        Some(&(ATTEMPTS as u64 + 1)),
        "one record written per event, none dropped"
    );
}
