//! The proxy-wasm ABI types and context traits Vigil's filter implements (the "traits" and
//! "types" layers of the SDK, reduced to what Vigil uses; [`crate::dispatch`] is the
//! dispatch layer and [`crate::hostcalls`] the hostcall layer).
//!
//! Vigil does not link the SDK's dispatcher: it exports every `proxy_on_*` callback the
//! SDK knows, with maps of contexts, gRPC and queue plumbing, and panics on an unknown
//! context id. Vigil exports only the callbacks it handles (a host skips a callback a module
//! does not export and continues the stream, proxy-wasm-cpp-host `context.cc`), so Envoy
//! never crosses into the VM for response bodies or request trailers, and an unknown
//! context id is ignored rather than a trap.

/// What a stream callback tells the host (`proxy_wasm::types::Action`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Go on with the stream.
    Continue = 0,
    /// Hold the stream (Vigil never does).
    Pause = 1,
}

/// Callbacks every context receives.
pub trait Context {
    /// The host is done with the context: `true` when it may be deleted now.
    fn on_done(&mut self) -> bool {
        true
    }
}

/// A root context: one per plugin and worker VM.
pub trait RootContext: Context {
    /// The HTTP context type this root creates per stream.
    type Http: HttpContext;

    /// The VM started (`vm_configuration_size` bytes of VM configuration).
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        true
    }

    /// The plugin is (re)configured; `false` makes the host reject the configuration.
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool;

    /// The tick period set with `proxy_set_tick_period_milliseconds` elapsed.
    fn on_tick(&mut self) {}

    /// A new stream: its context, or `None` to leave the stream alone.
    fn create_http_context(&self, context_id: u32) -> Option<Self::Http>;
}

/// An HTTP stream's context.
pub trait HttpContext: Context {
    /// The request headers arrived.
    fn on_http_request_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action;
    /// A request body chunk arrived (`body_size` bytes buffered so far).
    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action;
    /// The response headers arrived.
    fn on_http_response_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action;
    /// The response trailers arrived.
    fn on_http_response_trailers(&mut self, num_trailers: usize) -> Action;
    /// The stream is complete (access-log time).
    fn on_log(&mut self);
}
