//! Hostcall families linked into every VM, plus guest-memory helpers shared by them.

pub mod buffers;
pub mod foreign;
pub mod grpc;
pub mod headers;
pub mod http_call;
pub mod log;
pub mod metrics;
pub mod misc;
pub mod properties;
pub mod shared_data;
pub mod shared_queue;
pub mod timers;
pub mod wasi;
pub mod wasi_stubs;

use wasmtime::{Caller, Linker};

use crate::abi::Status;
use crate::counting::Hc;
use crate::state::HostState;

/// Links every `env.proxy_*` and `wasi_snapshot_preview1.*` function the harness provides.
pub fn add_all(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    log::add_to_linker(linker)?;
    properties::add_to_linker(linker)?;
    headers::add_to_linker(linker)?;
    buffers::add_to_linker(linker)?;
    shared_data::add_to_linker(linker)?;
    shared_queue::add_to_linker(linker)?;
    metrics::add_to_linker(linker)?;
    foreign::add_to_linker(linker)?;
    timers::add_to_linker(linker)?;
    http_call::add_to_linker(linker)?;
    grpc::add_to_linker(linker)?;
    misc::add_to_linker(linker)?;
    wasi::add_to_linker(linker)?;
    wasi_stubs::add_to_linker(linker)?;
    Ok(())
}

