//! Conformance support: runs scripted requests through a real Envoy 1.40 with the
//! conformance probe (`tests/conformance-probe`) as its first filter, turns what Envoy saw
//! into a traffic file, replays it through the harness with the same probe, and compares the
//! two record sequences request by request after replacing the values that differ by nature
//! (times, request ids, connection ids, ports).
//!
//! A difference is keyed `<request>/<callback>#<n>/<field>.<name>` (or
//! `<request>/callbacks` when the callback sequences differ), so a test can hold a list of
//! known deviations and fail on anything else.

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vigil_harness::{traffic, Plugin, Vm, VmOptions};

use crate::envoy::{token, workspace_root, Envoy, HttpResponse, Options, Req};

/// Every probe record's log line starts with this (`vigil_conformance_probe::PREFIX`).
pub const PREFIX: &str = "PROBE ";

/// The probe: `$VIGIL_PROBE_WASM` or `target/wasm32-wasip1/release/vigil_conformance_probe.wasm`.
pub fn probe_wasm() -> Result<PathBuf> {
    let path = match std::env::var_os("VIGIL_PROBE_WASM") {
        Some(p) => PathBuf::from(p),
        None => workspace_root().join("target/wasm32-wasip1/release/vigil_conformance_probe.wasm"),
    };
    if !path.is_file() {
        bail!(
            "conformance probe not found at {} (build it: `cargo build --release --target \
             wasm32-wasip1 -p vigil-conformance-probe`)",
            path.display()
        );
    }
    Ok(path)
}

/// One scripted request.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short name (the first part of a difference key).
    pub name: String,
    /// What the client sends.
    pub req: Req,
    /// Send the body with `transfer-encoding: chunked`, in chunks of these sizes, each in
    /// its own write after a pause (instead of `content-length` in one write).
    pub chunks: Option<Vec<usize>>,
    /// Send these bytes instead of `req` (a request Envoy's codec rejects).
    pub raw: Option<Vec<u8>>,
    /// Send over TLS (the TLS listener), with the client certificate when `true`.
    pub tls: Option<bool>,
}

fn case(name: &str, req: Req) -> Case {
    Case {
        name: name.into(),
        req,
        chunks: None,
        raw: None,
        tls: None,
    }
}

/// The pause between the writes of a chunked body: long enough for Envoy to read each on
/// its own.
const CHUNK_GAP: Duration = Duration::from_millis(150);

impl Case {
    /// The writes on the wire.
    pub fn wire(&self) -> Vec<Vec<u8>> {
        match (&self.raw, &self.chunks) {
            (Some(raw), _) => vec![raw.clone()],
            (None, Some(sizes)) => self.req.to_parts_chunked(sizes),
            (None, None) => vec![self.req.to_bytes()],
        }
    }
}

