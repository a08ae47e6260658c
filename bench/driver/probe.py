"""`scripts/bench --probe`: the price of each proxy-wasm hostcall kind in Envoy.

For each kind, interleaved round by round, Envoy (--concurrency 1, cpu0) runs the probe filter
(bench/hostcall-cost) configured for n = 0 and for n = N calls of that kind per request, under
the attack workload (wrk on cpu1). Cost per call = (Envoy CPU µs/request at n=N − at n=0) / N;
the table gives the median over rounds. `none` against n = 0 is the noise floor.
"""
import json
import os
import statistics

import envoyctl
import runs

JWT_SUB = ["metadata", "filter_metadata", "envoy.filters.http.jwt_authn", "jwt_payload", "sub"]
# The probe's gauge holds status + 1 (0: never called).
STATUS = {0: "never called", 1: "Ok", 2: "NotFound", 3: "BadArgument", 4: "SerializationFailure",
          5: "ParseFailure", 6: "BadExpression", 7: "InvalidMemoryAccess", 8: "Empty",
          9: "CasMismatch", 10: "ResultMismatch", 11: "InternalFailure", 12: "BrokenConnection",
          13: "Unimplemented"}

# (label, probe configuration without n, Envoy's wasm log level)
KINDS = [
    ("none (noise floor)", {"call": "none"}, "warning"),
    ("get_property response.code", {"call": "get_property", "arg": "response.code"}, "warning"),
    ("get_property response.flags", {"call": "get_property", "arg": "response.flags"}, "warning"),
    ("get_property response.code_details", {"call": "get_property", "arg": "response.code_details"}, "warning"),
    ("get_property source.address", {"call": "get_property", "arg": "source.address"}, "warning"),
    ("get_property request.time", {"call": "get_property", "arg": "request.time"}, "warning"),
    ("get_property jwt_authn sub (absent)", {"call": "get_property", "arg": JWT_SUB}, "warning"),
    ("get_header_map_value request, present", {"call": "get_header_map_value", "map": "request", "arg": "user-agent"}, "warning"),
    ("get_header_map_value request, absent", {"call": "get_header_map_value", "map": "request", "arg": "x-absent"}, "warning"),
    ("get_header_map_value response, present", {"call": "get_header_map_value", "map": "response", "arg": "content-length"}, "warning"),
    ("get_header_map_value response, absent", {"call": "get_header_map_value", "map": "response", "arg": "x-absent"}, "warning"),
    ("get_header_map_pairs request", {"call": "get_header_map_pairs", "map": "request"}, "warning"),
    ("get_header_map_pairs response", {"call": "get_header_map_pairs", "map": "response"}, "warning"),
    ("set_property vigil.event.0 (800 B)", {"call": "set_property", "arg": "vigil.event.0", "size": 800}, "warning"),
    ("get_shared_data", {"call": "get_shared_data"}, "warning"),
    ("set_shared_data (cas 0, 8 B)", {"call": "set_shared_data", "size": 8}, "warning"),
    ("get + set_shared_data with CAS (pair)", {"call": "cas_shared_data", "size": 8}, "warning"),
    ("increment_metric", {"call": "increment_metric"}, "warning"),
    ("proxy_log info 800 B, dropped (wasm:warning)", {"call": "proxy_log", "level": 2, "size": 800}, "warning"),
    ("proxy_log info 800 B, kept (wasm:info, /dev/null)", {"call": "proxy_log", "level": 2, "size": 800}, "info"),
    ("get_current_time_nanoseconds", {"call": "get_current_time_nanoseconds"}, "warning"),
    ("get_log_level", {"call": "get_log_level"}, "warning"),
    ("get_buffer_bytes request body (on_request_body)", {"call": "get_buffer_bytes"}, "warning"),
]


