//! Driving one HTTP exchange through a VM: Envoy's request headers, the stream callbacks
//! in Envoy's order, and the outcome.

use std::collections::BTreeMap;

use crate::abi::{Action, LogLevel};
use crate::error::HarnessError;
use crate::state::{LocalResponse, LogEntry, Stage, Stream};
use crate::traffic::{Exchange, Header};
use crate::vm::Vm;

/// What happened during one exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangeOutcome {
    /// Stream context id used.
    pub context_id: u32,
    /// Action of `on_request_headers` (None: not called).
    pub request_headers: Option<Action>,
    /// Action of `on_request_body`.
    pub request_body: Option<Action>,
    /// Action of `on_response_headers`.
    pub response_headers: Option<Action>,
    /// Action of `on_response_body`.
    pub response_body: Option<Action>,
    /// Local responses the plugin sent during the exchange.
    pub local_responses: Vec<LocalResponse>,
    /// Log lines emitted during the exchange.
    pub logs: Vec<LogEntry>,
    /// Security events (info lines starting with `{`) emitted during the exchange.
    pub events: Vec<String>,
    /// Set if the VM failed (trap now or earlier); Envoy would fail the stream.
    pub vm_failed: Option<String>,
}

/// Is this log line a Vigil security event?
pub fn is_event(e: &LogEntry) -> bool {
    e.level == LogLevel::Info && e.message.starts_with('{')
}

impl Vm {
    fn request_headers(&mut self, x: &Exchange) -> Vec<Header> {
        let r = &x.request;
        let host = r
            .headers
            .iter()
            .find(|(k, _)| k == "host" || k == ":authority")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mut h: Vec<Header> = vec![
            (":authority".into(), host),
            (":path".into(), r.path.clone().into_bytes()),
            (":method".into(), r.method.clone().into_bytes()),
            (":scheme".into(), r.scheme.clone().into_bytes()),
        ];
        h.extend(
            r.headers
                .iter()
                .filter(|(k, _)| !k.starts_with(':') && k != "host")
                .cloned(),
        );
        if !h.iter().any(|(k, _)| k == "x-forwarded-proto") {
            h.push(("x-forwarded-proto".into(), r.scheme.clone().into_bytes()));
        }
        if !h.iter().any(|(k, _)| k == "x-request-id") {
            let id = self.store.data_mut().new_request_id();
            h.push(("x-request-id".into(), id.into_bytes()));
        }
        h
    }

    /// Drives one full request lifecycle (clock set to `exchange.time_ns` first, firing
    /// due ticks). A trap is reported in [`ExchangeOutcome::vm_failed`], not as `Err`.
    pub fn run(&mut self, x: &Exchange) -> Result<ExchangeOutcome, HarnessError> {
        if !self.started {
            return Err(HarnessError::NotStarted);
        }
        let log_start = self.store.data().logs.len();
        let lr_start = self.store.data().local_responses.len();
        let mut out = ExchangeOutcome::default();
        if self.failed.is_none() {
            let now = self.store.data().now_ns;
            let period = u64::from(self.store.data().tick_period_ms) * 1_000_000;
            // A first exchange (clock never set) or a gap of many periods moves the clock
            // without replaying every missed tick (the timer is re-armed from then on).
            if now == 0 || x.time_ns <= now || x.time_ns - now > period.saturating_mul(1000) {
                self.set_time(x.time_ns);
            } else {
                // Ticks due before the request fire first; a trap there fails the VM.
                let _ = self.advance_time(x.time_ns - now);
            }
        }
        if self.failed.is_none() {
            let _ = self.drive(x, &mut out);
        }
        out.vm_failed = self.failed.clone();
        let st = self.store.data();
        out.logs = st.logs[log_start.min(st.logs.len())..].to_vec();
        out.events = out
            .logs
            .iter()
            .filter(|e| is_event(e))
            .map(|e| e.message.clone())
            .collect();
        out.local_responses = st.local_responses[lr_start.min(st.local_responses.len())..].to_vec();
        Ok(out)
    }

