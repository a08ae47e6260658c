//! Every `unsafe` line of the module: Envoy 1.40's dynamic-module ABI (v0.2.0), declared by
//! hand, and the exported hooks that turn Envoy's raw pointers into safe handles.
//!
//! Each declaration below was checked against the 1.40 binary (`nm -D` lists the symbol;
//! `objdump -d` shows which registers it reads, e.g. `get_headers_size` takes two arguments
//! and returns the count, `define_counter` takes the name as a `(ptr, len)` buffer, then a
//! label array, its length and the id out-pointer); see the README's ABI table. A changed
//! signature would be undefined behaviour that nothing detects, so `config_new` and the first
//! live request also check values ([`crate::abi_check`]).
//!
//! Safety rules kept here, and only here:
//! - a [`Stream`] wraps the `filter_envoy_ptr` of the hook being run and never outlives it
//!   (it is created in the hook and lent to safe code by reference); every buffer Envoy hands
//!   back is copied into owned memory before the hook returns;
//! - the per-stream object is a `Box<Filter>` owned by Envoy between `new` and `destroy`;
//!   Envoy calls one stream's hooks one at a time on one worker thread, so lending it as
//!   `&mut` inside a hook is exclusive;
//! - the config object is an `Arc<Config>` owned by Envoy between `config_new` and
//!   `config_destroy`; each filter holds its own clone;
//! - no panic crosses the C boundary: every hook runs inside [`guard`] (`catch_unwind`).
#![allow(unsafe_code)]

use crate::config::Config;
use crate::filter::Filter;
use std::ffi::{c_char, c_void};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// `envoy_dynamic_module_type_{envoy,module}_buffer`: `{ const char* ptr; size_t length; }`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawBuf {
    ptr: *const u8,
    len: usize,
}

impl RawBuf {
    const EMPTY: RawBuf = RawBuf {
        ptr: std::ptr::null(),
        len: 0,
    };

