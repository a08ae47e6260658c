//! Loading a plugin and driving one VM ("Envoy worker") through the proxy-wasm lifecycle.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::{Instance, Store, TypedFunc, WasmParams, WasmResults};

use crate::abi::LogLevel;
use crate::access_log::AccessLogger;
use crate::error::HarnessError;
pub use crate::exchange::{is_event, ExchangeOutcome};
use crate::failure::{FailurePolicy, ReloadStats};
pub use crate::plugin::Plugin;
use crate::shared::{MetricValue, SharedData};
use crate::state::{
    HostState, HttpCallResponse, LocalResponse, LogEntry, PendingHttpCall, VmConfig,
};

/// Options of one VM (Envoy's `vm_config` + plugin config + worker environment).
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// Plugin `root_id`.
    pub root_id: String,
    /// `vm_config.vm_id` (namespaces shared data and queues).
    pub vm_id: String,
    /// Plugin `name`.
    pub plugin_name: String,
    /// `vm_config.configuration` bytes.
    pub vm_config: Vec<u8>,
    /// Plugin `configuration` bytes.
    pub plugin_config: Vec<u8>,
    /// `vm_config.environment_variables`.
    pub env: Vec<(String, String)>,
    /// Wasm log level (lines below it are dropped, as Envoy's logger does).
    pub log_level: LogLevel,
    /// Process-wide shared state.
    pub shared: SharedData,
    /// Clusters known to the "cluster manager" (for `proxy_http_call`).
    pub clusters: Vec<String>,
    /// Seed of the deterministic random source (request ids, `random_get`).
    pub seed: u64,
    /// The HTTP connection manager's access loggers, run after `on_log` (records in
    /// [`ExchangeOutcome::access_log`]).
    pub access_loggers: Vec<AccessLogger>,
    /// Count hostcalls by argument and fill [`ExchangeOutcome::hostcalls`] (off: no cost).
    pub count_hostcalls: bool,
    /// Record every callback into the plugin, with its arguments and what it returned, in
    /// [`ExchangeOutcome::trace`] (off: no cost).
    pub trace: bool,
    /// What happens to the requests after a trap (`PluginConfig.failure_policy`; Envoy's
    /// default is fail closed): see [`crate::failure`].
    pub failure_policy: FailurePolicy,
}

impl Default for VmOptions {
    fn default() -> Self {
        Self {
            root_id: "vigil".into(),
            vm_id: "vigil".into(),
            plugin_name: "vigil".into(),
            vm_config: Vec::new(),
            plugin_config: Vec::new(),
            env: Vec::new(),
            log_level: LogLevel::Info,
            shared: SharedData::new(),
            clusters: Vec::new(),
            seed: 0,
            access_loggers: Vec::new(),
            count_hostcalls: false,
            trace: false,
            failure_policy: FailurePolicy::default(),
        }
    }
}

pub(crate) type F1 = TypedFunc<i32, ()>;
pub(crate) type F2 = TypedFunc<(i32, i32), ()>;
pub(crate) type F2R = TypedFunc<(i32, i32), i32>;
pub(crate) type F5 = TypedFunc<(i32, i32, i32, i32, i32), ()>;
pub(crate) type F3R = TypedFunc<(i32, i32, i32), i32>;
pub(crate) type F3 = TypedFunc<(i32, i32, i32), ()>;

pub(crate) struct Exports {
    pub(crate) on_context_create: Option<F2>,
    pub(crate) on_vm_start: Option<F2R>,
    pub(crate) on_configure: Option<F2R>,
    pub(crate) on_request_headers: Option<F3R>,
    pub(crate) on_request_body: Option<F3R>,
    pub(crate) on_request_trailers: Option<F2R>,
    pub(crate) on_response_headers: Option<F3R>,
    pub(crate) on_response_body: Option<F3R>,
    pub(crate) on_response_trailers: Option<F2R>,
    pub(crate) on_log: Option<F1>,
    pub(crate) on_done: Option<TypedFunc<i32, i32>>,
    pub(crate) on_delete: Option<F1>,
    pub(crate) on_tick: Option<F1>,
    pub(crate) on_queue_ready: Option<F2>,
    pub(crate) on_http_call_response: Option<F5>,
    pub(crate) on_grpc_receive: Option<F3>,
    pub(crate) on_grpc_close: Option<F3>,
}

