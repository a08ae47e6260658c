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
//! due checkpoint goes out with the next request's records.

use crate::host::{Count, Counters};
use crate::hostcalls::{self, Level, OK};
use std::cell::{Cell, RefCell};
use vigil_policies::chain::{Chain, ChainPolicy, Extra};
use vigil_policies::encode;
use vigil_policies::envoy::{MAX_RECORDS, RECORD_NAMES};
use vigil_policies::event::Event;
use vigil_policies::metrics::{DropReason, Metric};
use vigil_policies::policy::{Format, Output, Sink, SinkKind};

/// The shared-data key holding the last configuration's hash (a genesis record's reason).
const CONFIG_KEY: &str = "vigil.chain.config";

/// VMs of one configuration that start within this long of its first VM are Envoy's start
/// (the canary, the main thread's, the workers'); a VM that starts later is a reload.
const START_BURST_NS: u64 = 10_000_000_000;

/// Whether this VM started with its configuration's first burst of VMs (`start`) or later
/// (`reload`: `FAIL_RELOAD`, a VM restarted by Envoy), from the configuration's first VM
/// start time in shared data (`vigil.chain.first.<hash>`). Called from `on_configure`.
pub fn vm_start_reason(config_hash: &str, now_ns: u64) -> &'static str {
    let key = format!("vigil.chain.first.{config_hash}");
    match hostcalls::shared_get(&key).ok().flatten() {
        Some((v, _)) => {
            let first = vigil_policies::envoy::le_u64(&v).unwrap_or(now_ns);
            if now_ns.saturating_sub(first) > START_BURST_NS {
                "reload"
            } else {
                "start"
            }
        }
        None => {
            let _ = hostcalls::shared_set(&key, &now_ns.to_le_bytes(), 0);
            "start"
        }
    }
}

/// One sink's chain: its state, whether a checkpoint is due, and what it dropped.
#[derive(Debug)]
struct Chained {
    chain: Chain,
    due: bool,
    dropped: Vec<(&'static str, u64)>,
}

/// The configured sinks of one worker.
#[derive(Debug)]
pub struct Sinks {
    sinks: Vec<Sink>,
    field_max_bytes: usize,
    log_level: Cell<u32>,
    policy: ChainPolicy,
    key: Option<Vec<u8>>,
    config_hash: String,
    /// `start` or `reload` ([`vm_start_reason`]).
    vm_reason: &'static str,
    chains: RefCell<Vec<Chained>>,
}

fn reason_name(r: DropReason) -> &'static str {
    match r {
        DropReason::LogLevel => "log_level",
        DropReason::HostRefused => "host_refused",
        DropReason::TooManyRecords => "too_many_records",
    }
}

