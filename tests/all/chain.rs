//! Tamper evidence end to end (issue 8): chains written by real Envoy (two workers, the
//! `envoy_log` sink, a checkpoint key from Envoy's environment), checked by `vigil verify`'s
//! logic, then every mutation class applied and each required to be found and named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;
use vigil_policies::chain::verify::{parse, verify, Record};
use vigil_policies::chain::{checkpoint_mac, hex, key_id, link, seal, Extra, Fields};
use vigil_policies::policy::Format;
use vigil_tests::envoy::{Envoy, Options, Req};

const KEY: &str = "chain-key-for-the-e2e-test-0123456789";

fn policy() -> String {
    r#"{"version":1,"output":{"sinks":[{"type":"envoy_log","format":"ecs"}],
        "chain":{"enabled":true,"checkpoint_every":4,"checkpoint_seconds":1,"key_env":"VIGIL_CHAIN_KEY"}}}"#
        .into()
}

/// Chained records from a real Envoy with two workers.
fn envoy_records() -> Vec<Record> {
    let mut opts = Options::new("chain");
    opts.concurrency = 2;
    opts.policy_json = Some(policy());
    opts.env = vec![("VIGIL_CHAIN_KEY".into(), KEY.into())];
    let envoy = Envoy::start(&opts).unwrap();
    for i in 0..14 {
        let r = envoy
            .send(&Req::post(
                "/login",
                "application/x-www-form-urlencoded",
                &format!("username=user{i}&password=wrong"),
            ))
            .unwrap();
        assert_eq!(r.status, 401);
    }
    // The tick writes each worker's closing checkpoint (checkpoint_seconds 1).
    std::thread::sleep(Duration::from_millis(2500));
    envoy
        .log()
        .lines()
        .enumerate()
        .filter_map(|(i, l)| parse(&format!("envoy.log:{}", i + 1), l))
        .collect()
}

fn findings(r: &[Record], key: Option<&str>) -> Vec<String> {
    verify(r, key.map(str::as_bytes))
        .into_iter()
        .filter(|f| !f.starts_with("warning:"))
        .collect()
}

