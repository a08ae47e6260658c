//! Raw proxy-wasm hostcalls that never panic.
//!
//! The SDK's wrappers `panic!` on any status they don't expect (and its string getters
//! `unwrap` UTF-8), and a panic in a filter fails the VM for that worker. Vigil calls the
//! few hostcalls on its request path through this layer instead: statuses come back as
//! plain `u32`s, so an unexpected one is an `Err`, never a trap. Everything read is bytes.
//!
//! With [`crate::dispatch`] (the exports), this is one of the two modules with `unsafe`:
//! each block passes pointers to live, correctly sized locals, and takes ownership of
//! host-allocated buffers, which the host allocates through `proxy_on_memory_allocate`
//! ([`crate::dispatch`]) as boxed slices, i.e. with length == capacity.
#![allow(unsafe_code)]
#![allow(clashing_extern_declarations)]

use std::ptr::{null, null_mut};

/// proxy-wasm status `Ok`.
pub const OK: u32 = 0;
/// proxy-wasm status `NotFound`.
pub const NOT_FOUND: u32 = 1;
/// proxy-wasm status `CasMismatch`.
pub const CAS_MISMATCH: u32 = 8;

/// Header maps (`MapType`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Map {
    /// Request headers.
    RequestHeaders = 0,
    /// Response headers.
    ResponseHeaders = 2,
    /// Response trailers.
    ResponseTrailers = 3,
}

/// Metric kinds (`MetricType`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonic counter.
    Counter = 0,
    /// A gauge.
    Gauge = 1,
}

/// Buffers (`BufferType`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffer {
    /// The current request body chunk.
    RequestBody = 0,
    /// The plugin configuration.
    PluginConfiguration = 7,
}