/// One VM instance: a wasm instance plus its root context.
pub struct Vm {
    pub(crate) store: Store<HostState>,
    /// Shared so a callback can borrow its function while the store is borrowed mutably
    /// (cloning a `TypedFunc` costs type-registry reference counting).
    pub(crate) ex: Arc<Exports>,
    pub(crate) started: bool,
    pub(crate) failed: Option<String>,
    pub(crate) next_context: u32,
    /// Callbacks so far, when tracing ([`VmOptions::trace`]).
    pub(crate) trace: Option<Vec<crate::trace::Callback>>,
    /// What a reload needs: the module and the options this VM was made with.
    pub(crate) plugin: Plugin,
    pub(crate) opts: VmOptions,
    /// The callback that trapped.
    pub(crate) failed_callback: Option<String>,
    /// When this worker's VM was last loaded (started, or a reload attempted): Envoy's
    /// `FAIL_RELOAD` backoff runs from there, not from the trap.
    pub(crate) loaded_at_ns: u64,
    pub(crate) reload_stats: ReloadStats,
    /// VM instances started so far on this "worker" (1 + reloads).
    pub(crate) generation: u64,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("started", &self.started)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

fn typed<P: WasmParams, R: WasmResults>(
    store: &mut Store<HostState>,
    inst: &Instance,
    name: &str,
) -> Result<Option<TypedFunc<P, R>>, HarnessError> {
    match inst.get_func(&mut *store, name) {
        None => Ok(None),
        Some(f) => f
            .typed::<P, R>(&*store)
            .map(Some)
            .map_err(|_| HarnessError::MissingExport(name.to_string())),
    }
}

fn trap_message(e: &wasmtime::Error) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or("trap")
        .to_string()
}

impl Vm {
    /// Instantiates the plugin and runs `_initialize` / `_start`. Call [`Vm::start`] next.
    pub fn new(plugin: &Plugin, opts: VmOptions) -> Result<Self, HarnessError> {
        let kept = opts.clone();
        let trace = opts.trace.then(Vec::new);
        let cfg = VmConfig {
            root_id: opts.root_id,
            vm_id: opts.vm_id,
            plugin_name: opts.plugin_name,
            vm_config: opts.vm_config,
            plugin_config: opts.plugin_config,
            env: opts.env,
            clusters: opts.clusters,
            access_log_keys: opts
                .access_loggers
                .into_iter()
                .map(|l| l.filter_state_key.into_bytes())
                .collect(),
        };
        let state = HostState::new(
            cfg,
            opts.shared,
            opts.log_level,
            opts.seed,
            opts.count_hostcalls,
        );
        let mut store = Store::new(&plugin.engine, state);
        for imp in plugin.module.imports() {
            if plugin
                .linker
                .get(&mut store, imp.module(), imp.name())
                .is_err()
            {
                return Err(HarnessError::UnknownImport {
                    module: imp.module().to_string(),
                    name: imp.name().to_string(),
                });
            }
        }
        let inst = plugin
            .linker
            .instantiate(&mut store, &plugin.module)
            .map_err(|e| HarnessError::Instantiate(format!("{e:#}")))?;
        let memory = inst
            .get_memory(&mut store, "memory")
            .ok_or_else(|| HarnessError::MissingExport("memory".into()))?;
        let alloc = match typed::<i32, i32>(&mut store, &inst, "proxy_on_memory_allocate")? {
            Some(f) => Some(f),
            None => typed::<i32, i32>(&mut store, &inst, "malloc")?,
        };
        if alloc.is_none() {
            return Err(HarnessError::MissingExport(
                "proxy_on_memory_allocate (or malloc)".into(),
            ));
        }
        store.data_mut().memory = Some(memory);
        store.data_mut().alloc = alloc;
        let ex = Exports {
            on_context_create: typed(&mut store, &inst, "proxy_on_context_create")?,
            on_vm_start: typed(&mut store, &inst, "proxy_on_vm_start")?,
            on_configure: typed(&mut store, &inst, "proxy_on_configure")?,
            on_request_headers: typed(&mut store, &inst, "proxy_on_request_headers")?,
            on_request_body: typed(&mut store, &inst, "proxy_on_request_body")?,
            on_request_trailers: typed(&mut store, &inst, "proxy_on_request_trailers")?,
            on_response_headers: typed(&mut store, &inst, "proxy_on_response_headers")?,
            on_response_body: typed(&mut store, &inst, "proxy_on_response_body")?,
            on_response_trailers: typed(&mut store, &inst, "proxy_on_response_trailers")?,
            on_log: typed(&mut store, &inst, "proxy_on_log")?,
            on_done: typed(&mut store, &inst, "proxy_on_done")?,
            on_delete: typed(&mut store, &inst, "proxy_on_delete")?,
            on_tick: typed(&mut store, &inst, "proxy_on_tick")?,
            on_queue_ready: typed(&mut store, &inst, "proxy_on_queue_ready")?,
            on_http_call_response: typed(&mut store, &inst, "proxy_on_http_call_response")?,
            on_grpc_receive: typed(&mut store, &inst, "proxy_on_grpc_receive")?,
            on_grpc_close: typed(&mut store, &inst, "proxy_on_grpc_close")?,
        };
        let mut vm = Self {
            store,
            ex: Arc::new(ex),
            started: false,
            failed: None,
            next_context: 2,
            trace,
            plugin: plugin.clone(),
            opts: kept,
            failed_callback: None,
            loaded_at_ns: 0,
            reload_stats: ReloadStats::default(),
            generation: 1,
        };
        for init in ["_initialize", "_start"] {
            if let Some(f) = typed::<(), ()>(&mut vm.store, &inst, init)? {
                vm.call(init, 0, Some(&f), ())?;
                break;
            }
        }
        Ok(vm)
    }

