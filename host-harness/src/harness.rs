//! Several VMs ("Envoy workers") over one [`SharedData`], with round-robin dispatch.

use crate::error::HarnessError;
use crate::shared::SharedData;
use crate::traffic::SharedExchange;
use crate::vm::{ExchangeOutcome, Plugin, Vm, VmOptions};

/// N workers sharing shared data, queues and stats.
#[derive(Debug)]
pub struct Harness {
    vms: Vec<Vm>,
    shared: SharedData,
    next: usize,
}

impl Harness {
    /// Creates `workers` (at least 1) VMs; `opts.shared` is used by all, seeds are
    /// `opts.seed + worker index`.
    pub fn new(plugin: &Plugin, opts: VmOptions, workers: usize) -> Result<Self, HarnessError> {
        let shared = opts.shared.clone();
        let vms = (0..workers.max(1))
            .map(|i| {
                let mut o = opts.clone();
                o.seed = opts.seed.wrapping_add(i as u64);
                Vm::new(plugin, o)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            vms,
            shared,
            next: 0,
        })
    }

    /// Starts every worker; true if all accepted their configuration.
    pub fn start(&mut self) -> Result<bool, HarnessError> {
        let mut ok = true;
        for vm in &mut self.vms {
            ok &= vm.start()?;
        }
        Ok(ok)
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
        self.vms[i % n].run(x)
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

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.vms.len()
    }

    /// The shared state.
    pub fn shared(&self) -> &SharedData {
        &self.shared
    }

    /// Advances every worker's clock (each fires its own root-context ticks).
    pub fn advance_time(&mut self, delta_ns: u64) -> Result<(), HarnessError> {
        for vm in &mut self.vms {
            vm.advance_time(delta_ns)?;
        }
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
