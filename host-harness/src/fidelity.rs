//! Fidelity table: every import a proxy-wasm plugin may declare, what Envoy 1.40 does, what
//! the harness does, and how we know ([`ROWS`]).
//!
//! The table is data, so it cannot drift from the tests: a row that says it [`Status::Matches`]
//! by [`Evidence::Probe`] must name imports the conformance probe actually called in the
//! harness during the run whose records were compared with Envoy's
//! (`tests/all/conformance.rs` checks this after comparing); [`Evidence::Test`] names a test
//! that exists; [`Evidence::Source`] says what was read instead of measured. Every hostcall the
//! harness links has a row (a unit test below). [`markdown`] renders the table the README
//! shows (`tests/all/fidelity.rs` keeps the README's copy equal; `BLESS=1` rewrites it).
//!
//! VMs (verified with the conformance probe, `tests/all/conformance_lifecycle.rs`): Envoy
//! starts a throw-away canary VM, the main thread's VM and one VM per worker, each
//! `_initialize`, `proxy_on_context_create(root, 0)`, `proxy_on_vm_start`,
//! `proxy_on_configure` (false → rejected; a canary's refusal rejects the configuration);
//! the canary is destroyed without `on_done`/`on_delete`; at shutdown every live root gets
//! `proxy_on_done` then `proxy_on_delete`. [`crate::Harness`] does the same
//! (`Harness::start`, `Harness::shutdown`); a lone [`crate::Vm`] is one worker's VM.
//! A bootstrap singleton (`WasmService { singleton: true }`) runs on the main thread after
//! its own canary (`Harness::add_service`, verified with `tests/all/conformance_queue.rs`).
//! A trap: the stream gets Envoy's 503 `wasm_fail_stream` (no more callbacks for it), and
//! later requests follow [`crate::VmOptions::failure_policy`]: fail closed (503), fail
//! open (bypassed), or reload after a 1 s backoff (a fresh VM; `ExchangeOutcome::reloaded`,
//! `Vm::reload_stats`), as measured ([`crate::failure`]).
//!
//! Per VM: `_initialize` (or `_start`), `proxy_on_context_create(root, 0)`,
//! `proxy_on_vm_start`, `proxy_on_configure`. Per exchange (every point
//! verified with the conformance probe against Envoy 1.40, `tests/all/conformance.rs`):
//! - `on_context_create(ctx, root)`, `on_request_headers(n, eos)` (`eos` false when the
//!   request announces a body: `content-length` above 0 or `transfer-encoding`);
//! - `on_request_body` once per chunk of the traffic's body with `eos` false, then an empty
//!   call with `eos` true (no trailers); `on_request_trailers`;
//! - `on_response_headers`, `on_response_body` (the same for an upstream's response; a local
//!   reply's body, any `code_details` but `via_upstream`, in one call with `eos` true),
//!   `on_response_trailers`;
//! - before `on_log`, what Envoy adds after the filter: the traffic's
//!   `envoy.request_headers_added` (filters after the plugin), the router's
//!   `x-envoy-expected-rq-timeout-ms: 15000` on a forwarded request, and on the response
//!   `date` (when absent), `server: envoy` (in place) and `connection: close` (when the client
//!   asked for it, or after a codec rejection);
//! - `on_log`, the HTTP connection manager's access loggers
//!   ([`crate::VmOptions::access_loggers`]: each prints one filter-state key verbatim, as
//!   `%FILTER_STATE(<key>:PLAIN)%` behind a filter that logs only when the key exists;
//!   records in [`crate::ExchangeOutcome::access_log`]; they also run when a trap ended the
//!   stream early), `on_done`, `on_delete`.
//!
//! A codec rejection (`rejected_by: codec`): `on_context_create` (with `response.*` already
//! set), `on_log` (an empty request map, `request.*` NotFound, Envoy's local reply: `:status`,
//! `content-length`, `content-type: text/plain`, then `date`, `server`, `connection: close`;
//! body the reason phrase), `on_done`, `on_delete`. A filter's reply (`rejected_by: filter`):
//! the request headers, the body chunks the traffic gives (none when the filter answered
//! from the headers) without end of stream, then the reply: `:status`, the filter's headers,
//! `content-length` and `content-type: text/plain`, the body in one call.
//!
//! A `Pause` from a request callback holds the request: the harness answers the plugin's
//! callouts from the exchange's `callouts` until the plugin resumes (`proxy_continue_stream`)
//! or replies; with nothing left to answer the exchange is `stalled` (`on_log` without a
//! response; in Envoy the request would wait for a timeout or the client). A `Pause` from a
//! response callback is recorded and the exchange proceeds. Request headers are `:authority` (from `host`), `:path`, `:method`, `:scheme`,
//! the client's headers as Envoy's HTTP/1 codec leaves them, then `x-forwarded-proto` and a
//! generated `x-request-id` when absent (Envoy's HTTP/1 order). The codec merges a repeated
//! inline header into the first with `,` (no space): verified for `user-agent`, `accept`,
//! `accept-encoding`, `authorization`, `cache-control`, `content-type`, `origin`, `referer`,
//! `via`, `x-forwarded-for`, `x-forwarded-host`, `x-request-id`; `cookie`, `accept-language`
//! and custom headers stay separate entries (HTTP/1: no `; ` cookie join);
//! `transfer-encoding`, `connection`, `keep-alive` and `proxy-connection` are consumed.
//! Header-backed `request.*` properties follow the request map (`NotFound` when it is null);
//! `request.time`/`protocol` and `response.flags` (0 before the response) come from the
//! stream info and are always there. The traffic's `filter_metadata` is taken as written by
//! filters behind the plugin (jwt_authn): a namespace is `NotFound` until
//! `on_request_headers` has returned `Continue`. A trap fails the VM (see above for what
//! Envoy does next).
//!
//! Every hostcall is counted per exchange (what a request costs in host crossings; in
//! Envoy 1.40 on V8 a property read costs about 1-1.7 µs, a header read 0.25 µs): see
//! [`crate::counting`] and `vigil hostcalls`.

