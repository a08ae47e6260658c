//! Detectors end to end, in real Envoy with two workers (`--concurrency 2`): one account
//! attacked from many addresses, credential stuffing, a success after failures, and a slow
//! failure that completes after faster ones. Distinct client addresses are distinct loopback
//! sources (`127.0.0.x`); every connection is opened before any request, so Envoy's exact
//! balancer spreads them over both workers and the counts must meet in shared data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use vigil_tests::envoy::{connect_from, exchange_on, new_request_id, Envoy, Event, Options, Req};

const FORM: &str = "application/x-www-form-urlencoded";

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn two_workers(name: &str) -> Envoy {
    let mut opts = Options::new(name);
    opts.concurrency = 2;
    Envoy::start(&opts).unwrap()
}

/// A login attempt: (from, user, password, path).
struct Attempt {
    from: IpAddr,
    user: String,
    password: &'static str,
    path: &'static str,
}

fn attempt(from: IpAddr, user: &str, password: &'static str) -> Attempt {
    Attempt {
        from,
        user: user.into(),
        password,
        path: "/login",
    }
}

/// Opens every connection first (spread over both workers), then sends the attempts in
/// order; returns their request ids.
fn send(envoy: &Envoy, attempts: &[Attempt]) -> Vec<String> {
    let before = envoy
        .stats()
        .unwrap()
        .get("http.vigil.downstream_cx_total")
        .copied()
        .unwrap_or(0);
    let conns: Vec<_> = attempts
        .iter()
        .map(|a| connect_from(envoy.listen, a.from).unwrap())
        .collect();
    let want = before + attempts.len() as u64;
    envoy
        .wait_stats(Duration::from_secs(5), |s| {
            s.get("http.vigil.downstream_cx_total") == Some(&want)
        })
        .unwrap();
    attempts
        .iter()
        .zip(conns)
        .map(|(a, conn)| {
            let id = new_request_id("det");
            let body = format!("username={}&password={}", a.user, a.password);
            let req = Req::post(a.path, FORM, &body).id(&id);
            exchange_on(conn, &req.to_bytes()).unwrap();
            id
        })
        .collect()
}

fn alerts_of<'a>(events: &'a [Event], action: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.event.kind == "alert" && e.action() == action)
        .collect()
}

/// Every event is in before we look: `n` events, then Vigil's written counter agrees.
fn settle(envoy: &Envoy, n: usize) -> Vec<Event> {
    envoy.wait_events(n, Duration::from_secs(10)).unwrap();
    envoy
        .wait_stats(Duration::from_secs(5), |s| {
            s.get("wasmcustom.vigil.sink.envoy_log.written") >= Some(&(n as u64))
        })
        .unwrap();
    envoy.events().unwrap()
}

fn threshold(f: impl Fn(&vigil_policies::Policy) -> u32) -> usize {
    f(&vigil_policies::presets::baseline()) as usize
}

#[test]
fn e2e_one_account_from_many_addresses_alerts_naming_the_account() {
    let envoy = two_workers("det-account");
    let over = threshold(|p| p.detectors.account.max_failures) + 1;
    let per_source = threshold(|p| p.brute_force.max_failures);
    // Spread so that no address reaches the per-source threshold.
    let sources = over.div_ceil(per_source) + 1;
    let attempts: Vec<Attempt> = (0..over)
        .map(|i| attempt(ip(10 + (i % sources) as u8), "victim", "guess"))
        .collect();
    let ids = send(&envoy, &attempts);
    let events = settle(&envoy, over + 1);
    let alerts = alerts_of(&events, "authn_login_fail_max");
    assert_eq!(alerts.len(), 1, "{:#?}", envoy.event_lines());
    let a = alerts[0];
    assert_eq!(a.get_str("vigil.alert.key"), Some("user"), "{}", a.raw);
    assert_eq!(a.get_str("vigil.alert.value"), Some("victim"));
    assert_eq!(a.user_name(), Some("victim"));
    assert_eq!(
        a.request_id(),
        ids.last().map(String::as_str),
        "on the crossing request"
    );
}

