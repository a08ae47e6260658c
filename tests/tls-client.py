#!/usr/bin/env python3
"""Sends raw HTTP request bytes (stdin) over TLS and writes the raw response (stdout).

    tls-client.py HOST PORT SNI CA_CERT [CLIENT_CERT CLIENT_KEY]

The request must close the connection (`connection: close`): the response is read to EOF.
"""
import socket
import ssl
import sys


def main():
    host, port, sni, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    ctx = ssl.create_default_context(cafile=ca)
    if len(sys.argv) > 6:
        ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    data = sys.stdin.buffer.read()
    with socket.create_connection((host, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            s.sendall(data)
            out = bytearray()
            while True:
                try:
                    b = s.recv(65536)
                except (ssl.SSLError, ConnectionResetError):
                    break
                if not b:
                    break
                out += b
    sys.stdout.buffer.write(bytes(out))


if __name__ == "__main__":
    main()
