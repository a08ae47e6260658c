//! Driving one HTTP exchange through a VM: Envoy's request headers, the stream callbacks
//! in Envoy's order, and the outcome.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::abi::{Action, LogLevel};
use crate::error::HarnessError;
use crate::failure::{FailurePolicy, HostReply, RELOAD_BACKOFF_NS};
use crate::pause::Flow;
use crate::state::{Body, LocalResponse, LogEntry, Stage, Stream};
use crate::stream_headers;
use crate::traffic::{Exchange, RejectedBy, SharedExchange};
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
    /// The plugin paused the request and neither resumed it nor replied, with no callout
    /// answer left in the traffic: Envoy would hold the request until a timeout or the
    /// client gives up; the harness ends it there (`on_log` without a response).
    pub stalled: bool,
    /// Set if the VM failed (trap now or earlier) and was not reloaded.
    pub vm_failed: Option<String>,
    /// Envoy's own reply because the plugin failed: the 503 `wasm_fail_stream` of a stream
    /// whose callback trapped before its response started, or of a later request under
    /// `FAIL_CLOSED` (or within `FAIL_RELOAD`'s backoff). See [`crate::failure`].
    pub host_reply: Option<crate::failure::HostReply>,
    /// The request went on without the plugin (`FAIL_OPEN` after a failure).
    pub bypassed: bool,
    /// The failed VM was replaced by a fresh one before this request (`FAIL_RELOAD`).
    pub reloaded: bool,
    /// Records the access loggers wrote ([`crate::VmOptions::access_loggers`]), in logger
    /// order: each the bytes of one filter-state value.
    pub access_log: Vec<Vec<u8>>,
    /// Every callback into the plugin during the exchange, in order (empty unless
    /// [`crate::VmOptions::trace`] is on).
    pub trace: Vec<crate::trace::Callback>,
    /// HTTP callouts the plugin dispatched during the exchange and left unanswered (they
    /// belong to the root context: answer them with [`Vm::respond_http_call`]).
    pub pending_callouts: Vec<crate::state::PendingHttpCall>,
    /// `proxy_continue_stream` / `proxy_close_stream` calls during the exchange.
    pub stream_controls: Vec<String>,
    /// Hostcalls made by the stream's callbacks, by name or `name argument` (see
    /// [`crate::counting`]); empty unless [`crate::VmOptions::count_hostcalls`] is on.
    pub hostcalls: BTreeMap<String, u64>,
}

/// Is this log line a Vigil security event?
pub fn is_event(e: &LogEntry) -> bool {
    e.level == LogLevel::Info && vigil_policies::envoy::is_event_message(&e.message)
}

impl Vm {
    /// Drives one full request lifecycle (clock set to `exchange.time_ns` first, firing
    /// due ticks). A trap is reported in [`ExchangeOutcome::vm_failed`], not as `Err`.
    ///
    /// Takes `&Exchange` (copied once) or an `Arc<Exchange>` (shared, no copy).
    pub fn run(&mut self, x: impl SharedExchange) -> Result<ExchangeOutcome, HarnessError> {
        let x = x.into_shared();
        if !self.started {
            return Err(HarnessError::NotStarted);
        }
        let log_start = self.store.data().logs.len();
        let lr_start = self.store.data().local_responses.len();
        let sc_start = self.store.data().stream_controls.len();
        let trace_start = self.trace.as_ref().map_or(0, Vec::len);
        let mut out = ExchangeOutcome::default();
        if self.failed.is_some() {
            self.apply_failure_policy(x.time_ns, &mut out);
        }
        let failed_before = self.failed.is_some();
        let codec_rejected = x.envoy.rejected_by == Some(RejectedBy::Codec);
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
            self.store.data_mut().counters.reset();
            let _ = self.drive(x, &mut out);
            let c = &self.store.data().counters;
            if c.enabled {
                out.hostcalls = c.snapshot();
            }
        }
        if !failed_before
            && self.failed.is_some()
            && self
                .failed_callback
                .as_deref()
                .is_some_and(crate::failure::trap_gets_reply)
            && !codec_rejected
        {
            out.host_reply = Some(HostReply::wasm_fail_stream());
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
        out.stream_controls = st.stream_controls[sc_start.min(st.stream_controls.len())..].to_vec();
        let ctx = out.context_id;
        out.pending_callouts = st
            .http_calls
            .values()
            .filter(|p| p.context_id == ctx)
            .cloned()
            .collect();
        out.pending_callouts.sort_by_key(|p| p.token);
        if let Some(t) = &self.trace {
            out.trace = t[trace_start.min(t.len())..].to_vec();
        }
        Ok(out)
    }

