//! The `wasi_snapshot_preview1` functions Envoy (proxy-wasm-cpp-host) implements: stdout and
//! stderr become info and error log lines, the environment comes from the VM options,
//! clocks read the harness clock, there is no file system (no preopens). The stubs Envoy
//! links for the rest are in [`super::wasi_stubs`].

use wasmtime::{Caller, Linker};

use super::{hit, link_err, read, write, write_u32, write_u64, HostResult};
use crate::abi::LogLevel;
use crate::counting::Hc;
use crate::state::{HostState, LogEntry};

const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EINVAL: i32 = 28;
const ENOENT: i32 = 44;
const ENOSYS: i32 = 52;
const EFAULT: i32 = 21;

fn errno(r: Result<(), crate::abi::Status>) -> i32 {
    if r.is_ok() {
        ESUCCESS
    } else {
        EFAULT
    }
}

/// Writes `strings` (NUL-terminated) into `buf` and their pointers into `ptrs`.
fn put_strings(c: &mut Caller<'_, HostState>, strings: &[Vec<u8>], ptrs: i32, buf: i32) -> i32 {
    let mut off = buf;
    for (i, s) in strings.iter().enumerate() {
        let mut z = s.clone();
        z.push(0);
        if write_u32(c, ptrs + 4 * i as i32, off as u32).is_err() || write(c, off, &z).is_err() {
            return EFAULT;
        }
        off += z.len() as i32;
    }
    ESUCCESS
}

fn env_strings(st: &HostState) -> Vec<Vec<u8>> {
    st.cfg
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}").into_bytes())
        .collect()
}

fn sizes(c: &mut Caller<'_, HostState>, strings: &[Vec<u8>], np: i32, sp: i32) -> i32 {
    let total: usize = strings.iter().map(|s| s.len() + 1).sum();
    errno(write_u32(c, np, strings.len() as u32).and_then(|()| write_u32(c, sp, total as u32)))
}

fn gather(c: &mut Caller<'_, HostState>, iovs: i32, n: i32) -> Result<Vec<u8>, crate::abi::Status> {
    let mut out = Vec::new();
    for i in 0..n {
        let iov = read(c, iovs + 8 * i, 8)?;
        let p = i32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]);
        let l = i32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]);
        out.extend(read(c, p, l)?);
    }
    Ok(out)
}

