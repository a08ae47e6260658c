//! One stream: hands what the hooks see to the engine, and the engine's events to the sinks,
//! exactly as the wasm build's HTTP context does (`plugin/src/filter.rs`).
//!
//! Nothing here ever stops or alters traffic: every hook returns `Continue`. A stream whose
//! hook panicked is skipped for the rest of its life ([`Filter::after_panic`]).
#![forbid(unsafe_code)]

use crate::config::{worker_for, Config, ModuleCounter, Worker, TEST_PANIC_PATH};
use crate::exchange::{now_ns, ModuleExchange};
use crate::ffi::{HeaderMap, Stream};
use crate::store::{ProcessStore, StoreRef};
use std::rc::Rc;
use std::sync::Arc;
use vigil_policies::metrics::{Metric, Metrics};
use vigil_policies::RequestState;

/// The module's per-stream object.
pub struct Filter {
    config: Arc<Config>,
    state: Option<RequestState>,
    start_ns: u64,
    /// A hook panicked: do nothing more on this stream.
    broken: bool,
}

/// [`Metrics`] over the module's counters: an atomic add in Envoy, no batching needed.
pub struct Count<'a, 'hook> {
    config: &'a Config,
    stream: &'a Stream<'hook>,
}

impl Metrics for Count<'_, '_> {
    fn add(&mut self, metric: Metric, n: u64) {
        if let Some(id) = self.config.counter(metric) {
            let _ = self.stream.increment_counter(id, n);
        }
    }
}

impl Filter {
    /// A new stream of `config`.
    pub fn new(config: Arc<Config>) -> Filter {
        Filter {
            config,
            state: None,
            start_ns: now_ns(),
            broken: false,
        }
    }

    /// This thread's engine and chains, for the running hook only (the filter keeps none:
    /// it holds nothing thread-bound, whichever thread Envoy destroys it on).
    fn worker(&self) -> Rc<Worker> {
        worker_for(&self.config)
    }

    fn skip(&self) -> bool {
        self.broken || crate::abi_check::stood_down()
    }

    /// Request headers: the engine keeps what events need and decides on the body scan.
    pub fn on_request_headers(&mut self, stream: &Stream<'_>) {
        if self.skip() {
            return;
        }
        if self.config.test_panic {
            test_panic(stream);
        }
        let worker = self.worker();
        let engine = &worker.engine;
        let mut x = ModuleExchange {
            stream,
            start_ns: self.start_ns,
        };
        self.state = Some(engine.on_request_headers(&mut x));
    }

    /// A request body chunk: copies only what the login scanner still wants (never the
    /// request: Envoy forwards the chunk as soon as the hook returns).
    pub fn on_request_body(&mut self, stream: &Stream<'_>) {
        if self.skip() {
            return;
        }
        if let Some(scan) = self.state.as_mut().and_then(|s| s.scanner.as_mut()) {
            let (head, len) = stream.request_chunk_head(scan.wants());
            scan.feed(&head, len);
        }
    }

    /// Response headers: `:status`.
    pub fn on_response_headers(&mut self, stream: &Stream<'_>) {
        if self.skip() {
            return;
        }
        let worker = self.worker();
        let engine = &worker.engine;
        let st = self.state.get_or_insert_with(RequestState::default);
        let mut x = ModuleExchange {
            stream,
            start_ns: self.start_ns,
        };
        engine.on_response_headers(&mut x, st);
    }

    /// Response trailers: a gRPC status sent after the messages.
    pub fn on_response_trailers(&mut self, stream: &Stream<'_>) {
        if self.skip() {
            return;
        }
        let worker = self.worker();
        let engine = &worker.engine;
        let Some(st) = self.state.as_mut() else {
            return;
        };
        let mut x = ModuleExchange {
            stream,
            start_ns: self.start_ns,
        };
        engine.on_response_trailers(&mut x, st);
    }

    /// End of stream (before the access loggers): classify, count, deliver.
    pub fn on_stream_complete(&mut self, stream: &Stream<'_>) {
        if self.broken {
            return;
        }
        crate::abi_check::check_once(&self.config, stream);
        if crate::abi_check::stood_down() {
            return;
        }
        let worker = self.worker();
        let engine = &worker.engine;
        let mut x = ModuleExchange {
            stream,
            start_ns: self.start_ns,
        };
        let mut count = Count {
            config: &self.config,
            stream,
        };
        let events = engine.on_log(
            &mut x,
            self.state.as_ref(),
            &mut StoreRef(ProcessStore::global()),
            &mut count,
        );
        crate::sinks::deliver(&self.config, &worker, &events, stream, &mut count);
    }

    /// A hook of this stream panicked (already caught): count it and skip the stream.
    pub fn after_panic(&mut self, stream: &Stream<'_>) {
        self.broken = true;
        let _ = stream.increment_counter(self.config.module_counter(ModuleCounter::Panics), 1);
    }
}

/// The test-only panic switch (armed by `VIGIL_MODULE_TEST_PANIC=1` in Envoy's environment).
#[allow(clippy::panic)]
fn test_panic(stream: &Stream<'_>) {
    let path = stream
        .header(HeaderMap::Request, ":path")
        .unwrap_or_default();
    if path
        .windows(TEST_PANIC_PATH.len())
        .any(|w| w == TEST_PANIC_PATH)
    {
        panic!("vigil test panic (VIGIL_MODULE_TEST_PANIC)");
    }
}
