//! Raw proxy-wasm hostcalls: every status comes back as a plain `u32`, nothing panics (the
//! SDK's own wrappers panic on statuses they do not expect, such as `BadArgument`).
//!
//! Buffers the host allocates come through the SDK's `proxy_on_memory_allocate` (a
//! forgotten `Vec::with_capacity(size)`) and are taken back with `Vec::from_raw_parts`.
#![allow(unsafe_code)]
#![allow(clashing_extern_declarations)]

use std::ptr::null_mut;

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, data: *const u8, size: usize) -> u32;
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
    fn proxy_add_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map: u32, key: *const u8, key_size: usize) -> u32;
    fn proxy_get_property(
        path: *const u8,
        path_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_define_metric(kind: u32, name: *const u8, name_size: usize, id: *mut u32) -> u32;
    fn proxy_increment_metric(id: u32, offset: i64) -> u32;
    fn proxy_record_metric(id: u32, value: u64) -> u32;
    fn proxy_get_metric(id: u32, value: *mut u64) -> u32;
    fn proxy_done() -> u32;
    fn proxy_get_status(code: *mut u32, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_call_foreign_function(
        name: *const u8,
        name_size: usize,
        args: *const u8,
        args_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
}

/// Native builds (unit tests, clippy) have no host: every call answers `InternalFailure`.
#[cfg(not(target_arch = "wasm32"))]
#[allow(missing_docs)]
mod native {
    pub unsafe fn proxy_log(_: u32, _: *const u8, _: usize) -> u32 {
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
    pub unsafe fn proxy_add_header_map_value(
        _: u32,
        _: *const u8,
        _: usize,
        _: *const u8,
        _: usize,
    ) -> u32 {
        10
    }
    pub unsafe fn proxy_replace_header_map_value(
        _: u32,
        _: *const u8,
        _: usize,
        _: *const u8,
        _: usize,
    ) -> u32 {
        10
    }
    pub unsafe fn proxy_remove_header_map_value(_: u32, _: *const u8, _: usize) -> u32 {
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
    pub unsafe fn proxy_define_metric(_: u32, _: *const u8, _: usize, _: *mut u32) -> u32 {
        10
    }
    pub unsafe fn proxy_increment_metric(_: u32, _: i64) -> u32 {
        10
    }
    pub unsafe fn proxy_record_metric(_: u32, _: u64) -> u32 {
        10
    }
    pub unsafe fn proxy_get_metric(_: u32, _: *mut u64) -> u32 {
        10
    }
    pub unsafe fn proxy_done() -> u32 {
        10
    }
    pub unsafe fn proxy_get_status(_: *mut u32, _: *mut *mut u8, _: *mut usize) -> u32 {
        10
    }
    pub unsafe fn proxy_call_foreign_function(
        _: *const u8,
        _: usize,
        _: *const u8,
        _: usize,
        _: *mut *mut u8,
        _: *mut usize,
    ) -> u32 {
        10
    }
}
#[cfg(not(target_arch = "wasm32"))]
use native::*;

/// Takes ownership of a host-allocated buffer.
fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        return Vec::new();
    }
    // SAFETY: the host allocated `size` bytes through proxy_on_memory_allocate (a forgotten
    // `Vec::with_capacity(size)`) and hands ownership to us.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// `proxy_done()`: its status (the SDK's wrapper panics on anything but `Ok`).
pub fn done() -> u32 {
    // SAFETY: no arguments.
    unsafe { proxy_done() }
}

/// `proxy_get_status()`: status, the last gRPC status code and its message.
pub fn get_status() -> (u32, u32, Vec<u8>) {
    let (mut code, mut data, mut size) = (0u32, std::ptr::null_mut(), 0usize);
    // SAFETY: out-pointers to locals; the host allocates the message (see `take`).
    let s = unsafe { proxy_get_status(&mut code, &mut data, &mut size) };
    (s, code, take(data, size))
}

/// `proxy_log(level, msg)`.
pub fn log(level: u32, msg: &[u8]) -> u32 {
    // SAFETY: pointer and length of a live slice.
    unsafe { proxy_log(level, msg.as_ptr(), msg.len()) }
}

/// `proxy_get_buffer_bytes(buffer, start, max)`: status and bytes.
pub fn buffer_bytes(buffer: u32, start: usize, max: usize) -> (u32, Vec<u8>) {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: pointers to live locals.
    let s = unsafe { proxy_get_buffer_bytes(buffer, start, max, &mut data, &mut size) };
    (s, take(data, size))
}

/// `proxy_get_header_map_pairs(map)`: status and serialized pairs.
pub fn map_pairs(map: u32) -> (u32, Vec<u8>) {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: pointers to live locals.
    let s = unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) };
    (s, take(data, size))
}

/// `proxy_get_header_map_value(map, key)`: status and value.
pub fn map_value(map: u32, key: &str) -> (u32, Vec<u8>) {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: a live slice and pointers to live locals.
    let s =
        unsafe { proxy_get_header_map_value(map, key.as_ptr(), key.len(), &mut data, &mut size) };
    (s, take(data, size))
}

/// `proxy_add_header_map_value(map, key, value)`.
pub fn map_add(map: u32, key: &str, value: &str) -> u32 {
    // SAFETY: live slices.
    unsafe { proxy_add_header_map_value(map, key.as_ptr(), key.len(), value.as_ptr(), value.len()) }
}

/// `proxy_replace_header_map_value(map, key, value)`.
pub fn map_replace(map: u32, key: &str, value: &str) -> u32 {
    // SAFETY: live slices.
    unsafe {
        proxy_replace_header_map_value(map, key.as_ptr(), key.len(), value.as_ptr(), value.len())
    }
}

/// `proxy_remove_header_map_value(map, key)`.
pub fn map_remove(map: u32, key: &str) -> u32 {
    // SAFETY: a live slice.
    unsafe { proxy_remove_header_map_value(map, key.as_ptr(), key.len()) }
}

/// `proxy_get_property(path)` (segments joined with `\0`): status and value.
pub fn property(path: &[u8]) -> (u32, Vec<u8>) {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: a live slice and pointers to live locals.
    let s = unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size) };
    (s, take(data, size))
}

