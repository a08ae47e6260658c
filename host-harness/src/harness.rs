//! Several VMs ("Envoy workers") over one [`SharedData`], with round-robin dispatch, started
//! the way Envoy 1.40 starts a wasm HTTP filter.
//!
//! Measured with the conformance probe (`tests/all/conformance_lifecycle.rs`): with
//! `--concurrency N`, Envoy runs `on_vm_start` and `on_configure` in N + 2 VMs, in this
//! order: a throw-away canary that validates the configuration (it is destroyed without the
//! root's `on_done`/`on_delete`, and never sees a request), the main thread's VM (it gets
//! ticks, never a request), then one VM per worker. At shutdown every live VM's root gets
//! `on_done` then `on_delete` (workers first, then the main thread's; a failed VM gets
//! neither). The harness does the same: [`Harness::start`] runs the canary (its log lines are
//! kept in [`Harness::canary_logs`]), then the main thread's VM ([`Harness::main_vm`]), then
//! the workers; [`Harness::shutdown`] ends them.
//!
//! A bootstrap singleton (`envoy.bootstrap.wasm`, `WasmService { singleton: true }`): Envoy
//! runs it on the main thread, after a canary of its own (verified: the canary also runs
//! `on_vm_start` and `on_configure`). [`Harness::add_service`] adds one; shared-queue
//! notifications are delivered to their owner after every request (`on_queue_ready`).

use crate::error::HarnessError;
use crate::shared::SharedData;
use crate::state::LogEntry;
use crate::traffic::SharedExchange;
use crate::vm::{ExchangeOutcome, Plugin, Vm, VmOptions};

/// Seed offsets of the VMs that are not workers (workers use `seed + index`).
const CANARY_SEED: u64 = 0x00ca_0000;
const MAIN_SEED: u64 = 0x0a11_0000;
const SERVICE_SEED: u64 = 0x0005_e000;

/// N workers sharing shared data, queues and stats, plus Envoy's canary and main-thread VMs.
#[derive(Debug)]
pub struct Harness {
    vms: Vec<Vm>,
    main: Vm,
    services: Vec<Vm>,
    service_canary_logs: Vec<Vec<LogEntry>>,
    plugin: Plugin,
    opts: VmOptions,
    canary_logs: Vec<LogEntry>,
    shared: SharedData,
    next: usize,
}

impl Harness {
    /// Creates `workers` (at least 1) VMs and the main thread's; `opts.shared` is used by
    /// all, worker seeds are `opts.seed + worker index`.
    pub fn new(plugin: &Plugin, opts: VmOptions, workers: usize) -> Result<Self, HarnessError> {
        let shared = opts.shared.clone();
        let mut main_opts = opts.clone();
        main_opts.seed = opts.seed.wrapping_add(MAIN_SEED);
        let main = Vm::new(plugin, main_opts)?;
        let vms = (0..workers.max(1))
            .map(|i| {
                let mut o = opts.clone();
                o.seed = opts.seed.wrapping_add(i as u64);
                Vm::new(plugin, o)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            vms,
            main,
            services: Vec::new(),
            service_canary_logs: Vec::new(),
            plugin: plugin.clone(),
            opts,
            canary_logs: Vec::new(),
            shared,
            next: 0,
        })
    }

    /// Starts Envoy's way: the canary (a refusal there rejects the configuration, and
    /// nothing else starts), the main thread's VM, then every worker. True if all accepted
    /// their configuration.
    pub fn start(&mut self) -> Result<bool, HarnessError> {
        let mut canary_opts = self.opts.clone();
        canary_opts.seed = self.opts.seed.wrapping_add(CANARY_SEED);
        let mut canary = Vm::new(&self.plugin, canary_opts)?;
        let accepted = canary.start()?;
        self.canary_logs = canary.take_logs();
        drop(canary);
        if !accepted {
            return Ok(false);
        }
        let mut ok = self.main.start()?;
        self.service_canary_logs.clear();
        for service in &mut self.services {
            let mut canary_opts = service.opts.clone();
            canary_opts.seed = canary_opts.seed.wrapping_add(CANARY_SEED);
            let mut canary = Vm::new(&service.plugin, canary_opts)?;
            canary.start()?;
            self.service_canary_logs.push(canary.take_logs());
            drop(canary);
            ok &= service.start()?;
        }
        for vm in &mut self.vms {
            ok &= vm.start()?;
        }
        Ok(ok)
    }

    /// Envoy's shutdown: every live worker's root `on_done` and `on_delete`, then the main
    /// thread's.
    pub fn shutdown(&mut self) -> Result<(), HarnessError> {
        for vm in &mut self.vms {
            vm.shutdown()?;
        }
        self.main.shutdown()?;
        for service in &mut self.services {
            service.shutdown()?;
        }
        Ok(())
    }

