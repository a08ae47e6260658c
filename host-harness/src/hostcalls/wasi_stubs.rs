//! The rest of `wasi_snapshot_preview1` as Envoy 1.40 provides it: stubs that touch nothing
//! and return a fixed errno. Envoy (proxy-wasm-cpp-host) links every preview1 function but
//! `proc_raise`, two of them with non-standard signatures (`path_link` takes 6 parameters,
//! `path_symlink` 4), so a module importing the standard ones fails to load in Envoy, and
//! here. The errnos are Envoy's, measured by calling each with zero arguments
//! (`tests/all/conformance_wasi.rs`, which holds the harness to them); the harness returns
//! them whatever the arguments.

use wasmtime::{FuncType, Linker, Val, ValType};

use super::link_err;
use crate::state::HostState;

/// (name, parameter types (`i` = i32, `I` = i64), errno).
const STUBS: &[(&str, &str, i32)] = &[
    ("fd_advise", "iIIi", 0),
    ("fd_allocate", "iII", 8),
    ("fd_datasync", "i", 8),
    ("fd_fdstat_set_flags", "ii", 52),
    ("fd_fdstat_set_rights", "iII", 8),
    ("fd_filestat_get", "ii", 8),
    ("fd_filestat_set_size", "iI", 8),
    ("fd_filestat_set_times", "iIIi", 8),
    ("fd_pread", "iiiIi", 52),
    ("fd_pwrite", "iiiIi", 8),
    ("fd_readdir", "iiiIi", 20),
    ("fd_renumber", "ii", 8),
    ("fd_sync", "i", 8),
    ("fd_tell", "ii", 8),
    ("path_create_directory", "iii", 58),
    ("path_filestat_get", "iiiii", 58),
    ("path_filestat_set_times", "iiiiIIi", 58),
    ("path_link", "iiiiii", 58),
    ("path_readlink", "iiiiii", 58),
    ("path_remove_directory", "iii", 58),
    ("path_rename", "iiiiii", 58),
    ("path_symlink", "iiii", 58),
    ("path_unlink_file", "iii", 58),
    ("sock_accept", "iii", 58),
    ("sock_recv", "iiiiii", 58),
    ("sock_send", "iiiii", 58),
    ("sock_shutdown", "ii", 58),
];

/// The stubs' names (for the fidelity table).
pub fn names() -> impl Iterator<Item = &'static str> {
    STUBS.iter().map(|(n, _, _)| *n)
}

/// Links the stubs.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    for (name, params, errno) in STUBS {
        let params = params
            .chars()
            .map(|c| if c == 'I' { ValType::I64 } else { ValType::I32 });
        let ty = FuncType::new(linker.engine(), params, [ValType::I32]);
        let errno = *errno;
        linker
            .func_new("wasi_snapshot_preview1", name, ty, move |_, _, results| {
                if let Some(r) = results.first_mut() {
                    *r = Val::I32(errno);
                }
                Ok(())
            })
            .map_err(link_err)?;
    }
    Ok(())
}
