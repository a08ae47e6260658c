#!/usr/bin/env python3
"""Renders an Envoy bootstrap template (envoy/*.yaml.tmpl) by plain string replacement.

    python3 envoy/render.py TEMPLATE OUT [--listen-port N] [--admin-port N] [--upstream-port N]
        [--wasm PATH] [--policy FILE] [--fingerprint-key KEY] [--access-log PATH]
        [--event-log file|otel|fluentd ...] [--events-path PATH]
        [--otel-endpoint URL] [--fluentd-address HOST:PORT] [--module]

tests/envoy.rs does the same replacements in Rust. String-valued placeholders that land in
YAML scalars (@POLICY_JSON@, @FINGERPRINT_KEY@, @JWKS_JSON@) are written as JSON string
literals, which are valid YAML double-quoted scalars whatever they contain.

--event-log (repeatable) adds the event loggers of envoy/access-log/<sink>.yaml to the
template's first `access_log:` list (and, for otel and fluentd, the cluster of
<sink>-cluster.yaml to its `clusters:` list), indented to match; tests/access_log.rs does the
same in Rust. Without it the output is exactly as before.

--module loads Vigil as the Envoy dynamic module instead of the wasm filter: the wasm filter
item is replaced by envoy/module-filter.yaml.part (the same policy), the event loggers read
the module's filter-state keys (vigil.event.<i>, not wasm.vigil.event.<i>) and the stats tags
its counters (dynamicmodulescustom.vigil.*). Envoy then needs
ENVOY_DYNAMIC_MODULES_SEARCH_PATH (the directory of libvigil_envoy_module.so) and
VIGIL_FINGERPRINT_KEY in its environment (scripts/demo --module sets both).
"""
import argparse
import json
import os
import re
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("template")
    ap.add_argument("out")
    ap.add_argument("--listen-port", default="10000")
    ap.add_argument("--admin-port", default="9901")
    ap.add_argument("--upstream-port", default="10080")
    ap.add_argument("--wasm", default="")
    ap.add_argument("--policy", default="", help="policy JSON file; empty = built-in baseline")
    ap.add_argument("--fingerprint-key", default="vigil-demo-fingerprint-key")
    ap.add_argument("--access-log", default="/dev/null")
    ap.add_argument("--event-log", action="append", default=[],
                    choices=["file", "otel", "fluentd"], help="add Vigil's event loggers")
    ap.add_argument("--events-path", default="/dev/null", help="file sink: the events file")
    ap.add_argument("--otel-endpoint", default="http://127.0.0.1:4318/v1/logs",
                    help="otel sink: the collector's OTLP/HTTP logs URL")
    ap.add_argument("--fluentd-address", default="127.0.0.1:24224",
                    help="fluentd sink: the forward input's HOST:PORT")
    ap.add_argument("--module", action="store_true",
                    help="load Vigil as the Envoy dynamic module, not the wasm filter")
    a = ap.parse_args()
    policy = open(a.policy, encoding="utf-8").read() if a.policy else ""
    jwks = open(os.path.join(HERE, "tokens", "jwks.json"), encoding="utf-8").read().strip()
    text = open(a.template, encoding="utf-8").read()
    for key, value in {
        "@LISTEN_PORT@": str(a.listen_port),
        "@ADMIN_PORT@": str(a.admin_port),
        "@UPSTREAM_PORT@": str(a.upstream_port),
        "@WASM_PATH@": os.path.abspath(a.wasm) if a.wasm else "",
        "@ACCESS_LOG_PATH@": os.path.abspath(a.access_log),
        "@POLICY_JSON@": json.dumps(policy),
        "@FINGERPRINT_KEY@": json.dumps(a.fingerprint_key),
        "@JWKS_JSON@": json.dumps(jwks),
    }.items():
        text = text.replace(key, value)
    if a.module:
        text = use_module(text, policy)
    for sink in a.event_log:
        text = add_event_log(text, sink, a)
    if a.module:
        text = text.replace("wasm.vigil.event.", "vigil.event.")
        text = text.replace("wasmcustom\\.vigil", "dynamicmodulescustom\\.vigil")
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text)


# Cluster names used by the otel / fluentd sinks.
OTEL_CLUSTER = "vigil_otel"
FLUENTD_CLUSTER = "vigil_fluentd"


def use_module(text, policy):
    """Swaps the wasm filter item for envoy/module-filter.yaml.part (tests/envoy.rs does the
    same in Rust)."""
    part = open(os.path.join(HERE, "module-filter.yaml.part"), encoding="utf-8").read()
    part = part.replace("@POLICY_JSON@", json.dumps(policy))
    start = text.index("          - name: vigil\n")
    end = text.index("          # Disabled by default;", start)
    return text[:start] + part + text[end:]


def fragment(name, values):
    """envoy/access-log/<name>.yaml with its placeholders replaced."""
    text = open(os.path.join(HERE, "access-log", name + ".yaml"), encoding="utf-8").read()
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def insert_items(text, key, items):
    """Inserts YAML list items (written at column 0) right after the first `key:` line of
    text, at the indentation of that list's existing items (or of the key)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)" + re.escape(key) + r":\s*$", line)
        if not m:
            continue
        indent = m.group(1)
        for following in lines[i + 1:]:
            stripped = following.lstrip()
            if stripped and not stripped.startswith("#"):
                if stripped.startswith("-"):
                    indent = following[: len(following) - len(stripped)]
                break
        block = [indent + l if l.strip() else l for l in items.rstrip("\n").split("\n")]
        return "\n".join(lines[: i + 1] + block + lines[i + 1:])
    raise SystemExit(f"render.py: no `{key}:` block list in the template")


def add_event_log(text, sink, a):
    """Adds the event loggers of one sink (and its cluster) to a rendered bootstrap."""
    if sink == "file":
        loggers = fragment("file", {"@EVENTS_PATH@": json.dumps(os.path.abspath(a.events_path))})
        return insert_items(text, "access_log", loggers)
    if sink == "otel":
        url = urlsplit(a.otel_endpoint)
        port = url.port or (443 if url.scheme == "https" else 80)
        values = {"@OTEL_ENDPOINT@": json.dumps(a.otel_endpoint), "@OTEL_CLUSTER@": OTEL_CLUSTER,
                  "@OTEL_HOST@": url.hostname or "127.0.0.1", "@OTEL_PORT@": str(port)}
    else:
        host, _, port = a.fluentd_address.rpartition(":")
        values = {"@FLUENTD_CLUSTER@": FLUENTD_CLUSTER, "@FLUENTD_HOST@": host or "127.0.0.1",
                  "@FLUENTD_PORT@": port}
    text = insert_items(text, "access_log", fragment(sink, values))
    return insert_items(text, "clusters", fragment(sink + "-cluster", values))


if __name__ == "__main__":
    main()
