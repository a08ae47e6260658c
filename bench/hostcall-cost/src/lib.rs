//! # vigil-bench-hostcall-cost: a proxy-wasm filter that prices hostcalls
//!
//! Per request it makes the calls its plugin configuration names (see [`probe`] for the
//! JSON), in the callbacks the configuration names, through raw non-panicking hostcalls
//! ([`raw`]), and does nothing else:
//!
//! - one kind, `n` calls: running it in Envoy with `n = 0` and `n = N` and dividing the
//!   difference in Envoy CPU per request by `N` prices one call (`scripts/bench --probe`);
//! - a sequence of steps: exactly the hostcalls Vigil makes per request, in the same
//!   callbacks, with the same sizes, none of Vigil's own work: the floor Vigil is measured
//!   against (`scripts/bench`'s `floor_*` variants).
//!
//! The status and answer size of the first call of each step are published once as gauges,
//! `probe.status` and `probe.bytes` for the one-kind form, `probe.step.<i>.status` and
//! `probe.step.<i>.bytes` for a sequence (`wasmcustom.probe.*` on Envoy's `/stats`), so a run
//! shows whether the calls did what was meant (`0` = Ok, `1` = NotFound, ...); gauges hold
//! `status + 1` so an unset gauge (0) reads as "never called".
//!
//! Build: `cargo build --release --target wasm32-wasip1 -p vigil-bench-hostcall-cost`.

pub mod probe;
pub mod raw;

use std::cell::Cell;
use std::rc::Rc;

use probe::{filler, header_in_pairs, Call, Phase, Probe, DEFAULT_SHARED_KEY};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use raw::Answer;

#[allow(unsafe_code)]
mod entry {
    proxy_wasm::main! {{
        proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Trace);
        proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
            Box::new(crate::ProbeRoot::default())
        });
    }}
}

/// The gauges of one step, and whether they were set.
#[derive(Debug, Default)]
struct Gauges {
    status: Option<u32>,
    bytes: Option<u32>,
    recorded: Cell<bool>,
}

/// What every request context of a VM shares.
#[derive(Debug, Default)]
struct Shared {
    probe: Probe,
    counter: u32,
    gauges: Vec<Gauges>,
    wants_method: bool,
}

/// Root context: parses the configuration, defines the metrics, sets the shared keys.
#[derive(Debug, Default)]
pub struct ProbeRoot {
    shared: Rc<Shared>,
}

impl Context for ProbeRoot {}

impl RootContext for ProbeRoot {
    fn on_configure(&mut self, size: usize) -> bool {
        let (answer, bytes) = config_bytes(size);
        let probe = match (answer.status, Probe::parse(&bytes)) {
            (raw::OK, Ok(p)) => p,
            (1, _) if size == 0 => Probe::default(),
            (raw::OK, Err(e)) => {
                raw::log(4, format!("probe: {e}").as_bytes());
                return false;
            }
            (s, _) => {
                raw::log(
                    4,
                    format!("probe: configuration unreadable (status {s})").as_bytes(),
                );
                return false;
            }
        };
        raw::shared_set(DEFAULT_SHARED_KEY.as_bytes(), &filler(8), 0);
        for step in &probe.steps {
            match &step.call {
                Call::GetShared(k) => raw::shared_set(k, &filler(8), 0),
                Call::SetShared(k, v) | Call::CasShared(k, v) => raw::shared_set(k, v, 0),
                _ => continue,
            };
        }
        let gauges = (0..probe.steps.len())
            .map(|i| {
                let name = |what: &str| match probe.sequence {
                    true => format!("probe.step.{i}.{what}"),
                    false => format!("probe.{what}"),
                };
                Gauges {
                    status: raw::define_metric(1, &name("status")),
                    bytes: raw::define_metric(1, &name("bytes")),
                    recorded: Cell::new(false),
                }
            })
            .collect();
        self.shared = Rc::new(Shared {
            wants_method: probe.wants_method(),
            probe,
            counter: raw::define_metric(0, "probe.counter").unwrap_or(0),
            gauges,
        });
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(ProbeHttp {
            shared: Rc::clone(&self.shared),
            method: None,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Reads the plugin configuration (buffer type 7) without the SDK's panicking wrapper.
fn config_bytes(size: usize) -> (Answer, Vec<u8>) {
    if size == 0 {
        return (
            Answer {
                status: 1,
                bytes: 0,
            },
            Vec::new(),
        );
    }
    raw::buffer_bytes_owned(7, 0, size)
}

/// Per-request context: makes the calls of the steps in each callback.
struct ProbeHttp {
    shared: Rc<Shared>,
    /// The request's `:method`, when a step needs it (from the request header pairs).
    method: Option<Vec<u8>>,
}

impl ProbeHttp {
    fn run(&mut self, phase: Phase, body_size: usize) {
        let shared = Rc::clone(&self.shared);
        for (i, step) in shared.probe.steps.iter().enumerate() {
            if step.phase != phase || step.n == 0 {
                continue;
            }
            if let Some(m) = &step.if_method {
                if self.method.as_ref() != Some(m) {
                    continue;
                }
            }
            let first = if shared.wants_method && shared.probe.is_method_source(i) {
                let (answer, pairs) = raw::header_pairs_owned(0);
                self.method = header_in_pairs(&pairs, b":method").map(<[u8]>::to_vec);
                answer
            } else {
                one(&step.call, shared.counter, body_size)
            };
            for _ in 1..step.n {
                one(&step.call, shared.counter, body_size);
            }
            let g = &shared.gauges[i];
            if !g.recorded.replace(true) {
                if let Some(id) = g.status {
                    raw::record_metric(id, u64::from(first.status) + 1);
                }
                if let Some(id) = g.bytes {
                    raw::record_metric(id, first.bytes);
                }
            }
        }
    }
}
/// Makes one call (two for `cas_shared_data`).
fn one(call: &Call, counter: u32, body_size: usize) -> Answer {
    match call {
        Call::None => Answer {
            status: 0,
            bytes: 0,
        },
        Call::GetProperty(path) => raw::property(path),
        Call::GetHeader(map, name) => raw::header_value(*map, name),
        Call::GetPairs(map) => raw::header_pairs(*map),
        Call::SetProperty(path, value) => raw::set_property(path, value),
        Call::GetShared(key) => raw::shared_get(key).0,
        Call::SetShared(key, value) => raw::shared_set(key, value, 0),
        Call::CasShared(key, value) => {
            let (got, cas) = raw::shared_get(key);
            match got.status {
                raw::OK => raw::shared_set(key, value, cas),
                _ => got,
            }
        }
        Call::IncrementMetric => raw::increment_metric(counter, 1),
        Call::Log(level, msg) => raw::log(*level, msg),
        Call::Time => raw::time(),
        Call::LogLevel => raw::log_level(),
        Call::RequestBody => raw::buffer_bytes(0, 0, body_size),
    }
}

impl Context for ProbeHttp {}

impl HttpContext for ProbeHttp {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        self.run(Phase::RequestHeaders, 0);
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, _: bool) -> Action {
        self.run(Phase::RequestBody, body_size);
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        self.run(Phase::ResponseHeaders, 0);
        Action::Continue
    }

    fn on_log(&mut self) {
        self.run(Phase::Log, 0);
    }
}
