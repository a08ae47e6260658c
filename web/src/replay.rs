//! `replay`: a traffic file through the engine as the plugin runs it in `vigil replay`
//! (one worker): the same engine calls in the plugin's order (`plugin/src/filter.rs`), the
//! same encoders and the same sink's records, with per-exchange details for the page.

use crate::detectors::{Chart, Store};
use crate::ids;
use crate::stream::{Stage, Stream};
use serde_json::{json, Value};
use vigil_policies::encode;
use vigil_policies::envoy::{is_event_message, MAX_RECORDS};
use vigil_policies::metrics::MemoryMetrics;
use vigil_policies::policy::{Format, Policy, SinkKind};
use vigil_policies::{Engine, RequestState};
use vigil_traffic::{model, Exchange as Traffic, RejectedBy};

/// The policy's document with every sink set to `format` (as `vigil replay --format`
/// does); an empty document is the baseline.
pub fn with_format(policy: &str, format: Option<&str>) -> Result<Vec<u8>, String> {
    let Some(f) = format else {
        return Ok(policy.as_bytes().to_vec());
    };
    if Format::from_name(f).is_none() {
        return Err(format!(
            "format `{f}`: expected `ecs`, `ocsf`, `cef` or `owasp`"
        ));
    }
    let mut doc: Value = if policy.trim().is_empty() {
        json!({"version": 1})
    } else {
        serde_json::from_str(policy).map_err(|e| format!("policy: {e}"))?
    };
    let sinks = doc
        .pointer("/output/sinks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| vec![json!({"type": "envoy_log"})]);
    let sinks: Vec<Value> = sinks
        .into_iter()
        .map(|mut s| {
            if let Some(o) = s.as_object_mut() {
                o.insert("format".into(), f.into());
            }
            s
        })
        .collect();
    let o = doc
        .as_object_mut()
        .ok_or_else(|| "policy: not a JSON object".to_string())?;
    let out = o.entry("output").or_insert_with(|| json!({}));
    if let Some(out) = out.as_object_mut() {
        out.insert("sinks".into(), sinks.into());
    }
    Ok(doc.to_string().into_bytes())
}

/// One exchange's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The exchange's line in the traffic file.
    pub line: usize,
    /// The records the sink writes for it, as `vigil replay` prints them.
    pub records: Vec<String>,
    /// The rule of each event (`vigil.rule`), in order.
    pub rules: Vec<String>,
    /// The action of each event, in order.
    pub actions: Vec<String>,
    /// Each followed detector's count after it ([`Chart::series`] order).
    pub detectors: Vec<u32>,
}

/// A whole run.
#[derive(Debug, Clone)]
pub struct Run {
    /// The format of the records.
    pub format: &'static str,
    /// The sink whose records are shown (`access_log` or `envoy_log`).
    pub sink: &'static str,
    /// The detectors followed.
    pub series: Vec<crate::detectors::Series>,
    /// Per exchange.
    pub exchanges: Vec<Outcome>,
    /// The engine's warnings about this policy (as the plugin logs them at start), and
    /// what the playground does not show of it (chains).
    pub notes: Vec<String>,
}

/// Feeds one request body chunk as the plugin's `on_request_body` does.
fn feed(state: &mut Option<RequestState>, chunk: &[u8], size: usize) {
    if let Some(scan) = state.as_mut().and_then(|s| s.scanner.as_mut()) {
        let want = scan.wants().min(size);
        scan.feed(&chunk[..want.min(chunk.len())], size);
    }
}

