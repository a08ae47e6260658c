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
//! - no panic crosses the C boundary: every exported hook ([`hooks`]) runs under
//!   `catch_unwind`.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::marker::PhantomData;

mod hooks;

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
    /// Response trailers (a gRPC response's `grpc-status`).
    ResponseTrailers = 3,
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
    fn envoy_dynamic_module_callback_http_filter_config_define_gauge(
        config: *mut c_void,
        name: RawBuf,
        label_names: *const RawBuf,
        label_count: usize,
        id_out: *mut usize,
    ) -> i32;
    fn envoy_dynamic_module_callback_http_filter_set_gauge(
        filter: *mut c_void,
        id: usize,
        label_values: *const RawBuf,
        label_count: usize,
        value: u64,
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

/// `http_filter_config_define_counter` / `_define_gauge`: config, name, label names, their
/// count, the id out-pointer.
type DefineMetric =
    unsafe extern "C" fn(*mut c_void, RawBuf, *const RawBuf, usize, *mut usize) -> i32;

/// Envoy's filter config while `config_new` runs (for defining counters).
pub struct ConfigHandle<'hook> {
    raw: *mut c_void,
    _hook: PhantomData<&'hook ()>,
}

impl ConfigHandle<'_> {
    /// Defines a counter; its id, or the ABI's `metrics_result` code.
    pub fn define_counter(&self, name: &str) -> Result<usize, i32> {
        self.define(
            envoy_dynamic_module_callback_http_filter_config_define_counter,
            name,
        )
    }

    /// Defines a gauge (no labels); its id, or the ABI's status.
    pub fn define_gauge(&self, name: &str) -> Result<usize, i32> {
        self.define(
            envoy_dynamic_module_callback_http_filter_config_define_gauge,
            name,
        )
    }

    /// A metric definition without labels, through `define` (counter or gauge: one
    /// signature).
    fn define(&self, define: DefineMetric, name: &str) -> Result<usize, i32> {
        let mut id = 0usize;
        // SAFETY: `raw` is the config of the running `config_new`; the name is a live
        // buffer for the call; no labels; `id` is a local out-pointer.
        let rc = unsafe {
            define(
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

    /// Sets a gauge defined in `config_new`; the ABI's `metrics_result` code.
    pub fn set_gauge(&self, id: usize, value: u64) -> i32 {
        unsafe {
            envoy_dynamic_module_callback_http_filter_set_gauge(
                self.raw,
                id,
                std::ptr::null(),
                0,
                value,
            )
        }
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
