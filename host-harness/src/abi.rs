//! Proxy-wasm ABI 0.2.1 enumerations, with the discriminants the Rust SDK 0.2.5 and
//! Envoy (proxy-wasm-cpp-host `WasmResult` and friends) use on the wire.

/// Status returned by every `proxy_*` hostcall (cpp-host `WasmResult`).
#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// The item (header, property, key, queue, metric) does not exist.
    NotFound = 1,
    /// An argument is invalid for this call or this callback.
    BadArgument = 2,
    /// A value could not be serialized.
    SerializationFailure = 3,
    /// A value could not be parsed.
    ParseFailure = 4,
    /// A bad expression (unused by Envoy 1.40).
    BadExpression = 5,
    /// A guest pointer is out of bounds or allocation failed.
    InvalidMemoryAccess = 6,
    /// The queue is empty.
    Empty = 7,
    /// Compare-and-swap mismatch on shared data.
    CasMismatch = 8,
    /// The result was mismatched (unused).
    ResultMismatch = 9,
    /// Internal failure.
    InternalFailure = 10,
    /// The connection is broken (unused).
    BrokenConnection = 11,
    /// The hostcall is not implemented by the host.
    Unimplemented = 12,
}

impl Status {
    /// The raw value handed back to the guest.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Log level of `proxy_log` / `proxy_get_log_level`.
#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Trace.
    Trace = 0,
    /// Debug.
    Debug = 1,
    /// Info.
    Info = 2,
    /// Warn.
    Warn = 3,
    /// Error.
    Error = 4,
    /// Critical.
    Critical = 5,
}

impl LogLevel {
    /// Decodes a wire value.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Trace,
            1 => Self::Debug,
            2 => Self::Info,
            3 => Self::Warn,
            4 => Self::Error,
            5 => Self::Critical,
            _ => return None,
        })
    }

    /// Lower-case name (`info`, `warn`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

/// Header map selector.
#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MapType {
    /// Request headers.
    HttpRequestHeaders = 0,
    /// Request trailers.
    HttpRequestTrailers = 1,
    /// Response headers.
    HttpResponseHeaders = 2,
    /// Response trailers.
    HttpResponseTrailers = 3,
    /// gRPC initial metadata.
    GrpcReceiveInitialMetadata = 4,
    /// gRPC trailing metadata.
    GrpcReceiveTrailingMetadata = 5,
    /// HTTP callout response headers.
    HttpCallResponseHeaders = 6,
    /// HTTP callout response trailers.
    HttpCallResponseTrailers = 7,
}

impl MapType {
    /// Decodes a wire value.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::HttpRequestHeaders,
            1 => Self::HttpRequestTrailers,
            2 => Self::HttpResponseHeaders,
            3 => Self::HttpResponseTrailers,
            4 => Self::GrpcReceiveInitialMetadata,
            5 => Self::GrpcReceiveTrailingMetadata,
            6 => Self::HttpCallResponseHeaders,
            7 => Self::HttpCallResponseTrailers,
            _ => return None,
        })
    }
}

/// Buffer selector.
#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BufferType {
    /// Request body chunk.
    HttpRequestBody = 0,
    /// Response body chunk.
    HttpResponseBody = 1,
    /// Downstream TCP data.
    DownstreamData = 2,
    /// Upstream TCP data.
    UpstreamData = 3,
    /// HTTP callout response body.
    HttpCallResponseBody = 4,
    /// gRPC receive buffer.
    GrpcReceiveBuffer = 5,
    /// `vm_config.configuration`.
    VmConfiguration = 6,
    /// Plugin `configuration`.
    PluginConfiguration = 7,
    /// Foreign-function / queue call data.
    CallData = 8,
}

impl BufferType {
    /// Decodes a wire value.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::HttpRequestBody,
            1 => Self::HttpResponseBody,
            2 => Self::DownstreamData,
            3 => Self::UpstreamData,
            4 => Self::HttpCallResponseBody,
            5 => Self::GrpcReceiveBuffer,
            6 => Self::VmConfiguration,
            7 => Self::PluginConfiguration,
            8 => Self::CallData,
            _ => return None,
        })
    }
}

/// Metric type of `proxy_define_metric`.
#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricType {
    /// Monotonic counter.
    Counter = 0,
    /// Gauge.
    Gauge = 1,
    /// Histogram.
    Histogram = 2,
}

impl MetricType {
    /// Decodes a wire value.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Counter,
            1 => Self::Gauge,
            2 => Self::Histogram,
            _ => return None,
        })
    }
}

/// Peer type of connection-close callbacks.
#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum PeerType {
    /// Unknown.
    Unknown = 0,
    /// Local.
    Local = 1,
    /// Remote.
    Remote = 2,
}

/// Filter action returned by header/body callbacks.
#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Continue iteration.
    Continue = 0,
    /// Stop iteration (Envoy: `StopIteration` / `StopIterationAndBuffer`).
    Pause = 1,
}

impl Action {
    /// Decodes a wire value (anything but 0 pauses, as in Envoy's conversion).
    pub fn from_i32(v: i32) -> Self {
        if v == 0 {
            Self::Continue
        } else {
            Self::Pause
        }
    }
}

/// Stream selector of `proxy_continue_stream` / `proxy_close_stream`.
#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum StreamType {
    /// HTTP request.
    HttpRequest = 0,
    /// HTTP response.
    HttpResponse = 1,
    /// Downstream connection.
    Downstream = 2,
    /// Upstream connection.
    Upstream = 3,
}
