//! End to end through a real Envoy 1.40: every baseline action from real traffic, the
//! plugin's counters on admin `/stats`, and what Envoy rejects before any filter runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;
use vigil_tests::envoy::{new_request_id, token, Envoy, Event, HttpResponse, Options, Req, Via};

/// One scripted request and what Vigil must say about it.
pub(crate) struct Case {
    /// Human label for failure messages.
    pub label: &'static str,
    /// The request (carries its own `x-request-id`).
    pub req: Req,
    /// Expected HTTP status from Envoy.
    pub status: u16,
    /// Expected `event.action`, `None` = no event at all.
    pub action: Option<&'static str>,
    /// Expected `event.reason` (checked when `Some`).
    pub reason: Option<&'static str>,
    /// Expected `user.name` (checked when `Some`).
    pub user: Option<&'static str>,
}

fn case(label: &'static str, req: Req, status: u16, action: Option<&'static str>) -> Case {
    let id = new_request_id(label);
    Case {
        label,
        req: req.id(&id),
        status,
        action,
        reason: None,
        user: None,
    }
}

impl Case {
    fn reason(mut self, r: &'static str) -> Case {
        self.reason = Some(r);
        self
    }
    fn user(mut self, u: &'static str) -> Case {
        self.user = Some(u);
        self
    }
    pub(crate) fn id(&self) -> String {
        self.req.request_id().unwrap_or_default()
    }
}

