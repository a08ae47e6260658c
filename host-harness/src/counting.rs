//! Hostcall counting: what one request costs in host crossings.
//!
//! Every hostcall bumps a fixed slot (one add, always on). With counting enabled
//! ([`crate::VmOptions::count_hostcalls`]) the calls whose cost depends on their argument are
//! also counted by it: property reads and `set_property` by path (segments joined with `.`),
//! header-map reads by map and header name, buffer reads by buffer, metric calls by metric
//! name. [`crate::ExchangeOutcome::hostcalls`] then holds one exchange's counts, keyed
//! `proxy_get_property response.code`, `proxy_get_header_map_value request_headers
//! user-agent`, `proxy_log`, ...; [`category`] groups the keys for totals.

use std::collections::BTreeMap;

macro_rules! hostcalls {
    ($($v:ident = $n:literal,)*) => {
        /// One hostcall the harness links.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Hc { $($v,)* }
        /// Import names, in [`Hc`] order.
        const NAMES: &[&str] = &[$($n,)*];
    };
}

hostcalls! {
    Log = "proxy_log",
    GetLogLevel = "proxy_get_log_level",
    GetProperty = "proxy_get_property",
    SetProperty = "proxy_set_property",
    GetHeaderMapValue = "proxy_get_header_map_value",
    GetHeaderMapPairs = "proxy_get_header_map_pairs",
    SetHeaderMapPairs = "proxy_set_header_map_pairs",
    AddHeaderMapValue = "proxy_add_header_map_value",
    ReplaceHeaderMapValue = "proxy_replace_header_map_value",
    RemoveHeaderMapValue = "proxy_remove_header_map_value",
    GetHeaderMapSize = "proxy_get_header_map_size",
    GetBufferBytes = "proxy_get_buffer_bytes",
    SetBufferBytes = "proxy_set_buffer_bytes",
    GetSharedData = "proxy_get_shared_data",
    SetSharedData = "proxy_set_shared_data",
    RegisterSharedQueue = "proxy_register_shared_queue",
    ResolveSharedQueue = "proxy_resolve_shared_queue",
    EnqueueSharedQueue = "proxy_enqueue_shared_queue",
    DequeueSharedQueue = "proxy_dequeue_shared_queue",
    DefineMetric = "proxy_define_metric",
    IncrementMetric = "proxy_increment_metric",
    RecordMetric = "proxy_record_metric",
    GetMetric = "proxy_get_metric",
    SetTickPeriod = "proxy_set_tick_period_milliseconds",
    GetCurrentTime = "proxy_get_current_time_nanoseconds",
    HttpCall = "proxy_http_call",
    SetEffectiveContext = "proxy_set_effective_context",
    Done = "proxy_done",
    CallForeignFunction = "proxy_call_foreign_function",
    ContinueStream = "proxy_continue_stream",
    CloseStream = "proxy_close_stream",
    SendLocalResponse = "proxy_send_local_response",
    GetStatus = "proxy_get_status",
    GrpcCall = "proxy_grpc_call",
    GrpcStream = "proxy_grpc_stream",
    GrpcSend = "proxy_grpc_send",
    GrpcCancel = "proxy_grpc_cancel",
    GrpcClose = "proxy_grpc_close",
    ArgsSizesGet = "args_sizes_get",
    ArgsGet = "args_get",
    EnvironSizesGet = "environ_sizes_get",
    EnvironGet = "environ_get",
    FdWrite = "fd_write",
    FdRead = "fd_read",
    FdClose = "fd_close",
    FdSeek = "fd_seek",
    FdFdstatGet = "fd_fdstat_get",
    FdPrestatGet = "fd_prestat_get",
    FdPrestatDirName = "fd_prestat_dir_name",
    PathOpen = "path_open",
    ClockTimeGet = "clock_time_get",
    ClockResGet = "clock_res_get",
    RandomGet = "random_get",
    PollOneoff = "poll_oneoff",
    SchedYield = "sched_yield",
    ProcExit = "proc_exit",
}

/// Every import the harness links (`proxy_*` in `env`, the rest in
/// `wasi_snapshot_preview1`), for the fidelity table's completeness check.
pub fn linked_names() -> &'static [&'static str] {
    NAMES
}

const _: () = assert!(NAMES.len() <= 64, "Counters::ever is a u64 bitmask");

/// Per-VM counters; [`Counters::reset`] at the start of each exchange.
#[derive(Debug)]
pub(crate) struct Counters {
    /// Detailed counting (by argument) and a filled [`crate::ExchangeOutcome::hostcalls`].
    pub(crate) enabled: bool,
    calls: [u64; NAMES.len()],
    /// Which imports were ever called in this VM (bit `Hc as usize`; never reset).
    ever: u64,
    /// `(call, argument key, count)`; a handful per exchange, searched linearly.
    details: Vec<(Hc, Vec<u8>, u64)>,
    key: Vec<u8>,
}

