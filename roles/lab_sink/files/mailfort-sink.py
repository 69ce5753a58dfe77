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
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import mailbox
import os

from aiosmtpd.smtp import SMTP

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
        headers.append(("X-Sink-Mail-From", envelope.mail_from or ""))
        headers.extend(("X-Sink-Rcpt-To", rcpt) for rcpt in envelope.rcpt_tos)
        headers.append(("X-Sink-Received-At", datetime.datetime.now(datetime.timezone.utc).isoformat()))
        prefix = "".join(f"{name}: {_header_value(value)}\r\n" for name, value in headers)
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        key = self.maildir.add(prefix.encode("utf-8", "surrogateescape") + content)
        log.info("stored %s from=%s to=%s peer=%s", key, envelope.mail_from, ",".join(envelope.rcpt_tos), peer)
        return f"250 OK stored as {key}"


async def serve(args: argparse.Namespace) -> None:
    handler = MaildirSink(args.maildir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname=args.hostname, data_size_limit=args.size,
                     enable_SMTPUTF8=True, decode_data=False),
        host=args.listen or None,
        port=args.port,
    )
    for sock in server.sockets:
        log.info("listening on %s", sock.getsockname()[:2])
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maildir", required=True, help="Maildir that receives every message")
    parser.add_argument("--port", type=int, default=25)
    parser.add_argument("--listen", action="append", default=[],
                        help="address to bind (repeatable); default: all addresses, IPv4 and IPv6")
    parser.add_argument("--hostname", default=None, help="name in the SMTP banner")
    parser.add_argument("--size", type=int, default=33554432, help="largest message in bytes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    os.umask(0o027)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