/// A unary gRPC call (one empty message) to the demo upstream's gRPC-shaped routes.
fn grpc(path: &str) -> Req {
    Req::new("POST", path)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(&[0, 0, 0, 0, 0])
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// The baseline scenario: one request per behaviour, in order (the rate-limit route allows
/// three requests per Envoy, so the fourth is the 429).
pub(crate) fn baseline_cases() -> Vec<Case> {
    let user = token("valid-user").unwrap();
    let admin = token("valid-admin").unwrap();
    let expired = token("expired").unwrap();
    let wrong_key = token("wrong-key").unwrap();
    vec![
        case(
            "login-form-ok",
            Req::post("/login", FORM, "username=alice&password=correct-horse"),
            200,
            Some("authn_login_success"),
        )
        .user("alice"),
        case(
            "login-form-bad",
            Req::post("/login?next=%2Fhome", FORM, "username=alice&password=wrong"),
            401,
            Some("authn_login_fail"),
        )
        .user("alice"),
        case(
            "login-json-ok",
            Req::post(
                "/api/login",
                JSON,
                r#"{"email":"alice","password":"correct-horse"}"#,
            ),
            200,
            Some("authn_login_success"),
        )
        .user("alice"),
        case(
            "login-json-bad",
            Req::post(
                "/signin",
                JSON,
                r#"{"username":"bob","password":"hunter2"}"#,
            ),
            401,
            Some("authn_login_fail"),
        )
        .user("bob"),
        case(
            "oauth-invalid-grant",
            Req::post(
                "/oauth/token",
                FORM,
                "grant_type=password&username=carol&password=nope",
            ),
            400,
            Some("authn_login_fail"),
        )
        .user("carol"),
        case(
            "token-missing",
            Req::get("/api/items"),
            401,
            Some("authn_token_invalid"),
        )
        .reason("token_missing"),
        case(
            "token-expired",
            Req::get("/api/items").bearer(&expired),
            401,
            Some("authn_token_invalid"),
        )
        .reason("token_expired"),
        case(
            "token-garbage",
            Req::get("/api/items").bearer("not-a.jwt.at-all"),
            401,
            Some("authn_token_invalid"),
        )
        .reason("token_invalid"),
        case(
            "token-wrong-key",
            Req::get("/api/items").bearer(&wrong_key),
            401,
            Some("authn_token_invalid"),
        )
        .reason("token_signature_invalid"),
        case(
            "admin-as-user",
            Req::get("/admin/users").bearer(&user),
            403,
            Some("authz_fail"),
        )
        .user("alice"),
        case(
            "admin-as-admin",
            Req::get("/admin/users").bearer(&admin),
            200,
            Some("authz_admin"),
        )
        .user("root-admin"),
        case("limited-1", Req::get("/api/limited"), 200, None),
        case("limited-2", Req::get("/api/limited"), 200, None),
        case("limited-3", Req::get("/api/limited"), 200, None),
        case(
            "limited-4",
            Req::get("/api/limited"),
            429,
            Some("excess_rate_limit_exceeded"),
        ),
        case(
            "items-invalid",
            Req::post("/api/items", JSON, r#"{"name":"","qty":-1}"#).bearer(&user),
            422,
            Some("input_validation_fail"),
        ),
        case(
            "items-ok",
            Req::post("/api/items", JSON, r#"{"name":"widget","qty":2}"#).bearer(&user),
            201,
            None,
        ),
        // Over the buffer filter's 16 KiB: a local 413 from a filter after Vigil.
        case(
            "body-too-large",
            Req::post("/api/items", JSON, &"x".repeat(20_000)).bearer(&user),
            413,
            Some("input_validation_fail"),
        ),
        // gRPC fails with HTTP 200: grpc-status 16 in the trailers (the demo upstream sends
        // them chunked over HTTP/1.1), 7 in the headers of a trailers-only answer.
        case(
            "grpc-unauthenticated",
            grpc("/demo.Orders/List"),
            200,
            Some("authn_token_invalid"),
        )
        .reason("grpc_unauthenticated"),
        case(
            "grpc-permission-denied",
            grpc("/demo.Admin/Delete"),
            200,
            Some("authz_fail"),
        )
        .reason("grpc_permission_denied"),
        case(
            "grpc-ok",
            grpc("/demo.Orders/List").bearer("demo-opaque-token"),
            200,
            None,
        ),
        case("plain-ok", Req::get("/hello?x=1"), 200, None),
        case(
            "authenticated-ok",
            Req::get("/api/items").bearer(&user),
            200,
            None,
        ),
    ]
}

/// `n` failed logins by one attacker (each 401, an `authn_login_fail` event); after the
/// baseline's three failures, the eighth is the 11th failure of the window: the alert.
pub(crate) fn failed_logins(n: usize) -> Vec<Case> {
    (0..n)
        .map(|i| {
            let body = format!("username=mallory&password=guess{i}");
            let label: &'static str = Box::leak(format!("bf-{i}").into_boxed_str());
            case(
                label,
                Req::post("/login", FORM, &body),
                401,
                Some("authn_login_fail"),
            )
            .user("mallory")
        })
        .collect()
}

/// Sends every case, checking Envoy's status codes; returns the responses.
pub(crate) fn send_all(envoy: &Envoy, cases: &[Case]) -> Vec<HttpResponse> {
    cases
        .iter()
        .map(|c| {
            let r = envoy
                .send(&c.req)
                .unwrap_or_else(|e| panic!("{}: {e:#}", c.label));
            assert_eq!(
                r.status,
                c.status,
                "{}: status (body {:?})",
                c.label,
                String::from_utf8_lossy(&r.body)
            );
            r
        })
        .collect()
}

fn check_case(c: &Case, events: &[Event]) {
    let id = c.id();
    let mine: Vec<&Event> = events
        .iter()
        .filter(|e| e.request_id() == Some(id.as_str()))
        .collect();
    let Some(action) = c.action else {
        assert!(
            mine.is_empty(),
            "{}: expected no event, got {:?}",
            c.label,
            mine.iter().map(|e| e.raw.to_string()).collect::<Vec<_>>()
        );
        return;
    };
    assert_eq!(
        mine.len(),
        1,
        "{}: expected exactly one event, got {:?}",
        c.label,
        mine.iter().map(|e| e.raw.to_string()).collect::<Vec<_>>()
    );
    let e = mine[0];
    assert_eq!(e.action(), action, "{}: action in {}", c.label, e.raw);
    assert_eq!(
        e.status(),
        Some(u64::from(c.status)),
        "{}: {}",
        c.label,
        e.raw
    );
    if let Some(reason) = c.reason {
        assert_eq!(e.reason(), Some(reason), "{}: reason in {}", c.label, e.raw);
    }
    if let Some(user) = c.user {
        assert_eq!(
            e.user_name(),
            Some(user),
            "{}: user.name in {}",
            c.label,
            e.raw
        );
    }
    let ip = e.source.as_ref().and_then(|s| s.ip.as_deref());
    assert_eq!(ip, Some("127.0.0.1"), "{}: source.ip in {}", c.label, e.raw);
}

/// Every baseline action, then the brute-force alert, through one event source: each arrives
/// exactly once, as its own record, and nothing else arrives.
fn baseline_through(via: Via) {
    let envoy = Envoy::start(&Options::new(&format!("baseline-{via:?}")).via(via)).unwrap();
    let cases = baseline_cases();
    send_all(&envoy, &cases);
    let expected = cases.iter().filter(|c| c.action.is_some()).count();
    let events = envoy
        .wait_events(expected, Duration::from_secs(10))
        .unwrap();
    for c in &cases {
        check_case(c, &events);
    }
    assert_eq!(
        events.len(),
        expected,
        "{via:?}: one event per expected case, nothing else: {:#?}",
        envoy.event_lines()
    );

    // The admin event names its user from the JWT `sub`, and says so.
    let admin = cases.iter().find(|c| c.label == "admin-as-admin").unwrap();
    let e = envoy
        .event_for(&admin.id(), Duration::from_secs(1))
        .unwrap();
    assert_eq!(e.get_str("vigil.user.source"), Some("jwt"), "{}", e.raw);
    assert_eq!(e.event.kind, "event");

    // The plugin's counters are on admin /stats (custom metrics get Envoy's `wasmcustom.`
    // prefix), flushed on Vigil's 1 s heartbeat.
    // The expected counts are derived from the cases, never typed by hand.
    let mut want: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for a in cases.iter().filter_map(|c| c.action) {
        *want.entry(a).or_default() += 1;
    }
    let name = |a: &str| format!("wasmcustom.vigil.events.{a}");
    let stats = envoy
        .wait_stats(Duration::from_secs(5), |s| {
            want.iter().all(|(a, n)| s.get(&name(a)) == Some(n))
        })
        .unwrap();
    for (action, n) in &want {
        assert_eq!(
            stats.get(&name(action)),
            Some(n),
            "{via:?} {action}; vigil stats: {:?}",
            vigil_stats(&stats)
        );
    }

    // Liveness: each configured sink's heartbeat is the current time, the last event is
    // recent, and the VM's linear memory is reported (and within its 4 MiB budget).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sink_name = if via == Via::EnvoyLog {
        "envoy_log"
    } else {
        "access_log"
    };
    let g = |n: &str| {
        stats
            .get(&format!("wasmcustom.vigil.{n}"))
            .copied()
            .unwrap_or(0)
    };
    let hb = g(&format!("sink.{sink_name}.heartbeat_seconds"));
    assert!(now.abs_diff(hb) <= 10, "{via:?}: heartbeat {hb}, now {now}");
    assert!(
        now.abs_diff(g("last_event_seconds")) <= 60,
        "{via:?}: last event"
    );
    let mem = g("memory_bytes");
    assert!(
        (65_536..=4 << 20).contains(&mem),
        "{via:?}: memory_bytes {mem}"
    );

    // Failures from the same client up to the baseline's threshold: the one that crosses it
    // (max_failures + 1 in the window) raises the alert, as a record of its own beside the
    // request's event.
    let threshold = u64::from(vigil_policies::presets::baseline().brute_force.max_failures) + 1;
    let so_far = want.get("authn_login_fail").copied().unwrap_or(0);
    let attack = failed_logins((threshold - so_far) as usize);
    send_all(&envoy, &attack);
    let ids: Vec<String> = attack.iter().map(Case::id).collect();
    let more = attack.len() + 1; // the attack's events and the alert
    let all = envoy
        .wait_events(expected + more, Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        all.len(),
        expected + more,
        "{via:?}: {:#?}",
        envoy.event_lines()
    );
    let alerts: Vec<&Event> = all.iter().filter(|e| e.event.kind == "alert").collect();
    assert_eq!(alerts.len(), 1, "{via:?}: exactly one alert");
    let alert = alerts[0];
    assert_eq!(alert.action(), "authn_login_fail_max", "{}", alert.raw);
    assert_eq!(alert.request_id(), ids.last().map(String::as_str));
    let on_that_request = all
        .iter()
        .filter(|e| e.request_id() == ids.last().map(String::as_str))
        .count();
    assert_eq!(
        on_that_request, 2,
        "the event and the alert, as two records"
    );

    // The counters as Prometheus labels (the bootstrap's stats_tags), flushed on the tick.
    let sink = if via == Via::EnvoyLog {
        "envoy_log"
    } else {
        "access_log"
    };
    let fails = threshold;
    let want_prom = [
        format!(r#"vigil_events{{vigil_action="authn_login_fail"}} {fails}"#),
        r#"vigil_events{vigil_action="authn_login_fail_max"} 1"#.to_string(),
        format!(
            r#"vigil_sink_written{{vigil_sink="{sink}"}} {}"#,
            expected + more
        ),
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let prom = loop {
        let r = vigil_tests::envoy::http_get(envoy.admin, "/stats/prometheus").unwrap();
        let text = String::from_utf8_lossy(&r.body).into_owned();
        if want_prom.iter().all(|w| text.lines().any(|l| l == w))
            || std::time::Instant::now() > deadline
        {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for w in &want_prom {
        assert!(
            prom.lines().any(|l| l == w),
            "{via:?}: no `{w}` in /stats/prometheus: {:?}",
            prom.lines()
                .filter(|l| l.starts_with("vigil_"))
                .collect::<Vec<_>>()
        );
    }

    // No secret ever reaches an event record; every record is one line of JSON.
    for line in envoy.event_lines_raw() {
        assert!(!line.contains(&b'\n'));
        let text = String::from_utf8(line).expect("records are UTF-8");
        for secret in ["correct-horse", "hunter2", "password=", "eyJhbGci", "guess"] {
            assert!(!text.contains(secret), "secret {secret:?} in event {text}");
        }
    }
}

#[test]
fn e2e_baseline_through_envoy_log() {
    baseline_through(Via::EnvoyLog);
}

#[test]
fn e2e_baseline_through_the_file_access_logger() {
    baseline_through(Via::File);
}

#[test]
fn e2e_baseline_through_the_opentelemetry_access_logger() {
    baseline_through(Via::Otel);
}

#[test]
fn e2e_baseline_through_the_fluentd_access_logger() {
    baseline_through(Via::Fluentd);
}

fn vigil_stats(stats: &std::collections::BTreeMap<String, u64>) -> Vec<String> {
    stats
        .iter()
        .filter(|(k, _)| k.contains("vigil"))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect()
}

/// Oversized requests that Envoy's HTTP/1 codec rejects itself (431): the request never
/// reaches a filter's request callbacks, but Envoy still creates the filter chain for the local
/// reply, so Vigil's `on_log` runs with the status and `response.code_details`
/// (`http1.headers_too_large`) and no request headers (no path, no request id). Envoy never
/// answers 414: an over-long URL counts against the same header budget and is a 431 too.
/// (A 413 from a filter after Vigil, the buffer filter, is covered above.)
#[test]
fn e2e_codec_rejections_happen_before_filters() {
    let envoy = Envoy::start(&Options::new("codec")).unwrap();
    // Headers over max_request_headers_kb (60 KiB by default) -> 431.
    let big_header = Req::get("/hello").header("x-big", &"a".repeat(70 * 1024));
    let r = envoy.send(&big_header.id(&new_request_id("h431"))).unwrap();
    assert_eq!(r.status, 431);
    let long_path = format!("/hello?q={}", "b".repeat(70 * 1024));
    let r = envoy
        .send(&Req::get(&long_path).id(&new_request_id("h414")))
        .unwrap();
    assert_eq!(r.status, 431, "a long URL is a 431 in Envoy, not a 414");
    // Still alive and still logging afterwards.
    let id_after = new_request_id("after");
    let r = envoy
        .send(&Req::post("/login", FORM, "username=alice&password=x").id(&id_after))
        .unwrap();
    assert_eq!(r.status, 401);
    envoy.event_for(&id_after, Duration::from_secs(5)).unwrap();
    let events = envoy.events().unwrap();
    let codec: Vec<&Event> = events.iter().filter(|e| e.status() == Some(431)).collect();
    assert_eq!(codec.len(), 2, "{:#?}", envoy.event_lines());
    for e in codec {
        assert_eq!(e.action(), "input_validation_fail", "{}", e.raw);
        assert_eq!(
            e.request_id(),
            None,
            "the plugin never saw the headers: {}",
            e.raw
        );
        assert_eq!(
            e.url.as_ref().and_then(|u| u.path.as_deref()),
            None,
            "the plugin never saw the path: {}",
            e.raw
        );
    }
    let access = envoy.wait_access_log(3, Duration::from_secs(5)).unwrap();
    let details: Vec<&str> = access
        .iter()
        .filter_map(|a| a["response_code_details"].as_str())
        .collect();
    assert_eq!(
        details
            .iter()
            .filter(|d| **d == "http1.headers_too_large")
            .count(),
        2,
        "{details:?}"
    );
}
