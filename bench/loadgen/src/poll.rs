//! The two system calls std lacks: `ppoll` with a nanosecond timeout, and the thread's timer
//! slack (50 µs by default, which would blur the send schedule).
#![allow(unsafe_code)]

use std::io;
use std::time::Duration;

pub use libc::{pollfd, POLLERR, POLLHUP, POLLIN, POLLOUT};

/// Asks the kernel to wake this thread within 1 µs of its timeouts.
pub fn tighten_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer; no memory is passed.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0, 0, 0);
    }
}

/// A `pollfd` waiting for `events` on `fd`.
pub fn entry(fd: i32, events: i16) -> pollfd {
    pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// Waits until one of `fds` is ready or `timeout` passes (`None`: no timeout).
pub fn wait(fds: &mut [pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `fds` is a live, correctly sized slice of pollfd; `ts_ptr` is null or points to
    // a live timespec; no signal mask is passed.
    let n = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            ts_ptr,
            std::ptr::null(),
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}