/// Log levels (`LogLevel`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// debug
    Debug = 1,
    /// info
    Info = 2,
    /// warn
    Warn = 3,
    /// error
    Error = 4,
    /// critical
    Critical = 5,
}

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, data: *const u8, size: usize) -> u32;
    fn proxy_get_log_level(level: *mut u32) -> u32;
    fn proxy_get_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(map: u32, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_get_property(
        path: *const u8,
        path_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_get_buffer_bytes(
        buffer: u32,
        start: usize,
        max: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_get_shared_data(
        key: *const u8,
        key_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
        cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key: *const u8,
        key_size: usize,
        data: *const u8,
        size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_set_property(path: *const u8, path_size: usize, data: *const u8, size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(time: *mut u64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_define_metric(kind: u32, name: *const u8, name_size: usize, id: *mut u32) -> u32;
    fn proxy_increment_metric(id: u32, offset: i64) -> u32;
    fn proxy_record_metric(id: u32, value: u64) -> u32;
    fn proxy_get_metric(id: u32, value: *mut u64) -> u32;
}

/// Takes ownership of a host-allocated buffer.
fn owned(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        return Vec::new();
    }
    // SAFETY: the host allocated `size` bytes through proxy_on_memory_allocate (a
    // `Vec::with_capacity(size)` that was forgotten) and hands ownership to us.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// Writes a log line. Returns the host's status.
pub fn log(level: Level, msg: &str) -> u32 {
    // SAFETY: pointer and length of a live &str.
    unsafe { proxy_log(level as u32, msg.as_ptr(), msg.len()) }
}

/// The host's current log level (`Trace` = 0 .. `Critical` = 5).
pub fn log_level() -> Result<u32, u32> {
    let mut level = 0u32;
    // SAFETY: pointer to a live local.
    match unsafe { proxy_get_log_level(&mut level) } {
        OK => Ok(level),
        s => Err(s),
    }
}

/// A header value as bytes; `Ok(None)` when absent.
pub fn header(map: Map, name: &str) -> Result<Option<Vec<u8>>, u32> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: key is a live &str; out-pointers are live locals.
    match unsafe {
        proxy_get_header_map_value(map as u32, name.as_ptr(), name.len(), &mut data, &mut size)
    } {
        OK => Ok(Some(owned(data, size))),
        NOT_FOUND => Ok(None),
        s => Err(s),
    }
}

/// A whole header map, serialized (count, lengths, NUL-terminated keys and values);
/// `Ok(None)` when the host has none.
pub fn header_pairs(map: Map) -> Result<Option<Vec<u8>>, u32> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: out-pointers are live locals.
    match unsafe { proxy_get_header_map_pairs(map as u32, &mut data, &mut size) } {
        OK if data.is_null() => Ok(None),
        OK => Ok(Some(owned(data, size))),
        NOT_FOUND => Ok(None),
        s => Err(s),
    }
}

/// A property by path; `Ok(None)` when absent.
pub fn property(path: &[&str]) -> Result<Option<Vec<u8>>, u32> {
    let mut serialized = Vec::with_capacity(64);
    for (i, seg) in path.iter().enumerate() {
        if i > 0 {
            serialized.push(0);
        }
        serialized.extend_from_slice(seg.as_bytes());
    }
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: path is a live Vec; out-pointers are live locals.
    match unsafe { proxy_get_property(serialized.as_ptr(), serialized.len(), &mut data, &mut size) }
    {
        OK if data.is_null() => Ok(None),
        OK => Ok(Some(owned(data, size))),
        NOT_FOUND => Ok(None),
        s => Err(s),
    }
}

/// Sets a property (from a stream context: Envoy filter state `wasm.<name>`). `name` is one
/// path segment. Returns the host's status.
pub fn set_property(name: &str, value: &[u8]) -> u32 {
    // SAFETY: name and value are live slices.
    unsafe { proxy_set_property(name.as_ptr(), name.len(), value.as_ptr(), value.len()) }
}

/// The host's wall clock, ns since the epoch (0 if the host refuses).
pub fn now_ns() -> u64 {
    let mut t = 0u64;
    // SAFETY: pointer to a live local.
    match unsafe { proxy_get_current_time_nanoseconds(&mut t) } {
        OK => t,
        _ => 0,
    }
}

/// Asks for `on_tick` every `ms` milliseconds. Returns the host's status.
pub fn set_tick_period(ms: u32) -> u32 {
    // SAFETY: no pointers.
    unsafe { proxy_set_tick_period_milliseconds(ms) }
}

/// Up to `max` bytes of a buffer from `start`.
pub fn buffer(buffer: Buffer, start: usize, max: usize) -> Result<Option<Vec<u8>>, u32> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: out-pointers are live locals.
    match unsafe { proxy_get_buffer_bytes(buffer as u32, start, max, &mut data, &mut size) } {
        OK if data.is_null() => Ok(None),
        OK => Ok(Some(owned(data, size))),
        NOT_FOUND => Ok(None),
        s => Err(s),
    }
}

/// A shared-data value and its CAS token; `Ok(None)` when the key does not exist.
pub fn shared_get(key: &str) -> Result<Option<(Vec<u8>, u32)>, u32> {
    let (mut data, mut size, mut cas) = (null_mut(), 0usize, 0u32);
    // SAFETY: key is a live &str; out-pointers are live locals.
    match unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) }
    {
        OK => Ok(Some((owned(data, size), cas))),
        NOT_FOUND => Ok(None),
        s => Err(s),
    }
}

/// Writes a shared-data value if its CAS token is still `cas` (0: unconditionally).
pub fn shared_set(key: &str, value: &[u8], cas: u32) -> u32 {
    let ptr = if value.is_empty() {
        null()
    } else {
        value.as_ptr()
    };
    // SAFETY: key and value are live slices.
    unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), ptr, value.len(), cas) }
}

/// Defines a metric; returns its id.
pub fn define_metric(kind: MetricKind, name: &str) -> Result<u32, u32> {
    let mut id = 0u32;
    // SAFETY: name is a live &str; id is a live local.
    match unsafe { proxy_define_metric(kind as u32, name.as_ptr(), name.len(), &mut id) } {
        OK => Ok(id),
        s => Err(s),
    }
}

/// Adds to a counter.
pub fn increment(id: u32, by: i64) -> u32 {
    // SAFETY: no pointers.
    unsafe { proxy_increment_metric(id, by) }
}

/// Sets a gauge.
pub fn record(id: u32, value: u64) -> u32 {
    // SAFETY: no pointers.
    unsafe { proxy_record_metric(id, value) }
}

/// A metric's current value (process-wide in Envoy: every worker's VM shares it).
pub fn metric_value(id: u32) -> Result<u64, u32> {
    let mut v = 0u64;
    // SAFETY: pointer to a live local.
    match unsafe { proxy_get_metric(id, &mut v) } {
        OK => Ok(v),
        s => Err(s),
    }
}