/// Links the WASI family.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    const W: &str = "wasi_snapshot_preview1";
    linker
        .func_wrap(
            W,
            "args_sizes_get",
            |mut c: Caller<'_, HostState>, np: i32, sp: i32| -> HostResult {
                hit(&mut c, Hc::ArgsSizesGet);
                Ok(sizes(&mut c, &[], np, sp))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "args_get",
            |mut c: Caller<'_, HostState>, _p: i32, _b: i32| -> HostResult {
                hit(&mut c, Hc::ArgsGet);
                Ok(ESUCCESS)
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "environ_sizes_get",
            |mut c: Caller<'_, HostState>, np: i32, sp: i32| -> HostResult {
                hit(&mut c, Hc::EnvironSizesGet);
                let env = env_strings(c.data());
                Ok(sizes(&mut c, &env, np, sp))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "environ_get",
            |mut c: Caller<'_, HostState>, p: i32, b: i32| -> HostResult {
                hit(&mut c, Hc::EnvironGet);
                let env = env_strings(c.data());
                Ok(put_strings(&mut c, &env, p, b))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "fd_write",
            |mut c: Caller<'_, HostState>, fd: i32, iovs: i32, n: i32, wp: i32| -> HostResult {
                hit(&mut c, Hc::FdWrite);
                let level = match fd {
                    1 => LogLevel::Info,
                    2 => LogLevel::Error,
                    _ => return Ok(EBADF),
                };
                let data = match gather(&mut c, iovs, n) {
                    Ok(d) => d,
                    Err(_) => return Ok(EFAULT),
                };
                let len = data.len() as u32;
                let mut msg = String::from_utf8_lossy(&data).into_owned();
                if msg.ends_with('\n') {
                    msg.pop();
                }
                let st = c.data_mut();
                if level >= st.log_level {
                    st.logs.push(LogEntry {
                        level,
                        message: msg,
                    });
                }
                Ok(errno(write_u32(&mut c, wp, len)))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "fd_read",
            |mut c: Caller<'_, HostState>, _fd: i32, _i: i32, _n: i32, _r: i32| -> HostResult {
                hit(&mut c, Hc::FdRead);
                Ok(ENOSYS)
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "fd_close",
            |mut c: Caller<'_, HostState>, _fd: i32| -> HostResult {
                hit(&mut c, Hc::FdClose);
                Ok(ESUCCESS) // Envoy: success, nothing closed (measured)
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "fd_seek",
            |mut c: Caller<'_, HostState>, _fd: i32, _o: i64, _w: i32, _p: i32| -> HostResult {
                hit(&mut c, Hc::FdSeek);
                Ok(ESUCCESS) // Envoy: success, no offset written (measured)
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "fd_fdstat_get",
            |mut c: Caller<'_, HostState>, fd: i32, p: i32| -> HostResult {
                hit(&mut c, Hc::FdFdstatGet);
                if fd != 1 && fd != 2 {
                    return Ok(EBADF);
                }
                // filetype CHARACTER_DEVICE (2), no flags, rights: fd_write (1 << 6).
                let mut stat = [0u8; 24];
                stat[0] = 2;
                stat[8..16].copy_from_slice(&(1u64 << 6).to_le_bytes());
                Ok(errno(write(&mut c, p, &stat)))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "fd_prestat_get",
            |mut c: Caller<'_, HostState>, _fd: i32, _p: i32| -> HostResult {
                hit(&mut c, Hc::FdPrestatGet);
                Ok(EBADF)
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "fd_prestat_dir_name",
            |mut c: Caller<'_, HostState>, _fd: i32, _p: i32, _l: i32| -> HostResult {
                hit(&mut c, Hc::FdPrestatDirName);
                Ok(ENOSYS)
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "path_open",
            |mut c: Caller<'_, HostState>,
             _fd: i32,
             _df: i32,
             _p: i32,
             _l: i32,
             _of: i32,
             _rb: i64,
             _ri: i64,
             _ff: i32,
             _r: i32|
             -> HostResult {
                hit(&mut c, Hc::PathOpen);
                Ok(ENOENT)
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "clock_time_get",
            |mut c: Caller<'_, HostState>, id: i32, _prec: i64, p: i32| -> HostResult {
                hit(&mut c, Hc::ClockTimeGet);
                if !(0..=3).contains(&id) {
                    return Ok(EINVAL);
                }
                let now = c.data().now_ns;
                Ok(errno(write_u64(&mut c, p, now)))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "clock_res_get",
            |mut c: Caller<'_, HostState>, _id: i32, p: i32| -> HostResult {
                hit(&mut c, Hc::ClockResGet);
                Ok(errno(write_u64(&mut c, p, 1)))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "random_get",
            |mut c: Caller<'_, HostState>, p: i32, l: i32| -> HostResult {
                hit(&mut c, Hc::RandomGet);
                let mut buf = Vec::with_capacity(l as u32 as usize);
                while buf.len() < l as u32 as usize {
                    let r = c.data_mut().next_random();
                    buf.extend_from_slice(&r.to_le_bytes());
                }
                buf.truncate(l as u32 as usize);
                Ok(errno(write(&mut c, p, &buf)))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "poll_oneoff",
            |mut c: Caller<'_, HostState>, _i: i32, _o: i32, _n: i32, np: i32| -> HostResult {
                hit(&mut c, Hc::PollOneoff);
                Ok(errno(write_u32(&mut c, np, 0)))
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "sched_yield",
            |mut c: Caller<'_, HostState>| -> HostResult {
                hit(&mut c, Hc::SchedYield);
                Ok(ESUCCESS)
            },
        )
        .map_err(link_err)?;
    linker
        .func_wrap(
            W,
            "proc_exit",
            |mut c: Caller<'_, HostState>, code: i32| -> wasmtime::Result<()> {
                hit(&mut c, Hc::ProcExit);
                Err(wasmtime::Error::msg(format!("proc_exit({code}) called")))
            },
        )
        .map_err(link_err)?;
    Ok(())
}
