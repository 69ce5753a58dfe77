#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""LAB ONLY: an OAuth 2.0 token introspection endpoint (RFC 7662) for the mailfort lab.

POST /introspect with the form field token=..., the client authenticated by HTTP
Basic. Tokens come from a JSON file the tests write, read on every request, so a
token is revoked by deleting it or setting "active": false:
    {"<token>": {"username": "app@lab.test", "active": true, "exp": 1893456000, "scope": "smtp"}}
A missing or unknown token, or one past "exp", answers {"active": false}. An entry
with "omit_active": true answers without the "active" field (as a broken server
might). Every request is counted in the file's sibling requests.log (one line
each: the time and whether the token was known; never the token itself).
Standard library only.
"""
from __future__ import annotations

import argparse
import base64
import hmac
import json
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def answer(tokens: dict, token: str, now: float) -> dict:
    entry = tokens.get(token)
    if not isinstance(entry, dict):
        return {"active": False}
    if entry.get("exp") is not None and float(entry["exp"]) <= now:
        return {"active": False}
    body = {key: value for key, value in entry.items() if key != "omit_active"}
    body.setdefault("active", True)
    body.setdefault("token_type", "Bearer")
    if entry.get("omit_active"):
        body.pop("active", None)
    return body


def handler(tokens_file: Path, client_id: str, client_secret: str):
    expected = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()

    class Introspect(BaseHTTPRequestHandler):
        def log_message(self, *args):  # the request line could carry a token (GET mode): never log it
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            if self.path.split("?")[0] != "/introspect":
                self._send(404, {"error": "not_found"})
                return
            if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
                self._send(401, {"error": "invalid_client"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            token = (form.get("token") or [""])[0]
            tokens = json.loads(tokens_file.read_text()) if tokens_file.exists() else {}
            with (tokens_file.parent / "requests.log").open("a") as log:
                log.write(f"{time.time():.3f} {'known' if token in tokens else 'unknown'}\n")
            self._send(200, answer(tokens, token, time.time()))

    return Introspect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8180)
    parser.add_argument("--tokens", type=Path, required=True)
    parser.add_argument("--client-file", type=Path, required=True, help="file holding client_id:client_secret")
    args = parser.parse_args()
    client_id, _, client_secret = args.client_file.read_text().strip().partition(":")
    ThreadingHTTPServer((args.listen, args.port), handler(args.tokens, client_id, client_secret)).serve_forever()


if __name__ == "__main__":
    main()
