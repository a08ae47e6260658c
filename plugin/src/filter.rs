//! The proxy-wasm contexts: a root context that loads the policy and keeps the worker's
//! metrics and liveness, and an HTTP context per request that hands what it sees to the
//! engine and the engine's events to the sinks.
//!
//! No callback ever stops or alters traffic: every one returns `Continue`, and nothing is
//! ever sent to the client. Where events go is the policy's `output.sinks` ([`crate::sinks`]).

use crate::abi::{Action, Context, HttpContext, RootContext};
use crate::host::{Count, Counters, HostExchange, HostStore};
use crate::hostcalls::{self, Buffer, Level};
use crate::sinks::Sinks;
use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;
use vigil_policies::chain;
use vigil_policies::metrics::Gauge;
use vigil_policies::{Engine, Policy, RequestState};

/// What every HTTP context of a root shares.
struct Shared {
    engine: Engine,
    counters: Counters,
    sinks: Sinks,
    /// When this worker last produced an event (Unix seconds), for the gauge.
    last_event_s: Cell<u64>,
    /// Whether the detectors' secret could not be agreed at the last try (warned once).
    secret_failing: Cell<bool>,
}

/// The root context: one per worker and plugin.
#[derive(Default)]
pub struct VigilRoot {
    shared: Option<Rc<Shared>>,
}

fn random_u64(tag: u64) -> u64 {
    // std's RandomState is seeded from the host's random source (WASI random_get): its
    // SipHash keys are 128 random bits, so its outputs are unpredictable.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(tag);
    h.finish()
}

fn random_seed() -> u64 {
    random_u64(0x5669_6769_6c21)
}

/// 16 random bytes for the detectors' secret (used only if no worker has stored one yet).
fn random_secret() -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&random_u64(0x0073_6563_7265_7430).to_le_bytes());
    k[8..].copy_from_slice(&random_u64(0x0073_6563_7265_7431).to_le_bytes());
    k
}

fn memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) as u64) * 65_536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

fn refuse(msg: &str) -> bool {
    hostcalls::log(
        Level::Error,
        &format!("vigil: invalid configuration: {msg}"),
    );
    false
}

impl VigilRoot {
    fn heartbeat(&self) {
        let Some(s) = &self.shared else { return };
        s.sinks.refresh();
        s.sinks.tick(&s.counters);
        s.counters.flush();
        // Adopt the stored secret if this worker's first write lost a race (one read).
        let failing = s.engine.refresh_shared(&mut HostStore);
        if failing.is_some() != s.secret_failing.get() {
            s.secret_failing.set(failing.is_some());
            let msg = failing.unwrap_or_else(|| "detectors' shared secret agreed".into());
            hostcalls::log(Level::Warn, &format!("vigil: {msg}"));
        }
        let now_s = hostcalls::now_ns() / 1_000_000_000;
        for kind in s.sinks.kinds() {
            s.counters.set_gauge(Gauge::Heartbeat(kind), now_s);
        }
        s.counters
            .raise_gauge(Gauge::LastEventSeconds, s.last_event_s.get());
        s.counters.raise_gauge(Gauge::MemoryBytes, memory_bytes());
    }
}

impl Context for VigilRoot {
    fn on_done(&mut self) -> bool {
        // The VM is going away (drain, reload, shutdown): hand over every pending count.
        if let Some(s) = &self.shared {
            s.counters.flush();
        }
        true
    }
}

impl RootContext for VigilRoot {
    type Http = VigilHttp;

