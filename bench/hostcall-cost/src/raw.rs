//! Raw proxy-wasm hostcalls for the probe: statuses come back as plain `u32`s, nothing panics.
//!
//! Each function makes exactly one hostcall (so the probe prices one crossing), frees any
//! buffer the host allocated for the answer, and returns the host's status and the number of
//! bytes it returned. Buffers the host allocates come through the SDK's
//! `proxy_on_memory_allocate` (a forgotten `Vec::with_capacity(size)`): they are taken back
//! with `Vec::from_raw_parts(ptr, size, size)` and dropped, as the SDK does.
#![allow(unsafe_code)]
#![allow(clashing_extern_declarations)]

use std::ptr::null_mut;

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, data: *const u8, size: usize) -> u32;
    fn proxy_get_log_level(level: *mut u32) -> u32;
    fn proxy_get_current_time_nanoseconds(time: *mut u64) -> u32;
    fn proxy_get_buffer_bytes(
        buffer: u32,
        start: usize,
        max: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(map: u32, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_get_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_get_property(
        path: *const u8,
        path_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_set_property(path: *const u8, path_size: usize, data: *const u8, size: usize) -> u32;
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
    fn proxy_define_metric(kind: u32, name: *const u8, name_size: usize, id: *mut u32) -> u32;
    fn proxy_record_metric(id: u32, value: u64) -> u32;
    fn proxy_increment_metric(id: u32, offset: i64) -> u32;
}

/// Native builds (tests, clippy) have no host: every call answers `InternalFailure` (10).
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::missing_docs_in_private_items, missing_docs)]
mod native {
    pub unsafe fn proxy_log(_: u32, _: *const u8, _: usize) -> u32 {
        10
    }
    pub unsafe fn proxy_get_log_level(_: *mut u32) -> u32 {
        10
    }
    pub unsafe fn proxy_get_current_time_nanoseconds(_: *mut u64) -> u32 {
        10
    }
    pub unsafe fn proxy_get_buffer_bytes(
        _: u32,
        _: usize,
        _: usize,
        _: *mut *mut u8,
        _: *mut usize,
    ) -> u32 {
        10
    }
    pub unsafe fn proxy_get_header_map_pairs(_: u32, _: *mut *mut u8, _: *mut usize) -> u32 {
        10
    }
    pub unsafe fn proxy_get_header_map_value(
        _: u32,
        _: *const u8,
        _: usize,
        _: *mut *mut u8,
        _: *mut usize,
    ) -> u32 {
        10
    }
    pub unsafe fn proxy_get_property(
        _: *const u8,
        _: usize,
        _: *mut *mut u8,
        _: *mut usize,
    ) -> u32 {
        10
    }
    pub unsafe fn proxy_set_property(_: *const u8, _: usize, _: *const u8, _: usize) -> u32 {
        10
    }
    pub unsafe fn proxy_get_shared_data(
        _: *const u8,
        _: usize,
        _: *mut *mut u8,
        _: *mut usize,
        _: *mut u32,
    ) -> u32 {
        10
    }
    pub unsafe fn proxy_set_shared_data(
        _: *const u8,
        _: usize,
        _: *const u8,
        _: usize,
        _: u32,
    ) -> u32 {
        10
    }
    pub unsafe fn proxy_define_metric(_: u32, _: *const u8, _: usize, _: *mut u32) -> u32 {
        10
    }
    pub unsafe fn proxy_record_metric(_: u32, _: u64) -> u32 {
        10
    }
    pub unsafe fn proxy_increment_metric(_: u32, _: i64) -> u32 {
        10
    }
}
#[cfg(not(target_arch = "wasm32"))]
use native::*;

/// proxy-wasm status `Ok`.
pub const OK: u32 = 0;

/// What one call gave back: the host's status and the size of the answer in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The proxy-wasm status (`0` = Ok, `1` = NotFound, ...).
    pub status: u32,
    /// Bytes the host returned (0 for calls that return no buffer).
    pub bytes: u64,
}

impl Answer {
    fn status(status: u32) -> Answer {
        Answer { status, bytes: 0 }
    }
}

/// Frees a host-allocated buffer; returns its size.
fn free(data: *mut u8, size: usize) -> u64 {
    if data.is_null() {
        return 0;
    }
    // SAFETY: the host allocated `size` bytes through proxy_on_memory_allocate (a forgotten
    // `Vec::with_capacity(size)`) and hands ownership to us; we drop it at once.
    drop(unsafe { Vec::from_raw_parts(data, size, size) });
    size as u64
}

/// `proxy_log(level, msg)`.
pub fn log(level: u32, msg: &[u8]) -> Answer {
    // SAFETY: pointer and length of a live slice.
    Answer::status(unsafe { proxy_log(level, msg.as_ptr(), msg.len()) })
}

