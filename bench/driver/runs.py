"""One measured run: load (wrk closed loop, or vigil-loadgen open loop) against a started Envoy,
with Envoy's CPU time and request count sampled around it, and Vigil's event accounting."""
import json
import os
import re
import subprocess
import time

from envoyctl import busy_seconds, taskset

RQ_COMPLETED = "http.bench.downstream_rq_completed"
RQ_4XX = "http.bench.downstream_rq_4xx"
RQ_2XX = "http.bench.downstream_rq_2xx"
LINES = "filesystem.write_buffered"  # one per line written by a file sink (Envoy log or access log)
SCRIPTS = {"attack": "envoy/bench/login-attack.lua", "mix": "envoy/bench/mix.lua"}
PATHS = {"attack": "/login", "mix": "/"}


def wrk(port, workload, seconds, connections, cpus="1"):
    """Closed-loop load with wrk -t1; returns {"rps", "wrk_requests"}."""
    from envoyctl import ROOT
    cmd = taskset(cpus) + ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s",
                           f"{ROOT}/{SCRIPTS[workload]}", f"http://127.0.0.1:{port}{PATHS[workload]}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    total = re.search(r"^\s*(\d+) requests in", out, re.M)
    return {"rps": float(rps.group(1)) if rps else 0.0,
            "wrk_requests": int(total.group(1)) if total else 0}


def loadgen(binary, port, cpus, **opts):
    """Open-loop load with vigil-loadgen; returns its JSON summary (plus "rps")."""
    cmd = taskset(cpus) + [binary, "--addr", f"127.0.0.1:{port}"]
    for k, v in opts.items():
        cmd += ["--" + k.replace("_", "-"), str(v)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        res = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        res = {"requests": 0, "error": (p.stderr or p.stdout).strip()[-300:]}
    res["rps"] = res.get("achieved_rps", 0.0)
    return res


def measure(envoy, load):
    """Runs `load()` and samples Envoy around it: CPU µs per completed request, req/s, and
    how much CPU other processes took meanwhile (`other_cpu`, in cores: a noisy neighbour
    shows here)."""
    s0 = envoy.stats()
    c0, t0, b0, k0 = envoy.cpu_seconds(), time.monotonic(), busy_seconds(), _children()
    res = load()
    c1, t1, b1, k1 = envoy.cpu_seconds(), time.monotonic(), busy_seconds(), _children()
    s1 = envoy.stats()
    n = s1.get(RQ_COMPLETED, 0) - s0.get(RQ_COMPLETED, 0)
    elapsed = max(1e-9, t1 - t0)
    res["requests"] = n
    res["cpu_us"] = (c1 - c0) * 1e6 / n if n else float("nan")
    res["cpu_util"] = (c1 - c0) / elapsed
    res["load_cpu"] = (k1 - k0) / elapsed
    res["other_cpu"] = max(0.0, (b1 - b0) - (c1 - c0) - (k1 - k0)) / elapsed
    # Connections per worker (listener.<addr>.worker_<k>.downstream_cx_total): the split at
    # --concurrency 2.
    res["worker_cx"] = [s1[k] - s0.get(k, 0) for k in sorted(s1)
                        if k.startswith("listener.127.0.0.1_") and ".worker_" in k
                        and k.endswith(".downstream_cx_total")]
    if not res.get("rps"):
        res["rps"] = n / elapsed
    return res


def _children():
    t = os.times()
    return t.children_user + t.children_system


def vigil_accounting(envoy, wait=2.0, prefix="wasmcustom."):
    """Vigil's counters after `wait` s (its counters are flushed on a 1 s timer): events (by
    the sum of <prefix>vigil.events.*; the module's prefix is dynamicmodulescustom.), alerts, failed logins answered, lines written."""
    time.sleep(wait)
    st = envoy.stats()
    events = sum(v for k, v in st.items() if k.startswith(prefix + "vigil.events."))
    return {
        "events": events,
        "alerts": st.get(prefix + "vigil.alerts", 0),
        "failed_logins": st.get(RQ_4XX, 0),
        "ok_2xx": st.get(RQ_2XX, 0),
        "lines": st.get(LINES, 0),
        "suppressed": st.get(prefix + "vigil.events_suppressed", 0),
        "host_refused": st.get(prefix + "vigil.events_failed", 0),
        "cas_retries": st.get(prefix + "vigil.cas_retries", 0),
        "cas_gave_up": st.get(prefix + "vigil.cas_gave_up", 0),
        "evictions": st.get(prefix + "vigil.evictions", 0),
    }


def check_events(acc, slack):
    """None if Vigil produced one event per failed login (± `slack` in-flight requests, and
    0.2%), else what is wrong. Alerts are extra events, counted apart."""
    want = acc["failed_logins"]
    got = acc["events"] - acc["alerts"]
    tol = max(slack, int(0.002 * want))
    if want == 0:
        return "no failed login was answered: the workload did not run"
    if got == 0:
        return f"Vigil counted NO event for {want} failed logins"
    if abs(got - want) > tol:
        return f"Vigil counted {got} events (+{acc['alerts']} alerts) for {want} failed logins"
    if acc["suppressed"] or acc["host_refused"]:
        return f"events not written: {acc['suppressed']} suppressed, {acc['host_refused']} refused"
    if acc["lines"] + tol < got:
        return f"only {acc['lines']} lines reached a file sink for {got} events"
    return None