/// Parses the proxy-wasm pairs serialization; `None` if malformed (never panics).
pub fn parse_pairs(b: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    if b.is_empty() {
        return Some(Vec::new());
    }
    let u32_at = |i: usize| -> Option<usize> {
        let s = b.get(i..i.checked_add(4)?)?;
        Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
    };
    let n = u32_at(0)?;
    let mut sizes = Vec::new();
    for i in 0..n {
        let at = 4usize.checked_add(i.checked_mul(8)?)?;
        sizes.push((u32_at(at)?, u32_at(at + 4)?));
    }
    let mut p = 4usize.checked_add(n.checked_mul(8)?)?;
    let mut out = Vec::new();
    for (k, v) in sizes {
        let key = b.get(p..p.checked_add(k)?)?.to_vec();
        p = p.checked_add(k)?.checked_add(1)?;
        let val = b.get(p..p.checked_add(v)?)?.to_vec();
        p = p.checked_add(v)?.checked_add(1)?;
        out.push((key, val));
    }
    Some(out)
}

/// `proxy_define_metric(kind, name)`: status and id.
pub fn define_metric(kind: u32, name: &str) -> (u32, u32) {
    let mut id = 0u32;
    // SAFETY: pointer and length of a live str; pointer to a live local.
    let s = unsafe { proxy_define_metric(kind, name.as_ptr(), name.len(), &mut id) };
    (s, id)
}

/// `proxy_increment_metric(id, offset)`: status.
pub fn increment_metric(id: u32, offset: i64) -> u32 {
    // SAFETY: no pointers.
    unsafe { proxy_increment_metric(id, offset) }
}

/// `proxy_record_metric(id, value)`: status.
pub fn record_metric(id: u32, value: u64) -> u32 {
    // SAFETY: no pointers.
    unsafe { proxy_record_metric(id, value) }
}

/// `proxy_get_metric(id)`: status and value.
pub fn get_metric(id: u32) -> (u32, u64) {
    let mut v = 0u64;
    // SAFETY: pointer to a live local.
    let s = unsafe { proxy_get_metric(id, &mut v) };
    (s, v)
}

/// `proxy_call_foreign_function(name, args)`: status and result bytes.
pub fn call_foreign_function(name: &str, args: &[u8]) -> (u32, Vec<u8>) {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: pointers and lengths of live slices; pointers to live locals.
    let s = unsafe {
        proxy_call_foreign_function(
            name.as_ptr(),
            name.len(),
            args.as_ptr(),
            args.len(),
            &mut data,
            &mut size,
        )
    };
    (s, take(data, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip() {
        let mut b = vec![2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        b.extend_from_slice(b"a\0bc\0\0d\0");
        assert_eq!(
            parse_pairs(&b),
            Some(vec![
                (b"a".to_vec(), b"bc".to_vec()),
                (Vec::new(), b"d".to_vec())
            ])
        );
        assert_eq!(parse_pairs(&b[..10]), None);
        assert_eq!(parse_pairs(&[]), Some(Vec::new()));
    }
}
