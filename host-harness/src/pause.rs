//! What happens when a plugin does not simply continue: a `Pause` holds the request until
//! the plugin resumes it or replies, its HTTP and gRPC callouts are answered (from the exchange's
//! `callouts`) while it waits, and a local reply ends the request and replaces the
//! upstream's response (verified with the conformance probe against Envoy 1.40).

use std::sync::Arc;

use crate::abi::Action;
use crate::error::HarnessError;
use crate::traffic::{Exchange, RejectedBy, Response};
use crate::vm::Vm;

/// Where a request stands after a request callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Iteration continues.
    Go,
    /// The plugin sent a local reply: the request is over, the reply is the response.
    Replied,
    /// Paused, and nothing left to wake it.
    Stalled,
}

impl Vm {
    fn replied(&self) -> bool {
        self.store
            .data()
            .stream
            .as_ref()
            .is_some_and(|s| s.local_reply.is_some())
    }

    /// After a request callback returned `action`: a local reply ends the request; a
    /// `Pause` waits, answering the plugin's callouts in order, until the plugin resumes
    /// the request (`proxy_continue_stream`) or replies.
    pub(crate) fn settle(
        &mut self,
        x: &Exchange,
        action: Option<Action>,
        ctx: u32,
        answered: &mut usize,
    ) -> Result<Flow, HarnessError> {
        if self.replied() {
            return Ok(Flow::Replied);
        }
        if action != Some(Action::Pause) {
            return Ok(Flow::Go);
        }
        if let Some(s) = self.store.data_mut().stream.as_mut() {
            s.resumed_request = false;
        }
        loop {
            if self.replied() {
                return Ok(Flow::Replied);
            }
            let resumed = self
                .store
                .data()
                .stream
                .as_ref()
                .is_some_and(|s| s.resumed_request);
            if resumed {
                // Envoy clears `request_headers_` when the plugin resumes.
                if let Some(s) = self.store.data_mut().stream.as_mut() {
                    s.request_live = false;
                }
                return Ok(Flow::Go);
            }
            if !self.answer_callouts(x, ctx, answered, true)? {
                return Ok(Flow::Stalled);
            }
        }
    }

    /// Answers the stream's pending callouts (oldest token first) from the exchange's
    /// `callouts`, one (`one`) or all; false when there was nothing to answer.
    pub(crate) fn answer_callouts(
        &mut self,
        x: &Exchange,
        ctx: u32,
        answered: &mut usize,
        one: bool,
    ) -> Result<bool, HarnessError> {
        let mut any = false;
        loop {
            let Some(answer) = x.callouts.get(*answered) else {
                return Ok(any);
            };
            // The stream's oldest callout, HTTP or gRPC, by dispatch order.
            let st = self.store.data();
            let http = st
                .http_calls
                .values()
                .filter(|p| p.context_id == ctx)
                .map(|p| (p.seq, p.token, false));
            let grpc = st
                .grpc_calls
                .values()
                .filter(|p| p.context_id == ctx)
                .map(|p| (p.seq, p.token, true));
            let Some((_, token, is_grpc)) = http.chain(grpc).min() else {
                return Ok(any);
            };
            *answered += 1;
            if is_grpc {
                self.respond_grpc_call(token, answer.clone())?;
            } else {
                self.respond_http_call(token, answer.clone())?;
            }
            any = true;
            if one || self.replied() {
                return Ok(true);
            }
        }
    }

    /// The exchange as the plugin's local reply made it: the reply is the response (its
    /// body in one call, Envoy's `content-length` and `content-type` added), its details
    /// are `response.code_details`, nothing went upstream (no flags, no router header).
    pub(crate) fn local_reply_exchange(&mut self, x: &Arc<Exchange>) -> Arc<Exchange> {
        let Some(reply) = self
            .store
            .data()
            .stream
            .as_ref()
            .and_then(|s| s.local_reply.clone())
        else {
            return Arc::clone(x);
        };
        let mut nx = (**x).clone();
        let len = reply.body.len();
        nx.response = Response {
            status: u16::try_from(reply.status).unwrap_or(u16::MAX),
            headers: reply.headers,
            body: reply.body,
            chunks: if len > 0 { vec![len] } else { Vec::new() },
            trailers: Vec::new(),
        };
        nx.envoy.rejected_by = Some(RejectedBy::Filter);
        nx.envoy.response_code_details = Some(reply.details);
        nx.envoy.response_flags = 0;
        nx.envoy.request_headers_added = Vec::new();
        let nx = Arc::new(nx);
        // The request headers stay as they were: a paused request's map lives on (Envoy
        // clears it only on Continue or a resume).
        if let Some(s) = self.store.data_mut().stream.as_mut() {
            s.x = Arc::clone(&nx);
        }
        nx
    }
}