    /// A request reaches a failed VM: Envoy's failure policy decides (see [`crate::failure`]).
    fn apply_failure_policy(&mut self, now_ns: u64, out: &mut ExchangeOutcome) {
        match self.opts.failure_policy {
            FailurePolicy::FailClosed => out.host_reply = Some(HostReply::wasm_fail_stream()),
            FailurePolicy::FailOpen => out.bypassed = true,
            FailurePolicy::FailReload => {
                // Envoy: backoff from the worker's last load (start or reload attempt), not
                // from the trap (`PluginConfig::maybeReloadHandleIfNeeded`).
                if now_ns < self.loaded_at_ns.saturating_add(RELOAD_BACKOFF_NS) {
                    self.reload_stats.backoff += 1;
                    out.host_reply = Some(HostReply::wasm_fail_stream());
                    return;
                }
                self.store.data_mut().now_ns = now_ns;
                let reloaded = matches!(self.reload(), Ok(true));
                // Envoy stamps the attempt, whatever its outcome.
                self.loaded_at_ns = now_ns;
                if reloaded {
                    self.reload_stats.success += 1;
                    out.reloaded = true;
                } else {
                    self.reload_stats.failure += 1;
                    if self.failed.is_none() {
                        self.failed = Some("reload failed".into());
                    }
                    self.loaded_at_ns = now_ns;
                    out.host_reply = Some(HostReply::wasm_fail_stream());
                }
            }
        }
    }

    fn drive(&mut self, x: Arc<Exchange>, out: &mut ExchangeOutcome) -> Result<(), HarnessError> {
        let ctx = self.next_context;
        self.next_context += 1;
        let root = self.store.data().root_context_id as i32;
        let c = ctx as i32;
        out.context_id = ctx;
        // A request Envoy's codec rejected has no headers (the harness invents none; in
        // `on_log` the request map exists and is empty), and Envoy creates its filter context
        // only to log the local reply: `response.*` is set at context creation, and there are
        // no response callbacks (verified with the conformance probe).
        let codec_rejected = x.envoy.rejected_by == Some(RejectedBy::Codec);
        let headers = if codec_rejected {
            Vec::new()
        } else {
            stream_headers::request_headers(self.store.data_mut(), &x)
        };
        let response_headers = if codec_rejected {
            Some(stream_headers::response_headers(self.store.data_mut(), &x))
        } else {
            None
        };
        self.store.data_mut().stream = Some(Stream {
            id: ctx,
            x: Arc::clone(&x),
            stage: if codec_rejected {
                Stage::Response
            } else {
                Stage::Request
            },
            request_seen: false,
            codec_rejected,
            request_live: false,
            response_live: false,
            request_headers: headers,
            request_trailers: None,
            response_headers,
            response_trailers: None,
            request_body: Body::Closed,
            response_body: Body::Closed,
            filter_state: Vec::new(),
            resumed_request: false,
            local_reply: None,
            received: 0,
            // A codec rejection's reply went out before the filter existed.
            sent: if codec_rejected {
                x.response.body.len()
            } else {
                0
            },
        });
        let mut r = self.drive_stream(&x, out, ctx, c, root);
        // The HCM's access loggers run once the filters' `on_log` has run, or when the
        // stream ends early (a trap fails it), before `on_done`/`on_delete`.
        self.write_access_logs(out);
        if r.is_ok() {
            let ex = Arc::clone(&self.ex);
            r = self
                .call("proxy_on_done", ctx, ex.on_done.as_ref(), c)
                .and_then(|_| self.call("proxy_on_delete", ctx, ex.on_delete.as_ref(), c))
                .map(|_| ());
        }
        // A callout belongs to the root context: it outlives the stream.
        let st = self.store.data_mut();
        if let Some(s) = st.stream.take() {
            stream_headers::recycle(st, s.request_headers, s.response_headers);
        }
        r
    }

