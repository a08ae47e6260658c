//! The sinks: where a request's records go, as the policy's `output.sinks` says.
//!
//! - `access_log`: record `i` (the event, then its alerts) is set as filter state
//!   `wasm.vigil.event.<i>` from `on_log`; Envoy's access loggers, which run after the
//!   filters' `on_log`, write it (one logger per slot; see `envoy/access-log/`). At most
//!   [`MAX_RECORDS`] records per request; more are counted as dropped (`too_many_records`).
//! - `envoy_log`: `proxy_log` at info, one record per line, for development. When Envoy's
//!   level for wasm drops info, the records are counted as dropped (`log_level`), never
//!   silently lost. The level is read once at start and refreshed on every heartbeat.
//!
//! Each record is encoded once per format, whatever the number of sinks that want it.

use crate::host::{Count, Counters};
use crate::hostcalls::{self, Level, OK};
use std::cell::Cell;
use vigil_policies::encode;
use vigil_policies::envoy::{MAX_RECORDS, RECORD_NAMES};
use vigil_policies::event::Event;
use vigil_policies::metrics::{DropReason, Metric};
use vigil_policies::policy::{Format, Output, Sink, SinkKind};

/// The configured sinks of one worker.
#[derive(Debug)]
pub struct Sinks {
    sinks: Vec<Sink>,
    field_max_bytes: usize,
    log_level: Cell<u32>,
}

impl Sinks {
    /// The sinks of a policy's `output`.
    pub fn new(output: &Output) -> Sinks {
        let s = Sinks {
            sinks: output.sinks.clone(),
            field_max_bytes: output.field_max_bytes,
            log_level: Cell::new(Level::Info as u32),
        };
        s.refresh();
        s
    }

    /// The configured sink kinds.
    pub fn kinds(&self) -> impl Iterator<Item = SinkKind> + '_ {
        self.sinks.iter().map(|s| s.kind)
    }

    /// Re-reads what may change while the VM runs (Envoy's log level).
    pub fn refresh(&self) {
        if let Ok(l) = hostcalls::log_level() {
            self.log_level.set(l);
        }
    }

    /// Encodes and delivers one request's events to every sink.
    pub fn deliver(&self, events: &[Event], counters: &Counters) {
        if events.is_empty() {
            return;
        }
        let mut encoded: Vec<(Format, Vec<String>)> = Vec::with_capacity(1);
        for sink in &self.sinks {
            let i = match encoded.iter().position(|(f, _)| *f == sink.format) {
                Some(i) => i,
                None => {
                    let records = encode::records(
                        sink.format,
                        events,
                        self.field_max_bytes,
                        &mut Count(counters),
                    );
                    encoded.push((sink.format, records));
                    encoded.len() - 1
                }
            };
            let records = &encoded[i].1;
            match sink.kind {
                SinkKind::AccessLog => access_log(records, counters),
                SinkKind::EnvoyLog => self.envoy_log(records, counters),
            }
        }
    }

    fn envoy_log(&self, records: &[String], counters: &Counters) {
        let kind = SinkKind::EnvoyLog;
        if self.log_level.get() > Level::Info as u32 {
            let n = records.len() as u64;
            counters.add(Metric::SinkDropped(kind, DropReason::LogLevel), n);
            return;
        }
        for r in records {
            if hostcalls::log(Level::Info, r) == OK {
                counters.add(Metric::SinkWritten(kind), 1);
            } else {
                counters.add(Metric::SinkDropped(kind, DropReason::HostRefused), 1);
            }
        }
    }
}

fn access_log(records: &[String], counters: &Counters) {
    let kind = SinkKind::AccessLog;
    for (i, r) in records.iter().enumerate() {
        let m = match RECORD_NAMES.get(i) {
            Some(name) if hostcalls::set_property(name, r.as_bytes()) == OK => {
                Metric::SinkWritten(kind)
            }
            Some(_) => Metric::SinkDropped(kind, DropReason::HostRefused),
            None => Metric::SinkDropped(kind, DropReason::TooManyRecords),
        };
        counters.add(m, 1);
    }
    debug_assert!(RECORD_NAMES.len() == MAX_RECORDS);
}