    fn on_configure(&mut self, size: usize) -> bool {
        let config = match hostcalls::buffer(Buffer::PluginConfiguration, 0, size) {
            Ok(Some(c)) => c,
            Ok(None) if size == 0 => Vec::new(),
            Ok(None) => return refuse("the host returned no configuration bytes"),
            Err(status) => {
                return refuse(&format!(
                    "the host refused to hand over the configuration (status {status})"
                ))
            }
        };
        let policy = match Policy::from_json(&config) {
            Ok(p) => p,
            Err(e) => return refuse(&e.to_string()),
        };
        let (engine, warnings) = Engine::new(policy, |k| std::env::var(k).ok(), random_seed());
        for w in warnings {
            hostcalls::log(Level::Warn, &format!("vigil: {w}"));
        }
        let kinds: Vec<_> = engine
            .policy()
            .output
            .sinks
            .iter()
            .map(|s| s.kind)
            .collect();
        let (counters, refused) = Counters::define(&kinds);
        if !refused.is_empty() {
            hostcalls::log(
                Level::Warn,
                &format!(
                    "vigil: the host refused to define these metrics, which will not be reported: {}",
                    refused.join(", ")
                ),
            );
        }
        let secret_warning = engine.init_shared(&mut HostStore, random_secret());
        if let Some(w) = &secret_warning {
            hostcalls::log(Level::Warn, &format!("vigil: {w}"));
        }
        let output = &engine.policy().output;
        // Each sink's chain: a random name, the checkpoint key from the VM's environment
        // (never the configuration), the configuration's hash for the genesis reason.
        let chain_key = match chain::sealer::chain_key(
            engine.policy(),
            |k| std::env::var(k).ok(),
            "add it to vm_config.environment_variables.host_env_keys",
        ) {
            Ok(k) => k,
            Err(e) => return refuse(&e.to_string()),
        };
        let chain_ids = (0..output.sinks.len())
            .map(|i| format!("{:016x}", random_u64(0x6368_6169_6e00 + i as u64)))
            .collect();
        let config_hash = chain::digest_hex(&config);
        let vm_reason = if output.chain.enabled {
            chain::sealer::vm_start_reason(&mut HostStore, &config_hash, hostcalls::now_ns())
        } else {
            "start"
        };
        let sealer = chain::sealer::Sealer::new(output, chain_ids, chain_key, &config, vm_reason);
        let sinks = Sinks::new(output, sealer);
        let period_ms = output.heartbeat_seconds.saturating_mul(1000);
        if hostcalls::set_tick_period(period_ms) != hostcalls::OK {
            hostcalls::log(
                Level::Warn,
                "vigil: the host refused a tick period: counters are flushed only at shutdown",
            );
        }
        self.shared = Some(Rc::new(Shared {
            engine,
            counters,
            sinks,
            last_event_s: Cell::new(0),
            secret_failing: Cell::new(secret_warning.is_some()),
        }));
        self.heartbeat();
        true
    }

    fn on_tick(&mut self) {
        self.heartbeat();
    }

    fn create_http_context(&self, _context_id: u32) -> Option<VigilHttp> {
        let shared = self.shared.clone()?;
        Some(VigilHttp {
            shared,
            state: None,
        })
    }
}

/// One request.
pub struct VigilHttp {
    shared: Rc<Shared>,
    state: Option<RequestState>,
}

impl Context for VigilHttp {}

impl HttpContext for VigilHttp {
    fn on_http_request_headers(&mut self, _n: usize, _end_of_stream: bool) -> Action {
        self.state = Some(self.shared.engine.on_request_headers(&mut HostExchange));
        Action::Continue
    }

    fn on_http_request_body(&mut self, size: usize, _end_of_stream: bool) -> Action {
        if let Some(scan) = self.state.as_mut().and_then(|s| s.scanner.as_mut()) {
            // Take only what the scanner still wants; `feed` counts the rest as overflow.
            let want = scan.wants().min(size);
            let head = if want > 0 {
                hostcalls::buffer(Buffer::RequestBody, 0, want)
                    .ok()
                    .flatten()
            } else {
                None
            };
            scan.feed(&head.unwrap_or_default(), size);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _n: usize, _end_of_stream: bool) -> Action {
        let st = self.state.get_or_insert_with(RequestState::default);
        self.shared
            .engine
            .on_response_headers(&mut HostExchange, st);
        Action::Continue
    }

    fn on_http_response_trailers(&mut self, _n: usize) -> Action {
        if let Some(st) = self.state.as_mut() {
            self.shared
                .engine
                .on_response_trailers(&mut HostExchange, st);
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        let s = &self.shared;
        let events = s.engine.on_log(
            &mut HostExchange,
            self.state.as_ref(),
            &mut HostStore,
            &mut Count(&s.counters),
        );
        if let Some(e) = events.first() {
            s.last_event_s.set(e.time_ns / 1_000_000_000);
            s.sinks.deliver(&events, &s.counters);
        }
    }
}
