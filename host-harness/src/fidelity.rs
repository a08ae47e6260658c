//! Fidelity table: every import a proxy-wasm Rust SDK 0.2.5 plugin may declare, what
//! Envoy 1.40 does, and what the harness does.
//!
//! "Verified" = checked against Envoy's `source/extensions/common/wasm/context.cc` or
//! proxy-wasm-cpp-host, or the measured notes; "unverified" = from memory of cpp-host.
//!
//! | import | Envoy | harness |
//! |---|---|---|
//! | `proxy_log` | logs at level (dropped below the wasm logger level) | records `LogEntry` if `level >= log_level`; bad level → `BadArgument` |
//! | `proxy_get_log_level` | configured level | `VmOptions::log_level` (default info) |
//! | `proxy_get_current_time_nanoseconds` | system time | harness clock (`set_time`/`advance_time`; `run` sets it to the exchange time) |
//! | `proxy_set_tick_period_milliseconds` | root-context timer, per worker | `advance_time` fires `proxy_on_tick(root)` each period; 0 disables |
//! | `proxy_get_buffer_bytes` | current chunk / configs; unknown buffer → `NotFound`; clamps the range, writes nothing for length 0 (verified) | same; plugin configuration only during `on_configure` (`temp_plugin_`, verified); body buffers only during their body callback |
//! | `proxy_set_buffer_bytes` | `Buffer::copyFrom`: prepend / replace / append else `BadArgument` (verified) | same on body buffers; others `BadArgument` |
//! | `proxy_get_header_map_value` | null map → `BadArgument`; missing → `NotFound`; first value (verified) | same; request headers are null in the callbacks of a codec rejection (`rejected_by: codec`) (SDK panics → VM failure, as in Envoy) |
//! | header map lifetime | request headers exist during `on_request_headers` only (Envoy clears `request_headers_` when it returns `Continue`, or when a paused plugin resumes), response headers during `on_response_headers` only; both readable (not writable) again in `on_log`, gone in `on_done`/`on_delete`; a null map reads as `BadArgument` (value), empty pairs `Ok`, writes `BadArgument` (verified: conformance probe) | same; after a `Pause` the map stays until the resume, and through a local reply's response callbacks (verified) |
//! | `proxy_get_header_map_pairs` | null map → empty, `Ok` (verified) | same; empty map → null pointer, size 0 |
//! | `proxy_set_header_map_pairs`, `_add_`, `_replace_`, `_remove_` | mutable map or `BadArgument`; keys lower-cased; replace removes every value of the key and appends the new one at the end (verified: conformance probe) | same |
//! | `proxy_get_header_map_size` | byte size or `BadArgument` | same |
//! | `proxy_get_property` | CEL path walk; unknown → `NotFound`; ints/doubles 8-byte LE; timestamps int64 ns; maps/lists as pairs; header maps by lower-cased name; `filter_state[key]` → the value's bytes; an unknown top-level name falls back to filter state `wasm.<name>` (verified) | see [`crate::hostcalls::properties`]. Verified against Envoy 1.40 with the conformance probe (38 paths at every callback): `response.code`/`code_details`/`grpc_status`/`headers` once the response exists (`grpc_status` from `grpc-status` or Envoy's HTTP mapping); `response.flags` always (0 before the response); `request.size` = `content-length` while the map exists, else body bytes received; `request.total_size` = bytes received + the map's byte size while it exists; `response.size`/`total_size` the same with bytes sent; `request.duration` once the stream is complete (a nominal 1 ms); top-level `route_name`/`cluster_name` NotFound (1.40 moved them to `xds.*`, which a codec rejection lacks); `upstream.address`/`port` from the response on (traffic `envoy.upstream_address`); `destination.*` the listener (traffic `destination`); header-backed `request.*` and `response.headers` only while their map exists; `metadata` alone / `node` messages → empty bytes (protobuf not emulated); `filter_state` alone → `SerializationFailure` (from source, unmeasured) |
//! | `proxy_set_property` | no stream info (root context) → `NotFound`; else filter state under `wasm.<path>` (the raw path, `\0`s kept), created with the default prototype (mutable bytes, filter-chain life span) or overwritten, `Ok` (verified: `Context::setProperty`) | same, per stream (gone with it); readable by `get_property([name])` and `get_property(["filter_state", "wasm.<name>"])`; printed by the access loggers below |
//! | `proxy_get_shared_data` | `(value, cas)` or `NotFound`, namespaced by vm_id (cpp-host, unverified in detail) | same, [`crate::SharedData`] shared by all VMs |
//! | `proxy_set_shared_data` | cas 0 unchecked; mismatch → `CasMismatch`; missing key always inserted; cas counter from 1 skipping 0 (cpp-host, unverified) | same; counts gets/sets/mismatches |
//! | `proxy_register_shared_queue` | (vm_id, name) → token, idempotent; the owner is the registering VM's root context, and the last VM to register it (verified: conformance probe) | same |
//! | `proxy_resolve_shared_queue` | by (vm_id, name) else `NotFound`; an empty vm_id is the caller's own (verified) | same |
//! | `proxy_enqueue_shared_queue` | unknown → `NotFound`; posts one `on_queue_ready` to the owner's thread (a bootstrap singleton's: the main thread), asynchronously (verified) | same; [`crate::Harness`] delivers after every request and tick (`Harness::deliver_queues`), a lone VM by `Vm::deliver_queue_ready` |
//! | `proxy_dequeue_shared_queue` | unknown → `NotFound`, empty → `Empty` | same |
//! | `proxy_define_metric` | a new id per definition, counting up by 4 per type from 4 + type (counters 4, 8, …; gauges 5, 9, …; histograms 6, 10, …), the type in the low 2 bits; ids of one name share its stat; unknown type → `BadArgument`; stats process-wide, shown as `wasmcustom.<name>` (verified: conformance probe) | same, raw names in `Vm::metrics()` |
//! | `proxy_increment_metric` | counter: offset ≤ 0 → `BadArgument`; gauge add/sub; histogram → `BadArgument`; unknown id → `NotFound` (verified) | same |
//! | `proxy_record_metric` | counter add, gauge set, histogram record | same |
//! | `proxy_get_metric` | histogram → `BadArgument`; unknown → `NotFound` (verified) | same |
//! | `proxy_http_call` | unknown cluster, negative timeout or missing `:method`/`:path`/`:authority` → `BadArgument` (verified for cluster/timeout); tokens 4, 8, 12, … (verified); the callout belongs to the root context and outlives the stream; its answer goes to the root (`proxy_on_http_call_response(root, …)`); a timeout or connection failure is answered too, with Envoy's local reply (504 `upstream request timeout`, verified) | same numbering and ownership; answered from the exchange's `callouts` while the stream is paused (then any left before the response), or by `respond_http_call`/`fail_http_call`; an unanswered callout stays pending |
//! | `proxy_send_local_response` | ends the request: no more request callbacks, nothing upstream; the reply (`:status`, the plugin's headers, `content-length`, `content-type: text/plain`, the body in one call, `code_details` as given, no response flags) passes through the response callbacks; a paused request's headers stay readable (verified: conformance probe) | same; also recorded in `ExchangeOutcome::local_responses` |
//! | `proxy_continue_stream`, `proxy_close_stream` | resume / reset; resuming the request clears the request header map at once (verified) | resume: the paused exchange goes on (request map cleared); reset: recorded, `Ok` |
//! | `proxy_set_effective_context` | unknown context → `BadArgument` | same (root or the live stream) |
//! | `proxy_done` | root context done | counted, `Ok` |
//! | `proxy_call_foreign_function` | Envoy's registered functions; unknown → `NotFound` (verified for empty arguments: see [`crate::hostcalls::foreign`]) | `clear_route_cache`, `compress`/`uncompress` (zlib), `declare_property` (recorded), `set_envoy_filter_state` (`NotFound`: no object factories); CEL and signatures not emulated (`BadArgument`) |
//! | `proxy_grpc_call`, `proxy_grpc_stream` | needs a gRPC service | `InternalFailure` (unverified) |
//! | `proxy_grpc_send`, `_cancel`, `_close` | unknown token → `NotFound` | `NotFound` |
//! | `proxy_get_status` | gRPC status of the callout | code 0, no message |
//! | `wasi fd_write` | fd 1 → info log, fd 2 → error log | same (one line per call, trailing newline dropped); other fds `EBADF` |
//! | `wasi environ_get/_sizes_get` | `vm_config.environment_variables` | `VmOptions::env` |
//! | `wasi args_get/_sizes_get` | no args | no args |
//! | `wasi clock_time_get` | real clocks | harness clock |
//! | `wasi random_get` | real randomness | deterministic per `VmOptions::seed` |
//! | `wasi proc_exit` | fails the VM | trap → VM failed |
//! | `wasi fd_read/fd_close/fd_seek/fd_prestat_dir_name` | `ENOSYS` (unverified) | `ENOSYS` |
//! | `wasi fd_fdstat_get` | char device for 1/2, else `EBADF` | same |
//! | `wasi fd_prestat_get` | `EBADF` (no preopens) | same |
//! | `wasi path_open` | fails | `ENOENT` |
//! | `wasi poll_oneoff`, `sched_yield`, `clock_res_get` | minimal | 0 events / ok / 1 ns |
//! | any other import | module fails to load | `HarnessError::UnknownImport` naming it |
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
