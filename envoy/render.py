#!/usr/bin/env python3
"""Renders an Envoy bootstrap template (envoy/*.yaml.tmpl) by plain string replacement.

    python3 envoy/render.py TEMPLATE OUT [--listen-port N] [--admin-port N] [--upstream-port N]
        [--wasm PATH] [--policy FILE] [--fingerprint-key KEY] [--access-log PATH]

tests/envoy.rs does the same replacements in Rust. String-valued placeholders that land in
YAML scalars (@POLICY_JSON@, @FINGERPRINT_KEY@, @JWKS_JSON@) are written as JSON string
literals, which are valid YAML double-quoted scalars whatever they contain.
"""
import argparse
import json
import os

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
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
