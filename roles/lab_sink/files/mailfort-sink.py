#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""SMTP sink for the mailfort lab: accepts every recipient, delivers nothing.

Each message is stored as one file in a Maildir (new/), with the SMTP envelope
prepended as X-Sink-* headers so tests can check who sent what to whom:

    X-Sink-Peer: 10.89.2.3
    X-Sink-Helo: client.lab.test
    X-Sink-Mail-From: sender@example.org
    X-Sink-Rcpt-To: relaytest@example.invalid   (one header per recipient)
    X-Sink-Received-At: 2026-01-01T00:00:00+00:00

Without --listen it binds every address of both families; IPv6 is skipped
quietly when the host has none.

With --auth-file, --tls-cert and --tls-key it also plays an upstream smarthost:
on --starttls-port (STARTTLS required before AUTH) and --implicit-tls-port
(TLS from the first byte) it accepts only authenticated clients, and records
X-Sink-Auth-Login and X-Sink-TLS too.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import mailbox
import os
import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

log = logging.getLogger("mailfort-sink")


def _header_value(value: str) -> str:
    # Envelope values come from the network: keep one header per line.
    return value.replace("\r", " ").replace("\n", " ")


class MaildirSink:
    def __init__(self, maildir: str) -> None:
        self.maildir = mailbox.Maildir(maildir, create=True)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        headers = [("X-Sink-Peer", peer), ("X-Sink-Helo", session.host_name or "")]
        headers.append(("X-Sink-Port", str(server.transport.get_extra_info("sockname")[1])))
        headers.append(("X-Sink-TLS", "yes" if server.transport.get_extra_info("sslcontext") or session.ssl else "no"))
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            headers.append(("X-Sink-Auth-Login", session.auth_data.login.decode("utf-8", "replace")))
        headers.append(("X-Sink-Mail-From", envelope.mail_from or ""))
        headers.extend(("X-Sink-Rcpt-To", rcpt) for rcpt in envelope.rcpt_tos)
        headers.append(("X-Sink-Received-At", datetime.datetime.now(datetime.UTC).isoformat()))
        prefix = "".join(f"{name}: {_header_value(value)}\r\n" for name, value in headers)
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        key = self.maildir.add(prefix.encode("utf-8", "surrogateescape") + content)
        log.info("stored %s from=%s to=%s peer=%s", key, envelope.mail_from, ",".join(envelope.rcpt_tos), peer)
        return f"250 OK stored as {key}"


def _authenticator(users: dict[str, str]):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and users.get(auth_data.login.decode("utf-8", "replace"))
              == auth_data.password.decode("utf-8", "replace"))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
    return authenticate


async def serve(args: argparse.Namespace) -> None:
    handler = MaildirSink(args.maildir)
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(
        lambda: SMTP(handler, hostname=args.hostname, data_size_limit=args.size,
                     enable_SMTPUTF8=True, decode_data=False),
        host=args.listen or None,
        port=args.port,
    )]
    if args.auth_file:
        with open(args.auth_file, encoding="utf-8") as handle:
            users = dict(line.rstrip("\n").split(":", 1) for line in handle if ":" in line)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        common = {"hostname": args.hostname, "data_size_limit": args.size, "decode_data": False,
                  "auth_required": True, "authenticator": _authenticator(users)}
        servers.append(await loop.create_server(
            lambda: SMTP(handler, tls_context=context, require_starttls=True, auth_require_tls=True, **common),
            host=args.listen or None, port=args.starttls_port))
        servers.append(await loop.create_server(
            lambda: SMTP(handler, auth_require_tls=False, **common),
            host=args.listen or None, port=args.implicit_tls_port, ssl=context))
    for server in servers:
        for sock in server.sockets:
            log.info("listening on %s", sock.getsockname()[:2])
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maildir", required=True, help="Maildir that receives every message")
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--listen", action="append", default=[],
                        help="address to bind (repeatable); default: all addresses, IPv4 and IPv6")
    parser.add_argument("--hostname", default=None, help="name in the SMTP banner")
    parser.add_argument("--size", type=int, default=33554432, help="largest message in bytes")
    parser.add_argument("--auth-file", help="user:password lines; enables the smarthost ports")
    parser.add_argument("--tls-cert", help="certificate for the smarthost ports")
    parser.add_argument("--tls-key", help="key for the smarthost ports")
    parser.add_argument("--starttls-port", type=int, default=587)
    parser.add_argument("--implicit-tls-port", type=int, default=465)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    os.umask(0o027)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
