//! The sinks, as the policy's `output.sinks` says, with the wasm build's semantics
//! (`plugin/src/sinks.rs`):
//!
//! - `access_log`: record `i` (the event, then its alerts) becomes filter state
//!   `vigil.event.<i>` (the wasm build's is `wasm.vigil.event.<i>`: proxy-wasm prefixes
//!   `wasm.`), set in `stream_complete`, before Envoy's access loggers run; at most
//!   [`MAX_RECORDS`] per request, more are counted as dropped (`too_many_records`).
//! - `envoy_log`: one line per record in Envoy's log at info (component `dynamic_modules`);
//!   when Envoy's level drops info, records are counted as dropped (`log_level`).
#![forbid(unsafe_code)]

use crate::ffi::{self, Level, Stream};
use crate::filter::Count;
use vigil_policies::encode;
use vigil_policies::envoy::{MAX_RECORDS, RECORD_NAMES};
use vigil_policies::event::Event;
use vigil_policies::metrics::{DropReason, Metric, Metrics};
use vigil_policies::policy::{Format, Output, SinkKind};

/// Encodes and delivers one request's events to every sink.
pub fn deliver(output: &Output, events: &[Event], stream: &Stream<'_>, count: &mut Count<'_, '_>) {
    if events.is_empty() {
        return;
    }
    let mut encoded: Vec<(Format, Vec<String>)> = Vec::with_capacity(1);
    for sink in &output.sinks {
        let i = match encoded.iter().position(|(f, _)| *f == sink.format) {
            Some(i) => i,
            None => {
                let records = encode::records(sink.format, events, output.field_max_bytes, count);
                encoded.push((sink.format, records));
                encoded.len() - 1
            }
        };
        let records = &encoded[i].1;
        match sink.kind {
            SinkKind::AccessLog => access_log(records, stream, count),
            SinkKind::EnvoyLog => envoy_log(records, count),
        }
    }
}

fn access_log(records: &[String], stream: &Stream<'_>, count: &mut Count<'_, '_>) {
    let kind = SinkKind::AccessLog;
    for (i, r) in records.iter().enumerate() {
        let m = match RECORD_NAMES.get(i) {
            Some(name) if stream.set_filter_state(name, r.as_bytes()) => Metric::SinkWritten(kind),
            Some(_) => Metric::SinkDropped(kind, DropReason::HostRefused),
            None => Metric::SinkDropped(kind, DropReason::TooManyRecords),
        };
        count.add(m, 1);
    }
    debug_assert!(RECORD_NAMES.len() == MAX_RECORDS);
}

fn envoy_log(records: &[String], count: &mut Count<'_, '_>) {
    let kind = SinkKind::EnvoyLog;
    if !ffi::log_enabled(Level::Info) {
        count.add(
            Metric::SinkDropped(kind, DropReason::LogLevel),
            records.len() as u64,
        );
        return;
    }
    for r in records {
        ffi::log(Level::Info, r);
        count.add(Metric::SinkWritten(kind), 1);
    }
}
