//! The proxy-wasm contexts: a root context that loads the policy, and an HTTP context per
//! request that hands what it sees to the engine.
//!
//! No callback ever stops or alters traffic: every one returns `Continue`, and nothing is
//! ever sent to the client. Events are written with `proxy_log` at level info, one JSON
//! object per line; everything else Vigil says is at warn or error.

use crate::host::{HostExchange, HostMetrics, HostStore};
use crate::hostcalls::{self, Buffer, Level};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;
use vigil_policies::metrics::{Metric, Metrics};
use vigil_policies::{Engine, Policy, RequestState};

/// What every HTTP context of a root shares.
struct Shared {
    engine: Engine,
    metrics: RefCell<HostMetrics>,
}

/// The root context: one per worker and plugin.
#[derive(Default)]
pub struct VigilRoot {
    shared: Option<Rc<Shared>>,
}

fn random_seed() -> u64 {
    // std's RandomState is seeded from the host's random source (WASI random_get).
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5669_6769_6c21);
    h.finish()
}

impl Context for VigilRoot {}

impl RootContext for VigilRoot {
    fn on_configure(&mut self, size: usize) -> bool {
        let config = hostcalls::buffer(Buffer::PluginConfiguration, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        let policy = match Policy::from_json(&config) {
            Ok(p) => p,
            Err(e) => {
                hostcalls::log(Level::Error, &format!("vigil: invalid configuration: {e}"));
                return false;
            }
        };
        let (engine, warnings) = Engine::new(policy, |k| std::env::var(k).ok(), random_seed());
        for w in warnings {
            hostcalls::log(Level::Warn, &format!("vigil: {w}"));
        }
        engine.init_shared(&mut HostStore);
        self.shared = Some(Rc::new(Shared {
            engine,
            metrics: RefCell::new(HostMetrics::define()),
        }));
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let shared = self.shared.clone()?;
        Some(Box::new(VigilHttp {
            shared,
            state: None,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request.
struct VigilHttp {
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

    fn on_log(&mut self) {
        let Ok(mut metrics) = self.shared.metrics.try_borrow_mut() else {
            return;
        };
        let lines = self.shared.engine.on_log(
            &mut HostExchange,
            self.state.as_ref(),
            &mut HostStore,
            &mut *metrics,
        );
        if lines.is_empty() {
            return;
        }
        // Events are info lines: if the host drops info, count what is lost.
        let level = hostcalls::log_level().unwrap_or(Level::Info as u32);
        for line in &lines {
            if level > Level::Info as u32 {
                metrics.add(Metric::EventsSuppressed, 1);
            } else if hostcalls::log(Level::Info, line) != hostcalls::OK {
                metrics.add(Metric::EventsFailed, 1);
            }
        }
    }
}