impl Counters {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            calls: [0; NAMES.len()],
            ever: 0,
            details: Vec::new(),
            key: Vec::new(),
        }
    }

    /// Counts one call.
    #[inline]
    pub(crate) fn hit(&mut self, h: Hc) {
        if let Some(n) = self.calls.get_mut(h as usize) {
            *n += 1;
        }
        self.ever |= 1u64 << (h as u32 & 63);
    }

    /// The imports ever called in this VM.
    pub(crate) fn called(&self) -> Vec<&'static str> {
        NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.ever & (1u64 << (*i as u32 & 63)) != 0)
            .map(|(_, n)| *n)
            .collect()
    }

    /// With counting enabled, counts one call of `h` under the argument key `build` writes.
    pub(crate) fn detail(&mut self, h: Hc, build: impl FnOnce(&mut Vec<u8>)) {
        if !self.enabled {
            return;
        }
        self.key.clear();
        build(&mut self.key);
        match self
            .details
            .iter_mut()
            .find(|(c, k, _)| *c == h && *k == self.key)
        {
            Some((_, _, n)) => *n += 1,
            None => self.details.push((h, self.key.clone(), 1)),
        }
    }

    /// Zeroes every counter (only needed, and only done, when counting is enabled).
    pub(crate) fn reset(&mut self) {
        if self.enabled {
            self.calls = [0; NAMES.len()];
            self.details.clear();
        }
    }

    /// The counts since the last reset: `name` for calls counted without an argument key,
    /// `name key` for the others.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        let mut plain = self.calls;
        for (h, key, n) in &self.details {
            let name = NAMES[*h as usize];
            let i = *h as usize;
            plain[i] = plain[i].saturating_sub(*n);
            out.insert(format!("{name} {}", String::from_utf8_lossy(key)), *n);
        }
        for (name, n) in NAMES.iter().zip(plain) {
            if n > 0 {
                out.insert((*name).to_string(), n);
            }
        }
        out
    }
}

/// What a hostcall is, for "what does one request cost" totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// `proxy_get_property`.
    PropertyRead,
    /// `proxy_get_header_map_value`, `_pairs`, `_size`.
    HeaderRead,
    /// `proxy_get_buffer_bytes`.
    BufferRead,
    /// `proxy_get_shared_data`, `proxy_set_shared_data`.
    SharedData,
    /// `proxy_define_metric`, `_increment_`, `_record_`, `proxy_get_metric`.
    Metric,
    /// `proxy_log` and WASI `fd_write` (a log line each).
    Log,
    /// `proxy_set_property`.
    SetProperty,
    /// Everything else.
    Other,
}

impl Category {
    /// Every category, in display order.
    pub const ALL: [Category; 8] = [
        Self::PropertyRead,
        Self::HeaderRead,
        Self::BufferRead,
        Self::SharedData,
        Self::Metric,
        Self::Log,
        Self::SetProperty,
        Self::Other,
    ];

    /// Short name (`property`, `header`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::PropertyRead => "property",
            Self::HeaderRead => "header",
            Self::BufferRead => "buffer",
            Self::SharedData => "shared_data",
            Self::Metric => "metric",
            Self::Log => "log",
            Self::SetProperty => "set_property",
            Self::Other => "other",
        }
    }
}

/// The category of a [`crate::ExchangeOutcome::hostcalls`] key (`name` or `name argument`).
pub fn category(key: &str) -> Category {
    match key.split(' ').next().unwrap_or(key) {
        "proxy_get_property" => Category::PropertyRead,
        "proxy_get_header_map_value"
        | "proxy_get_header_map_pairs"
        | "proxy_get_header_map_size" => Category::HeaderRead,
        "proxy_get_buffer_bytes" => Category::BufferRead,
        "proxy_get_shared_data" | "proxy_set_shared_data" => Category::SharedData,
        "proxy_define_metric"
        | "proxy_increment_metric"
        | "proxy_record_metric"
        | "proxy_get_metric" => Category::Metric,
        "proxy_log" | "fd_write" => Category::Log,
        "proxy_set_property" => Category::SetProperty,
        _ => Category::Other,
    }
}

/// Sums hostcall counts by [`Category`] (every category present, zero if unused).
pub fn totals(counts: &BTreeMap<String, u64>) -> BTreeMap<Category, u64> {
    let mut out: BTreeMap<Category, u64> = Category::ALL.iter().map(|c| (*c, 0)).collect();
    for (k, n) in counts {
        *out.entry(category(k)).or_default() += n;
    }
    out
}

/// Display name of a header map type (`request_headers`, ...).
pub(crate) fn map_name(t: u32) -> &'static str {
    match t {
        0 => "request_headers",
        1 => "request_trailers",
        2 => "response_headers",
        3 => "response_trailers",
        4 => "grpc_initial_metadata",
        5 => "grpc_trailing_metadata",
        6 => "http_call_response_headers",
        7 => "http_call_response_trailers",
        _ => "unknown_map",
    }
}

/// Display name of a buffer type (`http_request_body`, ...).
pub(crate) fn buffer_name(t: u32) -> &'static str {
    match t {
        0 => "http_request_body",
        1 => "http_response_body",
        2 => "downstream_data",
        3 => "upstream_data",
        4 => "http_call_response_body",
        5 => "grpc_receive_buffer",
        6 => "vm_configuration",
        7 => "plugin_configuration",
        8 => "call_data",
        _ => "unknown_buffer",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_detailed_counts() {
        let mut c = Counters::new(true);
        c.hit(Hc::GetProperty);
        c.detail(Hc::GetProperty, |k| k.extend_from_slice(b"response.code"));
        c.hit(Hc::GetProperty);
        c.detail(Hc::GetProperty, |k| k.extend_from_slice(b"response.code"));
        c.hit(Hc::GetProperty); // e.g. an unreadable path: no key
        c.hit(Hc::Log);
        let s = c.snapshot();
        assert_eq!(s["proxy_get_property response.code"], 2);
        assert_eq!(s["proxy_get_property"], 1);
        assert_eq!(s["proxy_log"], 1);
        let t = totals(&s);
        assert_eq!(t[&Category::PropertyRead], 3);
        assert_eq!(t[&Category::Log], 1);
        assert_eq!(t[&Category::Other], 0);
        c.reset();
        assert!(c.snapshot().is_empty());
        assert_eq!(NAMES[Hc::ProcExit as usize], "proc_exit");
    }
}
