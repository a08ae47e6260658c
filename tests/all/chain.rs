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

/// Parses every chained record in `text` (Envoy's log or the events file), named `what`.
fn records_in(what: &str, text: &str) -> Vec<Record> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| parse(&format!("{what}:{}", i + 1), l))
        .collect()
}

/// Chained records from a real Envoy with two workers (the wasm build, or the module with
/// `module`): failed logins spread over both workers, then each chain's closing checkpoint
/// (the wasm build's tick writes it; the module, without a timer, writes a due checkpoint
/// with the next records: 12 logins leave each chain 3 records past its last checkpoint).
fn envoy_records(module: bool) -> Vec<Record> {
    let mut opts = Options::new(if module { "chain-module" } else { "chain" });
    if module {
        opts = opts.module().unwrap();
    }
    opts.concurrency = 2;
    opts.policy_json = Some(policy());
    opts.env = vec![("VIGIL_CHAIN_KEY".into(), KEY.into())];
    let envoy = Envoy::start(&opts).unwrap();
    envoy
        .failed_logins_spread(if module { 12 } else { 14 }, "chain")
        .unwrap();
    if module {
        // The module has no timer: its due checkpoint goes out with the next records.
        std::thread::sleep(Duration::from_millis(1200));
        envoy.failed_logins_spread(2, "chain-close").unwrap();
    } else {
        // The tick writes each worker's closing checkpoint (checkpoint_seconds 1).
        std::thread::sleep(Duration::from_millis(2500));
    }
    records_in("envoy.log", &envoy.log())
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
    let records = envoy_records(false);
    let ids: std::collections::BTreeSet<String> =
        records.iter().map(|r| r.fields.id.clone()).collect();
    // One chain per worker: both got traffic.
    assert_eq!(ids.len(), 2, "{records:?}");
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

    // Truncate the tail: cut the closing checkpoint (what came before it since the one
    // before is then uncovered; a cut exactly at a checkpoint needs an anchor off the host).
    let mut m = a.clone();
    m.truncate(a.len() - 1);
    let f = findings(&m, Some(KEY));
    assert!(has(&f, "after the last checkpoint"), "{f:?}");

    // Splice two chains: the head of one worker's chain, the tail of the other's.
    let b: Vec<Record> = records
        .iter()
        .filter(|r| r.fields.id != a[0].fields.id)
        .cloned()
        .collect();
    assert!(b.len() >= 3, "{b:?}");
    let mut m: Vec<Record> = a[..2].to_vec();
    m.extend(b[2..].iter().cloned());
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

/// The dynamic module chains its records as the wasm build does: one chain per worker
/// thread, a genesis, checkpoints with the key's MAC; `verify` finds them intact, and an
/// edit in them.
#[test]
fn e2e_module_chains_verify_intact_and_an_edit_is_named() {
    let records = envoy_records(true);
    let ids: std::collections::BTreeSet<String> =
        records.iter().map(|r| r.fields.id.clone()).collect();
    assert_eq!(ids.len(), 2, "{records:?}");
    assert_eq!(findings(&records, Some(KEY)), Vec::<String>::new());
    for id in &ids {
        let c: Vec<&Record> = records.iter().filter(|r| &r.fields.id == id).collect();
        assert_eq!(c[0].kind.as_deref(), Some("genesis"), "{c:?}");
        assert!(c.iter().any(|r| r.mac.is_some()), "{c:?}");
    }
    let mut m = records.clone();
    let i = m.iter().position(|r| r.kind.is_none()).unwrap();
    m[i].unsealed = m[i].unsealed.replacen("mallory", "mallorx", 1);
    let f = findings(&m, Some(KEY));
    assert!(has_edit(&f, m[i].fields.seq), "{f:?}");
}

fn has_edit(f: &[String], seq: u64) -> bool {
    f.iter()
        .any(|x| x.contains(&format!("seq {seq}: edited record")))
}

/// A real drop, end to end: Envoy's level for wasm set to `warning` through the admin API
/// drops the `envoy_log` records (counted, `log_level`); back at `info`, the next
/// checkpoint carries the count and `verify` says the gap is explained. One deletion more
/// than the count is "NOT explained".
#[test]
fn e2e_gap_from_a_counted_drop_is_explained_by_the_checkpoint() {
    let mut opts = Options::new("chain-drop");
    opts.policy_json = Some(policy());
    opts.env = vec![("VIGIL_CHAIN_KEY".into(), KEY.into())];
    let envoy = Envoy::start(&opts).unwrap();
    let login = |i: usize| {
        let r = envoy
            .send(&Req::post(
                "/login",
                "application/x-www-form-urlencoded",
                &format!("username=user{i}&password=wrong"),
            ))
            .unwrap();
        assert_eq!(r.status, 401);
    };
    // The plugin re-reads the level on its 1 s heartbeat.
    let set_level = |level: &str| {
        let r = envoy.admin_post(&format!("/logging?wasm={level}")).unwrap();
        assert_eq!(r.status, 200);
        std::thread::sleep(Duration::from_millis(1500));
    };
    (0..2).for_each(login);
    set_level("warning");
    (2..5).for_each(login);
    set_level("info");
    (5..9).for_each(login);
    std::thread::sleep(Duration::from_millis(2500));
    let records = records_in("envoy.log", &envoy.log());
    let f = findings(&records, Some(KEY));
    assert!(
        f.iter().any(|x| x.contains("missing record(s) explained")),
        "{f:?}"
    );
    assert!(!f.iter().any(|x| x.contains("NOT explained")), "{f:?}");
    let dropped = records.iter().find_map(|r| r.dropped.clone()).unwrap();
    assert!(dropped.contains("log_level:"), "{dropped}");
    // Delete one event after the gap, before the checkpoint that explains it.
    let cp = records
        .iter()
        .position(|r| !r.dropped.as_deref().unwrap_or("").is_empty())
        .unwrap();
    let mut m = records.clone();
    let i = (0..cp).rev().find(|&i| m[i].kind.is_none()).unwrap();
    m.remove(i);
    let f = findings(&m, Some(KEY));
    assert!(f.iter().any(|x| x.contains("NOT explained")), "{f:?}");
}