/// Replays `traffic` (a traffic file's text) under `policy` (JSON; empty: the baseline),
/// every sink in `format` when given. Errors are one line (the traffic's line number, or
/// the policy's JSON path).
pub fn replay(policy: &str, traffic: &str, format: Option<&str>) -> Result<Run, String> {
    let bytes = with_format(policy, format)?;
    let policy = Policy::from_json(&bytes).map_err(|e| e.to_string())?;
    let xs = vigil_traffic::parse_traffic("traffic", traffic).map_err(|e| e.to_string())?;
    let sink = policy
        .output
        .sinks
        .iter()
        .find(|s| s.kind == SinkKind::AccessLog)
        .or_else(|| policy.output.sinks.first())
        .cloned()
        .ok_or_else(|| "the policy has no sink".to_string())?;
    let mut notes = Vec::new();
    if policy.output.chain.enabled {
        notes.push("hash chains are not shown: records are as before chaining".to_string());
    }
    let field_max = policy.output.field_max_bytes;
    let chart = Chart::new(&policy);
    let canary = ids::vm_random(ids::CANARY_SEED);
    let mut vm = ids::vm_random(0);
    let (engine, warnings) = Engine::new(policy, |_| None, vm.id_seed);
    notes.extend(warnings);
    let mut store = Store::for_chart(&chart);
    // Envoy's canary VM configures first and stores its secret; the worker adopts it.
    let _ = engine.init_shared(&mut store, canary.secret);
    let _ = engine.init_shared(&mut store, vm.secret);
    let mut metrics = MemoryMetrics::default();
    let mut exchanges = Vec::with_capacity(xs.len());
    for x in &xs {
        let events = run_one(&engine, x, &mut vm.rng, &mut store, &mut metrics);
        let mut records = if events.is_empty() {
            Vec::new()
        } else {
            encode::records(sink.format, &events, field_max, &mut metrics)
        };
        match sink.kind {
            SinkKind::AccessLog => records.truncate(MAX_RECORDS),
            SinkKind::EnvoyLog => records.retain(|r| is_event_message(r)),
        }
        exchanges.push(Outcome {
            line: x.line,
            records,
            rules: events.iter().map(|e| e.rule.to_string()).collect(),
            actions: events
                .iter()
                .filter_map(|e| e.action)
                .map(|a| a.name().to_string())
                .collect(),
            detectors: chart.counts(&store, x.time_ns / 1_000_000),
        });
    }
    Ok(Run {
        format: sink.format.name(),
        sink: sink.kind.name(),
        series: chart.series(),
        exchanges,
        notes,
    })
}

/// One exchange through the engine, in the order the harness calls the plugin.
fn run_one(
    engine: &Engine,
    x: &Traffic,
    rng: &mut ids::Rng,
    store: &mut Store,
    metrics: &mut MemoryMetrics,
) -> Vec<vigil_policies::event::Event> {
    let mut st = Stream::new(x, || rng.request_id());
    let codec = st.codec_rejected();
    let mut state: Option<RequestState> = None;
    if !codec {
        st.request_seen = true;
        st.request_live = true;
        state = Some(engine.on_request_headers(&mut st));
        st.request_live = false;
        let rq = &x.request;
        if !rq.body.is_empty() {
            let last = rq.trailers.is_empty() && x.envoy.rejected_by != Some(RejectedBy::Filter);
            let mut at = 0;
            for len in &rq.chunks {
                feed(&mut state, &rq.body[at..at + len], *len);
                at += len;
            }
            if last {
                feed(&mut state, &[], 0);
            }
        }
        st.stage = Stage::Response;
        st.response_headers = Some(model::response_headers(Vec::new(), x));
        st.response_live = true;
        let s = state.get_or_insert_with(RequestState::default);
        engine.on_response_headers(&mut st, s);
        st.response_live = false;
        if !x.response.trailers.is_empty() {
            st.response_trailers = Some(x.response.trailers.clone());
            if let Some(s) = state.as_mut() {
                engine.on_response_trailers(&mut st, s);
            }
        }
    }
    let closes = codec || model::client_closes(x);
    st.stage = Stage::Log;
    if let Some(resp) = st.response_headers.as_mut() {
        let routed = x.envoy.rejected_by.is_none();
        model::before_log(
            &mut st.request_headers,
            resp,
            &x.envoy.request_headers_added,
            routed && !codec,
            closes,
            x.time_ns,
        );
    }
    engine.on_log(&mut st, state.as_ref(), store, metrics)
}
