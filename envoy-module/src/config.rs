//! A filter config: the policy from `filter_config` (the same JSON as the wasm filter's
//! `configuration`), its counters, and the ABI self-test `config_new` runs before accepting
//! it. The engine itself is per worker thread ([`engine_for`]): it numbers its events with a
//! plain cell, as each wasm VM does.
#![forbid(unsafe_code)]

use crate::ffi::{self, ConfigHandle, Level};
use crate::store::{ProcessStore, StoreRef};
use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use vigil_policies::chain::sealer::{self, Sealer};
use vigil_policies::metrics::{Gauge, Metric};
use vigil_policies::{Engine, Policy};

/// The environment variable that arms the test-only panic switch ([`Config::test_panic`]).
pub const TEST_PANIC_ENV: &str = "VIGIL_MODULE_TEST_PANIC";
/// A request whose path contains this panics in `request_headers` when the switch is armed.
pub const TEST_PANIC_PATH: &[u8] = b"/__vigil_test_panic";

/// Why `config_new` refused a config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The policy is not valid (the message names the JSON path).
    #[error("vigil: invalid configuration: {0}")]
    Policy(#[from] vigil_policies::PolicyError),
    /// The ABI self-test failed.
    #[error("vigil: ABI self-test failed, configuration refused (is this Envoy 1.40?): {0}")]
    Abi(String),
    /// The chain key is missing or equals the fingerprint key.
    #[error("vigil: invalid configuration: {0}")]
    ChainKey(#[from] sealer::KeyError),
}

/// Module-only counters (beside the engine's `vigil.*` ones).
#[derive(Debug, Clone, Copy)]
pub enum ModuleCounter {
    /// `vigil.module.panics`: hooks whose panic was caught (the request passed).
    Panics = 0,
    /// `vigil.module.abi_mismatch`: live ABI checks that failed (Vigil then stands down).
    AbiMismatch = 1,
}

const MODULE_COUNTERS: [&str; 2] = ["vigil.module.panics", "vigil.module.abi_mismatch"];

/// One filter config, shared by every worker thread.
#[derive(Debug)]
pub struct Config {
    policy: Policy,
    /// Counter ids by [`Metric::index`] (`None`: not reported).
    counters: Vec<Option<usize>>,
    module_counters: [usize; 2],
    /// Gauge ids by [`Gauge::index`] (`None`: not defined for this policy).
    gauges: Vec<Option<usize>>,
    /// The second each gauge was last set to (a set at most once a second per gauge).
    gauge_seconds: Vec<AtomicU64>,
    /// Test-only: panic in `request_headers` on [`TEST_PANIC_PATH`].
    pub test_panic: bool,
    /// The checkpoint key (from Envoy's environment, `output.chain.key_env`).
    chain_key: Option<Vec<u8>>,
    /// The configuration as Envoy gave it (its hash tells a configuration change).
    json: Vec<u8>,
}

/// One worker thread's engine and chains for one config (the wasm build has one per
/// worker VM).
#[derive(Debug)]
pub struct Worker {
    /// The engine.
    pub engine: Engine,
    /// This thread's chains, one per sink.
    pub sealer: RefCell<Sealer>,
}

impl Config {
    /// Parses and checks a config; logs why and returns `None` when Envoy must refuse it.
    pub fn new(handle: &ConfigHandle<'_>, _name: &[u8], json: &[u8]) -> Option<Arc<Config>> {
        match Config::build(handle, json) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                ffi::log(Level::Error, &e.to_string());
                None
            }
        }
    }

    fn build(handle: &ConfigHandle<'_>, json: &[u8]) -> Result<Config, ConfigError> {
        let policy = Policy::from_json(json)?;
        let chain_key = sealer::chain_key(&policy, env, "set it in Envoy's environment")?;
        let (engine, warnings) = Engine::new(policy.clone(), env, random_seed());
        for w in warnings {
            ffi::log(Level::Warn, &format!("vigil: {w}"));
        }
        let (counters, module_counters) = define_counters(handle).map_err(ConfigError::Abi)?;
        let gauges = define_gauges(handle, &policy).map_err(ConfigError::Abi)?;
        if let Some(w) = engine.init_shared(&mut StoreRef(ProcessStore::global()), random_secret())
        {
            ffi::log(Level::Warn, &format!("vigil: {w}"));
        }
        Ok(Config {
            policy,
            counters,
            module_counters,
            gauge_seconds: gauges.iter().map(|_| AtomicU64::new(0)).collect(),
            gauges,
            test_panic: std::env::var_os(TEST_PANIC_ENV).is_some_and(|v| v == "1"),
            chain_key,
            json: json.to_vec(),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The counter id of an engine metric.
    pub fn counter(&self, m: Metric) -> Option<usize> {
        self.counters.get(m.index()).copied().flatten()
    }

    /// The gauge id of `g` and whether it should be set to `seconds` now: once per second
    /// at most (several workers may race; each sets a value no older than the last).
    pub fn gauge_due(&self, g: Gauge, seconds: u64) -> Option<usize> {
        let id = self.gauges.get(g.index()).copied().flatten()?;
        let last = self.gauge_seconds.get(g.index())?;
        (last.fetch_max(seconds, Ordering::Relaxed) < seconds).then_some(id)
    }

    /// The counter id of a module counter.
    pub fn module_counter(&self, c: ModuleCounter) -> usize {
        self.module_counters[c as usize]
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn random_seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(crate::exchange::now_ns());
    h.finish()
}

/// 16 random bytes for the detectors' secret (stored only if none is yet).
fn random_secret() -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&random_seed().to_le_bytes());
    k[8..].copy_from_slice(&random_seed().to_le_bytes());
    k
}

/// Defines every counter: the ABI self-test's first half. Each definition must succeed and
/// give a fresh, non-zero id (1.40 numbers them from 1); anything else means the
/// `define_counter` declaration does not match this Envoy.
fn define_counters(h: &ConfigHandle<'_>) -> Result<(Vec<Option<usize>>, [usize; 2]), String> {
    let mut seen = std::collections::HashSet::new();
    let mut define = |name: &str| -> Result<usize, String> {
        let id = h.define_counter(name).map_err(|rc| {
            format!("define_counter({name}) returned status {rc}, not Success (0)")
        })?;
        if id == 0 || !seen.insert(id) {
            return Err(format!(
                "define_counter({name}) returned id {id}: ids must be non-zero and distinct"
            ));
        }
        Ok(id)
    };
    let mut ids = vec![None; Metric::COUNT];
    for m in Metric::all() {
        if m.is_reported() {
            if let Some(slot) = ids.get_mut(m.index()) {
                *slot = Some(define(&m.name())?);
            }
        }
    }
    let module = [define(MODULE_COUNTERS[0])?, define(MODULE_COUNTERS[1])?];
    Ok((ids, module))
}

/// Defines the liveness gauges: `vigil.last_event_seconds` and each configured sink's
/// `vigil.sink.<sink>.heartbeat_seconds` (names as the wasm build's; the module has no
/// timer, so a heartbeat is the sink's last write). The wasm build's `vigil.memory_bytes`
/// (a VM's linear memory) has no module counterpart.
fn define_gauges(h: &ConfigHandle<'_>, policy: &Policy) -> Result<Vec<Option<usize>>, String> {
    let mut ids = vec![None; Gauge::all().len()];
    let mut wanted = vec![Gauge::LastEventSeconds];
    wanted.extend(policy.output.sinks.iter().map(|s| Gauge::Heartbeat(s.kind)));
    for g in wanted {
        if ids.get(g.index()).is_some_and(Option::is_some) {
            continue;
        }
        let name = g.name();
        let id = h
            .define_gauge(&name)
            .map_err(|rc| format!("define_gauge({name}) returned status {rc}, not Success (0)"))?;
        if let Some(slot) = ids.get_mut(g.index()) {
            *slot = Some(id);
        }
    }
    Ok(ids)
}

thread_local! {
    /// This worker's engines and chains, one per live config.
    static WORKERS: RefCell<Vec<(Weak<Config>, Rc<Worker>)>> = const { RefCell::new(Vec::new()) };
}

fn new_worker(config: &Config) -> Worker {
    let engine = Engine::new(config.policy.clone(), env, random_seed()).0;
    let mut store = StoreRef(ProcessStore::global());
    // Adopt the detectors' secret the configuration stored in the process store (every
    // thread's engine must key its fingerprints alike).
    let _ = engine.init_shared(&mut store, random_secret());
    let output = &config.policy.output;
    let chain_ids = (0..output.sinks.len())
        .map(|_| format!("{:016x}", random_seed()))
        .collect();
    let vm_reason = if output.chain.enabled {
        let hash = vigil_policies::chain::digest_hex(&config.json);
        sealer::vm_start_reason(&mut store, &hash, crate::exchange::now_ns())
    } else {
        "start"
    };
    let sealer = Sealer::new(
        output,
        chain_ids,
        config.chain_key.clone(),
        &config.json,
        vm_reason,
    );
    Worker {
        engine,
        sealer: RefCell::new(sealer),
    }
}

/// This worker thread's engine and chains for `config`, built on first use. Callers hold
/// the `Rc` only for the hook they run, on this thread: nothing of it ever leaves its
/// thread. Those of destroyed configs are dropped here.
pub fn worker_for(config: &Arc<Config>) -> Rc<Worker> {
    WORKERS.with(|cell| {
        let Ok(mut workers) = cell.try_borrow_mut() else {
            return Rc::new(new_worker(config));
        };
        // A dead entry may carry the address of a new config: match live ones only.
        if let Some((_, w)) = workers
            .iter()
            .find(|(w, _)| w.strong_count() > 0 && std::ptr::eq(w.as_ptr(), Arc::as_ptr(config)))
        {
            return w.clone();
        }
        workers.retain(|(w, _)| w.strong_count() > 0);
        let w = Rc::new(new_worker(config));
        workers.push((Arc::downgrade(config), w.clone()));
        w
    })
}
