//! The dispatch layer: the `proxy_on_*` exports, routing each host callback to its context.
//!
//! Contexts live in one per-VM table (the VM is single-threaded). A callback for a context id
//! the table does not hold, or one arriving while another is running, is ignored (stream
//! callbacks answer `Continue`): the SDK's dispatcher panics there, and a panic would fail the
//! worker's VM. Exports: the ABI version marker, the allocator the host fills buffers through,
//! `_initialize`, and the context lifecycle and stream callbacks Vigil handles (see
//! [`crate::abi`] for why no others).
#![allow(unsafe_code)]

use crate::abi::{Action, Context, HttpContext, RootContext};
use crate::filter::VigilRoot;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::mem::MaybeUninit;

type Http = <VigilRoot as RootContext>::Http;

/// Every live context of this VM.
struct Contexts {
    /// Root contexts (one per plugin sharing the VM: a short list).
    roots: Vec<(u32, VigilRoot)>,
    streams: BTreeMap<u32, Http>,
}

impl Contexts {
    fn root(&mut self, id: u32) -> Option<&mut VigilRoot> {
        self.roots
            .iter_mut()
            .find(|(i, _)| *i == id)
            .map(|(_, r)| r)
    }
}

thread_local! {
    static CONTEXTS: RefCell<Contexts> = const {
        RefCell::new(Contexts { roots: Vec::new(), streams: BTreeMap::new() })
    };
}

/// Runs `f` on the table, or returns `None` when it is busy (a re-entrant callback).
fn with<R>(f: impl FnOnce(&mut Contexts) -> R) -> Option<R> {
    CONTEXTS.with(|c| c.try_borrow_mut().ok().map(|mut c| f(&mut c)))
}

fn stream(id: u32, f: impl FnOnce(&mut Http) -> Action) -> u32 {
    with(|c| c.streams.get_mut(&id).map(f))
        .flatten()
        .unwrap_or(Action::Continue) as u32
}

fn root<R>(id: u32, f: impl FnOnce(&mut VigilRoot) -> R) -> Option<R> {
    with(|c| c.root(id).map(f)).flatten()
}

/// The proxy-wasm ABI this module speaks (0.2.1).
#[no_mangle]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// The host allocates buffers it hands to the module here. The hostcall layer takes them back
/// as `Vec<u8>` with length == capacity, which is what a boxed slice is.
#[no_mangle]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    let mut v: Vec<MaybeUninit<u8>> = Vec::with_capacity(size);
    // SAFETY: MaybeUninit<u8> needs no initialization, and the capacity is `size`.
    unsafe { v.set_len(size) };
    Box::into_raw(v.into_boxed_slice()) as *mut u8
}

#[cfg(target_os = "wasi")]
extern "C" {
    fn __wasm_call_ctors();
}

/// The reactor's start: run static constructors (WASI's environment), install the panic hook.
#[no_mangle]
pub extern "C" fn _initialize() {
    #[cfg(target_os = "wasi")]
    // SAFETY: called once, by the host, before any other export (the reactor's contract).
    unsafe {
        __wasm_call_ctors()
    };
    // A panic aborts the VM (panic = "abort"); say why in Envoy's log first.
    std::panic::set_hook(Box::new(|info| {
        crate::hostcalls::log(crate::hostcalls::Level::Critical, &info.to_string());
    }));
}

/// A root context (parent 0) or a stream of root `parent`.
#[no_mangle]
pub extern "C" fn proxy_on_context_create(id: u32, parent: u32) {
    with(|c| {
        if parent == 0 {
            c.roots.retain(|(i, _)| *i != id);
            c.roots.push((id, VigilRoot::default()));
        } else if let Some(s) = c.root(parent).and_then(|r| r.create_http_context(id)) {
            c.streams.insert(id, s);
        }
    });
}

/// `proxy_on_vm_start(root, vm_configuration_size)`.
#[no_mangle]
pub extern "C" fn proxy_on_vm_start(id: u32, size: usize) -> bool {
    root(id, |r| r.on_vm_start(size)).unwrap_or(false)
}

/// `proxy_on_configure(root, plugin_configuration_size)`.
#[no_mangle]
pub extern "C" fn proxy_on_configure(id: u32, size: usize) -> bool {
    root(id, |r| r.on_configure(size)).unwrap_or(false)
}

/// `proxy_on_tick(root)`.
#[no_mangle]
pub extern "C" fn proxy_on_tick(id: u32) {
    root(id, |r| r.on_tick());
}

/// `proxy_on_done(context)`: may the host delete it now.
#[no_mangle]
pub extern "C" fn proxy_on_done(id: u32) -> bool {
    with(|c| match c.streams.get_mut(&id) {
        Some(s) => s.on_done(),
        None => c.root(id).is_none_or(|r| r.on_done()),
    })
    .unwrap_or(true)
}

/// `proxy_on_delete(context)`.
#[no_mangle]
pub extern "C" fn proxy_on_delete(id: u32) {
    with(|c| {
        if c.streams.remove(&id).is_none() {
            c.roots.retain(|(i, _)| *i != id);
        }
    });
}

/// `proxy_on_log(stream)`.
#[no_mangle]
pub extern "C" fn proxy_on_log(id: u32) {
    with(|c| c.streams.get_mut(&id).map(|s| s.on_log()));
}

/// `proxy_on_request_headers(stream, headers, end_of_stream)`.
#[no_mangle]
pub extern "C" fn proxy_on_request_headers(id: u32, n: usize, eos: bool) -> u32 {
    stream(id, |s| s.on_http_request_headers(n, eos))
}

/// `proxy_on_request_body(stream, body_size, end_of_stream)`.
#[no_mangle]
pub extern "C" fn proxy_on_request_body(id: u32, size: usize, eos: bool) -> u32 {
    stream(id, |s| s.on_http_request_body(size, eos))
}

/// `proxy_on_response_headers(stream, headers, end_of_stream)`.
#[no_mangle]
pub extern "C" fn proxy_on_response_headers(id: u32, n: usize, eos: bool) -> u32 {
    stream(id, |s| s.on_http_response_headers(n, eos))
}

/// `proxy_on_response_trailers(stream, trailers)`.
#[no_mangle]
pub extern "C" fn proxy_on_response_trailers(id: u32, n: usize) -> u32 {
    stream(id, |s| s.on_http_response_trailers(n))
}
