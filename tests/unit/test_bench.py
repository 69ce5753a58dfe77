# SPDX-License-Identifier: MIT
"""The benchmarks' own code (bench/): the load client against a small in-process SMTP server on
loopback, and the helpers that turn runs into figures. The benches themselves run on lab hosts
(make bench; CI runs their smoke on the rolling deploy's servers: tests/lab-run.sh)."""
from __future__ import annotations

import asyncio
import base64
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


smtpload = _load("smtpload")
bench = _load("run")


class Server:
    """Loopback SMTP: AUTH PLAIN with one password, every `refuse_every`-th message refused with 451."""

    def __init__(self, password: str = "", refuse_every: int = 0):
        self.password, self.refuse_every = password, refuse_every
        self.messages: list[bytes] = []
        self.sessions = 0
        self.data_count = 0

    async def handle(self, reader, writer):
        self.sessions += 1
        writer.write(b"220 test ESMTP\r\n")
        authed = not self.password
        while line := await reader.readline():
            verb = line.decode().strip().split(" ", 1)
            command = verb[0].upper()
            if command == "EHLO":
                writer.write(b"250-test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
            elif command == "AUTH":
                _, _user, password = base64.b64decode(verb[1].split()[1]).split(b"\0")
                authed = password.decode() == self.password
                writer.write(b"235 2.7.0 ok\r\n" if authed else b"535 5.7.8 no\r\n")
            elif command == "MAIL":
                writer.write(b"250 ok\r\n" if authed else b"530 5.7.0 auth first\r\n")
            elif command == "RCPT":
                writer.write(b"250 ok\r\n")
            elif command == "DATA":
                writer.write(b"354 go\r\n")
                await writer.drain()
                body = b""
                while (chunk := await reader.readline()) != b".\r\n":
                    body += chunk
                self.data_count += 1
                if self.refuse_every and self.data_count % self.refuse_every == 0:
                    writer.write(b"451 4.3.0 try later\r\n")
                else:
                    self.messages.append(body)
                    writer.write(b"250 queued\r\n")
            elif command == "QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"502 no\r\n")
            await writer.drain()
        writer.close()


def _run_load(server: Server, *argv: str, password: str = "") -> dict:
    async def go():
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        args = smtpload.parse(["--host", "127.0.0.1", "--port", str(port), "--mode", "plain",
                               "--sender", "a@lab.test", "--recipient", "b@example.net", "--run-id", "t1", *argv])
        try:
            return await smtpload.main_async(args)
        finally:
            listener.close()
    import os
    os.environ["SMTPLOAD_PASSWORD"] = password
    try:
        return asyncio.run(go())
    finally:
        del os.environ["SMTPLOAD_PASSWORD"]


def test_reused_sessions_send_every_message_once_each_with_its_id():
    server = Server(password="s3cret")
    result = _run_load(server, "--clients", "4", "--messages", "10", "--reuse", "--user", "a@lab.test",
                       password="s3cret")
    assert result["accepted"] == 10 and result["refused"] == {}
    assert server.sessions == 4, "--reuse keeps one session per client"
    ids = sorted(line for body in server.messages for line in body.decode().splitlines()
                 if line.startswith("Message-ID:"))
    assert len(ids) == len(set(ids)) == 10 and all("<t1." in i for i in ids)
    assert all(1900 <= len(body) <= 2200 for body in server.messages), [len(b) for b in server.messages]
    assert result["latency_p95_ms"] >= result["latency_p50_ms"] > 0
    # All 4 sessions were ready before the last messages: a rate after the logins exists.
    assert 0 < result["logins_done_s"] <= result["elapsed_s"]
    assert result["msgs_per_s_after_logins"] > 0


def test_a_new_connection_per_message_and_refusals_are_counted_by_stage_and_code():
    server = Server(refuse_every=3)
    result = _run_load(server, "--clients", "2", "--messages", "9")
    assert server.sessions == 9
    assert result["accepted"] == 6 and result["refused"] == {"message 451": 3}
    assert result["examples"][0].startswith("message: 451")
    assert result["logins_done_s"] is None and result["msgs_per_s_after_logins"] is None, "no reused sessions"


def test_a_wrong_password_is_a_refusal_not_a_crash():
    result = _run_load(Server(password="right"), "--messages", "2", "--user", "a@lab.test", password="wrong")
    assert result["accepted"] == 0 and result["refused"] == {"auth 535": 2}


def test_the_timeline_lists_each_outcome():
    result = _run_load(Server(refuse_every=2), "--messages", "4", "--timeline")
    assert [ok for _, ok in result["timeline"]] == [True, False, True, False]


def test_load_is_bounded():
    with pytest.raises(SystemExit):
        smtpload.parse(["--host", "h", "--port", "25", "--mode", "plain", "--sender", "a", "--recipient", "b",
                        "--run-id", "x", "--messages", "1000000"])


def test_figures_and_ratios_come_from_the_values():
    assert bench.figures([3.0, 1.0, 2.0]) == {"min": 1.0, "median": 2.0, "max": 3.0, "values": [3.0, 1.0, 2.0]}
    assert smtpload.percentile([5, 1, 3, 2, 4], 0.5) == 3
    assert smtpload.percentile([], 0.95) == 0.0


def test_the_recap_and_the_slowest_tasks_are_read_from_a_run():
    output = """PLAY RECAP *********
mailfort-lab               : ok=200  changed=0    unreachable=0    failed=0
mailfort-lab-sink          : ok=20   changed=2    unreachable=0    failed=0

TASKS RECAP ********************************************************************
Monday 07 December 2026  19:55:16 +0000 (0:00:00.021)       0:03:53.792 *******
===============================================================================
mailfort.mail.dovecot : Install Dovecot --------------------------------- 8.59s
Gathering Facts --------------------------------------------------------- 7.28s
"""
    assert bench.recap_changed(output) == 2
    assert bench.recap_mail_servers(output) == {"mailfort-lab": True}
    fleet = output + "mailfort-lab-2             : ok=9    changed=0    unreachable=0    failed=1\n"
    assert bench.recap_mail_servers(fleet) == {"mailfort-lab": True, "mailfort-lab-2": False}
    assert bench.slowest_tasks(output) == ["mailfort.mail.dovecot : Install Dovecot 8.59s", "Gathering Facts 7.28s"]


def test_log_lines_are_counted_by_kind_without_addresses_ids_or_numbers():
    lines = [
        "warning: unknown[192.0.2.7]: SASL PLAIN authentication failed: Connection lost to authentication server",
        "warning: unknown[2001:db8::7]: SASL PLAIN authentication failed: Connection lost to authentication server",
        "4F2A1B3C9D: milter-reject: END-OF-MESSAGE from unknown[192.0.2.7]: 4.7.1 Service unavailable",
        "warning: process /usr/lib/postfix/sbin/smtpd pid 4711 killed by signal 9",
    ]
    kinds = bench.log_kinds(lines)
    assert next(iter(kinds.items())) == (
        "warning: unknown[ADDR]: SASL PLAIN authentication failed: Connection lost to authentication server", 2)
    assert "QID: milter-reject: END-OF-MESSAGE from unknown[ADDR]: N.N.N Service unavailable" in kinds
    assert "warning: process /usr/lib/postfix/sbin/smtpd pid N killed by signal N" in kinds
    assert len(bench.log_kinds(lines, top=1)) == 1


def test_failed_checks_make_the_junit_report_and_the_exit_status(tmp_path):
    bench.CHECKS.clear()
    bench.check("lost nothing", True)
    bench.check("refused with 4xx", False, "2 refusals with 554")
    bench.write_junit(tmp_path / "bench.xml")
    text = (tmp_path / "bench.xml").read_text()
    assert 'tests="2"' in text and 'failures="1"' in text and "2 refusals with 554" in text
    bench.CHECKS.clear()