    fn stream_mut(&mut self) -> Option<&mut Stream> {
        self.store.data_mut().stream.as_mut()
    }

    /// Delivers a body as Envoy does (measured with the conformance probe): from a codec (the
    /// client's request, an upstream's response), each chunk with `end_of_stream` false,
    /// then, when no trailers follow, an empty call with `end_of_stream` true; a local
    /// reply's body (`split` false) in one call that ends the stream. Returns the first
    /// call's action.
    fn deliver_body(
        &mut self,
        ctx: u32,
        c: i32,
        request: bool,
        chunks: &[usize],
        last: bool,
        split: bool,
    ) -> Result<Option<Action>, HarnessError> {
        let ex = Arc::clone(&self.ex);
        let (name, f) = if request {
            ("proxy_on_request_body", ex.on_request_body.as_ref())
        } else {
            ("proxy_on_response_body", ex.on_response_body.as_ref())
        };
        let set = |vm: &mut Self, b: Body| {
            if let Some(s) = vm.stream_mut() {
                if request {
                    s.request_body = b;
                } else {
                    s.response_body = b;
                }
            }
        };
        let mut first = None;
        let mut at = 0;
        for (i, len) in chunks.iter().enumerate() {
            set(self, Body::Original(at..at + len));
            // A request chunk has been received when the plugin sees it; a response chunk
            // is sent after (verified: conformance probe, `request.size`/`response.size`).
            if let Some(s) = self.stream_mut() {
                if request {
                    s.received = at + len;
                } else {
                    s.sent = at;
                }
            }
            at += len;
            let eos = i32::from(last && !split && i + 1 == chunks.len());
            let action = self
                .call(name, ctx, f, (c, *len as i32, eos))?
                .map(Action::from_i32);
            if i == 0 {
                first = action;
            }
        }
        if last && split {
            set(self, Body::Modified(Vec::new()));
            if let Some(s) = self.stream_mut().filter(|_| !request) {
                s.sent = at;
            }
            self.call(name, ctx, f, (c, 0, 1))?;
        }
        set(self, Body::Closed);
        if let Some(s) = self.stream_mut().filter(|_| !request) {
            s.sent = at;
        }
        Ok(first)
    }

    /// The response callbacks (headers, body, trailers), as a codec or a local reply
    /// delivers them.
    fn drive_response(
        &mut self,
        x: &Exchange,
        out: &mut ExchangeOutcome,
        ctx: u32,
        c: i32,
    ) -> Result<(), HarnessError> {
        let ex = Arc::clone(&self.ex);
        let rs = &x.response;
        let rh = stream_headers::response_headers(self.store.data_mut(), x);
        let n = rh.len() as i32;
        if let Some(s) = self.stream_mut() {
            s.stage = Stage::Response;
            s.response_headers = Some(rh);
            s.response_live = true;
        }
        let eos = i32::from(rs.body.is_empty() && rs.trailers.is_empty());
        out.response_headers = self
            .call(
                "proxy_on_response_headers",
                ctx,
                ex.on_response_headers.as_ref(),
                (c, n, eos),
            )?
            .map(Action::from_i32);
        if let Some(s) = self.stream_mut() {
            s.response_live = out.response_headers == Some(Action::Pause);
        }
        if !rs.body.is_empty() {
            // A local reply (a filter's, or any `code_details` but `via_upstream`): its body
            // comes in one call.
            let upstream = x.envoy.rejected_by.is_none()
                && x.envoy
                    .response_code_details
                    .as_deref()
                    .is_none_or(|d| d == "via_upstream");
            let one = [rs.body.len()];
            let chunks = if upstream { &rs.chunks[..] } else { &one[..] };
            out.response_body =
                self.deliver_body(ctx, c, false, chunks, rs.trailers.is_empty(), upstream)?;
        }
        if !rs.trailers.is_empty() {
            if let Some(s) = self.stream_mut() {
                s.response_trailers = Some(rs.trailers.clone());
            }
            let n = rs.trailers.len() as i32;
            self.call(
                "proxy_on_response_trailers",
                ctx,
                ex.on_response_trailers.as_ref(),
                (c, n),
            )?;
        }
        Ok(())
    }