    fn of(bytes: &[u8]) -> RawBuf {
        RawBuf {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    /// The bytes, copied. A null pointer reads as empty.
    ///
    /// SAFETY (callers): `ptr..ptr+len` is readable for the current hook.
    unsafe fn to_vec(self) -> Vec<u8> {
        if self.ptr.is_null() || self.len == 0 {
            return Vec::new();
        }
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }.to_vec()
    }
}

/// `envoy_dynamic_module_type_envoy_http_header`.
#[repr(C)]
#[derive(Clone, Copy)]
struct RawHeader {
    key_ptr: *const u8,
    key_len: usize,
    value_ptr: *const u8,
    value_len: usize,
}

/// `envoy_dynamic_module_type_http_header_type`.
#[derive(Debug, Clone, Copy)]
#[repr(i32)]
pub enum HeaderMap {
    /// Request headers.
    Request = 0,
    /// Response headers.
    Response = 2,
}

/// `envoy_dynamic_module_type_log_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
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

/// `envoy_dynamic_module_type_http_body_type_ReceivedRequestBody`: the chunk of this hook.
const RECEIVED_REQUEST_BODY: i32 = 0;
/// `envoy_dynamic_module_type_metadata_source_Dynamic`.
const METADATA_DYNAMIC: i32 = 0;

extern "C" {
    fn envoy_dynamic_module_callback_log(level: i32, message: RawBuf);
    fn envoy_dynamic_module_callback_log_enabled(level: i32) -> bool;
    fn envoy_dynamic_module_callback_http_get_header(
        filter: *mut c_void,
        map: i32,
        key: RawBuf,
        out: *mut RawBuf,
        index: usize,
        count: *mut usize,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_get_headers_size(filter: *mut c_void, map: i32) -> usize;
    fn envoy_dynamic_module_callback_http_get_headers(
        filter: *mut c_void,
        map: i32,
        out: *mut RawHeader,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_filter_get_attribute_string(
        filter: *mut c_void,
        id: i32,
        out: *mut RawBuf,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_filter_get_attribute_int(
        filter: *mut c_void,
        id: i32,
        out: *mut u64,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_get_metadata_string(
        filter: *mut c_void,
        source: i32,
        namespace: RawBuf,
        key: RawBuf,
        out: *mut RawBuf,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_set_filter_state_bytes(
        filter: *mut c_void,
        key: RawBuf,
        value: RawBuf,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_get_body_chunks_size(
        filter: *mut c_void,
        body: i32,
    ) -> usize;
    fn envoy_dynamic_module_callback_http_get_body_chunks(
        filter: *mut c_void,
        body: i32,
        out: *mut RawBuf,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_filter_config_define_counter(
        config: *mut c_void,
        name: RawBuf,
        label_names: *const RawBuf,
        label_count: usize,
        id_out: *mut usize,
    ) -> i32;
    fn envoy_dynamic_module_callback_http_filter_increment_counter(
        filter: *mut c_void,
        id: usize,
        label_values: *const RawBuf,
        label_count: usize,
        value: u64,
    ) -> i32;
}

/// Logs a line in Envoy's log (component `dynamic_modules`).
pub fn log(level: Level, message: &str) {
    unsafe { envoy_dynamic_module_callback_log(level as i32, RawBuf::of(message.as_bytes())) }
}

/// Whether Envoy's log writes `level` for this module.
pub fn log_enabled(level: Level) -> bool {
    unsafe { envoy_dynamic_module_callback_log_enabled(level as i32) }
}

/// Envoy's filter config while `config_new` runs (for defining counters).
pub struct ConfigHandle<'hook> {
    raw: *mut c_void,
    _hook: PhantomData<&'hook ()>,
}

impl ConfigHandle<'_> {
    /// Defines a counter; its id, or the ABI's `metrics_result` code.
    pub fn define_counter(&self, name: &str) -> Result<usize, i32> {
        let mut id = 0usize;
        let rc = unsafe {
            envoy_dynamic_module_callback_http_filter_config_define_counter(
                self.raw,
                RawBuf::of(name.as_bytes()),
                std::ptr::null(),
                0,
                &mut id,
            )
        };
        if rc == 0 {
            Ok(id)
        } else {
            Err(rc)
        }
    }
}

/// The stream of the hook being run.
pub struct Stream<'hook> {
    raw: *mut c_void,
    _hook: PhantomData<&'hook ()>,
}

impl Stream<'_> {
    /// The first value of a header (by lower-case name), copied.
    pub fn header(&self, map: HeaderMap, name: &str) -> Option<Vec<u8>> {
        let mut out = RawBuf::EMPTY;
        let found = unsafe {
            envoy_dynamic_module_callback_http_get_header(
                self.raw,
                map as i32,
                RawBuf::of(name.as_bytes()),
                &mut out,
                0,
                std::ptr::null_mut(),
            )
        };
        (found && !out.ptr.is_null()).then(|| unsafe { out.to_vec() })
    }

    /// Every header of a map in Envoy's order, serialized as proxy-wasm's
    /// `get_header_map_pairs` returns them ([`vigil_policies::envoy::serialize_pairs`]): one
    /// copy into one buffer. `None` when the map does not exist or is empty.
    pub fn header_pairs(&self, map: HeaderMap) -> Option<Vec<u8>> {
        let n =
            unsafe { envoy_dynamic_module_callback_http_get_headers_size(self.raw, map as i32) };
        if n == 0 {
            return None;
        }
        let empty = RawHeader {
            key_ptr: std::ptr::null(),
            key_len: 0,
            value_ptr: std::ptr::null(),
            value_len: 0,
        };
        let mut raw = vec![empty; n];
        let ok = unsafe {
            envoy_dynamic_module_callback_http_get_headers(self.raw, map as i32, raw.as_mut_ptr())
        };
        if !ok {
            return None;
        }
        // SAFETY: Envoy filled every entry with buffers of its header map, valid during this
        // hook (nothing sets a header meanwhile); the slices die with this call.
        let slice = |ptr: *const u8, len: usize| -> &[u8] {
            if ptr.is_null() || len == 0 {
                &[]
            } else {
                unsafe { std::slice::from_raw_parts(ptr, len) }
            }
        };
        let pairs: Vec<(&[u8], &[u8])> = raw
            .iter()
            .map(|h| (slice(h.key_ptr, h.key_len), slice(h.value_ptr, h.value_len)))
            .collect();
        Some(vigil_policies::envoy::serialize_pairs(&pairs))
    }

    /// A string attribute (`envoy_dynamic_module_type_attribute_id`), copied.
    pub fn attr_string(&self, id: i32) -> Option<Vec<u8>> {
        let mut out = RawBuf::EMPTY;
        let ok = unsafe {
            envoy_dynamic_module_callback_http_filter_get_attribute_string(self.raw, id, &mut out)
        };
        ok.then(|| unsafe { out.to_vec() })
    }

    /// An integer attribute.
    pub fn attr_int(&self, id: i32) -> Option<u64> {
        let mut out = 0u64;
        let ok = unsafe {
            envoy_dynamic_module_callback_http_filter_get_attribute_int(self.raw, id, &mut out)
        };
        ok.then_some(out)
    }

    /// A string value of the stream's dynamic metadata, at the top level of a namespace.
    pub fn metadata_string(&self, namespace: &str, key: &str) -> Option<Vec<u8>> {
        let mut out = RawBuf::EMPTY;
        let ok = unsafe {
            envoy_dynamic_module_callback_http_get_metadata_string(
                self.raw,
                METADATA_DYNAMIC,
                RawBuf::of(namespace.as_bytes()),
                RawBuf::of(key.as_bytes()),
                &mut out,
            )
        };
        ok.then(|| unsafe { out.to_vec() })
    }

    /// Sets filter state `key` (read by access loggers as `%FILTER_STATE(key:PLAIN)%`).
    pub fn set_filter_state(&self, key: &str, value: &[u8]) -> bool {
        unsafe {
            envoy_dynamic_module_callback_http_set_filter_state_bytes(
                self.raw,
                RawBuf::of(key.as_bytes()),
                RawBuf::of(value),
            )
        }
    }

    /// The request body chunk of this hook: at most `max` of its first bytes, copied, and its
    /// full length. Never more than `max` bytes are copied, whatever the chunk's size.
    pub fn request_chunk_head(&self, max: usize) -> (Vec<u8>, usize) {
        let n = unsafe {
            envoy_dynamic_module_callback_http_get_body_chunks_size(self.raw, RECEIVED_REQUEST_BODY)
        };
        if n == 0 {
            return (Vec::new(), 0);
        }
        let mut raw = vec![RawBuf::EMPTY; n];
        let ok = unsafe {
            envoy_dynamic_module_callback_http_get_body_chunks(
                self.raw,
                RECEIVED_REQUEST_BODY,
                raw.as_mut_ptr(),
            )
        };
        if !ok {
            return (Vec::new(), 0);
        }
        let mut head = Vec::new();
        let mut total = 0usize;
        for b in raw {
            total = total.saturating_add(b.len);
            let want = max.saturating_sub(head.len()).min(b.len);
            if want > 0 && !b.ptr.is_null() {
                head.extend_from_slice(unsafe { std::slice::from_raw_parts(b.ptr, want) });
            }
        }
        (head, total)
    }

    /// Adds `n` to a counter defined in `config_new`; the ABI's `metrics_result` code.
    pub fn increment_counter(&self, id: usize, n: u64) -> i32 {
        unsafe {
            envoy_dynamic_module_callback_http_filter_increment_counter(
                self.raw,
                id,
                std::ptr::null(),
                0,
                n,
            )
        }
    }
}

/// Runs `f`, turning a panic into `default` (the request passes; see [`crate::panics`]).
fn guard<T>(hook: &'static str, default: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            crate::panics::caught(hook);
            default
        }
    }
}

/// Runs a stream hook on the module's filter, with panics caught and counted.
fn with_filter(
    hook: &'static str,
    envoy_filter: *mut c_void,
    module_filter: *mut c_void,
    f: impl FnOnce(&mut Filter, &Stream<'_>),
) {
    if module_filter.is_null() {
        return;
    }
    let stream = Stream {
        raw: envoy_filter,
        _hook: PhantomData,
    };
    // SAFETY: `module_filter` is the `Box<Filter>` returned by `new` for this stream and not
    // yet destroyed; Envoy runs one stream's hooks one at a time (module docs above).
    let filter = unsafe { &mut *module_filter.cast::<Filter>() };
    let panicked = catch_unwind(AssertUnwindSafe(|| f(filter, &stream))).is_err();
    if panicked {
        crate::panics::caught(hook);
        let _ = catch_unwind(AssertUnwindSafe(|| filter.after_panic(&stream)));
    }
}

const CONTINUE: i32 = 0;
const VERSION: &std::ffi::CStr = c"v0.2.0";

/// ABI version handshake (Envoy 1.40 expects `v0.2.0`; another value only warns).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const c_char {
    guard("program_init", (), crate::panics::install_hook);
    VERSION.as_ptr()
}

/// A filter config: the policy in `filter_config`; NULL refuses it.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config_envoy: *mut c_void,
    name: RawBuf,
    config: RawBuf,
) -> *const c_void {
    guard("config_new", std::ptr::null(), || {
        let handle = ConfigHandle {
            raw: config_envoy,
            _hook: PhantomData,
        };
        // SAFETY: both buffers are Envoy's, readable during this hook.
        let (name, config) = unsafe { (name.to_vec(), config.to_vec()) };
        match Config::new(&handle, &name, &config) {
            Some(c) => Arc::into_raw(c).cast::<c_void>(),
            None => std::ptr::null(),
        }
    })
}

/// Drops Envoy's reference to a config.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(config: *const c_void) {
    if config.is_null() {
        return;
    }
    // SAFETY: `config` came from `Arc::into_raw` in `config_new`; Envoy destroys it once.
    let c = unsafe { Arc::from_raw(config.cast::<Config>()) };
    guard("config_destroy", (), move || drop(c));
}

