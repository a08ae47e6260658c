#!/usr/bin/env python3
"""Vigil's demo upstream: a tiny threaded HTTP/1.1 app behind Envoy (python3 stdlib only).

    python3 envoy/demo-upstream.py [--host 127.0.0.1] [--port 10080]

Routes:
  POST /login, /signin, /api/login   form (application/x-www-form-urlencoded) or JSON body with
                                     "username" / "email" / "login" and "password":
                                     alice / correct-horse -> 200, anything else -> 401
  POST /oauth/token                  form, grant_type=password: alice / correct-horse -> 200
                                     with a dummy token, else 400 {"error":"invalid_grant"}
  POST /api/items                    JSON object with a non-empty string "name" and an integer
                                     "qty" >= 0 -> 201, anything else -> 422
  POST /demo.<Service>/<Method>      a gRPC-shaped answer (HTTP 200, application/grpc):
    with content-type application/grpc  `authorization: Bearer demo-opaque-token` -> one empty
                                     message and grpc-status 0 in the trailers; a /demo.Admin/
                                     method without it -> grpc-status 7 in the headers
                                     (trailers-only); anything else -> one empty message and
                                     grpc-status 16 (unauthenticated) in the trailers (chunked;
                                     Envoy's cluster needs enable_trailers)
  GET /slow                          200 after 2 s (a slow upstream: timeouts in the tests)
  ?slow=1 on any route               answers 1.5 s late (requests that complete out of order)
  anything else                      200 {"ok":true,"path":...}
Paths are routed as many frameworks route them: path parameters (;...) dropped, escaped
unreserved characters decoded, repeated slashes merged, dot segments removed, a trailing slash
ignored; methods in any case (post is POST). So /login/, //login, /login;x, /./login and
/%6Cogin all reach the login handler, as an attacker hopes.
It never echoes request bodies, passwords or tokens. GET /healthz answers 200 for readiness.
"""

import argparse
import json
import sys
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

USERS = {"alice": "correct-horse"}
LOGIN_PATHS = {"/login", "/signin", "/api/login"}
MAX_BODY = 1 << 20


UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def canonical(path):
    """The path a typical framework routes on (see the module docstring)."""
    def unescape(m):
        c = chr(int(m.group(1), 16))
        return c if c in UNRESERVED else m.group(0)
    segs = []
    for seg in path.split("/"):
        seg = re.sub("%([0-9A-Fa-f]{2})", unescape, seg.split(";", 1)[0])
        if seg in ("", "."):
            continue
        if seg == "..":
            if segs:
                segs.pop()
            continue
        segs.append(seg)
    return "/" + "/".join(segs)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vigil-demo-upstream"
    sys_version = ""

    def log_message(self, fmt, *args):  # keep stderr quiet; Envoy logs the traffic
        pass

    def _body(self):
        try:
            n = int(self.headers.get("content-length") or 0)
        except ValueError:
            n = 0
        n = max(0, min(n, MAX_BODY))
        return self.rfile.read(n) if n else b""

    def _send(self, status, obj, extra=None):
        data = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _grpc(self, path):
        """A gRPC-shaped answer over HTTP/1.1: status in the trailers (chunked), or in the
        headers for a trailers-only refusal."""
        authorized = self.headers.get("authorization") == "Bearer demo-opaque-token"
        self.send_response(200)
        self.send_header("content-type", "application/grpc")
        if not authorized and path.startswith("/demo.Admin/"):
            self.send_header("grpc-status", "7")
            self.send_header("grpc-message", "permission denied")
            self.send_header("content-length", "0")
            self.end_headers()
            return None
        status, message = ("0", "") if authorized else ("16", "missing credentials")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("trailer", "grpc-status, grpc-message")
        self.end_headers()
        frame = b"\x00\x00\x00\x00\x00"  # one empty, uncompressed message
        trailers = f"grpc-status: {status}\r\n"
        if message:
            trailers += f"grpc-message: {message}\r\n"
        self.wfile.write(b"5\r\n" + frame + b"\r\n0\r\n" + trailers.encode() + b"\r\n")
        return None

    def _fields(self, raw):
        """Form or JSON body -> dict of str -> str (first value)."""
        ctype = (self.headers.get("content-type") or "").split(";")[0].strip().lower()
        text = raw.decode("utf-8", "replace")
        if ctype == "application/json" or text.lstrip().startswith("{"):
            try:
                obj = json.loads(text)
            except ValueError:
                return {}
            if not isinstance(obj, dict):
                return {}
            return {k: v for k, v in obj.items() if isinstance(v, str)}
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}

    def _route(self):
        url = urlsplit(self.path)
        path = canonical(url.path)
        if "slow=1" in url.query.split("&"):
            time.sleep(1.5)
        self.command = self.command.upper()
        raw = self._body()
        if self.command == "POST" and path in LOGIN_PATHS:
            f = self._fields(raw)
            user = f.get("username") or f.get("email") or f.get("login") or ""
            if user in USERS and f.get("password") == USERS[user]:
                return self._send(200, {"ok": True, "session": "demo-session"})
            return self._send(401, {"ok": False, "error": "invalid_credentials"})
        if self.command == "POST" and path == "/oauth/token":
            f = self._fields(raw)
            user = f.get("username", "")
            if (f.get("grant_type") == "password" and user in USERS
                    and f.get("password") == USERS[user]):
                return self._send(200, {"access_token": "demo-opaque-token",
                                        "token_type": "Bearer", "expires_in": 3600})
            return self._send(400, {"error": "invalid_grant"})
        if self.command == "POST" and path == "/api/items":
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                obj = None
            ok = (isinstance(obj, dict) and isinstance(obj.get("name"), str) and obj["name"]
                  and isinstance(obj.get("qty"), int) and not isinstance(obj.get("qty"), bool)
                  and obj["qty"] >= 0)
            if not ok:
                return self._send(422, {"error": "validation_failed"})
            return self._send(201, {"ok": True, "id": 1})
        ctype = (self.headers.get("content-type") or "").lower()
        if path.startswith("/demo.") and ctype.startswith("application/grpc"):
            return self._grpc(path)
        if path == "/slow":
            time.sleep(2)
        return self._send(200, {"ok": True, "path": path})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _route
    do_get = do_post = do_put = do_delete = do_patch = _route


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=10080)
    a = ap.parse_args()
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    srv.daemon_threads = True
    print(f"demo upstream listening on {a.host}:{srv.server_address[1]}", file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
