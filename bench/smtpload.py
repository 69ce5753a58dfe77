#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bounded SMTP load from one asyncio process (LAB ONLY: bench/run.py points it at lab hosts).

Each of --clients coroutines sends its share of --messages, either over one
session per client (--reuse: RSET between messages, as bulk senders do) or over a
new connection, TLS handshake and AUTH for every message. Modes: plain (port 25),
starttls (587) and tls (465, implicit). The password comes from the environment
(SMTPLOAD_PASSWORD), never from the command line.

Prints one JSON object: messages accepted (250 after DATA) and refused (by code),
latency per message (connect to 250 with --new, MAIL to 250 with --reuse:
p50/p95/max), messages per second, and the client's own CPU time, so a reader
can see whether the client or the server was the limit. Every message carries
a Message-ID with --run-id, by which bench/run.py counts what reached the sink.
Standard library only: it also runs inside the lab's containers.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import resource
import ssl
import sys
import time


class SMTPError(Exception):
    def __init__(self, stage: str, code: int, text: str):
        super().__init__(f"{stage}: {code} {text}")
        self.stage, self.code, self.text = stage, code, text


class Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def reply(self) -> tuple[int, str]:
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise SMTPError("read", 0, "connection closed")
            lines.append(line.decode(errors="replace").rstrip("\r\n"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        return int(lines[-1][:3]), "\n".join(item[4:] for item in lines)

    async def command(self, line: str, stage: str, expect: tuple[int, ...]) -> tuple[int, str]:
        self.writer.write(line.encode() + b"\r\n")
        await self.writer.drain()
        code, text = await self.reply()
        if code not in expect:
            raise SMTPError(stage, code, text)
        return code, text

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.writer.close()


async def open_session(args, context: ssl.SSLContext | None) -> Session:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        args.host, args.port, ssl=context if args.mode == "tls" else None,
        server_hostname=args.server_name if args.mode == "tls" else None), args.timeout)
    session = Session(reader, writer)
    code, text = await asyncio.wait_for(session.reply(), args.timeout)
    if code != 220:
        session.close()
        raise SMTPError("greeting", code, text)
    await session.command(f"EHLO {args.helo}", "ehlo", (250,))
    if args.mode == "starttls":
        await session.command("STARTTLS", "starttls", (220,))
        await writer.start_tls(context, server_hostname=args.server_name)
        await session.command(f"EHLO {args.helo}", "ehlo", (250,))
    if args.user:
        token = base64.b64encode(f"\0{args.user}\0{os.environ.get('SMTPLOAD_PASSWORD', '')}".encode()).decode()
        await session.command(f"AUTH PLAIN {token}", "auth", (235,))
    return session


