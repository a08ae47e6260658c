//! A VM's life after its start: reload (Envoy's `FAIL_RELOAD`) and shutdown, with the
//! failure policy's counters (see [`crate::failure`] for what was measured).

use std::sync::Arc;

use crate::error::HarnessError;
use crate::failure::ReloadStats;
use crate::vm::Vm;

impl Vm {
    /// The failure policy's counters (Envoy's `wasm.<plugin>.vm_reload*`).
    pub fn reload_stats(&self) -> ReloadStats {
        self.reload_stats
    }

    /// VM instances started on this worker so far (1, plus one per reload).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Replaces the failed instance with a fresh one, as `FAIL_RELOAD` does: a new instance
    /// of the module (`_initialize`, root context, `on_vm_start`, `on_configure`) at the
    /// current clock, with a new random seed; collected logs, access-log records and the
    /// trace carry over. Returns whether the new VM accepted its configuration.
    pub(crate) fn reload(&mut self) -> Result<bool, HarnessError> {
        let now = self.store.data().now_ns;
        let mut opts = self.opts.clone();
        opts.seed = opts
            .seed
            .wrapping_add(self.generation.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut fresh = Vm::new(&self.plugin, opts)?;
        fresh.store.data_mut().now_ns = now;
        let old = self.store.data_mut();
        let logs = std::mem::take(&mut old.logs);
        let access_log = std::mem::take(&mut old.access_log);
        let local_responses = std::mem::take(&mut old.local_responses);
        let stream_controls = std::mem::take(&mut old.stream_controls);
        let st = fresh.store.data_mut();
        st.logs.splice(0..0, logs);
        st.access_log.splice(0..0, access_log);
        st.local_responses.splice(0..0, local_responses);
        st.stream_controls.splice(0..0, stream_controls);
        if let Some(mut t) = self.trace.take() {
            t.extend(fresh.trace.take().unwrap_or_default());
            fresh.trace = Some(t);
        }
        fresh.reload_stats = self.reload_stats;
        fresh.generation = self.generation + 1;
        *self = fresh;
        let ok = self.start()?;
        if !ok {
            self.failed = Some("reload: the new VM refused its configuration".into());
        }
        Ok(ok)
    }

    /// Envoy's shutdown (or a drain) of this VM: the root context's `on_done`, then its
    /// `on_delete` (measured: a VM that failed gets neither). Returns `on_done`'s answer.
    /// When it answers false the root is pending done, as in Envoy: its timers go on
    /// ([`Vm::advance_time`]) until it calls `proxy_done` (then `Ok`; `NotFound` at any other
    /// time), and `on_delete` follows that callback.
    pub fn shutdown(&mut self) -> Result<bool, HarnessError> {
        if self.failed.is_some() || !self.started {
            return Ok(true);
        }
        let root = self.store.data().root_context_id;
        let ex = Arc::clone(&self.ex);
        let done = self.call("proxy_on_done", root, ex.on_done.as_ref(), root as i32)?;
        if done == Some(0) {
            self.store.data_mut().pending_done = true;
            return Ok(false);
        }
        self.call("proxy_on_delete", root, ex.on_delete.as_ref(), root as i32)?;
        self.started = false;
        Ok(true)
    }

    /// After a callback of a root pending done: its `on_delete` once it called `proxy_done`.
    pub(crate) fn finish_done(&mut self) -> Result<(), HarnessError> {
        if !std::mem::take(&mut self.store.data_mut().delete_due) {
            return Ok(());
        }
        let root = self.store.data().root_context_id;
        let ex = Arc::clone(&self.ex);
        self.call("proxy_on_delete", root, ex.on_delete.as_ref(), root as i32)?;
        self.started = false;
        Ok(())
    }
}