/// How the harness compares with Envoy 1.40 for a row's imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Same results, statuses and side effects.
    Matches,
    /// Differs, as described.
    Differs(&'static str),
    /// Not implemented, with what the harness does instead.
    NotImplemented(&'static str),
}

/// Why a row says what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// The conformance probe calls these imports in a scripted run compared record by record
    /// with Envoy's (`tests/all/conformance.rs`).
    Probe,
    /// This test (`file::function` under `tests/all/`) compares the harness with Envoy.
    Test(&'static str),
    /// Read in Envoy's or proxy-wasm-cpp-host's source, not measured.
    Source(&'static str),
}

/// One row: imports, Envoy's behaviour, the harness's, the verdict and its evidence.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Import names (`env` module for `proxy_*`, `wasi_snapshot_preview1` for the rest).
    pub imports: &'static [&'static str],
    /// What Envoy 1.40 does.
    pub envoy: &'static str,
    /// What the harness does.
    pub harness: &'static str,
    /// The verdict.
    pub status: Status,
    /// How it is known.
    pub evidence: Evidence,
}

/// The table.
pub const ROWS: &[Row] = &[
    Row {
        imports: &["proxy_log"],
        envoy: "logs at level (dropped below the wasm logger level)",
        harness: "records `LogEntry` if `level >= log_level`; bad level → `BadArgument`",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_get_log_level"],
        envoy: "configured level",
        harness: "`VmOptions::log_level` (default info)",
        status: Status::Matches,
        evidence: Evidence::Source("Envoy context.cc: the wasm logger's level"),
    },
    Row {
        imports: &["proxy_get_current_time_nanoseconds"],
        envoy: "system time",
        harness: "harness clock (`set_time`/`advance_time`; `run` sets it to the exchange time)",
        status: Status::Differs("by design: the harness clock, which `run` sets to each exchange's time so that replays are deterministic"),
        evidence: Evidence::Source("Envoy: the dispatcher's system time"),
    },
    Row {
        imports: &["proxy_set_tick_period_milliseconds"],
        envoy: "root-context timer, per worker",
        harness: "`advance_time` fires `proxy_on_tick(root)` each period; 0 disables",
        status: Status::Matches,
        evidence: Evidence::Source("proxy-wasm-cpp-host: a per-root timer on the worker's dispatcher"),
    },
    Row {
        imports: &["proxy_get_buffer_bytes"],
        envoy: "current chunk / configs; unknown buffer → `NotFound`; clamps the range, writes nothing for length 0 (verified)",
        harness: "same; plugin configuration only during `on_configure` (`temp_plugin_`, verified); body buffers only during their body callback",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_set_buffer_bytes"],
        envoy: "`Buffer::copyFrom`: prepend / replace / append else `BadArgument` (verified)",
        harness: "same on body buffers; others `BadArgument`",
        status: Status::Matches,
        evidence: Evidence::Source("Envoy context.cc setBuffer / Buffer::copyFrom"),
    },
    Row {
        imports: &["proxy_get_header_map_value"],
        envoy: "null map → `BadArgument`; missing → `NotFound`; first value (verified)",
        harness: "same; request headers are null in the callbacks of a codec rejection (`rejected_by: codec`) (SDK panics → VM failure, as in Envoy)",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_get_header_map_pairs"],
        envoy: "null map → empty, `Ok` (verified)",
        harness: "same; empty map → null pointer, size 0",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_add_header_map_value", "proxy_replace_header_map_value", "proxy_remove_header_map_value"],
        envoy: "mutable map or `BadArgument`; keys lower-cased; replace removes every value of the key and appends the new one at the end",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_set_header_map_pairs"],
        envoy: "replaces the mutable map's pairs, or `BadArgument`",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Source("Envoy context.cc setHeaderMapPairs"),
    },
    Row {
        imports: &["proxy_get_header_map_size"],
        envoy: "byte size or `BadArgument`",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Source("proxy-wasm-cpp-host exports.cc getHeaderMapSize"),
    },
    Row {
        imports: &["proxy_get_property"],
        envoy: "CEL path walk; unknown → `NotFound`; ints/doubles 8-byte LE; timestamps int64 ns; maps/lists as pairs; header maps by lower-cased name; `filter_state[key]` → the value's bytes; an unknown top-level name falls back to filter state `wasm.<name>` (verified)",
        harness: "see [`crate::hostcalls::properties`]. Verified against Envoy 1.40 with the conformance probe (38 paths at every callback): `response.code`/`code_details`/`grpc_status`/`headers` once the response exists (`grpc_status` from `grpc-status` or Envoy's HTTP mapping); `response.flags` always (0 before the response); `request.size` = `content-length` while the map exists, else body bytes received; `request.total_size` = bytes received + the map's byte size while it exists; `response.size`/`total_size` the same with bytes sent; `request.duration` once the stream is complete (a nominal 1 ms); top-level `route_name`/`cluster_name` NotFound (1.40 moved them to `xds.*`, which a codec rejection lacks); `upstream.address`/`port` from the response on (traffic `envoy.upstream_address`); `destination.*` the listener (traffic `destination`); `connection.*` of a TLS connection (`mtls`, `tls_version`, SNI, subjects, first URI/DNS SANs, the peer's SHA-256) from the traffic's `tls`, with and without a client certificate, and of a plain one (`mtls` false, SNI empty, the rest NotFound); header-backed `request.*` and `response.headers` only while their map exists; `metadata` alone / `node` messages → empty bytes (protobuf not emulated); `filter_state` alone → `SerializationFailure` (from source, unmeasured)",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_set_property"],
        envoy: "no stream info (root context) → `NotFound`; else filter state under `wasm.<path>` (the raw path, `\\0`s kept), created with the default prototype (mutable bytes, filter-chain life span) or overwritten, `Ok` (verified: `Context::setProperty`)",
        harness: "same, per stream (gone with it); readable by `get_property([name])` and `get_property([\"filter_state\", \"wasm.<name>\"])`; printed by the access loggers below",
        status: Status::Matches,
        evidence: Evidence::Test("e2e_parity::e2e_parity_access_log_sink"),
    },
    Row {
        imports: &["proxy_get_shared_data"],
        envoy: "`(value, cas)` or `NotFound`, namespaced by vm_id (cpp-host, unverified in detail)",
        harness: "same, [`crate::SharedData`] shared by all VMs",
        status: Status::Matches,
        evidence: Evidence::Test("e2e_parity::e2e_parity_access_log_sink"),
    },
    Row {
        imports: &["proxy_set_shared_data"],
        envoy: "cas 0 unchecked; mismatch → `CasMismatch`; missing key always inserted; cas counter from 1 skipping 0 (cpp-host, unverified)",
        harness: "same; counts gets/sets/mismatches",
        status: Status::Matches,
        evidence: Evidence::Test("e2e_parity::e2e_parity_access_log_sink"),
    },
    Row {
        imports: &["proxy_register_shared_queue"],
        envoy: "(vm_id, name) → token, idempotent; the owner is the registering VM's root context, and the last VM to register it (verified: conformance probe)",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_queue::e2e_conformance_queue_to_a_singleton_service"),
    },
    Row {
        imports: &["proxy_resolve_shared_queue"],
        envoy: "by (vm_id, name) else `NotFound`; an empty vm_id is the caller's own (verified)",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_queue::e2e_conformance_queue_to_a_singleton_service"),
    },
    Row {
        imports: &["proxy_enqueue_shared_queue"],
        envoy: "unknown → `NotFound`; posts one `on_queue_ready` to the owner's thread (a bootstrap singleton's: the main thread), asynchronously (verified)",
        harness: "same; [`crate::Harness`] delivers after every request and tick (`Harness::deliver_queues`), a lone VM by `Vm::deliver_queue_ready`",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_queue::e2e_conformance_queue_to_a_singleton_service"),
    },
    Row {
        imports: &["proxy_dequeue_shared_queue"],
        envoy: "unknown → `NotFound`, empty → `Empty`",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_queue::e2e_conformance_queue_to_a_singleton_service"),
    },
    Row {
        imports: &["proxy_define_metric"],
        envoy: "a new id per definition, counting up by 4 per type from 4 + type (counters 4, 8, …; gauges 5, 9, …; histograms 6, 10, …), the type in the low 2 bits; ids of one name share its stat; unknown type → `BadArgument`; stats process-wide, shown as `wasmcustom.<name>` (verified: conformance probe)",
        harness: "same, raw names in `Vm::metrics()`",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_increment_metric"],
        envoy: "counter: offset ≤ 0 → `BadArgument`; gauge add/sub; histogram → `BadArgument`; unknown id → `NotFound` (verified)",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_record_metric"],
        envoy: "counter add, gauge set, histogram record",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_get_metric"],
        envoy: "histogram → `BadArgument`; unknown → `NotFound` (verified)",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_http_call"],
        envoy: "unknown cluster, negative timeout or missing `:method`/`:path`/`:authority` → `BadArgument` (verified for cluster/timeout); tokens 4, 8, 12, … (verified); the callout belongs to the root context and outlives the stream; its answer goes to the root (`proxy_on_http_call_response(root, …)`); a timeout or connection failure is answered too, with Envoy's local reply (504 `upstream request timeout`, verified)",
        harness: "same numbering and ownership; answered from the exchange's `callouts` while the stream is paused (then any left before the response), or by `respond_http_call`/`fail_http_call`; an unanswered callout stays pending",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_send_local_response"],
        envoy: "ends the request: no more request callbacks, nothing upstream; the reply (`:status`, the plugin's headers, `content-length`, `content-type: text/plain`, the body in one call, `code_details` as given, no response flags) passes through the response callbacks; a paused request's headers stay readable (verified: conformance probe)",
        harness: "same; also recorded in `ExchangeOutcome::local_responses`",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_continue_stream"],
        envoy: "resumes a paused stream; resuming the request clears the request header map at once",
        harness: "same: the paused exchange goes on (request map cleared)",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_close_stream"],
        envoy: "resets the stream",
        harness: "recorded, `Ok`; the exchange is not cut short",
        status: Status::Differs("a reset is recorded, not acted on: the traffic file's response still runs"),
        evidence: Evidence::Source("Envoy context.cc closeStream"),
    },
    Row {
        imports: &["proxy_set_effective_context"],
        envoy: "unknown context → `BadArgument`",
        harness: "same (root or the live stream)",
        status: Status::Matches,
        evidence: Evidence::Source("proxy-wasm-cpp-host exports.cc set_effective_context"),
    },
    Row {
        imports: &["proxy_done"],
        envoy: "`Ok` only for a root pending done (its `on_done` answered false at shutdown), then its `on_delete`; else `NotFound` (verified: probe, outside a shutdown)",
        harness: "same ([`crate::Vm::shutdown`]: the root's timers go on until it calls `proxy_done`)",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_call_foreign_function"],
        envoy: "Envoy's registered functions; unknown → `NotFound` (verified for empty arguments: see [`crate::hostcalls::foreign`])",
        harness: "`clear_route_cache`, `compress`/`uncompress` (zlib), `declare_property` (recorded), `set_envoy_filter_state` (`NotFound`: no object factories); CEL and signatures not emulated (`BadArgument`)",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_grpc_call"],
        envoy: "a unary call through Envoy's gRPC client to the named cluster (HTTP/2); tokens 5, 9, 13, … (apart from HTTP callouts' 4, 8, …); unknown cluster or negative timeout → `BadArgument` (from source); the answer goes to the root context: a message with status 0 → `proxy_on_grpc_receive` (the message in `GrpcReceiveBuffer`, empty outside it), any other status → `proxy_on_grpc_close` with `proxy_get_status` giving the code and `grpc-message` + `{via_upstream}`",
        harness: "same; answered from the exchange's `callouts` (the upstream's reply) in dispatch order with HTTP callouts, or by [`crate::Vm::respond_grpc_call`]; statuses from trailers or a trailers-only reply's headers, an HTTP status without one mapped as Envoy maps it (from source)",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["proxy_grpc_stream"],
        envoy: "a bidirectional stream through Envoy's gRPC client",
        harness: "`InternalFailure` (the Rust SDK's wrapper then panics and the VM fails)",
        status: Status::NotImplemented("gRPC streams are not emulated; unary calls are"),
        evidence: Evidence::Source("proxy-wasm-cpp-host exports.cc grpc_stream"),
    },
    Row {
        imports: &["proxy_grpc_send", "proxy_grpc_cancel", "proxy_grpc_close"],
        envoy: "unknown token → `NotFound`; cancel or close of a pending call drops it (no callback)",
        harness: "same (`proxy_grpc_send` always `NotFound`: no streams)",
        status: Status::Matches,
        evidence: Evidence::Source("proxy-wasm-cpp-host exports.cc grpc_send/cancel/close"),
    },
    Row {
        imports: &["proxy_get_status"],
        envoy: "the last gRPC close's code and message (0 and empty before any, and after a received message)",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Probe,
    },
    Row {
        imports: &["fd_write"],
        envoy: "fd 1 → info log, fd 2 → error log",
        harness: "same (one line per call, trailing newline dropped); other fds `EBADF`",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_wasi::e2e_wasi_calls_return_what_envoy_returns"),
    },
    Row {
        imports: &["environ_get", "environ_sizes_get"],
        envoy: "`vm_config.environment_variables`",
        harness: "`VmOptions::env`",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_wasi::e2e_wasi_calls_return_what_envoy_returns"),
    },
    Row {
        imports: &["args_get", "args_sizes_get"],
        envoy: "no args",
        harness: "no args",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_wasi::e2e_wasi_calls_return_what_envoy_returns"),
    },
    Row {
        imports: &["clock_time_get"],
        envoy: "real clocks",
        harness: "harness clock",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_wasi::e2e_wasi_calls_return_what_envoy_returns"),
    },
    Row {
        imports: &["random_get"],
        envoy: "real randomness",
        harness: "deterministic per `VmOptions::seed`",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_wasi::e2e_wasi_calls_return_what_envoy_returns"),
    },
    Row {
        imports: &["proc_exit"],
        envoy: "fails the VM",
        harness: "trap → VM failed",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_wasi::e2e_wasi_calls_return_what_envoy_returns"),
    },
    Row {
        imports: &["fd_read", "fd_close", "fd_seek", "fd_prestat_dir_name"],
        envoy: "`fd_read`, `fd_prestat_dir_name`: `ENOSYS`; `fd_close`, `fd_seek`: success, nothing done (measured)",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_wasi::e2e_wasi_calls_return_what_envoy_returns"),
    },
    Row {
        imports: &["fd_fdstat_get"],
        envoy: "char device for 1/2, else `EBADF`",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_wasi::e2e_wasi_calls_return_what_envoy_returns"),
    },
    Row {
        imports: &["fd_prestat_get"],
        envoy: "`EBADF` (no preopens)",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_wasi::e2e_wasi_calls_return_what_envoy_returns"),
    },
    Row {
        imports: &["path_open"],
        envoy: "`ENOENT` (measured)",
        harness: "same",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_wasi::e2e_wasi_calls_return_what_envoy_returns"),
    },
    Row {
        imports: &["poll_oneoff", "sched_yield", "clock_res_get"],
        envoy: "success: no events / yield / a resolution (measured)",
        harness: "same: 0 events / ok / 1 ns",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_wasi::e2e_wasi_calls_return_what_envoy_returns"),
    },
    Row {
        imports: &[
            "fd_advise", "fd_allocate", "fd_datasync", "fd_fdstat_set_flags",
            "fd_fdstat_set_rights", "fd_filestat_get", "fd_filestat_set_size",
            "fd_filestat_set_times", "fd_pread", "fd_pwrite", "fd_readdir", "fd_renumber",
            "fd_sync", "fd_tell", "path_create_directory", "path_filestat_get",
            "path_filestat_set_times", "path_link", "path_readlink", "path_remove_directory",
            "path_rename", "path_symlink", "path_unlink_file", "sock_accept", "sock_recv",
            "sock_send", "sock_shutdown",
        ],
        envoy: "stubs that do nothing and return a fixed errno (`EBADF`, `ENOSYS`, `ENOTSUP`, …, measured with zero arguments); `path_link` and `path_symlink` with 6 and 4 parameters, not the standard 7 and 5 (a module importing the standard ones fails to load); `proc_raise` absent",
        harness: "the same stubs, errnos and signatures ([`crate::hostcalls::wasi_stubs`]); `proc_raise` refused",
        status: Status::Matches,
        evidence: Evidence::Test("conformance_wasi::e2e_wasi_calls_return_what_envoy_returns"),
    },
];

