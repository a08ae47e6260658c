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
//! Each record is encoded once per format, whatever the number of sinks that want it. With
//! `output.chain.enabled`, each sink's records join that sink's hash chain
//! ([`vigil_policies::chain`]): the genesis record goes out with the chain's first record,
//! a checkpoint after every `checkpoint_every` records and, for `envoy_log`, on the tick
//! once `checkpoint_seconds` passed; `access_log` has no way out without a request, so its
//! due checkpoint follows the next request's records.

use crate::host::{Count, Counters, HostStore};
use crate::hostcalls::{self, Level, OK};
use std::cell::{Cell, RefCell};
use vigil_policies::chain::sealer::Sealer;
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
    sealer: RefCell<Sealer>,
}

impl Sinks {
    /// The sinks of a policy's `output`, with their chains.
    pub fn new(output: &Output, sealer: Sealer) -> Sinks {
        let s = Sinks {
            sinks: output.sinks.clone(),
            field_max_bytes: output.field_max_bytes,
            log_level: Cell::new(Level::Info as u32),
            sealer: RefCell::new(sealer),
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

    fn note_drop(&self, si: usize, reason: DropReason, n: u64) {
        if let Ok(mut s) = self.sealer.try_borrow_mut() {
            s.note_drop(si, reason, n);
        }
    }

    /// Encodes and delivers one request's events to every sink.
    pub fn deliver(&self, events: &[Event], counters: &Counters) {
        if events.is_empty() {
            return;
        }
        // The clock only for chains (a hostcall: not paid when they are off).
        let enabled = self.sealer.borrow().enabled();
        let now_ns = if enabled {
            events[0].time_ns.max(hostcalls::now_ns())
        } else {
            0
        };
        let mut encoded: Vec<(Format, Vec<String>)> = Vec::with_capacity(1);
        for (si, sink) in self.sinks.iter().enumerate() {
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
            let chained;
            let records: &[String] = if enabled {
                chained = self.sealer.borrow_mut().seal(
                    si,
                    sink.format,
                    &encoded[i].1,
                    now_ns,
                    &mut HostStore,
                );
                &chained
            } else {
                &encoded[i].1
            };
            match sink.kind {
                SinkKind::AccessLog => self.access_log(si, records, counters),
                SinkKind::EnvoyLog => self.envoy_log(si, records, counters),
            }
        }
    }

    /// The tick: a chain with records since its last checkpoint gets one after
    /// `checkpoint_seconds` (`envoy_log` at once; `access_log` with its next request).
    pub fn tick(&self, counters: &Counters) {
        if !self.sealer.borrow().enabled() {
            return;
        }
        let now_ns = hostcalls::now_ns();
        for (si, sink) in self.sinks.iter().enumerate() {
            if sink.kind == SinkKind::AccessLog {
                // No way out without a request: the next records close the period.
                continue;
            }
            let record = self
                .sealer
                .borrow_mut()
                .checkpoint_now(si, sink.format, now_ns);
            if let Some(r) = record {
                self.envoy_log(si, &[r], counters);
            }
        }
    }

    fn envoy_log(&self, si: usize, records: &[String], counters: &Counters) {
        let kind = SinkKind::EnvoyLog;
        if self.log_level.get() > Level::Info as u32 {
            let n = records.len() as u64;
            counters.add(Metric::SinkDropped(kind, DropReason::LogLevel), n);
            self.note_drop(si, DropReason::LogLevel, n);
            return;
        }
        for r in records {
            if hostcalls::log(Level::Info, r) == OK {
                counters.add(Metric::SinkWritten(kind), 1);
            } else {
                counters.add(Metric::SinkDropped(kind, DropReason::HostRefused), 1);
                self.note_drop(si, DropReason::HostRefused, 1);
            }
        }
    }

    fn access_log(&self, si: usize, records: &[String], counters: &Counters) {
        let kind = SinkKind::AccessLog;
        for (i, r) in records.iter().enumerate() {
            let m = match RECORD_NAMES.get(i) {
                Some(name) if hostcalls::set_property(name, r.as_bytes()) == OK => {
                    Metric::SinkWritten(kind)
                }
                Some(_) => Metric::SinkDropped(kind, DropReason::HostRefused),
                None => Metric::SinkDropped(kind, DropReason::TooManyRecords),
            };
            if let Metric::SinkDropped(_, r) = m {
                self.note_drop(si, r, 1);
            }
            counters.add(m, 1);
        }
        debug_assert!(RECORD_NAMES.len() == MAX_RECORDS);
    }
}