/// The scripted requests, in the order they are sent (the rate-limited route allows three
/// requests per hour per Envoy: the fourth gets 429).
pub fn cases() -> Result<Vec<Case>> {
    let valid = token("valid-user")?;
    Ok(vec![
        case(
            "get",
            Req::get("/hello?q=1").header("user-agent", "probe/1"),
        ),
        case(
            "post",
            Req::post(
                "/api/login",
                "application/json",
                r#"{"user":"alice","pw":"x"}"#,
            )
            .header("user-agent", "probe/1"),
        ),
        case("headers_only", Req::get("/")),
        case(
            "duplicates",
            Req::get("/dup")
                .header("user-agent", "first/1")
                .header("cookie", "a=1")
                .header("user-agent", "second/2")
                .header("cookie", "b=2")
                .header("accept", "text/html")
                .header("accept", "application/json")
                .header("referer", "http://a.example/")
                .header("referer", "http://b.example/")
                .header("authorization", "Basic YTpi")
                .header("authorization", "Basic Yzpk")
                .header("x-request-id", "dup-1")
                .header("x-request-id", "dup-2")
                .header("origin", "http://a.example")
                .header("origin", "http://b.example")
                .header("via", "1.1 a")
                .header("via", "1.1 b")
                .header("x-forwarded-host", "a.example")
                .header("x-forwarded-host", "b.example")
                .header("content-type", "text/plain")
                .header("content-type", "text/html")
                .header("accept-encoding", "gzip")
                .header("accept-encoding", "br")
                .header("accept-language", "en")
                .header("accept-language", "de")
                .header("cache-control", "no-cache")
                .header("cache-control", "no-store")
                .header("x-custom", "one")
                .header("x-custom", "two"),
        ),
        Case {
            chunks: Some(vec![14]),
            ..case(
                "chunked_post",
                Req::new("POST", "/api/login")
                    .header("content-type", "application/json")
                    .body(br#"{"user":"bob"}"#),
            )
        },
        Case {
            chunks: Some(vec![9, 12]),
            ..case(
                "three_chunks",
                Req::new("POST", "/api/login")
                    .header("content-type", "application/json")
                    .body(br#"{"user":"carol","pw":"s3cret","x":1}"#),
            )
        },
        case(
            "large_body",
            Req::post(
                "/upload",
                "application/octet-stream",
                &"b".repeat(12 * 1024),
            ),
        ),
        case(
            "buffer_413_after_body",
            Req::post(
                "/upload",
                "application/octet-stream",
                &"c".repeat(20 * 1024),
            ),
        ),
        case(
            "hop_by_hop",
            Req::get("/hop")
                .header("keep-alive", "timeout=5")
                .header("proxy-connection", "keep-alive"),
        ),
        Case {
            raw: Some(
                b"GET /bad HTTP/1.1\r\nhost: vigil.test\r\nbad header\r\nconnection: close\r\n\r\n"
                    .to_vec(),
            ),
            ..case("bad_request_400", Req::get("/bad"))
        },
        case(
            "jwt_401_before_body",
            Req::post("/api/items", "application/json", r#"{"item":"x"}"#),
        ),
        case(
            "oversized_header_431",
            Req::get("/big").header("x-big", &"a".repeat(70 * 1024)),
        ),
        case(
            "plugin_reply",
            Req::get("/hello").header("x-probe-action", "reply"),
        ),
        case(
            "callout_ok",
            Req::get("/hello").header("x-probe-action", "callout-ok"),
        ),
        case(
            "callout_timeout",
            Req::get("/hello").header("x-probe-action", "callout-timeout"),
        ),
        // TLS: the server's certificate only, then a client certificate too (mTLS).
        Case {
            tls: Some(false),
            ..case("tls", Req::get("/hello"))
        },
        Case {
            tls: Some(true),
            ..case("mtls", Req::get("/hello"))
        },
        // Unary gRPC calls through Envoy's gRPC client (Options::grpc_loopback): a message
        // with status 0 in trailers, status 7 alone in the headers, status 16 in trailers.
        case(
            "grpc_ok",
            Req::get("/hello").header("x-probe-action", "grpc-ok"),
        ),
        case(
            "grpc_denied",
            Req::get("/hello").header("x-probe-action", "grpc-denied"),
        ),
        case(
            "grpc_unauth",
            Req::get("/hello").header("x-probe-action", "grpc-unauth"),
        ),
        // Custom metrics: ids, statuses of each use (issue 10 item 6), twice so the second
        // run finds the metrics defined.
        case(
            "metrics",
            Req::get("/hello").header("x-probe-action", "metrics"),
        ),
        case(
            "metrics_again",
            Req::get("/hello").header("x-probe-action", "metrics"),
        ),
        // Envoy's foreign functions with empty arguments, and an unknown one.
        case(
            "foreign",
            Req::get("/hello").header("x-probe-action", "foreign"),
        ),
        case("jwt_missing_401", Req::get("/api/private")),
        case("jwt_valid", Req::get("/api/private").bearer(&valid)),
        case("limited_1", Req::get("/api/limited")),
        case("limited_2", Req::get("/api/limited")),
        case("limited_3", Req::get("/api/limited")),
        case("rate_limited_429", Req::get("/api/limited")),
    ])
}

/// Probe records in Envoy's log, in order.
fn envoy_records(envoy: &Envoy) -> Vec<Value> {
    envoy
        .log()
        .lines()
        .filter_map(|l| l.find(PREFIX).map(|i| &l[i + PREFIX.len()..]))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn deletes(records: &[Value]) -> Vec<u64> {
    records
        .iter()
        .filter(|r| r["cb"] == "delete")
        .filter_map(|r| r["ctx"].as_u64())
        .collect()
}

/// What Envoy showed the probe for each case, and what the client got.
pub struct EnvoyRun {
    /// The running Envoy (its run directory holds the traffic file).
    pub envoy: Envoy,
    /// Records per case, in callback order.
    pub records: Vec<Vec<Value>>,
    /// The response per case.
    pub responses: Vec<HttpResponse>,
}

/// Sends every case (one at a time, waiting for its `delete` record) through Envoy.
pub fn run_envoy(cases: &[Case]) -> Result<EnvoyRun> {
    let mut opts = Options::new("conformance");
    opts.wasm = Some(probe_wasm()?);
    opts.grpc_loopback = true;
    opts.tls = true;
    let envoy = Envoy::start(&opts)?;
    let mut records = Vec::new();
    let mut responses = Vec::new();
    for c in cases {
        let before = deletes(&envoy_records(&envoy)).len();
        let resp = match (c.tls, envoy.tls_addr()) {
            (Some(client_cert), Some(addr)) => {
                crate::tls::send_tls(addr, &envoy.dir, &c.wire().concat(), client_cert)
            }
            _ => crate::envoy::send_parts(envoy.listen, &c.wire(), CHUNK_GAP),
        }
        .with_context(|| format!("case {}", c.name))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let ctx = loop {
            let d = deletes(&envoy_records(&envoy));
            if d.len() > before {
                break d[before];
            }
            if Instant::now() > deadline {
                bail!("case {}: no delete record after 10 s", c.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let recs: Vec<Value> = envoy_records(&envoy)
            .into_iter()
            .filter(|r| r["ctx"].as_u64() == Some(ctx))
            .collect();
        records.push(recs);
        responses.push(resp);
    }
    Ok(EnvoyRun {
        envoy,
        records,
        responses,
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn first<'a>(recs: &'a [Value], cb: &str) -> Option<&'a Value> {
    recs.iter().find(|r| r["cb"] == cb)
}

/// The traffic line for a case, from what the client sent and what Envoy showed the probe:
/// the client's headers as sent (hop-by-hop `connection` dropped), the headers Envoy added
/// (`x-forwarded-for`, ...), the response Envoy gave the filter, and the outcome from `on_log`.
pub fn traffic_line(i: usize, c: &Case, recs: &[Value]) -> Result<Value> {
    let lower = |b: &[u8]| String::from_utf8_lossy(b).to_ascii_lowercase();
    let mut headers: Vec<Value> = vec![json!(["host", "vigil.test"])];
    let mut sent: Vec<String> = vec!["host".into()];
    for (n, v) in &c.req.headers {
        headers.push(json!([lower(n), String::from_utf8_lossy(v)]));
        sent.push(lower(n));
    }
    let bodyful = matches!(c.req.method.as_slice(), b"POST" | b"PUT" | b"PATCH");
    if c.chunks.is_some() {
        headers.push(json!(["transfer-encoding", "chunked"]));
        sent.push("transfer-encoding".into());
    } else if !c.req.body.is_empty() || bodyful {
        headers.push(json!(["content-length", c.req.body.len().to_string()]));
        sent.push("content-length".into());
    }
    headers.push(json!(["connection", "close"]));
    sent.push("connection".into());
    let rh = first(recs, "request_headers");
    if let Some(pairs) = rh.and_then(|r| r["maps"]["request_headers"]["v"].as_array()) {
        for p in pairs {
            let name = text(&p[0]);
            if !name.starts_with(':') && !sent.contains(&name) && name != "x-request-id" {
                headers.push(json!([name, p[1]]));
            }
        }
    }
    let log = first(recs, "log").ok_or_else(|| anyhow!("{}: no log record", c.name))?;
    let prop = |k: &str| log["prop"][k]["v"].clone();
    let status = prop("response.code")
        .as_u64()
        .ok_or_else(|| anyhow!("{}: no response.code in on_log", c.name))?;
    let resp_headers: Vec<Value> = first(recs, "response_headers")
        .and_then(|r| r["maps"]["response_headers"]["v"].as_array())
        .map(|a| {
            a.iter()
                .filter(|p| p[0] != ":status")
                .cloned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let chunks = |cb: &str| -> Vec<Value> {
        recs.iter()
            .filter(|r| r["cb"] == cb)
            .map(|r| r["body"]["v"].clone())
            .filter(|v| v != "")
            .collect()
    };
    let resp_body = chunks("response_body");
    let flags_bits = prop("response.flags").as_u64().unwrap_or(0);
    let flags: Vec<&str> = traffic::RESPONSE_FLAGS
        .iter()
        .enumerate()
        .filter(|(b, _)| flags_bits & (1 << b) != 0)
        .map(|(_, f)| *f)
        .collect();
    let mut envoy = json!({ "response_flags": flags });
    if let Value::String(d) = prop("response.code_details") {
        envoy["response_code_details"] = json!(d);
    }
    if let Value::String(sub) =
        prop("metadata.filter_metadata.envoy.filters.http.jwt_authn.jwt_payload.sub")
    {
        envoy["filter_metadata"] =
            json!({ "envoy.filters.http.jwt_authn": { "jwt_payload": { "sub": sub } } });
    }
    // Who answered: no request headers at all is the codec; headers but no router header
    // (`x-envoy-expected-rq-timeout-ms`, which the router adds when it forwards) in `on_log`
    // is a filter's local reply.
    let routed = log["maps"]["request_headers"]["v"]
        .as_array()
        .is_some_and(|a| a.iter().any(|p| p[0] == "x-envoy-expected-rq-timeout-ms"));
    let rejected_by = match (rh.is_some(), routed) {
        (false, _) => Some("codec"),
        (true, false) => Some("filter"),
        (true, true) => None,
    };
    if let Some(r) = rejected_by {
        envoy["rejected_by"] = json!(r);
    }
    // Headers the filters after the probe added (in `on_log`'s map, not in the callback's).
    let seen: Vec<&Value> = rh
        .and_then(|r| r["maps"]["request_headers"]["v"].as_array())
        .map(|a| a.iter().map(|p| &p[0]).collect())
        .unwrap_or_default();
    let added: Vec<Value> = log["maps"]["request_headers"]["v"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|p| !seen.contains(&&p[0]) && p[0] != "x-envoy-expected-rq-timeout-ms")
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if !added.is_empty() {
        envoy["request_headers_added"] = json!(added);
    }
    let mut request = json!({
        "method": String::from_utf8_lossy(&c.req.method),
        "path": String::from_utf8_lossy(&c.req.path),
        "headers": headers,
    });
    let seen_body = chunks("request_body");
    if rejected_by == Some("filter") {
        // Only what reached the filters before the reply.
        if !seen_body.is_empty() {
            request["body"] = json!(seen_body);
        }
    } else if !c.req.body.is_empty() {
        request["body"] = match &c.chunks {
            Some(sizes) => json!(crate::http::chunks_of(&c.req.body, sizes)
                .into_iter()
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()),
            None => json!(String::from_utf8_lossy(&c.req.body)),
        };
    }
    // The plugin's own local reply: the traffic says what the upstream would have answered,
    // and the harness must replace it with the reply, as Envoy does.
    let replied = recs
        .iter()
        .any(|r| r["cb"] == "action" && r["args"]["what"] == "reply");
    let rejected_by = if replied { None } else { rejected_by };
    if replied {
        envoy = json!({ "response_flags": [], "response_code_details": "via_upstream" });
    }
    let mut response = json!({ "status": status });
    if replied {
        response = json!({
            "status": 200,
            "headers": [["content-type", "text/plain"]],
            "body": "the upstream's answer, which the plugin's reply replaces",
        });
    } else if rejected_by != Some("codec") {
        // A local reply's headers are the replying filter's: Envoy adds the framing.
        let own: Vec<Value> = resp_headers
            .into_iter()
            .filter(|p| {
                rejected_by.is_none() || (p[0] != "content-length" && p[0] != "content-type")
            })
            .collect();
        response["headers"] = json!(own);
        match resp_body.len() {
            0 => {}
            1 => response["body"] = resp_body[0].clone(),
            _ => response["body"] = json!(resp_body),
        }
    }
    for (p, k) in [
        ("xds.cluster_name", "cluster_name"),
        ("xds.route_name", "route_name"),
        ("upstream.address", "upstream_address"),
    ] {
        if let Value::String(v) = prop(p) {
            if !v.is_empty() {
                envoy[k] = json!(v);
            }
        }
    }
    let source = match prop("source.address") {
        Value::String(s) => s,
        _ => "127.0.0.1:1".into(),
    };
    let callouts: Vec<Value> = recs
        .iter()
        .filter(|r| r["cb"] == "http_call_response" || r["cb"] == "grpc_call_response")
        .map(|r| {
            if r["cb"] == "grpc_call_response" {
                return grpc_answer(&r["args"]);
            }
            let mut a = json!({ "headers": r["callout"]["headers"]["v"] });
            if let Some(b) = r["callout"]["body"]["v"].as_str().filter(|b| !b.is_empty()) {
                a["body"] = json!(b);
            }
            a
        })
        .collect();
    let tls = tls_of(&prop);
    let mut line = json!({
        "name": c.name,
        "time": format!("2026-11-23T09:00:{:02}.000Z", i % 60),
        "source": source,
        "destination": prop("destination.address"),
        "request": request,
        "response": response,
        "envoy": envoy,
    });
    if !callouts.is_empty() {
        line["callouts"] = json!(callouts);
    }
    if let Some(t) = tls {
        line["tls"] = t;
    }
    Ok(line)
}

/// The traffic file's `tls` from what the probe read of `connection.*` in Envoy (`None`:
/// a plain connection, where `tls_version` is NotFound).
fn tls_of(prop: &dyn Fn(&str) -> Value) -> Option<Value> {
    let text = |k: &str| {
        prop(&format!("connection.{k}"))
            .as_str()
            .map(str::to_string)
    };
    let version = text("tls_version")?;
    let list = |k: &str| text(k).map_or_else(Vec::new, |v| vec![v]);
    let cert = |side: &str| {
        json!({
            "subject": text(&format!("subject_{side}_certificate")).unwrap_or_default(),
            "uri_sans": list(&format!("uri_san_{side}_certificate")),
            "dns_sans": list(&format!("dns_san_{side}_certificate")),
        })
    };
    let mut t = json!({
        "version": version,
        "sni": text("requested_server_name").unwrap_or_default(),
        "local": cert("local"),
    });
    if text("mtls").as_deref() == Some("\u{1}") {
        let mut peer = cert("peer");
        peer["sha256"] = json!(text("sha256_peer_certificate_digest").unwrap_or_default());
        t["peer"] = peer;
    }
    Some(t)
}

/// The upstream's reply behind what the plugin saw of a unary gRPC call: a message with
/// status 0 in trailers, or a trailers-only reply with the status and message (Envoy adds
/// `{via_upstream}` to the message it passes on; the upstream did not send it).
fn grpc_answer(args: &Value) -> Value {
    let code = args["status"].as_u64().unwrap_or(0);
    let grpc = |k: &str, v: &str| json!([k, v]);
    if code == 0 {
        let message = args["message"]["v"]
            .as_str()
            .unwrap_or("")
            .as_bytes()
            .to_vec();
        let mut frame = vec![0u8];
        frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
        frame.extend_from_slice(&message);
        use base64::Engine as _;
        return json!({
            "headers": [grpc(":status", "200"), grpc("content-type", "application/grpc")],
            "body": { "base64": base64::engine::general_purpose::STANDARD.encode(frame) },
            "trailers": [grpc("grpc-status", "0")],
        });
    }
    let message = args["grpc_status"]["message"].as_str().unwrap_or("");
    let message = message.strip_suffix("{via_upstream}").unwrap_or(message);
    json!({
        "headers": [grpc(":status", "200"), grpc("content-type", "application/grpc"),
                    grpc("grpc-status", &code.to_string()), grpc("grpc-message", message)],
    })
}

/// Replays a traffic file through the harness with the probe; records per exchange.
pub fn run_harness(traffic_text: &str) -> Result<Vec<Vec<Value>>> {
    Ok(run_harness_called(traffic_text)?.0)
}

/// [`run_harness`], and the imports the probe called in the harness during the run.
pub fn run_harness_called(traffic_text: &str) -> Result<(Vec<Vec<Value>>, Vec<&'static str>)> {
    let exchanges = traffic::parse_traffic("conformance.jsonl", traffic_text)?;
    let plugin = Plugin::load(probe_wasm()?)?;
    let mut vm = Vm::new(
        &plugin,
        VmOptions {
            clusters: vec!["demo_upstream".into(), "grpc_loopback".into()],
            ..VmOptions::default()
        },
    )?;
    if !vm.start()? {
        bail!("the probe refused to start in the harness");
    }
    let mut out = Vec::new();
    for x in &exchanges {
        let o = vm.run(x)?;
        if let Some(f) = o.vm_failed {
            bail!("the probe's VM failed in the harness: {f}");
        }
        out.push(
            o.logs
                .iter()
                .filter_map(|l| l.message.strip_prefix(PREFIX))
                .map(serde_json::from_str)
                .collect::<Result<Vec<Value>, _>>()?,
        );
    }
    Ok((out, vm.hostcalls_called()))
}

/// Replaces the values that differ by nature: context and connection ids, request ids,
/// times (`request.time`, a `date` header), client ports.
pub fn normalize(mut r: Value) -> Value {
    r["ctx"] = json!("<ctx>");
    for (k, placeholder) in [
        ("request.time", "<time>"),
        ("request.duration", "<duration>"),
        ("request.id", "<request-id>"),
        ("connection.id", "<connection-id>"),
        ("source.port", "<port>"),
    ] {
        if let Some(v) = r["prop"][k].get_mut("v") {
            *v = json!(placeholder);
        }
    }
    if let Some(Value::String(a)) = r["prop"]["source.address"].get_mut("v") {
        if let Some((ip, _)) = a.rsplit_once(':') {
            *a = format!("{ip}:<port>");
        }
    }
    if let Some(v) = r["hdr"]["x-request-id"].get_mut("v") {
        *v = json!("<request-id>");
    }
    let scrub = |pairs: &mut Value| {
        if let Some(a) = pairs.get_mut("v").and_then(Value::as_array_mut) {
            for p in a {
                if p[0] == "x-request-id" {
                    p[1] = json!("<request-id>");
                }
                if p[0] == "date" {
                    p[1] = json!("<date>");
                }
            }
        }
    };
    if let Some(maps) = r["maps"].as_object_mut() {
        maps.values_mut().for_each(scrub);
    }
    if let Some(m) = r["mut"].as_object_mut() {
        m.values_mut().for_each(|v| scrub(&mut v["pairs"]));
    }
    r
}

/// One difference between Envoy's and the harness's records.
#[derive(Debug, Clone)]
pub struct Difference {
    /// `<request>/<callback>#<n>/<field>.<name>` or `<request>/callbacks`.
    pub key: String,
    /// Envoy's value.
    pub envoy: Value,
    /// The harness's value.
    pub harness: Value,
}

fn callbacks(recs: &[Value]) -> Vec<Value> {
    recs.iter()
        .map(|r| json!({ "cb": r["cb"], "args": r["args"] }))
        .collect()
}

/// The differences between two normalized record sequences of one request. Records are
/// paired by callback name and occurrence (`request_body#1` is the second body call).
pub fn diff(name: &str, envoy: &[Value], harness: &[Value]) -> Vec<Difference> {
    let mut out = Vec::new();
    let (ce, ch) = (callbacks(envoy), callbacks(harness));
    if ce != ch {
        out.push(Difference {
            key: format!("{name}/callbacks"),
            envoy: json!(ce),
            harness: json!(ch),
        });
    }
    let label = |recs: &[Value], i: usize| {
        let cb = text(&recs[i]["cb"]);
        let n = recs[..i].iter().filter(|r| text(&r["cb"]) == cb).count();
        format!("{cb}#{n}")
    };
    for i in 0..envoy.len() {
        let l = label(envoy, i);
        let Some(j) = (0..harness.len()).find(|j| label(harness, *j) == l) else {
            continue;
        };
        let (e, h) = (&envoy[i], &harness[j]);
        for field in ["args", "maps", "hdr", "prop", "body", "callout", "mut"] {
            let keys: std::collections::BTreeSet<String> = [&e[field], &h[field]]
                .iter()
                .filter_map(|v| v.as_object())
                .flat_map(|o| o.keys().cloned())
                .collect();
            if keys.is_empty() && e[field] != h[field] {
                out.push(Difference {
                    key: format!("{name}/{l}/{field}"),
                    envoy: e[field].clone(),
                    harness: h[field].clone(),
                });
            }
            for k in keys {
                if e[field][&k] != h[field][&k] {
                    out.push(Difference {
                        key: format!("{name}/{l}/{field}.{k}"),
                        envoy: e[field][&k].clone(),
                        harness: h[field][&k].clone(),
                    });
                }
            }
        }
    }
    out
}
