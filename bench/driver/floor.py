"""The floor variants: the hostcall-cost probe replaying exactly the hostcalls Vigil's baseline
policy makes per request, in the same callbacks, with the same sizes, and nothing else.

Vigil's own cost in Envoy is then its CPU µs/request over the floor of the same sink:
`vigil_log` over `floor_log` (event line through proxy_log at info), `vigil_al` over
`floor_al` (event as filter state `wasm.vigil.event.0`, written by the same three CEL-filtered
file access loggers). The sequence follows `vigil hostcalls` on bench/scenarios.jsonl:

  failed login (POST /login -> 401), 15 hostcalls
    on_request_headers   get_header_map_pairs(request), get_current_time_nanoseconds
    on_request_body      get_buffer_bytes(request body)
    on_response_headers  get_header_map_value(response, ":status")
    on_log               get_property response.flags, response.code_details, source.address;
                         get_current_time_nanoseconds (the detectors count by when Vigil sees
                         the failure); get_shared_data + set_shared_data with its CAS, three
                         times (the source and the account detector buckets, the global
                         login-failure rate of the distributed-stuffing detector);
                         the sink: set_property vigil.event.0, or proxy_log at info
  benign request (GET / -> 200), 3 hostcalls: the two on_request_headers calls and :status.

The on_log and body steps run only for POST (`if_method`, the probe reading the method from
the header pairs it already has, as Vigil does), so one configuration serves both workloads.
Before the runs, `cross_check` compares the steps with what `vigil hostcalls` reports for the
two scenarios (names and counts; sizes and callbacks it does not print), so a floor left behind
by a change in Vigil fails the benchmark instead of flattering it. A floor run is checked, not
trusted: every step must have answered Ok, and the sink must have
written one line per failed login (filesystem.write_buffered), so a floor that did less work
cannot look cheap.
"""
import json
import os
import re
import subprocess
import time

import envoyctl
import runs

# One ECS event of the bench's failed login as Vigil writes it (wrk's User-Agent
# "vigil-bench", Envoy's 36-character x-request-id, source 127.0.0.1:<5 digits>).
EVENT_BYTES = 843
# The detector buckets a failed login updates at steady state (policies/src/detect/table.rs:
# bucket `u8 version | u8 n | entries`, entry `35 + 8 f + 12 u` bytes), one entry each:
# the source 127.0.0.1 keeps max_failures + 1 = 11 failure times and its one user name
# (stuffing), the account alice keeps 21 failure times. Which bucket depends on the secret
# agreed at start; the cost does not, so the floor uses bucket 0.
SOURCE_BUCKET_BYTES = 2 + 35 + 8 * 11 + 12 * 1
ACCOUNT_BUCKET_BYTES = 2 + 35 + 8 * 21
SOURCE_KEY = "vigil.det.v1.source.0"
ACCOUNT_KEY = "vigil.det.v1.account.0"
# The distributed-stuffing detector's state (policies/src/detect/distributed.rs): 24 bytes.
RATE_KEY = "vigil.det.v1.rate"
RATE_BYTES = 24

SINKS = {
    "floor_log": {"call": "proxy_log", "level": 2, "size": EVENT_BYTES},
    "floor_al": {"call": "set_property", "arg": "vigil.event.0", "size": EVENT_BYTES},
}
VARIANTS = tuple(SINKS)
# The Vigil variant each floor is the floor of.
OF = {"vigil_log": "floor_log", "vigil_al": "floor_al"}


def steps(variant):
    """The probe's steps for a floor variant."""
    post = {"if_method": "POST"}
    return [
        {"call": "get_header_map_pairs", "map": "request", "in": "on_request_headers"},
        {"call": "get_current_time_nanoseconds", "in": "on_request_headers"},
        {"call": "get_buffer_bytes", "in": "on_request_body", **post},
        {"call": "get_header_map_value", "map": "response", "arg": ":status",
         "in": "on_response_headers"},
        {"call": "get_property", "arg": "response.flags", "in": "on_log", **post},
        {"call": "get_property", "arg": "response.code_details", "in": "on_log", **post},
        {"call": "get_property", "arg": "source.address", "in": "on_log", **post},
        {"call": "get_current_time_nanoseconds", "in": "on_log", **post},
        {"call": "cas_shared_data", "arg": SOURCE_KEY, "size": SOURCE_BUCKET_BYTES, "in": "on_log",
         **post},
        {"call": "cas_shared_data", "arg": ACCOUNT_KEY, "size": ACCOUNT_BUCKET_BYTES,
         "in": "on_log", **post},
        {"call": "cas_shared_data", "arg": RATE_KEY, "size": RATE_BYTES, "in": "on_log", **post},
        dict(SINKS[variant], **{"in": "on_log"}, **post),
    ]


def configuration(variant):
    """The probe's plugin configuration (JSON text) for a floor variant."""
    return json.dumps({"sequence": steps(variant)})


