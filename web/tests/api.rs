//! vigil-web's two entry points as the page calls them (natively here; the browser test
//! calls the same code compiled to WebAssembly).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use serde_json::Value;

fn scenario(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.traffic.jsonl"));
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn check_gives_each_error_at_its_json_path_and_offset() {
    let policy = r#"{"version": 1, "brute_force": {"enabled": true, "max_failures": "ten", "window_seconds": 60, "slots": 1024}}"#;
    let r = vigil_web::check::check(policy);
    assert_eq!(r["ok"], false);
    let e = &r["errors"][0];
    assert_eq!(e["path"], "brute_force.max_failures");
    let at = e["offset"].as_u64().unwrap() as usize;
    assert!(
        policy[at..].starts_with(r#""max_failures""#),
        "{}",
        &policy[at..]
    );
}

#[test]
fn check_explains_a_good_policy_and_the_empty_baseline() {
    for p in ["", r#"{"version": 1}"#] {
        let r = vigil_web::check::check(p);
        assert_eq!(r["ok"], true, "{r}");
        assert!(!r["explanation"].as_str().unwrap().is_empty());
    }
}

#[test]
fn replay_names_a_bad_traffic_line_and_a_bad_format() {
    let bad = "{\"vigil_traffic\": 1}\n{\"time\": \"nope\"}\n";
    let r = vigil_web::replay_json("", bad, Some("ecs"));
    assert_eq!(r["ok"], false);
    assert!(
        r["error"].as_str().unwrap().starts_with("traffic:2: "),
        "{r}"
    );
    let r = vigil_web::replay_json("", &scenario("brute-force"), Some("xml"));
    assert!(r["error"].as_str().unwrap().contains("format `xml`"), "{r}");
}

#[test]
fn replay_gives_per_exchange_rules_alerts_and_detector_counts() {
    let r = vigil_web::replay_json("", &scenario("brute-force"), Some("ocsf"));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["format"], "ocsf");
    let series: Vec<&str> = r["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(series[0], "login failures per source");
    let xs = r["exchanges"].as_array().unwrap();
    let eleventh = &xs[10];
    assert_eq!(eleventh["actions"][1], "authn_login_fail_max");
    assert_eq!(eleventh["rules"][1], "brute_force");
    assert_eq!(eleventh["detectors"][0], 11);
    let first = &xs[0];
    assert_eq!(first["detectors"][0], 1);
    assert_eq!(first["records"].as_array().unwrap().len(), 1);
    let rec: Value = serde_json::from_str(first["records"][0].as_str().unwrap()).unwrap();
    assert!(rec.is_object());
}

#[test]
fn replay_says_when_a_policy_chains_its_records() {
    let policy = r#"{"version": 1, "output": {"chain": {"enabled": true}}}"#;
    let r = vigil_web::replay_json(policy, &scenario("brute-force"), None);
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        r["notes"].to_string().contains("hash chains are not shown"),
        "{r}"
    );
    assert!(r["notes"].to_string().contains("no fingerprint key"), "{r}");
}

#[test]
fn check_offsets_are_javascript_string_indexes() {
    let policy =
        "{\"version\": 1, \"output\": {\"field_max_bytes\": \"\u{1F600}é\", \"sinks\": 3}}";
    let r = vigil_web::check::check(policy);
    let e = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "output.sinks")
        .unwrap_or_else(|| panic!("{r}"));
    let utf16: Vec<u16> = policy.encode_utf16().collect();
    let at = e["offset"].as_u64().unwrap() as usize;
    assert_eq!(String::from_utf16(&utf16[at..]).unwrap(), "\"sinks\": 3}}");
}

#[test]
fn every_example_policy_of_the_page_passes_check() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        let r = vigil_web::check::check(&text);
        assert_eq!(r["ok"], true, "{r}");
        n += 1;
    }
    assert_eq!(n, 3);
}
