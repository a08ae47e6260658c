//! Per-VM host state (`Store<HostState>`): configuration, logs, clock, timers, the active
//! stream, metric ids, pending HTTP callouts and recorded side effects.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use wasmtime::{Memory, TypedFunc};

use crate::abi::{LogLevel, MetricType};
use crate::counting::Counters;
use crate::shared::SharedData;
use crate::traffic::{Exchange, Header};

/// One `proxy_log` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Level given by the plugin.
    pub level: LogLevel,
    /// Message (lossy UTF-8).
    pub message: String,
}

/// A `proxy_send_local_response` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    /// Context that sent it.
    pub context_id: u32,
    /// HTTP status.
    pub status: u32,
    /// `response_code_details`.
    pub details: String,
    /// Body.
    pub body: Vec<u8>,
    /// Additional headers.
    pub headers: Vec<Header>,
    /// gRPC status (-1: none).
    pub grpc_status: i32,
}

/// Envoy numbers HTTP callout tokens 4, 8, 12, … (measured: conformance probe).
pub(crate) const HTTP_CALL_TOKEN_STEP: u32 = 4;

/// A `proxy_http_call` awaiting a response from the test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingHttpCall {
    /// Token returned to the plugin.
    pub token: u32,
    /// Context that dispatched it.
    pub context_id: u32,
    /// Cluster (upstream) name.
    pub cluster: String,
    /// Request headers.
    pub headers: Vec<Header>,
    /// Request body.
    pub body: Vec<u8>,
    /// Request trailers.
    pub trailers: Vec<Header>,
    /// Timeout in milliseconds.
    pub timeout_ms: u32,
    /// Dispatch order among all the VM's callouts (HTTP and gRPC).
    pub seq: u64,
}

/// A unary `proxy_grpc_call` awaiting its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingGrpcCall {
    /// Token returned to the plugin (Envoy's: 5, 9, 13, …).
    pub token: u32,
    /// Context that dispatched it.
    pub context_id: u32,
    /// Cluster (the service bytes, taken as a cluster name as the Rust SDK sends them).
    pub cluster: String,
    /// gRPC service name.
    pub service: String,
    /// gRPC method name.
    pub method: String,
    /// Initial metadata.
    pub metadata: Vec<Header>,
    /// The request message.
    pub message: Vec<u8>,
    /// Timeout in milliseconds.
    pub timeout_ms: u32,
    /// Dispatch order among all the VM's callouts (HTTP and gRPC).
    pub seq: u64,
}

/// The first gRPC call token is this plus [`HTTP_CALL_TOKEN_STEP`] (measured: 5, 9, 13).
pub(crate) const GRPC_CALL_TOKEN_BASE: u32 = 1;

pub use vigil_traffic::HttpCallResponse;

/// Where a stream is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Request,
    Response,
    Log,
    /// After `on_log` (`on_done`, `on_delete`): the access-log header maps are gone.
    Done,
}

/// A body chunk visible to the body callbacks: the exchange's own bytes until the plugin
/// rewrites them with `proxy_set_buffer_bytes` (copied on first write).
#[derive(Debug, Default)]
pub(crate) enum Body {
    /// Not readable now (outside the body callback).
    #[default]
    Closed,
    /// A chunk of the exchange's body (this range of it), unmodified.
    Original(std::ops::Range<usize>),
    /// Rewritten by the plugin.
    Modified(Vec<u8>),
}