/// A new stream: a `Box<Filter>` holding a clone of the config.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(
    config: *const c_void,
    _envoy_filter: *mut c_void,
) -> *mut c_void {
    if config.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: `config` is live (Envoy destroys it only after its filters); we take a new
    // strong reference of our own.
    let config = unsafe {
        Arc::increment_strong_count(config.cast::<Config>());
        Arc::from_raw(config.cast::<Config>())
    };
    guard("new", std::ptr::null_mut(), move || {
        Box::into_raw(Box::new(Filter::new(config))).cast::<c_void>()
    })
}

/// The stream is gone.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_destroy(module_filter: *mut c_void) {
    if module_filter.is_null() {
        return;
    }
    // SAFETY: the box from `new`, destroyed once by Envoy.
    let f = unsafe { Box::from_raw(module_filter.cast::<Filter>()) };
    guard("destroy", (), move || drop(f));
}

/// Request headers.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    envoy_filter: *mut c_void,
    module_filter: *mut c_void,
    _end_of_stream: bool,
) -> i32 {
    with_filter("request_headers", envoy_filter, module_filter, |f, s| {
        f.on_request_headers(s)
    });
    CONTINUE
}

/// A request body chunk.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_body(
    envoy_filter: *mut c_void,
    module_filter: *mut c_void,
    _end_of_stream: bool,
) -> i32 {
    with_filter("request_body", envoy_filter, module_filter, |f, s| {
        f.on_request_body(s)
    });
    CONTINUE
}

