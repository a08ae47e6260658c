//! The hooks Envoy 1.40 resolves in the module (`envoy_dynamic_module_on_*`), each under
//! `catch_unwind`: they turn Envoy's raw pointers into the safe handles of [`super`] and call
//! the safe code.

use super::{ConfigHandle, RawBuf, Stream};
use crate::config::Config;
use crate::filter::Filter;
use std::ffi::{c_char, c_void};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

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

/// Response trailers: a gRPC response's `grpc-status`.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(
    envoy_filter: *mut c_void,
    module_filter: *mut c_void,
) -> i32 {
    with_filter("response_trailers", envoy_filter, module_filter, |f, s| {
        f.on_response_trailers(s)
    });
    CONTINUE
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