/// The imports whose rows rest on the probe ([`Evidence::Probe`]).
pub fn probe_imports() -> Vec<&'static str> {
    ROWS.iter()
        .filter(|r| r.evidence == Evidence::Probe)
        .flat_map(|r| r.imports.iter().copied())
        .collect()
}

/// The table as Markdown (the README's copy).
pub fn markdown() -> String {
    let mut out = String::from(
        "| import | Envoy 1.40 | harness | verdict | evidence |\n|---|---|---|---|---|\n",
    );
    for r in ROWS {
        let imports: Vec<String> = r.imports.iter().map(|i| format!("`{i}`")).collect();
        let status = match r.status {
            Status::Matches => "matches".to_string(),
            Status::Differs(how) => format!("differs: {how}"),
            Status::NotImplemented(what) => format!("not implemented: {what}"),
        };
        let evidence = match r.evidence {
            Evidence::Probe => "conformance probe".to_string(),
            Evidence::Test(t) => format!("`tests/all/{}`", t.replace("::", ".rs` `")),
            Evidence::Source(s) => format!("source: {s}"),
        };
        let harness = r.harness.replace("[`crate::", "`").replace("`]", "`");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            imports.join(", "),
            r.envoy,
            harness,
            status,
            evidence
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_linked_hostcall_has_one_row() {
        let stubs = crate::hostcalls::wasi_stubs::names();
        for name in crate::counting::linked_names().iter().copied().chain(stubs) {
            let n = ROWS.iter().filter(|r| r.imports.contains(&name)).count();
            assert_eq!(n, 1, "{name} is in {n} rows");
        }
    }

    #[test]
    fn the_markdown_has_a_line_per_row() {
        assert_eq!(markdown().lines().count(), ROWS.len() + 2);
    }
}
