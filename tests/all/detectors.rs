//! The detectors of issue 7 through the real `.wasm` in the harness, on two workers sharing
//! shared data: each alert on the request that crosses its threshold (so the workers agreed
//! on the secret and counted together), with its key, and every alert conforming to ECS;
//! benign traffic raises none.

use anyhow::{Context, Result};
use serde_json::{json, Value};
use vigil_harness::{traffic, Plugin};
use vigil_tests::envoy::{plugin_wasm, Event};
use vigil_tests::{ecs, golden};

/// One failed (401) or successful (200) baseline login, `s` seconds after 09:00:00.
fn login(s: u64, source: &str, user: &str, status: u16, id: &str) -> Value {
    json!({
        "time": format!("2026-11-23T09:{:02}:{:02}.{:03}Z", s / 60, s % 60, 0),
        "source": source,
        "request": {"method": "POST", "path": "/login",
                    "headers": [["host", "shop.example"], ["x-request-id", id],
                                ["content-type", "application/x-www-form-urlencoded"]],
                    "body": format!("username={user}&password=guess")},
        "response": {"status": status},
    })
}

/// Replays `traffic` with the baseline policy on two workers; returns the events.
fn replay(name: &str, traffic: &[Value]) -> Result<Vec<Event>> {
    let plugin = Plugin::load(plugin_wasm()?)?;
    let path = std::env::temp_dir().join(format!(
        "vigil-detectors-{name}-{}.jsonl",
        std::process::id()
    ));
    let text = traffic::with_format_line(traffic.iter().map(Value::to_string));
    std::fs::write(&path, text).context("writing the traffic")?;
    let lines = golden::replay(&plugin, b"", &path, 2);
    let _ = std::fs::remove_file(&path);
    lines?.iter().map(|l| Event::parse(l)).collect()
}

fn alerts(events: &[Event]) -> Vec<&Event> {
    events.iter().filter(|e| e.event.kind == "alert").collect()
}

fn alert_field<'a>(e: &'a Event, f: &str) -> &'a Value {
    &e.raw["vigil"]["alert"][f]
}

#[test]
fn detectors_alert_on_the_crossing_request_across_two_workers() -> Result<()> {
    let mut t = Vec::new();
    // Credential stuffing: eleven names from one address, one every 6 s (never eleven
    // failures within 60 s, so no per-source brute force).
    for i in 0..11u64 {
        t.push(login(
            i * 6,
            "203.0.113.50:4000",
            &format!("name{i}"),
            401,
            &format!("st-{i}"),
        ));
    }
    // Rotation through one IPv6 /64: eleven addresses, eleven failures.
    for i in 0..11u64 {
        let src = format!("[2001:db8:1:2::{:x}]:4000", i + 1);
        t.push(login(100 + i, &src, "root", 401, &format!("v6-{i}")));
    }
    // One account from 21 addresses, then its owner (or its attacker) gets in.
    for i in 0..21u64 {
        let src = format!("198.51.100.{}:4000", i + 1);
        t.push(login(200 + i, &src, "alice", 401, &format!("acct-{i}")));
    }
    t.push(login(230, "192.0.2.99:4000", "alice", 200, "acct-ok"));
    let events = replay("attack", &t)?;

    let schema = ecs::schema()?;
    for e in &events {
        let problems = ecs::check_event(&schema, &e.raw);
        anyhow::ensure!(problems.is_empty(), "{}: {problems:#?}", e.raw);
    }
    let got: Vec<(String, Option<String>, String, String, u64)> = alerts(&events)
        .iter()
        .map(|a| {
            (
                a.action().to_string(),
                a.request_id().map(str::to_string),
                alert_field(a, "key").as_str().unwrap_or("").to_string(),
                alert_field(a, "value").as_str().unwrap_or("").to_string(),
                alert_field(a, "count").as_u64().unwrap_or(0),
            )
        })
        .collect();
    let want = vec![
        (
            "authn_login_stuffing",
            "st-10",
            "source_ip",
            "203.0.113.50",
            11,
        ),
        (
            "authn_login_fail_max",
            "v6-10",
            "source_prefix",
            "2001:db8:1:2::/64",
            11,
        ),
        ("authn_login_fail_max", "acct-20", "user", "alice", 21),
        (
            "authn_login_successafterfail",
            "acct-ok",
            "user",
            "alice",
            21,
        ),
    ];
    let want: Vec<(String, Option<String>, String, String, u64)> = want
        .into_iter()
        .map(|(a, id, k, v, n)| (a.into(), Some(id.into()), k.into(), v.into(), n))
        .collect();
    anyhow::ensure!(got == want, "alerts {got:#?}");
    // A user-keyed alert names the account; a source-keyed one names nobody.
    for a in alerts(&events) {
        let user = a.raw["user"]["name"].as_str();
        let keyed_by_user = alert_field(a, "key") == "user";
        anyhow::ensure!(
            user == keyed_by_user.then_some("alice"),
            "user {user:?} on {}",
            a.raw
        );
    }
    Ok(())
}