/// Re-seals `r` (same chain fields, recomputed hash from `prev`).
fn reseal(r: &Record, prev: &str, key: Option<&[u8]>) -> Record {
    let p: [u8; 32] = (0..32)
        .map(|i| u8::from_str_radix(&prev[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let hash = hex(&link(&p, r.unsealed.as_bytes()));
    let mac = match (&r.mac, key) {
        (Some(_), Some(k)) => Some((
            key_id(k),
            checkpoint_mac(
                k,
                &r.fields.id,
                r.fields.seq,
                &hash,
                r.emitted.unwrap_or(0),
                r.dropped.as_deref().unwrap_or(""),
            ),
        )),
        (m, _) => m.clone(),
    };
    let kind = r.kind.as_deref().map(|k| {
        if k == "genesis" {
            "genesis"
        } else {
            "checkpoint"
        }
    });
    let f = Fields {
        id: r.fields.id.clone(),
        seq: r.fields.seq,
        prev: prev.into(),
        hash,
        extra: Extra {
            kind,
            reason: kind.filter(|k| *k == "genesis").map(|_| "start"),
            emitted: r.emitted,
            dropped: r.dropped.clone(),
            mac,
        },
    };
    parse(&r.at, &seal(Format::Ecs, &r.unsealed, &f)).unwrap()
}

/// Re-chains a whole chain (a rewriter without the key keeps the old MACs; with `key`
/// computes new ones).
fn rechain(chain: &[Record], key: Option<&[u8]>) -> Vec<Record> {
    let mut prev = "0".repeat(64);
    chain
        .iter()
        .map(|r| {
            let n = reseal(r, &prev, key);
            prev = n.fields.hash.clone();
            n
        })
        .collect()
}

#[test]
fn e2e_chains_from_envoy_verify_and_every_mutation_is_named() {
    let records = envoy_records();
    let ids: std::collections::BTreeSet<String> =
        records.iter().map(|r| r.fields.id.clone()).collect();
    assert!(!ids.is_empty(), "no chained records");
    eprintln!("{} records in {} chains", records.len(), ids.len());
    // Intact: nothing found with the key; without it only the warning.
    assert_eq!(findings(&records, Some(KEY)), Vec::<String>::new());
    let unkeyed = verify(&records, None);
    assert!(
        unkeyed[0].contains("not tamper-evident against a rewriter"),
        "{unkeyed:?}"
    );
    let a: Vec<Record> = {
        let id = records[0].fields.id.clone();
        records
            .iter()
            .filter(|r| r.fields.id == id)
            .cloned()
            .collect()
    };
    assert!(a.len() >= 4, "{a:?}");
    assert_eq!(a[0].kind.as_deref(), Some("genesis"));
    assert_eq!(a.last().unwrap().kind.as_deref(), Some("checkpoint"));
    let has = |f: &[String], what: &str| f.iter().any(|x| x.contains(what));

    // Edit one byte of an event.
    let mut m = a.clone();
    m[1].unsealed = m[1].unsealed.replacen("user", "usex", 1);
    let f = findings(&m, Some(KEY));
    assert!(
        has(&f, &format!("seq {}: edited record", m[1].fields.seq)),
        "{f:?}"
    );

    // Delete one.
    let mut m = a.clone();
    let gone = m.remove(2).fields.seq;
    let f = findings(&m, Some(KEY));
    assert!(
        has(&f, &format!("1 record(s) deleted after seq {}", gone - 1)),
        "{f:?}"
    );
    assert!(has(&f, "NOT explained"), "{f:?}");

    // Reorder two.
    let mut m = a.clone();
    m.swap(1, 2);
    let f = findings(&m, Some(KEY));
    assert!(has(&f, "reordered"), "{f:?}");

    // Truncate the tail (the closing checkpoint and what came before it since the last).
    let mut m = a.clone();
    m.truncate(a.len() - 2);
    let f = findings(&m, Some(KEY));
    assert!(has(&f, "after the last checkpoint"), "{f:?}");

    // Splice two chains: the head of one, the tail of another (a second chain made by
    // renaming, when Envoy gave only one worker traffic).
    let b: Vec<Record> = match ids.iter().nth(1) {
        Some(id) => records
            .iter()
            .filter(|r| &r.fields.id == id)
            .cloned()
            .collect(),
        None => a.clone(),
    };
    let mut m: Vec<Record> = a[..2].to_vec();
    m.extend(b[2..].iter().cloned().map(|mut r| {
        if r.fields.id == a[0].fields.id {
            r.fields.id = "ffffffffffffffff".into();
        }
        r
    }));
    let f = findings(&m, Some(KEY));
    assert!(has(&f, "no genesis record"), "{f:?}");

    // Re-seal with another key.
    let other = b"another-key-entirely";
    let m = rechain(&a, Some(other));
    let f = findings(&m, Some(KEY));
    assert!(has(&f, "re-sealed with another key"), "{f:?}");

    // Rewrite an event and re-chain without the key: every hash checks, the MACs do not.
    let mut m = a.clone();
    m[1].unsealed = m[1].unsealed.replacen("user", "mallory", 1);
    let m = rechain(&m, None);
    let f = findings(&m, Some(KEY));
    assert!(!has(&f, "edited record"), "{f:?}");
    assert!(has(&f, "rewritten and re-chained"), "{f:?}");
    // Without the key nobody could tell.
    assert!(findings(&m, None).is_empty());
}

/// The genesis reason through the harness (the same `.wasm`): a worker's first chain says
/// `start`; a VM of the same configuration that starts 20 s later (a `FAIL_RELOAD`
/// replacement) says `reload`; a VM with another configuration says `config_change`; and
/// the canary VM, which runs `on_configure` but writes nothing, leaves no chain.
#[test]
fn genesis_reasons_start_reload_config_change_and_no_canary_chain() {
    use vigil_harness::{traffic, Harness, Plugin, SharedData, Vm, VmOptions};
    let plugin = Plugin::load(vigil_tests::envoy::plugin_wasm().unwrap()).unwrap();
    let shared = SharedData::new();
    let opts = |policy: &str| VmOptions {
        plugin_config: policy.as_bytes().to_vec(),
        shared: shared.clone(),
        env: vec![("VIGIL_CHAIN_KEY".into(), KEY.into())],
        ..VmOptions::default()
    };
    let login = |t: &str| {
        let line = serde_json::json!({
            "time": t, "source": "203.0.113.9:4000",
            "request": {"method": "POST", "path": "/login",
                        "headers": [["content-type", "application/x-www-form-urlencoded"]],
                        "body": "username=a&password=b"},
            "response": {"status": 401},
        });
        traffic::parse_exchange(&line.to_string()).unwrap()
    };
    let genesis = |records: &[String]| -> Vec<String> {
        records
            .iter()
            .filter_map(|l| parse("h", l))
            .filter(|r| r.kind.as_deref() == Some("genesis"))
            .map(|r| {
                // The reason is in the chain member, which `parse` leaves out of `unsealed`.
                let line = records.iter().find(|l| l.contains(&r.fields.hash)).unwrap();
                let pat = "\"kind\":\"genesis\",\"reason\":\"";
                let i = line.find(pat).unwrap() + pat.len();
                line[i..i + line[i..].find('"').unwrap()].to_string()
            })
            .collect()
    };
    let mut h = Harness::new(&plugin, opts(&policy()), 1).unwrap();
    assert!(h.start().unwrap());
    assert!(h
        .canary_logs()
        .iter()
        .all(|l| !l.message.contains("vigil_chain")));
    h.run(&login("2026-11-23T09:00:00.000Z")).unwrap();
    assert_eq!(genesis(&h.take_events()), ["start"]);
    let mut later = Vm::new(&plugin, opts(&policy())).unwrap();
    later.set_time(1_795_424_420_000_000_000);
    assert!(later.start().unwrap());
    later.run(&login("2026-11-23T09:00:20.000Z")).unwrap();
    assert_eq!(genesis(&later.take_events()), ["reload"]);
    let other = policy().replace("\"checkpoint_every\":4", "\"checkpoint_every\":5");
    let mut changed = Vm::new(&plugin, opts(&other)).unwrap();
    assert!(changed.start().unwrap());
    changed.run(&login("2026-11-23T09:00:30.000Z")).unwrap();
    assert_eq!(genesis(&changed.take_events()), ["config_change"]);
}
