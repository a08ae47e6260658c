//! The HTTP connection manager's access loggers, as Vigil's `access_log` sink uses them: each
//! logger prints one filter-state value verbatim (`%FILTER_STATE(<key>:PLAIN)%`) behind an
//! access-log filter that lets it write only when the key exists.
//!
//! Envoy 1.40 runs them after the filters' `on_log` and before `on_done`/`on_delete`; a
//! `proxy_set_property(path, value)` from the stream stores filter state under `wasm.<path>`
//! (see [`crate::hostcalls::properties`]).

use crate::exchange::ExchangeOutcome;
use crate::vm::Vm;

/// One access logger: writes the filter-state value under `filter_state_key` (e.g.
/// `wasm.vigil.event.0`) as one record, when the key exists at the end of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogger {
    /// Full filter-state key, `wasm.` prefix included.
    pub filter_state_key: String,
}

impl AccessLogger {
    /// A logger for `%FILTER_STATE(<key>:PLAIN)%`.
    pub fn filter_state(key: impl Into<String>) -> Self {
        Self {
            filter_state_key: key.into(),
        }
    }
}

impl Vm {
    /// Runs the access loggers on the live stream's filter state, in order: each whose key
    /// exists appends the value to the outcome and to the VM's record list.
    pub(crate) fn write_access_logs(&mut self, out: &mut ExchangeOutcome) {
        let st = self.store.data_mut();
        if st.cfg.access_log_keys.is_empty() {
            return;
        }
        let Some(stream) = st.stream.as_ref() else {
            return;
        };
        for key in &st.cfg.access_log_keys {
            if let Some(v) = stream.filter_state(key) {
                out.access_log.push(v.to_vec());
                st.access_log.push(v.to_vec());
            }
        }
    }

    /// Access-log records written so far (see [`AccessLogger`]).
    pub fn access_log(&self) -> &[Vec<u8>] {
        &self.store.data().access_log
    }

    /// Takes the access-log records written so far.
    pub fn take_access_log(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.store.data_mut().access_log)
    }
}