def run(a, out, paths, say):
    kinds = [k for k in KINDS if not a.kinds or any(s in k[0] for s in a.kinds.split(","))]
    binary = paths["probe"]
    configs = {}
    for i, (label, cfg, _) in enumerate(kinds):
        for n in (0, a.n):
            text = json.dumps(dict(cfg, n=n))
            configs[(i, n)] = envoyctl.render(os.path.join(out, f"probe-{i}-{n}.yaml"), a.port,
                                              a.admin_port, "", envoyctl.wasm_filter(binary, text))
    rows = []  # (round, kind index, n, cpu_us, rps, status, bytes)
    others = []
    steal0 = envoyctl.steal_sample()
    say(f"probe: {a.rounds} round(s) x {len(kinds)} kinds x (n=0, n={a.n}) x {a.seconds}s, wrk -t1 -c{a.connections}")
    for r in range(a.rounds):
        for j in range(len(kinds)):
            i = (j + r) % len(kinds)
            label, _, level = kinds[i]
            pair = []
            for n in ((0, a.n) if (r + j) % 2 == 0 else (a.n, 0)):
                env = envoyctl.Envoy(configs[(i, n)], a.admin_port, os.path.join(out, "probe.stderr"),
                                     wasm_level=level)
                why = env.start()
                if why:
                    say(f"  {label} n={n}: {why}")
                    continue
                try:
                    runs.wrk(a.port, "attack", a.warmup, a.connections)
                    m = runs.measure(env, lambda: runs.wrk(a.port, "attack", a.seconds, a.connections))
                    st = env.stats()
                finally:
                    env.stop()
                status, size = st.get("wasmcustom.probe.status", 0), st.get("wasmcustom.probe.bytes", 0)
                rows.append((r, i, n, m["cpu_us"], m["rps"], status, size))
                others.append(m["other_cpu"])
                pair.append(f"n={n}: {m['cpu_us']:.2f} us/req")
            say(f"  round {r + 1}  {label:<50} " + "  ".join(pair))
    steal1 = envoyctl.steal_sample()
    with open(os.path.join(out, "probe.tsv"), "w", encoding="utf-8") as f:
        f.write("round\tkind\tn\tcpu_us_per_req\treq_per_s\tstatus\tbytes\n")
        for r, i, n, cpu, rps, status, size in rows:
            f.write(f"{r + 1}\t{kinds[i][0]}\t{n}\t{cpu:.3f}\t{rps:.0f}\t{status}\t{size}\n")
    table = report(kinds, rows, a, steal0, steal1)
    table += f"\nother processes' CPU during the measurements: median {statistics.median(others):.2f} cores" if others else ""
    print(table)
    with open(os.path.join(out, "probe.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    return 0


def report(kinds, rows, a, steal0, steal1):
    steal = 100.0 * (steal1[0] - steal0[0]) / max(1, steal1[1] - steal0[1])
    lines = [f"machine: {envoyctl.machine()}; steal during the run: {steal:.2f}%",
             f"probe: Envoy 1.40 (V8) --concurrency 1 on cpu0, wrk -t1 -c{a.connections} on cpu1, "
             f"attack workload (POST /login -> 401), {a.rounds} round(s) x {a.seconds}s, N = {a.n}; "
             "calls in on_log unless noted",
             "",
             "| call | first call's status, bytes | µs per call (median) | per round | CPU µs/req at n=0 |",
             "|---|---|---|---|---|"]
    for i, (label, cfg, _) in enumerate(kinds):
        per_round = []
        base = []
        status = size = None
        for r in range(a.rounds):
            x0 = [c for rr, ii, n, c, *_ in rows if rr == r and ii == i and n == 0]
            xn = [(c, s, b) for rr, ii, n, c, _, s, b in rows if rr == r and ii == i and n == a.n]
            if x0 and xn:
                n_eff = a.n if cfg["call"] != "none" else 1
                per_round.append((xn[0][0] - x0[0]) / n_eff)
                base.append(x0[0])
                status, size = xn[0][1], xn[0][2]
        if not per_round:
            lines.append(f"| {label} | – | not measured | | |")
            continue
        name = STATUS.get(status, f"status {status - 1}")
        st = "–" if cfg["call"] == "none" else f"{name}, {size}"
        rounds = " ".join(f"{x:.2f}" for x in per_round)
        unit = " µs/request" if cfg["call"] == "none" else ""
        lines.append(f"| {label} | {st} | {statistics.median(per_round):.2f}{unit} | {rounds} | "
                     f"{statistics.median(base):.1f} |")
    return "\n".join(lines)