#[test]
fn e2e_credential_stuffing_alerts_on_the_crossing_request() {
    let envoy = two_workers("det-stuffing");
    let over = threshold(|p| p.detectors.stuffing.max_users) + 1;
    let attempts: Vec<Attempt> = (0..over)
        .map(|i| attempt(ip(30), &format!("user{i:02}"), "guess"))
        .collect();
    let ids = send(&envoy, &attempts);
    // The events, the stuffing alert, and the per-source alert if it crossed too.
    let per_source = threshold(|p| p.brute_force.max_failures) + 1;
    let expected = over + 1 + usize::from(over >= per_source);
    let events = settle(&envoy, expected);
    let stuffing = alerts_of(&events, "authn_login_stuffing");
    assert_eq!(stuffing.len(), 1, "{:#?}", envoy.event_lines());
    let a = stuffing[0];
    assert_eq!(a.get_str("vigil.alert.key"), Some("source_ip"), "{}", a.raw);
    assert_eq!(a.get_str("vigil.alert.value"), Some("127.0.0.30"));
    assert_eq!(a.request_id(), ids.last().map(String::as_str));
}

#[test]
fn e2e_a_success_after_failures_alerts() {
    let envoy = two_workers("det-success");
    let n = threshold(|p| p.detectors.success_after_fail.min_failures);
    let mut attempts: Vec<Attempt> = (0..n).map(|_| attempt(ip(40), "alice", "guess")).collect();
    attempts.push(attempt(ip(40), "alice", "correct-horse"));
    let ids = send(&envoy, &attempts);
    // n failures, the success, and the alert per source and per account.
    let events = settle(&envoy, n + 3);
    let alerts = alerts_of(&events, "authn_login_successafterfail");
    assert_eq!(alerts.len(), 2, "{:#?}", envoy.event_lines());
    for a in &alerts {
        assert_eq!(a.request_id(), ids.last().map(String::as_str), "{}", a.raw);
    }
    let keys: Vec<_> = alerts
        .iter()
        .map(|a| a.get_str("vigil.alert.key").unwrap_or_default())
        .collect();
    assert!(
        keys.contains(&"source_ip") && keys.contains(&"user"),
        "{keys:?}"
    );
}

/// Finding: "loses the brute-force count when one slow request completes after faster ones".
/// The first failure is slow (the upstream answers it 1.5 s late), the rest fast: all are
/// counted, by when Vigil sees them, so the alert comes on the last one to complete, the
/// slow one.
#[test]
fn e2e_a_slow_failure_completing_last_still_counts() {
    let envoy = two_workers("det-slow");
    let over = threshold(|p| p.brute_force.max_failures) + 1;
    let slow_from = ip(50);
    let mut slow = attempt(slow_from, "mallory", "guess");
    slow.path = "/login?slow=1";
    let fast: Vec<Attempt> = (1..over)
        .map(|_| attempt(slow_from, "mallory", "guess"))
        .collect();
    let slow_id = new_request_id("slow");
    let listen = envoy.listen;
    let slow_conn = connect_from(listen, slow_from).unwrap();
    let body = format!("username={}&password={}", slow.user, slow.password);
    let req = Req::post(slow.path, FORM, &body).id(&slow_id);
    let t = std::thread::spawn(move || exchange_on(slow_conn, &req.to_bytes()).unwrap());
    // The slow request has reached the upstream: then the fast ones.
    envoy
        .wait_stats(Duration::from_secs(5), |s| {
            s.get("cluster.demo_upstream.upstream_rq_total") >= Some(&1)
        })
        .unwrap();
    send(&envoy, &fast);
    assert_eq!(t.join().unwrap().status, 401);
    let events = settle(&envoy, over + 1);
    let alerts = alerts_of(&events, "authn_login_fail_max");
    assert_eq!(alerts.len(), 1, "{:#?}", envoy.event_lines());
    assert_eq!(
        alerts[0].request_id(),
        Some(slow_id.as_str()),
        "the slow failure, seen last, is the 11th"
    );
}
