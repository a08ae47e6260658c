//! The sinks, as the policy's `output.sinks` says, with the wasm build's semantics
//! (`plugin/src/sinks.rs`):
//!
//! - `access_log`: record `i` (the event, then its alerts) becomes filter state
//!   `vigil.event.<i>` (the wasm build's is `wasm.vigil.event.<i>`: proxy-wasm prefixes
//!   `wasm.`), set in `stream_complete`, before Envoy's access loggers run; at most
//!   [`MAX_RECORDS`] per request, more are counted as dropped (`too_many_records`).
//! - Liveness gauges (`vigil.last_event_seconds`, `vigil.sink.<sink>.heartbeat_seconds`:
//!   the sink's last write) are set here, at most once a second each.
//! - `envoy_log`: one line per record in Envoy's log at info (component `dynamic_modules`);
//!   when Envoy's level drops info, records are counted as dropped (`log_level`).
//!
//! With `output.chain.enabled`, each sink's records join that worker thread's chain for the
//! sink, sealed as the wasm build seals them ([`vigil_policies::chain::sealer`]); the module
//! has no timer, so a checkpoint due by `checkpoint_seconds` follows the sink's next
//! records, in both sinks.
#![forbid(unsafe_code)]

use crate::config::{Config, Worker};
use crate::ffi::{self, Level, Stream};
use crate::filter::Count;
use crate::store::{ProcessStore, StoreRef};
use vigil_policies::encode;
use vigil_policies::envoy::{MAX_RECORDS, RECORD_NAMES};
use vigil_policies::event::Event;
use vigil_policies::metrics::{DropReason, Gauge, Metric, Metrics};
use vigil_policies::policy::{Format, SinkKind};

/// Encodes and delivers one request's events to every sink of `worker`'s policy.
pub fn deliver(
    config: &Config,
    worker: &Worker,
    events: &[Event],
    stream: &Stream<'_>,
    count: &mut Count<'_, '_>,
) {
    if events.is_empty() {
        return;
    }
    let output = &worker.engine.policy().output;
    let Ok(mut sealer) = worker.sealer.try_borrow_mut() else {
        return;
    };
    let now_ns = if sealer.enabled() {
        events[0].time_ns.max(crate::exchange::now_ns())
    } else {
        0
    };
    let seconds = events[0].time_ns / 1_000_000_000;
    gauge(config, stream, Gauge::LastEventSeconds, seconds);
    let mut encoded: Vec<(Format, Vec<String>)> = Vec::with_capacity(1);
    for (si, sink) in output.sinks.iter().enumerate() {
        let i = match encoded.iter().position(|(f, _)| *f == sink.format) {
            Some(i) => i,
            None => {
                let records = encode::records(sink.format, events, output.field_max_bytes, count);
                encoded.push((sink.format, records));
                encoded.len() - 1
            }
        };
        let chained;
        let records: &[String] = if sealer.enabled() {
            let mut store = StoreRef(ProcessStore::global());
            chained = sealer.seal(si, sink.format, &encoded[i].1, now_ns, &mut store);
            &chained
        } else {
            &encoded[i].1
        };
        let dropped = match sink.kind {
            SinkKind::AccessLog => access_log(records, stream, count),
            SinkKind::EnvoyLog => envoy_log(records, count),
        };
        if dropped.iter().map(|(_, n)| *n).sum::<u64>() < records.len() as u64 {
            gauge(config, stream, Gauge::Heartbeat(sink.kind), seconds);
        }
        for (reason, n) in dropped {
            sealer.note_drop(si, reason, n);
        }
    }
}

/// Sets a liveness gauge to `seconds` (at most once a second per gauge, over all workers).
fn gauge(config: &Config, stream: &Stream<'_>, g: Gauge, seconds: u64) {
    if let Some(id) = config.gauge_due(g, seconds) {
        let _ = stream.set_gauge(id, seconds);
    }
}

/// What a sink dropped, by reason.
type Dropped = Vec<(DropReason, u64)>;

fn access_log(records: &[String], stream: &Stream<'_>, count: &mut Count<'_, '_>) -> Dropped {
    let kind = SinkKind::AccessLog;
    let mut dropped = Dropped::new();
    for (i, r) in records.iter().enumerate() {
        let m = match RECORD_NAMES.get(i) {
            Some(name) if stream.set_filter_state(name, r.as_bytes()) => Metric::SinkWritten(kind),
            Some(_) => Metric::SinkDropped(kind, DropReason::HostRefused),
            None => Metric::SinkDropped(kind, DropReason::TooManyRecords),
        };
        if let Metric::SinkDropped(_, r) = m {
            dropped.push((r, 1));
        }
        count.add(m, 1);
    }
    debug_assert!(RECORD_NAMES.len() == MAX_RECORDS);
    dropped
}

fn envoy_log(records: &[String], count: &mut Count<'_, '_>) -> Dropped {
    let kind = SinkKind::EnvoyLog;
    if !ffi::log_enabled(Level::Info) {
        let n = records.len() as u64;
        count.add(Metric::SinkDropped(kind, DropReason::LogLevel), n);
        return vec![(DropReason::LogLevel, n)];
    }
    for r in records {
        ffi::log(Level::Info, r);
        count.add(Metric::SinkWritten(kind), 1);
    }
    Dropped::new()
}