/// `proxy_get_log_level`.
pub fn log_level() -> Answer {
    let mut level = 0u32;
    // SAFETY: pointer to a live local.
    let status = unsafe { proxy_get_log_level(&mut level) };
    Answer { status, bytes: 4 }
}

/// `proxy_get_current_time_nanoseconds`.
pub fn time() -> Answer {
    let mut t = 0u64;
    // SAFETY: pointer to a live local.
    let status = unsafe { proxy_get_current_time_nanoseconds(&mut t) };
    Answer { status, bytes: 8 }
}

/// `proxy_get_buffer_bytes(buffer, start, max)`.
pub fn buffer_bytes(buffer: u32, start: usize, max: usize) -> Answer {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: pointers to live locals.
    let status = unsafe { proxy_get_buffer_bytes(buffer, start, max, &mut data, &mut size) };
    Answer {
        status,
        bytes: free(data, size),
    }
}

/// `proxy_get_buffer_bytes(buffer, start, max)`, keeping the bytes.
pub fn buffer_bytes_owned(buffer: u32, start: usize, max: usize) -> (Answer, Vec<u8>) {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: pointers to live locals.
    let status = unsafe { proxy_get_buffer_bytes(buffer, start, max, &mut data, &mut size) };
    let bytes = if data.is_null() {
        Vec::new()
    } else {
        // SAFETY: as in `free`: the host allocated `size` bytes and hands them over.
        unsafe { Vec::from_raw_parts(data, size, size) }
    };
    (
        Answer {
            status,
            bytes: bytes.len() as u64,
        },
        bytes,
    )
}

/// `proxy_get_header_map_pairs(map)`.
pub fn header_pairs(map: u32) -> Answer {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: pointers to live locals.
    let status = unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) };
    Answer {
        status,
        bytes: free(data, size),
    }
}

/// `proxy_get_header_map_pairs(map)`, keeping the serialized pairs.
pub fn header_pairs_owned(map: u32) -> (Answer, Vec<u8>) {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: pointers to live locals.
    let status = unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) };
    let bytes = if data.is_null() {
        Vec::new()
    } else {
        // SAFETY: as in `free`: the host allocated `size` bytes and hands them over.
        unsafe { Vec::from_raw_parts(data, size, size) }
    };
    (
        Answer {
            status,
            bytes: bytes.len() as u64,
        },
        bytes,
    )
}

/// `proxy_get_header_map_value(map, name)`.
pub fn header_value(map: u32, name: &[u8]) -> Answer {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: pointer and length of a live slice; pointers to live locals.
    let status =
        unsafe { proxy_get_header_map_value(map, name.as_ptr(), name.len(), &mut data, &mut size) };
    Answer {
        status,
        bytes: free(data, size),
    }
}

/// `proxy_get_property(path)`, `path` already serialized (segments joined by `\0`).
pub fn property(path: &[u8]) -> Answer {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: pointer and length of a live slice; pointers to live locals.
    let status = unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size) };
    Answer {
        status,
        bytes: free(data, size),
    }
}

/// `proxy_set_property(path, value)`.
pub fn set_property(path: &[u8], value: &[u8]) -> Answer {
    // SAFETY: pointers and lengths of live slices.
    let status =
        unsafe { proxy_set_property(path.as_ptr(), path.len(), value.as_ptr(), value.len()) };
    Answer::status(status)
}

/// `proxy_get_shared_data(key)`: the answer, and the entry's CAS.
pub fn shared_get(key: &[u8]) -> (Answer, u32) {
    let (mut data, mut size, mut cas) = (null_mut(), 0usize, 0u32);
    // SAFETY: pointer and length of a live slice; pointers to live locals.
    let status =
        unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    (
        Answer {
            status,
            bytes: free(data, size),
        },
        cas,
    )
}

/// `proxy_set_shared_data(key, value, cas)` (`cas` 0: unconditional).
pub fn shared_set(key: &[u8], value: &[u8], cas: u32) -> Answer {
    // SAFETY: pointers and lengths of live slices.
    let status =
        unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas) };
    Answer::status(status)
}

/// `proxy_define_metric(kind, name)`: the metric's id (kind 0 counter, 1 gauge).
pub fn define_metric(kind: u32, name: &str) -> Option<u32> {
    let mut id = 0u32;
    // SAFETY: pointer and length of a live &str; pointer to a live local.
    match unsafe { proxy_define_metric(kind, name.as_ptr(), name.len(), &mut id) } {
        OK => Some(id),
        _ => None,
    }
}

/// `proxy_record_metric(id, value)` (sets a gauge).
pub fn record_metric(id: u32, value: u64) -> Answer {
    // SAFETY: plain values.
    Answer::status(unsafe { proxy_record_metric(id, value) })
}

/// `proxy_increment_metric(id, by)`.
pub fn increment_metric(id: u32, by: i64) -> Answer {
    // SAFETY: plain values.
    Answer::status(unsafe { proxy_increment_metric(id, by) })
}