def message(args, run_id: str, client: int, number: int) -> bytes:
    message_id = f"<{run_id}.{client}.{number}@bench.invalid>"
    header = (f"From: <{args.sender}>\r\nTo: <{args.recipient}>\r\nSubject: mailfort bench {run_id}\r\n"
              f"Message-ID: {message_id}\r\n\r\n")
    line = ("mailfort bench " + run_id + " ").ljust(76, "x") + "\r\n"
    body = (line * (max(args.size - len(header), 0) // len(line) + 1))[:max(args.size - len(header), 0)]
    return (header + body).encode()


async def send_one(session: Session, args, data: bytes) -> None:
    await session.command(f"MAIL FROM:<{args.sender}>", "mail", (250,))
    await session.command(f"RCPT TO:<{args.recipient}>", "rcpt", (250, 251))
    await session.command("DATA", "data", (354,))
    session.writer.write(data.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
    await session.writer.drain()
    code, text = await session.reply()
    if code != 250:
        raise SMTPError("message", code, text)


async def client(args, number: int, count: int, context, results: dict) -> None:
    session = None
    for index in range(count):
        started = time.monotonic()
        try:
            if session is None:
                session = await open_session(args, context)
                if args.reuse:
                    started = time.monotonic()
                    results["sessions_ready"].append(started)
            await asyncio.wait_for(send_one(session, args, message(args, args.run_id, number, index)), args.timeout)
            results["accepted"] += 1
            results["accepted_at"].append(time.monotonic())
            results["latencies"].append(time.monotonic() - started)
            if args.timeline:
                results["timeline"].append((round(time.time(), 3), True))
            if not args.reuse:
                await session.command("QUIT", "quit", (221,))
                session.close()
                session = None
        except (TimeoutError, SMTPError, OSError, ssl.SSLError) as error:
            key = (f"{error.stage} {error.code}" if isinstance(error, SMTPError)
                   else f"{type(error).__name__}")
            results["refused"][key] = results["refused"].get(key, 0) + 1
            if args.timeline:
                results["timeline"].append((round(time.time(), 3), False))
            if isinstance(error, SMTPError) and error.code and len(results["examples"]) < 5:
                results["examples"].append(f"{error.stage}: {error.code} {error.text[:120]}")
            if session is not None:
                session.close()
                session = None
            if args.pause_after_refusal:
                await asyncio.sleep(args.pause_after_refusal)
    if session is not None:
        with contextlib.suppress(SMTPError, OSError, ssl.SSLError):
            await session.command("QUIT", "quit", (221,))
        session.close()


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def main_async(args) -> dict:
    context = None
    if args.mode != "plain":
        context = ssl.create_default_context(cafile=args.cafile)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    results = {"accepted": 0, "refused": {}, "examples": [], "latencies": [], "timeline": [], "sessions_ready": [],
               "accepted_at": []}
    shares = [args.messages // args.clients + (1 if i < args.messages % args.clients else 0)
              for i in range(args.clients)]
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    await asyncio.gather(*(client(args, i, shares[i], context, results) for i in range(args.clients) if shares[i]))
    elapsed = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    latencies = results.pop("latencies")
    ended = started + elapsed
    # Reused sessions: the rate once every client has logged in (the logins, each a password hash, come
    # first and one after another in the server's auth process).
    ready, accepted_at = results.pop("sessions_ready"), results.pop("accepted_at")
    logins_done = max(ready) if args.reuse and ready else None
    after = [t for t in accepted_at if logins_done is not None and t > logins_done]
    if not args.timeline:
        results.pop("timeline")
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {
        **results,
        "run_id": args.run_id, "messages": args.messages, "clients": args.clients, "mode": args.mode,
        "port": args.port, "reuse": args.reuse, "size": args.size, "elapsed_s": round(elapsed, 3),
        "msgs_per_s": round(results["accepted"] / elapsed, 2) if elapsed else 0.0,
        "logins_done_s": round(logins_done - started, 3) if logins_done is not None else None,
        "msgs_per_s_after_logins": (round(len(after) / (ended - logins_done), 2)
                                    if after and ended > logins_done else None),
        "latency_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "latency_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "latency_max_ms": round(max(latencies, default=0.0) * 1000, 1),
        "client_cpu_s": round(cpu, 3),
        "client_cpu_share": round(cpu / elapsed, 3) if elapsed else 0.0,
    }


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["plain", "starttls", "tls"], required=True)
    parser.add_argument("--server-name", default=None, help="TLS name to verify (default: --host)")
    parser.add_argument("--cafile", default=None)
    parser.add_argument("--user", default="", help="AUTH PLAIN login (password in SMTPLOAD_PASSWORD)")
    parser.add_argument("--sender", required=True)
    parser.add_argument("--recipient", required=True)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--reuse", action="store_true", help="one session per client (default: one per message)")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--helo", default="bench.lab.test")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--pause-after-refusal", type=float, default=0.0)
    parser.add_argument("--timeline", action="store_true", help="also list (time, accepted?) of every message")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 200 or not 0 <= args.messages <= 100_000:
        parser.error("--clients must be 1..200 and --messages 0..100000 (bounded load)")
    args.server_name = args.server_name or args.host
    return args


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main_async(parse(sys.argv[1:])))))