def _label(step):
    arg = step.get("arg")
    return step["call"] + (f" {arg}" if isinstance(arg, str) else "")


def accounting(envoy, variant, wait=0.5):
    """The floor's own counters: what each step answered, failed logins, lines written."""
    time.sleep(wait)  # let in-flight requests reach on_log
    st = envoy.stats()
    return {
        "failed_logins": st.get(runs.RQ_4XX, 0),
        "ok_2xx": st.get(runs.RQ_2XX, 0),
        "lines": st.get(runs.LINES, 0),
        "step_status": [st.get(f"wasmcustom.probe.step.{i}.status", 0)
                        for i in range(len(steps(variant)))],
    }


def check(acc, variant, slack):
    """None if every step answered Ok and the sink wrote one line per failed login (± `slack`
    and 0.2%; the Envoy log also carries a few start-up lines), else what is wrong."""
    want = acc["failed_logins"]
    tol = max(slack, int(0.002 * want))
    bad = [f"{_label(s)}: {'never called' if g == 0 else f'status {g - 1}'}"
           for s, g in zip(steps(variant), acc["step_status"]) if g != 1]
    if want == 0:
        return "no failed login was answered: the workload did not run"
    if bad:
        return "steps not Ok: " + "; ".join(bad)
    if abs(acc["lines"] - want) > tol:
        return f"{acc['lines']} lines written for {want} failed logins"
    return None


def _host_names(step):
    """The hostcall lines `vigil hostcalls` prints for one step."""
    call, arg = step["call"], step.get("arg")
    return {
        "get_header_map_pairs": [f"proxy_get_header_map_pairs {step.get('map', 'request')}_headers"],
        "get_header_map_value": [f"proxy_get_header_map_value {step.get('map', 'request')}_headers {arg}"],
        "get_current_time_nanoseconds": ["proxy_get_current_time_nanoseconds"],
        "get_buffer_bytes": ["proxy_get_buffer_bytes http_request_body"],
        "get_property": [f"proxy_get_property {arg}"],
        "cas_shared_data": ["proxy_get_shared_data", "proxy_set_shared_data"],
        "set_property": [f"proxy_set_property {arg}"],
        "proxy_log": ["proxy_log"],
    }[call]


def _expected(variant, method):
    return sorted(n for s in steps(variant) if s.get("if_method", method) == method
                  for n in _host_names(s))


# (scenario name in bench/scenarios.jsonl, its method)
SCENARIOS = (("benign GET 200", "GET"), ("failed login", "POST"))


def cross_check(cli, vigil_wasm, out):
    """Compares each floor's steps with `vigil hostcalls` on the benign and failed-login
    scenarios; returns "ok (...)", a reason it was not done, or "FAILED: ..."."""
    if not cli or not os.access(cli, os.X_OK):
        return "not done (no harness CLI)"
    lines = {}
    with open(os.path.join(envoyctl.ROOT, "bench", "scenarios.jsonl"), encoding="utf-8") as f:
        for line in f:
            name = json.loads(line).get("name") if line.strip() else None
            if name in dict(SCENARIOS):
                lines[name] = line
    traffic = os.path.join(out, "floor-scenarios.jsonl")
    with open(traffic, "w", encoding="utf-8") as f:
        f.write('{"vigil_traffic": 1}\n')
        f.writelines(lines[n] for n, _ in SCENARIOS if n in lines)
    policy = os.path.join(out, "floor-access-log-policy.json")
    with open(policy, "w", encoding="utf-8") as f:
        f.write('{"version":1,"output":{"sinks":[{"type":"access_log"}]}}')
    diffs = []
    for variant, cfg in (("floor_log", []), ("floor_al", ["--config", policy])):
        res = subprocess.run([cli, "hostcalls", "--plugin", vigil_wasm, *cfg, "--env",
                              "VIGIL_FINGERPRINT_KEY=vigil-bench-key", traffic],
                             capture_output=True, text=True, check=False)
        got, cur = {}, None
        for ln in res.stdout.splitlines():
            head = re.match(r"line \d+ \((.*)\): \d+ hostcalls", ln)
            row = re.match(r"\s+(\d+)  (proxy_\S+(?: .*)?)$", ln)
            if head:
                cur = got.setdefault(head.group(1), [])
            elif row and cur is not None:
                cur += [row.group(2)] * int(row.group(1))
        for name, method in SCENARIOS:
            want, have = _expected(variant, method), sorted(got.get(name, []))
            if want != have:
                extra = [x for x in have if x not in want] or "-"
                missing = [x for x in want if x not in have] or "-"
                diffs.append(f"{variant} vs Vigil on {name!r}: Vigil also makes {extra}, "
                             f"the floor also makes {missing}")
    if diffs:
        return "FAILED: " + "; ".join(diffs)
    return (f"ok (the floor makes Vigil's hostcalls: {len(_expected('floor_al', 'POST'))} per "
            f"failed login, {len(_expected('floor_al', 'GET'))} per benign request)")