/// The HTTP stream being driven.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) id: u32,
    pub(crate) x: Arc<Exchange>,
    pub(crate) stage: Stage,
    /// decodeHeaders ran (the filter saw request headers).
    pub(crate) request_seen: bool,
    /// Envoy's codec rejected the request (`envoy.rejected_by: codec`): there is no
    /// request header map at all, and the context exists only for the local reply's log.
    pub(crate) codec_rejected: bool,
    /// Envoy's `request_headers_` is set: during `on_request_headers`, and after it only if
    /// it did not return `Continue` (Envoy clears it when iteration continues).
    pub(crate) request_live: bool,
    /// Envoy's `response_headers_`: the same for `on_response_headers`.
    pub(crate) response_live: bool,
    pub(crate) request_headers: Vec<Header>,
    pub(crate) request_trailers: Option<Vec<Header>>,
    pub(crate) response_headers: Option<Vec<Header>>,
    pub(crate) response_trailers: Option<Vec<Header>>,
    pub(crate) request_body: Body,
    pub(crate) response_body: Body,
    /// Request body bytes received from the client so far (`request.size` without a map).
    pub(crate) received: usize,
    /// Response body bytes sent to the client so far (`response.size`).
    pub(crate) sent: usize,
    /// The plugin resumed the request (`proxy_continue_stream(HttpRequest)`) since it last
    /// paused it.
    pub(crate) resumed_request: bool,
    /// The plugin's local reply (`proxy_send_local_response`), which ends the request.
    pub(crate) local_reply: Option<LocalResponse>,
    /// Envoy filter state: `set_property(path)` stores key `wasm.<path>` (raw bytes).
    pub(crate) filter_state: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Stream {
    /// A filter-state value by its full key (`wasm.vigil.event.0`).
    pub(crate) fn filter_state(&self, key: &[u8]) -> Option<&[u8]> {
        self.filter_state
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// Stores (or overwrites) a filter-state value, as Envoy's `setProperty` does for the
    /// default (mutable bytes) prototype.
    pub(crate) fn set_filter_state(&mut self, key: Vec<u8>, value: Vec<u8>) {
        match self.filter_state.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.filter_state.push((key, value)),
        }
    }

    /// The readable request body chunk, if any.
    pub(crate) fn request_body(&self) -> Option<&[u8]> {
        match &self.request_body {
            Body::Closed => None,
            Body::Original(r) => self.x.request.body.get(r.clone()),
            Body::Modified(b) => Some(b),
        }
    }

    /// The readable response body chunk, if any.
    pub(crate) fn response_body(&self) -> Option<&[u8]> {
        match &self.response_body {
            Body::Closed => None,
            Body::Original(r) => self.x.response.body.get(r.clone()),
            Body::Modified(b) => Some(b),
        }
    }

    /// The writable body chunk (`response` selects which), copied on first write.
    pub(crate) fn body_mut(&mut self, response: bool) -> Option<&mut Vec<u8>> {
        let (slot, original) = if response {
            (&mut self.response_body, &self.x.response.body)
        } else {
            (&mut self.request_body, &self.x.request.body)
        };
        if let Body::Original(r) = slot {
            *slot = Body::Modified(original.get(r.clone()).unwrap_or_default().to_vec());
        }
        match slot {
            Body::Modified(b) => Some(b),
            _ => None,
        }
    }
}

/// Static configuration of a VM (from `VmOptions`).
#[derive(Debug, Clone)]
pub(crate) struct VmConfig {
    pub(crate) root_id: String,
    pub(crate) vm_id: String,
    pub(crate) plugin_name: String,
    pub(crate) vm_config: Vec<u8>,
    pub(crate) plugin_config: Vec<u8>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) clusters: Vec<String>,
    /// Filter-state keys of the HTTP connection manager's access loggers, in order.
    pub(crate) access_log_keys: Vec<Vec<u8>>,
}

