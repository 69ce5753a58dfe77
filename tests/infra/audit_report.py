# SPDX-License-Identifier: MIT
"""One line per promise per host at the end of a run, the server's own answer under each failure.

A promise is one test function (all its parameters: ports, IP versions, variants)
against one host. Its line says PASS, FAIL (with how many of its checks failed and,
below, the first line of each failure's message: the tests put the server's reply
there) or SKIP (with the reason). The lines also go to the file named by
MAILFORT_AUDIT_REPORT, if set, for scripts (tests/lab-run.sh, the mutation proofs).
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field

import pytest

# Failure details shown per promise; the rest are counted.
MAX_DETAILS = 6


@dataclass
class Promise:
    host: str
    name: str
    tier: str
    checks: int = 0
    failed: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.failed:
            return "FAIL"
        if self.skipped and len(self.skipped) == self.checks:
            return "SKIP"
        return "PASS"


_PROMISES: dict = {}


def _host_of(item) -> str:
    spec = getattr(item, "callspec", None)
    host = spec.params.get("_testinfra_host") if spec else None
    if host is None:
        return "-"
    backend = host.backend
    return getattr(backend, "host", None) or backend.get_hostname()


def _promise_name(item) -> str:
    module = item.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    function = item.originalname.removeprefix("test_").replace("_", " ")
    return f"{module}: {function}"


def _params(item) -> str:
    """The test's own parameters (not the host), for the failure lines: '587-TLSv1.0'."""
    spec = getattr(item, "callspec", None)
    if not spec:
        return ""
    host = spec.params.get("_testinfra_host")
    host_id = host.backend.get_pytest_id() if host is not None else ""
    return spec.id.replace(host_id, "", 1).strip("-")


def _answer(report) -> str:
    """The first line of the failure message (the tests put the server's reply there)."""
    excinfo = getattr(report, "_mailfort_excinfo", None)
    if excinfo is not None:
        text = str(excinfo.value).strip() or excinfo.typename
        return text.splitlines()[0][:300]
    return str(report.longrepr).strip().splitlines()[-1][:300]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None:
        report._mailfort_excinfo = call.excinfo
    key = (_host_of(item), _promise_name(item))
    from audit_tiers import tier_for

    promise = _PROMISES.setdefault(key, Promise(*key, tier=tier_for(getattr(item, "fixturenames", ()))))
    if report.when == "setup":
        promise.checks += 1
    where = _params(item)
    if report.failed:
        kind = "" if report.when == "call" else f"({report.when} error) "
        promise.failed.append(f"{where + ': ' if where else ''}{kind}{_answer(report)}")
    elif report.skipped and report.when in ("setup", "call"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        promise.skipped.append(reason.removeprefix("Skipped: "))


def summary_lines() -> list[str]:
    lines = []
    by_host = defaultdict(list)
    for promise in _PROMISES.values():
        by_host[promise.host].append(promise)
    for host in sorted(by_host):
        for promise in sorted(by_host[host], key=lambda p: (p.status != "FAIL", p.name)):
            count = f"{promise.checks} check{'s' if promise.checks != 1 else ''}"
            if promise.status == "FAIL":
                lines.append(f"FAIL  {host}  {promise.name} ({len(promise.failed)} of {count} failed)")
                lines += [f"        {detail}" for detail in promise.failed[:MAX_DETAILS]]
                if len(promise.failed) > MAX_DETAILS:
                    lines.append(f"        ... and {len(promise.failed) - MAX_DETAILS} more")
            elif promise.status == "SKIP":
                lines.append(f"SKIP  {host}  {promise.name} ({promise.skipped[0]})")
            elif promise.skipped:
                lines.append(f"PASS  {host}  {promise.name} ({count}, {len(promise.skipped)} skipped: "
                             f"{promise.skipped[0]})")
            else:
                lines.append(f"PASS  {host}  {promise.name} ({count})")
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = summary_lines()
    if not lines:
        return
    failed = sum(line.startswith("FAIL") for line in lines)
    terminalreporter.section(f"promises per host: {failed} broken" if failed else "promises per host: all kept")
    for line in lines:
        terminalreporter.write_line(line)
    path = os.environ.get("MAILFORT_AUDIT_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
