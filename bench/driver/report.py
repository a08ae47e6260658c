"""The benchmark's summary: Markdown tables of medians over rounds, ready for the README."""
import statistics

import envoyctl
import floor

NAMES = {"none": "none", "accesslog": "native access log", "empty": "empty wasm filter",
         "floor_log": "floor, envoy_log shape", "vigil_log": "Vigil, envoy_log sink",
         "floor_al": "floor, access_log shape", "vigil_al": "Vigil, access_log sink",
         "empty_module": "empty dynamic module",
         "module_log": "Vigil module, envoy_log sink", "module_al": "Vigil module, access_log sink"}


def _med(xs):
    xs = [x for x in xs if x == x]  # drop NaN
    return statistics.median(xs) if xs else float("nan")


def _rows(results, phase, workload=None):
    by = {}
    for m in results:
        if m["phase"] == phase and (workload is None or m["workload"] == workload):
            by.setdefault(m["variant"], []).append(m)
    return by


def _check(ms):
    bad = [m["check"] for m in ms if m.get("check", "ok") != "ok"]
    if any("check" in m for m in ms):
        return "ok" if not bad else "FAIL: " + bad[0]
    return ""


def throughput_table(results, workload, conns):
    by = _rows(results, "throughput", workload)
    if not by:
        return []
    cpu = {v: _med([m["cpu_us"] for m in ms]) for v, ms in by.items()}
    rps = {v: _med([m["rps"] for m in ms]) for v, ms in by.items()}
    what = {"attack": "every request a failed login, POST /login -> 401",
            "mix": "95% GET / -> 200 (no event), 5% failed logins"}[workload]
    lines = [f"**{workload}** ({what}; wrk -t1 -c{conns}, Envoy --concurrency 1)", "",
             "| variant | CPU µs/req | vs none | vs access log | over empty filter | over its floor | req/s | req/s vs none | events / floor check | CPU µs/req per round |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for v in NAMES:
        if v not in by:
            continue
        r_none = f"{cpu[v] / cpu['none']:.2f}×" if "none" in cpu else "–"
        r_alog = f"{cpu[v] / cpu['accesslog']:.2f}×" if "accesslog" in cpu else "–"
        over = f"{cpu[v] - cpu['empty']:+.1f} µs" if "empty" in cpu and v != "empty" else "–"
        fl = floor.OF.get(v)
        ofl = f"{cpu[v] - cpu[fl]:+.1f} µs" if fl in cpu else "–"
        rr = f"{rps[v] / rps['none']:.2f}" if "none" in rps else "–"
        per = " ".join(f"{m['cpu_us']:.1f}" for m in by[v])
        lines.append(f"| {NAMES[v]} | {cpu[v]:.1f} | {r_none} | {r_alog} | {over} | {ofl} | {rps[v]:,.0f} | {rr} | "
                     f"{_check(by[v])} | {per} |")
    return lines + [""]


def latency_table(results, phase, title):
    by = _rows(results, phase)
    if not by:
        return []
    pct = {v: {q: _med([m["latency_us"][q] for m in ms]) for q in ("p50", "p99", "p99.9")}
           for v, ms in by.items()}
    lines = [title, "",
             "| variant | p50 µs | p99 µs | p99.9 µs | p99 over empty | CPU µs/req | over empty | achieved req/s | non-401 / errors | events |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    cpu = {v: _med([m["cpu_us"] for m in ms]) for v, ms in by.items()}
    for v in NAMES:
        if v not in by:
            continue
        ms = by[v]
        over = f"{pct[v]['p99'] - pct['empty']['p99']:+.0f} µs" if "empty" in pct and v != "empty" else "–"
        cover = f"{cpu[v] - cpu['empty']:+.1f} µs" if "empty" in cpu and v != "empty" else "–"
        odd = sum(n for m in ms for s, n in m.get("status", {}).items() if s != "401")
        errs = sum(m.get("errors", 0) for m in ms)
        extra = ""
        if phase == "contention":
            split = [sum(x) for x in zip(*[m.get("worker_cx", []) for m in ms])]
            extra = f"; connections per worker {split}" if v == "empty" else ""
        if phase == "contention" and v != "empty":
            extra += (f"; CAS retries {sum(m.get('cas_retries', 0) for m in ms)}, gave up "
                     f"{sum(m.get('cas_gave_up', 0) for m in ms)}, alerts {sum(m.get('alerts', 0) for m in ms)}")
        lines.append(f"| {NAMES[v]} | {pct[v]['p50']:.0f} | {pct[v]['p99']:.0f} | {pct[v]['p99.9']:.0f} | {over} | "
                     f"{cpu[v]:.1f} | {cover} | {_med([m['rps'] for m in ms]):,.0f} | {odd} / {errs} | "
                     f"{(_check(ms) + extra).lstrip('; ')} |")
    return lines + [""]


def _over(results, workloads, v, base):
    parts = []
    for w in workloads:
        by = _rows(results, "throughput", w)
        if v in by and base in by:
            d = _med([m["cpu_us"] for m in by[v]]) - _med([m["cpu_us"] for m in by[base]])
            parts.append((w, d))
    return parts


def _paired(results, workload, v, base):
    """Per round, `v`'s CPU µs/request minus `base`'s (the same round's runs)."""
    by = _rows(results, "throughput", workload)
    rounds = {m["round"]: m["cpu_us"] for m in by.get(base, [])}
    return [m["cpu_us"] - rounds[m["round"]] for m in by.get(v, []) if m["round"] in rounds]


def headline(results, workloads):
    """Per Vigil variant: µs per request over the empty filter and over its floor (the same
    hostcalls without Vigil's work), by workload; per floor: its µs over the empty filter."""
    lines = []
    for v in ("floor_log", "vigil_log", "floor_al", "vigil_al"):
        parts = _over(results, workloads, v, "empty")
        if parts:
            lines.append(f"{NAMES[v]} over the empty wasm filter (Envoy CPU): "
                         + ", ".join(f"{d:+.1f} µs/request on {w}" for w, d in parts))
    for v in ("empty_module", "module_log", "module_al"):
        for base in ("none", "empty_module"):
            parts = _over(results, workloads, v, base) if v != base else []
            if parts:
                lines.append(f"{NAMES[v]} over {NAMES[base]} (Envoy CPU): "
                             + ", ".join(f"{d:+.1f} µs/request on {w}" for w, d in parts))
    for v, fl in floor.OF.items():
        parts = _over(results, workloads, v, fl)
        if parts:
            sink = NAMES[v].split(", ", 1)[1]
            lines.append(f"Vigil, {sink} over its floor: "
                         + ", ".join(f"{d:+.1f} µs/request ({w})" if i == 0 else f"{d:+.1f} ({w})"
                                     for i, (w, d) in enumerate(parts))
                         + "; paired by round: "
                         + ", ".join(f"{w} " + " ".join(f"{x:+.1f}" for x in _paired(results, w, v, fl))
                                     for w, _ in parts))
    return lines + ([""] if lines else [])


def summary(a, results, skipped, wiring, harness, rate, steal0, steal1, floor_check=""):
    steal = 100.0 * (steal1[0] - steal0[0]) / max(1, steal1[1] - steal0[1])
    out = [f"machine: {envoyctl.machine()}; steal during the run: {steal:.2f}%",
           f"Envoy 1.40 (V8); {a.rounds} round(s) x {a.seconds:g} s per run, variants interleaved; "
           "medians over rounds; CPU µs/req = Envoy process CPU time (all threads, /proc) / "
           "requests Envoy completed (/stats)", ""]
    for w in a.workloads.split(","):
        out += throughput_table(results, w, a.connections)
    out += headline(results, a.workloads.split(","))
    out += latency_table(results, "latency",
                         f"**latency**, attack, open loop at {rate:,.0f} req/s (vigil-loadgen, 32 "
                         "connections, from each request's scheduled send time), Envoy --concurrency 1")
    out += latency_table(results, "contention",
                         f"**contention**, rotating attack ({a.sources} source IPs in 127.0.0.0/8, a new "
                         f"connection every 10 requests, 1000 usernames) at {rate:,.0f} req/s, "
                         "Envoy --concurrency 2 (both CPUs, shared with the load generator)")
    other = [m["other_cpu"] for m in results if "other_cpu" in m]
    if other:
        out.append(f"other processes' CPU during the measurements: median {_med(other):.2f} cores, "
                   f"max {max(other):.2f} (priority: {a.priority})")
    for v, why in skipped.items():
        out.append(f"skipped {NAMES.get(v, v)}: {why}")
    out.append(f"access_log sink wiring (CEL \"'wasm.vigil.event.<i>' in filter_state\", checked with the probe filter): {wiring}")
    if floor_check:
        out.append(f"floor (bench/driver/floor.py) against `vigil hostcalls` on bench/scenarios.jsonl: {floor_check}")
    out.append(harness)
    return "\n".join(out)