#[test]
fn a_benign_replay_raises_no_alert() -> Result<()> {
    let mut t = Vec::new();
    // A shared office address over 10 minutes: 30 people log in, every fifth after a
    // typo; a password manager retries a stale password three times; one user gets it
    // right on the fourth try.
    for i in 0..30u64 {
        let user = format!("employee{i}");
        if i % 5 == 0 {
            t.push(login(
                i * 20,
                "192.0.2.10:5000",
                &user,
                401,
                &format!("typo-{i}"),
            ));
        }
        t.push(login(
            i * 20 + 5,
            "192.0.2.10:5000",
            &user,
            200,
            &format!("ok-{i}"),
        ));
    }
    for k in 0..3u64 {
        t.push(login(
            601 + k,
            "198.51.100.7:5000",
            "pm-user",
            401,
            &format!("pm-{k}"),
        ));
    }
    for k in 0..3u64 {
        t.push(login(
            610 + k * 5,
            "198.51.100.8:5000",
            "typist",
            401,
            &format!("ty-{k}"),
        ));
    }
    t.push(login(630, "198.51.100.8:5000", "typist", 200, "ty-ok"));
    let events = replay("benign", &t)?;
    anyhow::ensure!(
        alerts(&events).is_empty(),
        "alerts on benign traffic: {:#?}",
        alerts(&events).iter().map(|a| &a.raw).collect::<Vec<_>>()
    );
    Ok(())
}

/// The golden baseline traffic (with a success for the brute-force victim and a slow
/// stuffing run at its end) covers every action, each conforming to ECS, and the new alerts
/// land on the requests that cross their thresholds.
#[test]
fn the_baseline_traffic_with_a_success_and_stuffing_covers_every_action() -> Result<()> {
    let text = std::fs::read_to_string(golden::dir().join("baseline.traffic.jsonl"))?;
    let t: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("\"vigil_traffic\""))
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let events = replay("coverage", &t)?;
    let schema = ecs::schema()?;
    let mut seen = std::collections::BTreeSet::new();
    for e in &events {
        let problems = ecs::check_event(&schema, &e.raw);
        anyhow::ensure!(problems.is_empty(), "{}: {problems:#?}", e.raw);
        seen.insert(e.action().to_string());
    }
    // Every action but the signal detectors' (their own golden scenario, `signals`).
    use vigil_policies::action::Action;
    let signals = [
        Action::MaliciousExcess404,
        Action::AuthzFailMax,
        Action::ExcessRateLimitStorm,
        Action::MaliciousAttackTool,
        // Its own scenario too (`distributed`): it needs minutes of baseline.
        Action::AuthnLoginStuffingDistributed,
        // Chain records, not traffic events (tests/all/chain.rs).
        Action::VigilChainStart,
        Action::VigilChainCheckpoint,
    ];
    let all: std::collections::BTreeSet<String> = Action::ALL
        .iter()
        .filter(|a| !signals.contains(a))
        .map(|a| a.name().to_string())
        .collect();
    anyhow::ensure!(
        seen == all,
        "missing {:?}",
        all.difference(&seen).collect::<Vec<_>>()
    );
    let new_alerts: Vec<(&str, Option<&str>)> = alerts(&events)
        .iter()
        .map(|a| (a.action(), a.request_id()))
        .filter(|(a, _)| *a != "authn_login_fail_max")
        .collect();
    anyhow::ensure!(
        new_alerts
            == vec![
                ("authn_login_successafterfail", Some("rid-028")),
                ("authn_login_successafterfail", Some("rid-028")),
                ("authn_login_stuffing", Some("rid-039")),
            ],
        "{new_alerts:?}"
    );
    Ok(())
}
