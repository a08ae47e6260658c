//! The live half of the ABI check. `config_new` cannot read a stream, so the first requests
//! this process completes compare each attribute id Vigil relies on with what the same
//! request's headers say (`response.code` = `:status`, `request.method` = `:method`,
//! `request.path` = `:path`, `request.id` = `x-request-id`, `source.port` = the port of
//! `source.address`). A renumbered attribute enum shows up as a mismatch. One pass ends the
//! checking (logged once at info with the values compared). Each mismatch is logged with its
//! values and counted (`vigil.module.abi_mismatch`); after [`FAILS_TO_STAND_DOWN`] mismatches
//! without a pass, Vigil stands down for the life of the process (traffic passes; no event
//! is produced from values it cannot trust). Requiring several keeps one odd request from
//! silencing Vigil.
#![forbid(unsafe_code)]

use crate::config::{Config, ModuleCounter};
use crate::exchange::attr;
use crate::ffi::{self, HeaderMap, Level, Stream};
use std::sync::atomic::{AtomicU8, Ordering};
use vigil_policies::envoy::{parse_status, split_address};

/// Mismatches, with no pass, after which Vigil stands down.
pub const FAILS_TO_STAND_DOWN: u8 = 3;

const UNCHECKED: u8 = 0;
const PASSED: u8 = 1;
const FAILED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNCHECKED);
static FAILS: AtomicU8 = AtomicU8::new(0);

/// Whether the live check failed (Vigil produces nothing more in this process).
pub fn stood_down() -> bool {
    STATE.load(Ordering::Relaxed) == FAILED
}

/// Checks this stream while no check has passed yet and this one can be checked (its
/// request and response headers exist).
pub fn check_once(config: &Config, stream: &Stream<'_>) {
    if STATE.load(Ordering::Relaxed) != UNCHECKED {
        return;
    }
    let Some(status) = stream.header(HeaderMap::Response, ":status") else {
        return;
    };
    let Some(method) = stream.header(HeaderMap::Request, ":method") else {
        return;
    };
    match compare(stream, &status, &method) {
        Ok(passed) => {
            if STATE
                .compare_exchange(UNCHECKED, PASSED, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                ffi::log(
                    Level::Info,
                    &format!("vigil: ABI check passed on a live request: {passed}"),
                );
            }
        }
        Err(failed) => {
            let _ = stream.increment_counter(config.module_counter(ModuleCounter::AbiMismatch), 1);
            let n = FAILS.fetch_add(1, Ordering::AcqRel).saturating_add(1);
            if n > FAILS_TO_STAND_DOWN {
                return;
            }
            ffi::log(
                Level::Error,
                &format!("vigil: ABI check mismatch {n} of {FAILS_TO_STAND_DOWN}: {failed}"),
            );
            if n == FAILS_TO_STAND_DOWN
                && STATE
                    .compare_exchange(UNCHECKED, FAILED, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                ffi::log(
                    Level::Critical,
                    "vigil: ABI check FAILED, Vigil stands down (traffic passes, no events). \
                     This module is built for Envoy 1.40 (dynamic-module ABI v0.2.0)",
                );
            }
        }
    }
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).escape_debug().to_string()
}

fn compare(stream: &Stream<'_>, status: &[u8], method: &[u8]) -> Result<String, String> {
    let mut ok = Vec::new();
    let want_status = parse_status(status).map(u64::from);
    let code = stream.attr_int(attr::RESPONSE_CODE);
    if code.is_none() || code != want_status {
        return Err(format!(
            "response.code (attribute {}) is {code:?}, :status is {}",
            attr::RESPONSE_CODE,
            show(status)
        ));
    }
    ok.push(format!("response.code {} = :status", code.unwrap_or(0)));
    let got = stream.attr_string(attr::REQUEST_METHOD);
    if got.as_deref() != Some(method) {
        return Err(format!(
            "request.method (attribute {}) is {:?}, :method is {}",
            attr::REQUEST_METHOD,
            got.as_deref().map(show),
            show(method)
        ));
    }
    ok.push(format!("request.method {} = :method", show(method)));
    let path = stream.header(HeaderMap::Request, ":path");
    let got = stream.attr_string(attr::REQUEST_PATH);
    if got != path {
        return Err(format!(
            "request.path (attribute {}) is {:?}, :path is {:?}",
            attr::REQUEST_PATH,
            got.as_deref().map(show),
            path.as_deref().map(show)
        ));
    }
    ok.push("request.path = :path".into());
    if let Some(id) = stream.header(HeaderMap::Request, "x-request-id") {
        let got = stream.attr_string(attr::REQUEST_ID);
        if got.as_deref() != Some(&id[..]) {
            return Err(format!(
                "request.id (attribute {}) is {:?}, x-request-id is {}",
                attr::REQUEST_ID,
                got.as_deref().map(show),
                show(&id)
            ));
        }
        ok.push("request.id = x-request-id".into());
    }
    let addr = stream.attr_string(attr::SOURCE_ADDRESS).unwrap_or_default();
    let (ip, port) = split_address(&addr);
    let got = stream.attr_int(attr::SOURCE_PORT);
    if ip.is_none() || port.map(u64::from) != got {
        return Err(format!(
            "source.address (attribute {}) is {} and source.port (attribute {}) is {got:?}",
            attr::SOURCE_ADDRESS,
            show(&addr),
            attr::SOURCE_PORT
        ));
    }
    ok.push(format!(
        "source.port {} = port of source.address",
        got.unwrap_or(0)
    ));
    let details = stream
        .attr_string(attr::RESPONSE_CODE_DETAILS)
        .unwrap_or_default();
    if details.is_empty() || !details.iter().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "response.code_details (attribute {}) is {}",
            attr::RESPONSE_CODE_DETAILS,
            show(&details)
        ));
    }
    ok.push(format!("response.code_details {}", show(&details)));
    match stream.attr_int(attr::RESPONSE_FLAGS) {
        Some(f) if f < 1 << 32 => ok.push(format!("response.flags {f:#x}")),
        other => {
            return Err(format!(
                "response.flags (attribute {}) is {other:?}",
                attr::RESPONSE_FLAGS
            ))
        }
    }
    Ok(ok.join(", "))
}