impl Sinks {
    /// The sinks of a policy's `output`; `chain_ids` names each sink's chain, `key` is the
    /// checkpoint key, `config_hash` the configuration's SHA-256 (hex), `vm_reason` why this
    /// VM started ([`vm_start_reason`]).
    pub fn new(
        output: &Output,
        chain_ids: Vec<String>,
        key: Option<Vec<u8>>,
        config_hash: String,
        vm_reason: &'static str,
    ) -> Sinks {
        let s = Sinks {
            sinks: output.sinks.clone(),
            field_max_bytes: output.field_max_bytes,
            log_level: Cell::new(Level::Info as u32),
            policy: output.chain.clone(),
            key,
            config_hash,
            vm_reason,
            chains: RefCell::new(
                chain_ids
                    .into_iter()
                    .map(|id| Chained {
                        chain: Chain::new(id),
                        due: false,
                        dropped: Vec::new(),
                    })
                    .collect(),
            ),
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

    /// The genesis record's reason: `config_change` when the last configuration that wrote
    /// a chain in this Envoy process differs, else why this VM started (`start`, `reload`).
    fn genesis_reason(&self) -> &'static str {
        let stored = hostcalls::shared_get(CONFIG_KEY).ok().flatten();
        let reason = match &stored {
            Some((v, _)) if v.as_slice() != self.config_hash.as_bytes() => "config_change",
            _ => self.vm_reason,
        };
        if stored.as_ref().map(|(v, _)| v.as_slice()) != Some(self.config_hash.as_bytes()) {
            let cas = stored.map_or(0, |(_, c)| c);
            let _ = hostcalls::shared_set(CONFIG_KEY, self.config_hash.as_bytes(), cas);
        }
        reason
    }

    fn chain_record(
        &self,
        action: vigil_policies::action::Action,
        now_ns: u64,
        format: Format,
    ) -> String {
        let e = Event {
            time_ns: now_ns,
            id: String::new(),
            action: Some(action),
            reason: if action == vigil_policies::action::Action::VigilChainStart {
                "chain_start".into()
            } else {
                "chain_checkpoint".into()
            },
            rule: "chain".into(),
            ..Event::default()
        };
        encode::encode(format, &e, self.field_max_bytes).0
    }

    fn dropped_text(d: &[(&'static str, u64)]) -> String {
        d.iter()
            .map(|(r, n)| format!("{r}:{n}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Chains one sink's records: the genesis first if the chain has none, each record, and
    /// a checkpoint when one is due.
    fn chain_records(
        &self,
        i: usize,
        format: Format,
        records: &[String],
        now_ns: u64,
    ) -> Vec<String> {
        let mut chains = self.chains.borrow_mut();
        let Some(c) = chains.get_mut(i) else {
            return records.to_vec();
        };
        let mut out = Vec::with_capacity(records.len() + 2);
        if !c.chain.started() {
            let g = self.chain_record(
                vigil_policies::action::Action::VigilChainStart,
                now_ns,
                format,
            );
            let extra = Extra {
                kind: Some("genesis"),
                reason: Some(self.genesis_reason()),
                ..Extra::default()
            };
            c.chain.last_checkpoint_ns = now_ns;
            out.push(c.chain.append(format, &g, extra));
        }
        for r in records {
            out.push(c.chain.append(format, r, Extra::default()));
        }
        if c.due || c.chain.since_checkpoint() >= u64::from(self.policy.checkpoint_every) {
            let cp = self.chain_record(
                vigil_policies::action::Action::VigilChainCheckpoint,
                now_ns,
                format,
            );
            let dropped = Self::dropped_text(&c.dropped);
            out.push(
                c.chain
                    .checkpoint(format, &cp, dropped, self.key.as_deref(), now_ns),
            );
            c.due = false;
        }
        out
    }

    fn note_drop(&self, i: usize, reason: DropReason, n: u64) {
        if let Some(c) = self.chains.borrow_mut().get_mut(i) {
            let name = reason_name(reason);
            match c.dropped.iter_mut().find(|(r, _)| *r == name) {
                Some((_, k)) => *k += n,
                None => c.dropped.push((name, n)),
            }
        }
    }

    /// Encodes and delivers one request's events to every sink.
    pub fn deliver(&self, events: &[Event], counters: &Counters) {
        if events.is_empty() {
            return;
        }
        // The clock only for chains (a hostcall: not paid when they are off).
        let now_ns = if self.policy.enabled {
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
            let records: &[String] = if self.policy.enabled {
                chained = self.chain_records(si, sink.format, &encoded[i].1, now_ns);
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
        if !self.policy.enabled {
            return;
        }
        let now_ns = hostcalls::now_ns();
        let period = u64::from(self.policy.checkpoint_seconds) * 1_000_000_000;
        for (si, sink) in self.sinks.iter().enumerate() {
            let record = {
                let mut chains = self.chains.borrow_mut();
                let Some(c) = chains.get_mut(si) else {
                    continue;
                };
                if !c.chain.started()
                    || c.chain.since_checkpoint() == 0
                    || now_ns.saturating_sub(c.chain.last_checkpoint_ns) < period
                {
                    continue;
                }
                if sink.kind == SinkKind::AccessLog {
                    c.due = true;
                    continue;
                }
                let dropped = Self::dropped_text(&c.dropped);
                let cp = self.chain_record(
                    vigil_policies::action::Action::VigilChainCheckpoint,
                    now_ns,
                    sink.format,
                );
                c.chain
                    .checkpoint(sink.format, &cp, dropped, self.key.as_deref(), now_ns)
            };
            self.envoy_log(si, &[record], counters);
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
