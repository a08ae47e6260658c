//! # vigil-bench-hostcall-cost: a proxy-wasm filter that prices one hostcall kind
//!
//! Per request it makes `n` calls of the one kind its plugin configuration names (see
//! [`probe`] for the JSON), in the callback the configuration names, through raw
//! non-panicking hostcalls ([`raw`]). Running it in Envoy with `n = 0` and `n = N` and
//! dividing the difference in Envoy CPU per request by `N` prices one call
//! (`scripts/bench --probe`).
//!
//! The status and answer size of the first call it makes are published once as gauges,
//! `probe.status` and `probe.bytes` (`wasmcustom.probe.*` on Envoy's `/stats`), so a run
//! shows whether the call did what was meant (`0` = Ok, `1` = NotFound, ...); gauges hold
//! `status + 1` so an unset gauge (0) reads as "never called".
//!
//! Build: `cargo build --release --target wasm32-wasip1 -p vigil-bench-hostcall-cost`.

pub mod probe;
pub mod raw;

use std::cell::Cell;
use std::rc::Rc;

use probe::{Call, Phase, Probe, DEFAULT_SHARED_KEY};
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

/// What every request context of a VM shares.
#[derive(Debug, Default)]
struct Shared {
    probe: Probe,
    counter: u32,
    status_gauge: Option<u32>,
    bytes_gauge: Option<u32>,
    recorded: Cell<bool>,
}

/// Root context: parses the configuration, defines the metrics, sets the shared key.
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
        if let Call::GetShared(k) | Call::SetShared(k, _) | Call::CasShared(k, _) = &probe.call {
            raw::shared_set(k, b"12345678", 0);
        } else {
            raw::shared_set(DEFAULT_SHARED_KEY.as_bytes(), b"12345678", 0);
        }
        self.shared = Rc::new(Shared {
            probe,
            counter: raw::define_metric(0, "probe.counter").unwrap_or(0),
            status_gauge: raw::define_metric(1, "probe.status"),
            bytes_gauge: raw::define_metric(1, "probe.bytes"),
            recorded: Cell::new(false),
        });
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(ProbeHttp {
            shared: Rc::clone(&self.shared),
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

/// Per-request context: makes the calls in the configured phase.
struct ProbeHttp {
    shared: Rc<Shared>,
}

impl ProbeHttp {
    fn run(&self, phase: Phase, body_size: usize) {
        let s = &*self.shared;
        if s.probe.phase != phase || s.probe.n == 0 {
            return;
        }
        let first = one(&s.probe.call, s.counter, body_size);
        for _ in 1..s.probe.n {
            one(&s.probe.call, s.counter, body_size);
        }
        if !s.recorded.replace(true) {
            if let Some(g) = s.status_gauge {
                raw::record_metric(g, u64::from(first.status) + 1);
            }
            if let Some(g) = s.bytes_gauge {
                raw::record_metric(g, first.bytes);
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