    /// Calls an export on `context`; a trap marks the VM failed.
    pub(crate) fn call<P: WasmParams + std::fmt::Debug, R: WasmResults + std::fmt::Debug>(
        &mut self,
        name: &str,
        context: u32,
        f: Option<&TypedFunc<P, R>>,
        args: P,
    ) -> Result<Option<R>, HarnessError> {
        if let Some(msg) = &self.failed {
            return Err(HarnessError::VmFailed(msg.clone()));
        }
        let Some(f) = f else { return Ok(None) };
        let shown = self.trace.as_ref().map(|_| format!("{args:?}"));
        let st = self.store.data_mut();
        st.current_context = context;
        st.effective_context = None;
        let r = f.call(&mut self.store, args);
        self.store.data_mut().effective_context = None;
        if let (Some(t), Some(args)) = (self.trace.as_mut(), shown) {
            t.push(crate::trace::Callback {
                name: name.to_string(),
                context,
                args,
                result: match &r {
                    Ok(v) => format!("{v:?}"),
                    Err(e) => format!("trap: {}", trap_message(e)),
                },
            });
        }
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                let message = trap_message(&e);
                self.failed = Some(format!("{name}: {message}"));
                self.failed_callback = Some(name.to_string());
                Err(HarnessError::Trap {
                    callback: name.to_string(),
                    message,
                })
            }
        }
    }

    /// Creates the root context, runs `on_vm_start` then `on_configure`. Returns whether
    /// both accepted (false: Envoy rejects the configuration). A trap is an error.
    pub fn start(&mut self) -> Result<bool, HarnessError> {
        self.loaded_at_ns = self.store.data().now_ns;
        let root = self.store.data().root_context_id;
        let (vm_len, cfg_len) = {
            let c = &self.store.data().cfg;
            (c.vm_config.len() as i32, c.plugin_config.len() as i32)
        };
        let ex = Arc::clone(&self.ex);
        self.call(
            "proxy_on_context_create",
            root,
            ex.on_context_create.as_ref(),
            (root as i32, 0),
        )?;
        let ok = self.call(
            "proxy_on_vm_start",
            root,
            ex.on_vm_start.as_ref(),
            (root as i32, vm_len),
        )?;
        if ok == Some(0) {
            return Ok(false);
        }
        self.store.data_mut().in_configure = true;
        let r = self.call(
            "proxy_on_configure",
            root,
            ex.on_configure.as_ref(),
            (root as i32, cfg_len),
        );
        self.store.data_mut().in_configure = false;
        let ok = r? != Some(0);
        self.started = ok;
        Ok(ok)
    }

    /// Why the VM failed, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Sets the clock (ns since the epoch) without firing ticks.
    pub fn set_time(&mut self, now_ns: u64) {
        let st = self.store.data_mut();
        st.now_ns = now_ns;
        if let Some(next) = st.next_tick_ns {
            if next < now_ns && st.tick_period_ms > 0 {
                st.next_tick_ns = Some(now_ns + u64::from(st.tick_period_ms) * 1_000_000);
            }
        }
    }

    /// Current clock.
    pub fn time(&self) -> u64 {
        self.store.data().now_ns
    }

    /// Advances the clock, running `proxy_on_tick` on the root context each time the
    /// tick period elapses. Returns the number of ticks fired.
    pub fn advance_time(&mut self, delta_ns: u64) -> Result<u32, HarnessError> {
        let target = self.store.data().now_ns.saturating_add(delta_ns);
        let root = self.store.data().root_context_id;
        let ex = Arc::clone(&self.ex);
        let mut fired = 0;
        loop {
            let st = self.store.data_mut();
            match st.next_tick_ns {
                // A deleted root (after shutdown) gets no more ticks.
                Some(t) if t <= target && st.tick_period_ms > 0 && self.started => {
                    st.now_ns = t;
                    st.next_tick_ns = Some(t + u64::from(st.tick_period_ms) * 1_000_000);
                    self.call("proxy_on_tick", root, ex.on_tick.as_ref(), root as i32)?;
                    self.finish_done()?;
                    fired += 1;
                }
                _ => break,
            }
        }
        self.store.data_mut().now_ns = target;
        Ok(fired)
    }

    /// All log lines collected so far.
    pub fn logs(&self) -> &[LogEntry] {
        &self.store.data().logs
    }

    /// Takes the collected log lines.
    pub fn take_logs(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.store.data_mut().logs)
    }

    /// Takes the collected log lines and returns the security events among them.
    pub fn take_events(&mut self) -> Vec<String> {
        self.take_logs()
            .into_iter()
            .filter(is_event)
            .map(|e| e.message)
            .collect()
    }

    /// Turns detailed hostcall counting on or off (see [`VmOptions::count_hostcalls`]).
    pub fn set_count_hostcalls(&mut self, on: bool) {
        self.store.data_mut().counters.enabled = on;
    }

    /// Sets the level `proxy_get_log_level` reports (and below which lines are dropped).
    pub fn set_log_level(&mut self, level: LogLevel) {
        self.store.data_mut().log_level = level;
    }

    /// Custom metrics (process-wide, by raw name; Envoy shows `wasmcustom.<name>`).
    pub fn metrics(&self) -> BTreeMap<String, MetricValue> {
        self.store.data().shared.metrics()
    }

    /// The shared state this VM uses.
    pub fn shared(&self) -> &SharedData {
        &self.store.data().shared
    }

    /// Local responses sent so far.
    pub fn local_responses(&self) -> &[LocalResponse] {
        &self.store.data().local_responses
    }

    /// Tick period set by the plugin (ms, 0: none).
    pub fn tick_period_ms(&self) -> u32 {
        self.store.data().tick_period_ms
    }

    /// HTTP callouts awaiting a response.
    pub fn pending_http_calls(&self) -> Vec<PendingHttpCall> {
        self.store.data().http_calls.values().cloned().collect()
    }

    /// Delivers a callout response to `proxy_on_http_call_response`.
    pub fn respond_http_call(
        &mut self,
        token: u32,
        response: HttpCallResponse,
    ) -> Result<(), HarnessError> {
        self.store
            .data_mut()
            .http_calls
            .remove(&token)
            .ok_or(HarnessError::UnknownHttpCall(token))?;
        // Envoy delivers the answer to the root context, which owns the callout.
        let root = self.store.data().root_context_id;
        let args = (
            root as i32,
            token as i32,
            response.headers.len() as i32,
            response.body.len() as i32,
            response.trailers.len() as i32,
        );
        self.store.data_mut().callout = Some(response);
        let ex = Arc::clone(&self.ex);
        let r = self.call(
            "proxy_on_http_call_response",
            root,
            ex.on_http_call_response.as_ref(),
            args,
        );
        self.store.data_mut().callout = None;
        r.map(|_| ())
    }

    /// Fails a callout (Envoy calls the response callback with 0 headers, body, trailers).
    pub fn fail_http_call(&mut self, token: u32) -> Result<(), HarnessError> {
        self.respond_http_call(token, HttpCallResponse::default())
    }

    /// Runs `proxy_on_queue_ready` for every enqueue on queues this VM registered.
    pub fn deliver_queue_ready(&mut self) -> Result<u32, HarnessError> {
        let instance = self.store.data().instance;
        let ready = self.store.data().shared.take_ready(instance);
        let n = ready.len() as u32;
        let ex = Arc::clone(&self.ex);
        for (ctx, id) in ready {
            self.call(
                "proxy_on_queue_ready",
                ctx,
                ex.on_queue_ready.as_ref(),
                (ctx as i32, id as i32),
            )?;
        }
        Ok(n)
    }

    /// The imports this VM's plugin has called so far (since the VM started, whatever the
    /// counting mode).
    pub fn hostcalls_called(&self) -> Vec<&'static str> {
        self.store.data().counters.called()
    }

    /// Times `proxy_done` was accepted (a root pending done called it).
    pub fn done_calls(&self) -> u32 {
        self.store.data().done_calls
    }

    /// `proxy_continue_stream` / `proxy_close_stream` calls, as `name(stream_type)`.
    pub fn stream_controls(&self) -> &[String] {
        &self.store.data().stream_controls
    }
}