    fn drive(&mut self, x: &Exchange, out: &mut ExchangeOutcome) -> Result<(), HarnessError> {
        let ctx = self.next_context;
        self.next_context += 1;
        let root = self.store.data().root_context_id as i32;
        let c = ctx as i32;
        out.context_id = ctx;
        let headers = self.request_headers(x);
        self.store.data_mut().stream = Some(Stream {
            id: ctx,
            x: x.clone(),
            stage: Stage::Request,
            request_seen: false,
            request_headers: headers,
            request_trailers: None,
            response_headers: None,
            response_trailers: None,
            request_body: None,
            response_body: None,
            filter_state: BTreeMap::new(),
        });
        let r = self.drive_stream(x, out, ctx, c, root);
        // Envoy cancels a context's pending callouts when it is destroyed.
        let st = self.store.data_mut();
        st.http_calls.retain(|_, p| p.context_id != ctx);
        st.stream = None;
        r
    }

    fn stream_mut(&mut self) -> Option<&mut Stream> {
        self.store.data_mut().stream.as_mut()
    }

    fn drive_stream(
        &mut self,
        x: &Exchange,
        out: &mut ExchangeOutcome,
        ctx: u32,
        c: i32,
        root: i32,
    ) -> Result<(), HarnessError> {
        let ex = self.ex.clone();
        self.call(
            "proxy_on_context_create",
            ctx,
            ex.on_context_create,
            (c, root),
        )?;
        let rq = &x.request;
        if !x.envoy.skip_request_callbacks {
            let n = self.stream_mut().map_or(0, |s| {
                s.request_seen = true;
                s.request_headers.len()
            }) as i32;
            let eos = i32::from(rq.body.is_empty() && rq.trailers.is_empty());
            out.request_headers = self
                .call(
                    "proxy_on_request_headers",
                    ctx,
                    ex.on_request_headers,
                    (c, n, eos),
                )?
                .map(Action::from_i32);
            if !rq.body.is_empty() {
                if let Some(s) = self.stream_mut() {
                    s.request_body = Some(rq.body.clone());
                }
                let eos = i32::from(rq.trailers.is_empty());
                let len = rq.body.len() as i32;
                out.request_body = self
                    .call(
                        "proxy_on_request_body",
                        ctx,
                        ex.on_request_body,
                        (c, len, eos),
                    )?
                    .map(Action::from_i32);
                if let Some(s) = self.stream_mut() {
                    s.request_body = None;
                }
            }
            if !rq.trailers.is_empty() {
                if let Some(s) = self.stream_mut() {
                    s.request_trailers = Some(rq.trailers.clone());
                }
                let n = rq.trailers.len() as i32;
                self.call(
                    "proxy_on_request_trailers",
                    ctx,
                    ex.on_request_trailers,
                    (c, n),
                )?;
            }
        }
        let rs = &x.response;
        let mut rh: Vec<Header> = vec![(":status".into(), rs.status.to_string().into_bytes())];
        rh.extend(rs.headers.iter().filter(|(k, _)| k != ":status").cloned());
        let n = rh.len() as i32;
        if let Some(s) = self.stream_mut() {
            s.stage = Stage::Response;
            s.response_headers = Some(rh);
        }
        let eos = i32::from(rs.body.is_empty() && rs.trailers.is_empty());
        out.response_headers = self
            .call(
                "proxy_on_response_headers",
                ctx,
                ex.on_response_headers,
                (c, n, eos),
            )?
            .map(Action::from_i32);
        if !rs.body.is_empty() {
            if let Some(s) = self.stream_mut() {
                s.response_body = Some(rs.body.clone());
            }
            let eos = i32::from(rs.trailers.is_empty());
            let len = rs.body.len() as i32;
            out.response_body = self
                .call(
                    "proxy_on_response_body",
                    ctx,
                    ex.on_response_body,
                    (c, len, eos),
                )?
                .map(Action::from_i32);
            if let Some(s) = self.stream_mut() {
                s.response_body = None;
            }
        }
        if !rs.trailers.is_empty() {
            if let Some(s) = self.stream_mut() {
                s.response_trailers = Some(rs.trailers.clone());
            }
            let n = rs.trailers.len() as i32;
            self.call(
                "proxy_on_response_trailers",
                ctx,
                ex.on_response_trailers,
                (c, n),
            )?;
        }
        if let Some(s) = self.stream_mut() {
            s.stage = Stage::Log;
        }
        self.call("proxy_on_log", ctx, ex.on_log, c)?;
        self.call("proxy_on_done", ctx, ex.on_done, c)?;
        self.call("proxy_on_delete", ctx, ex.on_delete, c)?;
        Ok(())
    }
}