/// Response headers.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    envoy_filter: *mut c_void,
    module_filter: *mut c_void,
    _end_of_stream: bool,
) -> i32 {
    with_filter("response_headers", envoy_filter, module_filter, |f, s| {
        f.on_response_headers(s)
    });
    CONTINUE
}

/// End of stream, before the access loggers.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(
    envoy_filter: *mut c_void,
    module_filter: *mut c_void,
) {
    with_filter("stream_complete", envoy_filter, module_filter, |f, s| {
        f.on_stream_complete(s)
    });
}

// Hooks Envoy 1.40 requires and Vigil does not use: they do nothing and let traffic pass.

/// Unused.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(
    _e: *mut c_void,
    _m: *mut c_void,
) -> i32 {
    CONTINUE
}

/// Unused.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_body(
    _e: *mut c_void,
    _m: *mut c_void,
    _end_of_stream: bool,
) -> i32 {
    CONTINUE
}

/// Unused.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(
    _e: *mut c_void,
    _m: *mut c_void,
) -> i32 {
    CONTINUE
}

/// Unused (Vigil makes no callouts).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
    _e: *mut c_void,
    _m: *mut c_void,
    _id: u64,
    _result: i32,
    _headers: *const c_void,
    _headers_len: usize,
    _body: *const c_void,
    _body_len: usize,
) {
}

/// Unused.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
    _e: *mut c_void,
    _m: *mut c_void,
    _stream: u64,
    _headers: *const c_void,
    _headers_len: usize,
    _end_stream: bool,
) {
}

/// Unused.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
    _e: *mut c_void,
    _m: *mut c_void,
    _stream: u64,
    _data: *const c_void,
    _data_len: usize,
    _end_stream: bool,
) {
}

/// Unused.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
    _e: *mut c_void,
    _m: *mut c_void,
    _stream: u64,
    _trailers: *const c_void,
    _trailers_len: usize,
) {
}

/// Unused.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(
    _e: *mut c_void,
    _m: *mut c_void,
    _stream: u64,
) {
}

/// Unused.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(
    _e: *mut c_void,
    _m: *mut c_void,
    _stream: u64,
    _reason: i32,
) {
}

/// Unused (Vigil schedules nothing).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(
    _e: *mut c_void,
    _m: *mut c_void,
    _event: u64,
) {
}

/// Unused.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    _e: *mut c_void,
    _m: *mut c_void,
) {
}

/// Unused.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    _e: *mut c_void,
    _m: *mut c_void,
) {
}