    fn drive_stream(
        &mut self,
        x: &Arc<Exchange>,
        out: &mut ExchangeOutcome,
        ctx: u32,
        c: i32,
        root: i32,
    ) -> Result<(), HarnessError> {
        let ex = Arc::clone(&self.ex);
        self.call(
            "proxy_on_context_create",
            ctx,
            ex.on_context_create.as_ref(),
            (c, root),
        )?;
        let rq = &x.request;
        let codec = x.envoy.rejected_by == Some(RejectedBy::Codec);
        // A filter after this one answered: the plugin sees the body chunks the traffic gives
        // (none when the filter answered from the headers), never the trailers.
        let filter = x.envoy.rejected_by == Some(RejectedBy::Filter);
        let mut answered = 0;
        let mut flow = Flow::Go;
        if !codec {
            let n = self.stream_mut().map_or(0, |s| {
                s.request_seen = true;
                s.request_live = true;
                s.request_headers.len()
            }) as i32;
            let eos = i32::from(!stream_headers::request_has_body(rq));
            out.request_headers = self
                .call(
                    "proxy_on_request_headers",
                    ctx,
                    ex.on_request_headers.as_ref(),
                    (c, n, eos),
                )?
                .map(Action::from_i32);
            // Envoy clears `request_headers_` once iteration continues (a module without
            // the callback continues); after a Pause, once the plugin resumes.
            if let Some(s) = self.stream_mut() {
                s.request_live = out.request_headers == Some(Action::Pause);
            }
            flow = self.settle(x, out.request_headers, ctx, &mut answered)?;
            if flow == Flow::Go && !rq.body.is_empty() {
                // A filter's reply cuts the request short: the chunks it let through, and no
                // end of stream (verified: conformance probe, buffer filter's 413).
                let last = rq.trailers.is_empty() && !filter;
                out.request_body = self.deliver_body(ctx, c, true, &rq.chunks, last, true)?;
                flow = self.settle(x, out.request_body, ctx, &mut answered)?;
            }
            if flow == Flow::Go && !rq.trailers.is_empty() && !filter {
                if let Some(s) = self.stream_mut() {
                    s.request_trailers = Some(rq.trailers.clone());
                }
                let n = rq.trailers.len() as i32;
                let a = self
                    .call(
                        "proxy_on_request_trailers",
                        ctx,
                        ex.on_request_trailers.as_ref(),
                        (c, n),
                    )?
                    .map(Action::from_i32);
                flow = self.settle(x, a, ctx, &mut answered)?;
            }
            if flow == Flow::Go {
                // Callouts the plugin did not wait for are answered before the response.
                self.answer_callouts(x, ctx, &mut answered, false)?;
            }
        }
        // The response the plugin sees: the traffic's, or its own local reply's.
        let x = match flow {
            Flow::Replied => self.local_reply_exchange(x),
            _ => Arc::clone(x),
        };
        out.stalled = flow == Flow::Stalled;
        if !codec && flow != Flow::Stalled {
            self.drive_response(&x, out, ctx, c)?;
        }
        let closes = codec || stream_headers::client_closes(&x);
        if let Some(s) = self.stream_mut() {
            s.stage = Stage::Log;
            if let Some(resp) = s.response_headers.as_mut() {
                let routed = x.envoy.rejected_by.is_none();
                stream_headers::before_log(
                    &mut s.request_headers,
                    resp,
                    &x.envoy.request_headers_added,
                    routed && !codec,
                    closes,
                    x.time_ns,
                );
            }
        }
        self.call("proxy_on_log", ctx, ex.on_log.as_ref(), c)?;
        if let Some(s) = self.stream_mut() {
            s.stage = Stage::Done;
        }
        Ok(())
    }
}