    /// Adds a bootstrap singleton service VM (call before [`Harness::start`]): `plugin` with
    /// `opts` (its own `vm_id`, `root_id` and configuration; `opts.shared` is replaced by
    /// the harness's). Returns its index for [`Harness::service`].
    pub fn add_service(
        &mut self,
        plugin: &Plugin,
        mut opts: VmOptions,
    ) -> Result<usize, HarnessError> {
        opts.shared = self.shared.clone();
        opts.seed = opts
            .seed
            .wrapping_add(SERVICE_SEED + self.services.len() as u64);
        self.services.push(Vm::new(plugin, opts)?);
        Ok(self.services.len() - 1)
    }

    /// What service `i`'s canary logged (after [`Harness::start`]).
    pub fn service_canary_logs(&self, i: usize) -> &[LogEntry] {
        self.service_canary_logs.get(i).map_or(&[], Vec::as_slice)
    }

    /// Service VM `i` (added with [`Harness::add_service`]).
    pub fn service(&mut self, i: usize) -> Option<&mut Vm> {
        self.services.get_mut(i)
    }

    /// Delivers every pending shared-queue notification to its owner (services, the main
    /// thread's VM, workers). Returns how many were delivered.
    pub fn deliver_queues(&mut self) -> Result<u32, HarnessError> {
        let mut n = 0;
        for vm in self
            .services
            .iter_mut()
            .chain(std::iter::once(&mut self.main))
            .chain(self.vms.iter_mut())
        {
            if vm.failure().is_none() {
                n += vm.deliver_queue_ready()?;
            }
        }
        Ok(n)
    }

    /// Runs an exchange on the next worker (round-robin).
    pub fn run(&mut self, x: impl SharedExchange) -> Result<ExchangeOutcome, HarnessError> {
        let i = self.next;
        self.next = (self.next + 1) % self.vms.len();
        self.run_on(i, x)
    }

    /// Runs an exchange on worker `i` (modulo the worker count).
    pub fn run_on(
        &mut self,
        i: usize,
        x: impl SharedExchange,
    ) -> Result<ExchangeOutcome, HarnessError> {
        let n = self.vms.len();
        let out = self.vms[i % n].run(x)?;
        // The main thread's clock is the process's: it follows the latest request.
        let now = self.vms[i % n].time();
        for vm in self
            .services
            .iter_mut()
            .chain(std::iter::once(&mut self.main))
        {
            if now > vm.time() {
                vm.set_time(now);
            }
        }
        self.deliver_queues()?;
        Ok(out)
    }

    /// Worker `i` (modulo the worker count).
    pub fn vm(&self, i: usize) -> &Vm {
        &self.vms[i % self.vms.len()]
    }

    /// Mutable worker `i` (modulo the worker count).
    pub fn vm_mut(&mut self, i: usize) -> &mut Vm {
        let n = self.vms.len();
        &mut self.vms[i % n]
    }

    /// All workers.
    pub fn vms_mut(&mut self) -> &mut [Vm] {
        &mut self.vms
    }

    /// The main thread's VM (started and ticked like a worker's, never given a request).
    pub fn main_vm(&mut self) -> &mut Vm {
        &mut self.main
    }

    /// What the canary VM logged while it validated the configuration.
    pub fn canary_logs(&self) -> &[LogEntry] {
        &self.canary_logs
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.vms.len()
    }

    /// The shared state.
    pub fn shared(&self) -> &SharedData {
        &self.shared
    }

    /// Advances every VM's clock (each fires its own root-context ticks): the main
    /// thread's, then the workers'.
    pub fn advance_time(&mut self, delta_ns: u64) -> Result<(), HarnessError> {
        self.main.advance_time(delta_ns)?;
        for vm in self.services.iter_mut().chain(self.vms.iter_mut()) {
            vm.advance_time(delta_ns)?;
        }
        self.deliver_queues()?;
        Ok(())
    }

    /// Takes the events of every worker, in worker order.
    pub fn take_events(&mut self) -> Vec<String> {
        self.vms.iter_mut().flat_map(Vm::take_events).collect()
    }

    /// Takes the access-log records of every worker, in worker order.
    pub fn take_access_log(&mut self) -> Vec<Vec<u8>> {
        self.vms.iter_mut().flat_map(Vm::take_access_log).collect()
    }

    /// Turns detailed hostcall counting on or off in every worker.
    pub fn set_count_hostcalls(&mut self, on: bool) {
        for vm in &mut self.vms {
            vm.set_count_hostcalls(on);
        }
    }
}