/// Converts a linker error (wasmtime's own error type) to anyhow.
pub(crate) fn link_err(e: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Result of a hostcall body: a status for the guest, or a trap.
pub(crate) type HostResult = wasmtime::Result<i32>;

/// Maps a hostcall outcome to the status code returned to the guest.
pub(crate) fn status(r: Result<(), Status>) -> i32 {
    match r {
        Ok(()) => Status::Ok.code(),
        Err(s) => s.code(),
    }
}

/// Counts one call of `h` (see [`crate::counting`]).
#[inline]
pub(crate) fn hit(caller: &mut Caller<'_, HostState>, h: Hc) {
    caller.data_mut().counters.hit(h);
}

fn range(ptr: i32, len: i32, size: usize) -> Result<std::ops::Range<usize>, Status> {
    let start = ptr as u32 as usize;
    let end = start
        .checked_add(len as u32 as usize)
        .ok_or(Status::InvalidMemoryAccess)?;
    if end > size {
        return Err(Status::InvalidMemoryAccess);
    }
    Ok(start..end)
}

/// A guest slice of `memory` (as handed out by [`with_memory`]).
pub(crate) fn slice(memory: &[u8], ptr: i32, len: i32) -> Result<&[u8], Status> {
    Ok(&memory[range(ptr, len, memory.len())?])
}

/// Runs `f` with the guest memory and the host state borrowed together (no copy of guest
/// bytes).
pub(crate) fn with_memory<R>(
    caller: &mut Caller<'_, HostState>,
    f: impl FnOnce(&mut [u8], &mut HostState) -> Result<R, Status>,
) -> Result<R, Status> {
    let mem = caller.data().memory.ok_or(Status::InvalidMemoryAccess)?;
    let (data, st) = mem.data_and_store_mut(&mut *caller);
    f(data, st)
}

/// Guest bytes as text: borrowed when valid UTF-8 (checked on the fast path), else lossy.
pub(crate) fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// Largest scratch buffer kept between calls.
const SCRATCH_KEEP: usize = 64 * 1024;

/// `fill` writes a value (from guest memory and host state) into a reused buffer, which is
/// then copied out to the guest as [`copy_out`] does. Returns the status for the guest.
pub(crate) fn copy_out_with(
    caller: &mut Caller<'_, HostState>,
    ptr_ptr: i32,
    size_ptr: i32,
    fill: impl FnOnce(&mut [u8], &mut HostState, &mut Vec<u8>) -> Result<(), Status>,
) -> HostResult {
    let mut buf = std::mem::take(&mut caller.data_mut().scratch);
    buf.clear();
    let filled = with_memory(caller, |data, st| fill(data, st, &mut buf));
    let r = match filled {
        Ok(()) => copy_out(caller, &buf, ptr_ptr, size_ptr).map(status),
        Err(s) => Ok(s.code()),
    };
    if buf.capacity() <= SCRATCH_KEEP {
        caller.data_mut().scratch = buf;
    }
    r
}

/// Reads guest bytes.
pub(crate) fn read(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
) -> Result<Vec<u8>, Status> {
    let mem = caller.data().memory.ok_or(Status::InvalidMemoryAccess)?;
    let data = mem.data(&*caller);
    let r = range(ptr, len, data.len())?;
    Ok(data[r].to_vec())
}

/// Reads a guest string (lossy UTF-8).
pub(crate) fn read_str(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
) -> Result<String, Status> {
    read(caller, ptr, len).map(|b| text(&b).into_owned())
}

/// Writes guest bytes.
pub(crate) fn write(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    bytes: &[u8],
) -> Result<(), Status> {
    let mem = caller.data().memory.ok_or(Status::InvalidMemoryAccess)?;
    let data = mem.data_mut(&mut *caller);
    let r = range(ptr, bytes.len() as i32, data.len())?;
    data[r].copy_from_slice(bytes);
    Ok(())
}

/// Writes a little-endian u32.
pub(crate) fn write_u32(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    v: u32,
) -> Result<(), Status> {
    write(caller, ptr, &v.to_le_bytes())
}

/// Writes a little-endian u64.
pub(crate) fn write_u64(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    v: u64,
) -> Result<(), Status> {
    write(caller, ptr, &v.to_le_bytes())
}

/// cpp-host `copyToPointerSize`: allocates guest memory through the module's allocator,
/// copies `data` and stores pointer and size; empty data stores a null pointer and 0.
pub(crate) fn copy_out(
    caller: &mut Caller<'_, HostState>,
    data: &[u8],
    ptr_ptr: i32,
    size_ptr: i32,
) -> wasmtime::Result<Result<(), Status>> {
    let mut ptr = 0i32;
    if !data.is_empty() {
        // Moved out for the call (a clone of a `TypedFunc` costs type-registry refcounting).
        let Some(alloc) = caller.data_mut().alloc.take() else {
            return Ok(Err(Status::InvalidMemoryAccess));
        };
        let r = alloc.call(&mut *caller, data.len() as i32);
        caller.data_mut().alloc = Some(alloc);
        ptr = r?;
        if ptr == 0 {
            return Ok(Err(Status::InvalidMemoryAccess));
        }
        if let Err(s) = write(caller, ptr, data) {
            return Ok(Err(s));
        }
    }
    if let Err(s) = write_u32(caller, ptr_ptr, ptr as u32) {
        return Ok(Err(s));
    }
    Ok(write_u32(caller, size_ptr, data.len() as u32))
}

// The pairs serialization is one of Envoy's byte-level facts: one implementation, in
// `vigil_policies::envoy`, serves the plugin's tests and this host.
pub use vigil_policies::envoy::{serialize_pairs, serialize_pairs_into};

/// Parses the proxy-wasm pairs serialization; `None` if malformed.
pub fn deserialize_pairs(bytes: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let n = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let mut p = 4usize.checked_add(n.checked_mul(8)?)?;
    let mut out = Vec::with_capacity(n.min(1024));
    for i in 0..n {
        let s = 4 + i * 8;
        let kl = u32::from_le_bytes(bytes.get(s..s + 4)?.try_into().ok()?) as usize;
        let vl = u32::from_le_bytes(bytes.get(s + 4..s + 8)?.try_into().ok()?) as usize;
        let k = bytes.get(p..p.checked_add(kl)?)?.to_vec();
        p += kl + 1;
        let v = bytes.get(p..p.checked_add(vl)?)?.to_vec();
        p += vl + 1;
        out.push((k, v));
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pairs_roundtrip() {
        let p = vec![
            (b"a".to_vec(), b"xy".to_vec()),
            (b":b".to_vec(), Vec::new()),
        ];
        let s = serialize_pairs(&p);
        assert_eq!(&s[0..4], &2u32.to_le_bytes());
        assert_eq!(&s[4..8], &1u32.to_le_bytes());
        assert_eq!(&s[20..], b"a\0xy\0:b\0\0");
        assert_eq!(deserialize_pairs(&s).unwrap(), p);
        assert!(deserialize_pairs(&s[..10]).is_none());
    }
}
