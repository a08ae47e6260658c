//! An Envoy 1.40 dynamic module whose every hook returns at once: what Envoy itself spends
//! per request to run a dynamic-module HTTP filter (creating the per-stream filter, calling
//! each hook through its function pointer, destroying it), measured by `scripts/bench` as
//! the `empty_module` variant, beside the empty wasm filter. Its hook signatures are those of
//! `envoy-module/src/ffi/hooks.rs` (Envoy 1.40 resolves all of them when a config is made).
#![allow(unsafe_code)] // `#[no_mangle]` exports: the ABI itself; no other unsafe here.

use std::ffi::{c_char, c_void};

/// `envoy_buffer`: a pointer and a length, passed by value.
#[repr(C)]
pub struct Buf {
    ptr: *const c_char,
    len: usize,
}

const CONTINUE: i32 = 0;
/// A non-null address to hand back for the config and every stream (Envoy never reads it).
static TOKEN: u8 = 0;

fn token() -> *mut c_void {
    std::ptr::addr_of!(TOKEN).cast_mut().cast()
}

/// ABI version handshake.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const c_char {
    c"v0.2.0".as_ptr()
}

/// Accepts any config.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    _config_envoy: *mut c_void,
    _name: Buf,
    _config: Buf,
) -> *const c_void {
    token()
}

/// Nothing to free.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(_config: *const c_void) {}

/// A stream: no allocation.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(
    _config: *const c_void,
    _envoy_filter: *mut c_void,
) -> *mut c_void {
    token()
}

/// Nothing to free.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_destroy(_m: *mut c_void) {}

macro_rules! continue_hooks {
    ($($name:ident),* $(,)?) => {$(
        /// Continue.
        #[no_mangle]
        pub extern "C" fn $name(_e: *mut c_void, _m: *mut c_void, _end_of_stream: bool) -> i32 {
            CONTINUE
        }
    )*};
}
continue_hooks!(
    envoy_dynamic_module_on_http_filter_request_headers,
    envoy_dynamic_module_on_http_filter_request_body,
    envoy_dynamic_module_on_http_filter_response_headers,
    envoy_dynamic_module_on_http_filter_response_body,
);

/// Continue.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(
    _e: *mut c_void,
    _m: *mut c_void,
) -> i32 {
    CONTINUE
}

/// Continue.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(
    _e: *mut c_void,
    _m: *mut c_void,
) -> i32 {
    CONTINUE
}

macro_rules! void_hooks {
    ($($name:ident),* $(,)?) => {$(
        /// Nothing.
        #[no_mangle]
        pub extern "C" fn $name(_e: *mut c_void, _m: *mut c_void) {}
    )*};
}
void_hooks!(
    envoy_dynamic_module_on_http_filter_stream_complete,
    envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark,
    envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark,
);

/// Unused.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(
    _e: *mut c_void,
    _m: *mut c_void,
    _event: u64,
) {
}

/// Unused.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
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