/// State behind every hostcall of one VM.
pub struct HostState {
    pub(crate) cfg: VmConfig,
    pub(crate) instance: u64,
    pub(crate) log_level: LogLevel,
    pub(crate) logs: Vec<LogEntry>,
    pub(crate) shared: SharedData,
    pub(crate) memory: Option<Memory>,
    pub(crate) alloc: Option<TypedFunc<i32, i32>>,
    pub(crate) now_ns: u64,
    pub(crate) tick_period_ms: u32,
    pub(crate) next_tick_ns: Option<u64>,
    pub(crate) root_context_id: u32,
    /// Context whose callback is running.
    pub(crate) current_context: u32,
    /// Set by `proxy_set_effective_context`, reset after each callback.
    pub(crate) effective_context: Option<u32>,
    pub(crate) in_configure: bool,
    pub(crate) stream: Option<Stream>,
    pub(crate) metric_ids: HashMap<u32, (MetricType, String)>,
    pub(crate) next_metric_id: [u32; 3],
    pub(crate) http_calls: BTreeMap<u32, PendingHttpCall>,
    pub(crate) next_token: u32,
    pub(crate) callout: Option<HttpCallResponse>,
    /// Unary gRPC calls awaiting their answer, by token.
    pub(crate) grpc_calls: BTreeMap<u32, PendingGrpcCall>,
    /// The last gRPC call token handed out.
    pub(crate) last_grpc_token: u32,
    /// Callouts dispatched so far (orders HTTP and gRPC callouts).
    pub(crate) dispatch_seq: u64,
    /// The message of the gRPC answer being delivered (`GrpcReceiveBuffer`).
    pub(crate) grpc_message: Option<Vec<u8>>,
    /// `proxy_get_status`: the last gRPC close's code and message.
    pub(crate) grpc_status: (u32, Vec<u8>),
    pub(crate) local_responses: Vec<LocalResponse>,
    pub(crate) rng: vigil_traffic::Rng,
    pub(crate) stream_controls: Vec<String>,
    pub(crate) done_calls: u32,
    /// The root's `on_done` answered false at shutdown: `proxy_done` is awaited.
    pub(crate) pending_done: bool,
    /// `proxy_done` came: the root's `on_delete` is due after the running callback.
    pub(crate) delete_due: bool,
    /// Names declared through the `declare_property` foreign function.
    pub(crate) declared_properties: Vec<String>,
    /// Access-log records written so far (one per logger whose key existed).
    pub(crate) access_log: Vec<Vec<u8>>,
    /// Hostcall counters (see [`crate::counting`]).
    pub(crate) counters: Counters,
    /// Reusable buffer for values copied out to the guest.
    pub(crate) scratch: Vec<u8>,
    /// Header vectors of the last stream, reused by the next one.
    pub(crate) spare_request_headers: Vec<Header>,
    pub(crate) spare_response_headers: Vec<Header>,
}

impl HostState {
    pub(crate) fn new(
        cfg: VmConfig,
        shared: SharedData,
        log_level: LogLevel,
        seed: u64,
        count_hostcalls: bool,
    ) -> Self {
        let instance = shared.new_instance();
        Self {
            cfg,
            instance,
            log_level,
            logs: Vec::new(),
            shared,
            memory: None,
            alloc: None,
            now_ns: 0,
            tick_period_ms: 0,
            next_tick_ns: None,
            root_context_id: 1,
            current_context: 0,
            effective_context: None,
            in_configure: false,
            stream: None,
            metric_ids: HashMap::new(),
            // Envoy: ids step by 4, the low 2 bits carry the metric type.
            next_metric_id: [4, 5, 6],
            http_calls: BTreeMap::new(),
            next_token: HTTP_CALL_TOKEN_STEP,
            callout: None,
            grpc_calls: BTreeMap::new(),
            last_grpc_token: GRPC_CALL_TOKEN_BASE,
            dispatch_seq: 0,
            grpc_message: None,
            grpc_status: (0, Vec::new()),
            local_responses: Vec::new(),
            rng: vigil_traffic::Rng::new(seed),
            stream_controls: Vec::new(),
            done_calls: 0,
            pending_done: false,
            delete_due: false,
            declared_properties: Vec::new(),
            access_log: Vec::new(),
            counters: Counters::new(count_hostcalls),
            scratch: Vec::new(),
            spare_request_headers: Vec::new(),
            spare_response_headers: Vec::new(),
        }
    }

    /// Context the hostcalls act on.
    pub(crate) fn context(&self) -> u32 {
        self.effective_context.unwrap_or(self.current_context)
    }

    /// The active stream if the acting context is it.
    pub(crate) fn acting_stream(&self) -> Option<&Stream> {
        let c = self.context();
        self.stream.as_ref().filter(|s| s.id == c)
    }

    /// Mutable variant of [`Self::acting_stream`].
    pub(crate) fn acting_stream_mut(&mut self) -> Option<&mut Stream> {
        let c = self.context();
        self.stream.as_mut().filter(|s| s.id == c)
    }

    /// The VM's next 64 random bits (WASI `random_get`).
    pub(crate) fn next_random(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// A UUID-v4-shaped request id, deterministic per VM seed.
    pub(crate) fn new_request_id(&mut self) -> String {
        self.rng.request_id()
    }
}
