#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Rolling deploy on a lab fleet of three mail servers (LAB ONLY; `make rolling`).

1. `MAILFORT_LAB_MAIL_HOSTS=3 lab/lab.sh up` brings up mailfort-lab, -2 and -3 (one converge,
   all hosts at once: -e mailfort_serial=100%). Started from images of an already converged mail
   server (MAILFORT_LAB_IMAGE, as `make test` does), that converge is limited to the roles the
   rollouts below touch or that decide who reaches port 25 (--tags tls,postfix,firewall; the lab's
   own plays always run): the servers already run mailfort, and CI spares three whole converges.
2. A change (a new SMTP greeting, `postfix_main_cf_host.smtpd_banner`) is rolled out with
   playbooks/site.yml and the default serial=1, while a probe greets every server on port 25
   twice a second. Passes when the greeting changed on one server at a time, in inventory
   order, and every probe of every server got its 220 greeting (nobody stopped serving).
3. The next change breaks the second server's configuration (an invalid main.cf value, which
   `postfix check` refuses): the rollout must fail, the first server has the change, the second
   keeps its live configuration and the third is never touched.
4. The greeting is set back on all three (not with --down).

Every check prints one line; the exit status is non-zero when any fails. The probe only talks to
the lab's own containers and stops with the rollout (at most PROBE_LIMIT seconds).

usage: tests/rolling_deploy.py [--junit PATH] [--down] [--no-restore]
  --junit PATH  also write the checks as a JUnit report (`make test` runs this on the last
                distro's lab run, tests/lab-run.sh: rolling; MAILFORT_DISTRO picks the image)
  --down        remove the three servers and the sink afterwards (lab/lab.sh down)
  --no-restore  leave the last greeting as it is (CI's bench smoke runs on these servers next)
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOSTS = ["mailfort-lab", "mailfort-lab-2", "mailfort-lab-3"]
NETWORK = "mailfort-lab"
WORK = ROOT / ".cache" / "rolling"
PROBE_INTERVAL = 0.5
PROBE_LIMIT = 600
# How long a greeting may take. A stopped or restarting Postfix refuses at once, so a long wait
# only forgives a slow answer (CI runs this beside the verify step, two cores under full load: a
# 3 s limit failed once there), never a missing one.
GREETING_TIMEOUT = 10
# After a rollout, how long the probe may wait for the last server's new greeting.
SETTLE = 20
INVENTORIES = ["-i", "inventories/lab", "-i", ".cache/lab/fleet.yml"]


def _address(host: str) -> str:
    fmt = "{{ (index .NetworkSettings.Networks \"" + NETWORK + "\").IPAddress }}"
    return subprocess.run(["podman", "container", "inspect", "--format", fmt, host],
                          check=True, capture_output=True, text=True).stdout.strip()


def _greeting(address: str) -> str:
    """The server's 220 line on port 25, or the error ('error: ...')."""
    try:
        with socket.create_connection((address, 25), timeout=GREETING_TIMEOUT) as conn:
            conn.settimeout(GREETING_TIMEOUT)
            line = conn.makefile("rb").readline().decode("ascii", "replace").strip()
            conn.sendall(b"QUIT\r\n")
            return line
    except OSError as exc:
        return f"error: {exc}"


class Probe(threading.Thread):
    """Greets every server in turn until stopped; keeps (time, host, greeting, seconds it took)."""

    def __init__(self, addresses: dict[str, str]):
        super().__init__(daemon=True)
        self.addresses, self.seen, self.stopping, self.started = addresses, [], threading.Event(), 0.0

    def run(self):
        start = self.started = time.monotonic()
        while not self.stopping.is_set() and time.monotonic() - start < PROBE_LIMIT:
            for host, address in self.addresses.items():
                moment = time.monotonic()
                line = _greeting(address)
                self.seen.append((moment, host, line, time.monotonic() - moment))
            self.stopping.wait(PROBE_INTERVAL)


def _playbook(*args: str, log: str) -> tuple[int, str]:
    command = ["ansible-playbook", *INVENTORIES, *args, "playbooks/site.yml"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "ANSIBLE_FORCE_COLOR": "0"})
    (WORK / log).write_text(result.stdout + result.stderr)
    return result.returncode, result.stdout + result.stderr


def _banner(host: str) -> str:
    return subprocess.run(["podman", "exec", host, "postconf", "-h", "smtpd_banner"],
                          check=True, capture_output=True, text=True).stdout.strip()


def _rollout(extra: list[str], log: str, addresses: dict[str, str], marker: str = "") -> tuple[int, str, Probe]:
    """Run the rollout while the probe greets every server. With a marker, the probe goes on after
    the playbook (up to SETTLE seconds) until every server has greeted with it: the last server's
    reload comes at the very end of the run, and smtpd processes started before it may still
    answer a probe or two with the old greeting."""
    probe = Probe(addresses)
    probe.start()
    try:
        rc, output = _playbook("--tags", "postfix", *extra, log=log)
        settle_until = time.monotonic() + SETTLE
        while rc == 0 and marker and time.monotonic() < settle_until and \
                set(_first_seen(probe, marker)) != set(addresses):
            time.sleep(PROBE_INTERVAL)
    finally:
        probe.stopping.set()
        probe.join()
    (WORK / log.replace(".log", "-probe.tsv")).write_text(
        "".join(f"{moment - probe.started:.2f}\t{host}\t{took:.2f}\t{line}\n"
                for moment, host, line, took in probe.seen))
    return rc, output, probe


def _first_seen(probe: Probe, marker: str) -> dict[str, float]:
    first: dict[str, float] = {}
    for moment, host, line, _ in probe.seen:
        if marker in line:
            first.setdefault(host, moment)
    return first


def _missed(probe: Probe) -> list[tuple[str, str, str]]:
    """Probes without a 220 greeting: (host, seconds into the rollout, what came instead)."""
    return [(host, f"{moment - probe.started:.1f} s", line) for moment, host, line, _ in probe.seen
            if not line.startswith("220 ")]


def _slowest(probe: Probe) -> float:
    return max((took for *_, took in probe.seen), default=0.0)


def write_junit(path: Path, checks: list[tuple[str, bool, str, float]]) -> None:
    """One test case per check (its name without the measured times), failures with their detail."""
    suite = ET.Element("testsuite", name="rolling", tests=str(len(checks)),
                       failures=str(sum(not ok for _, ok, _, _ in checks)))
    for name, ok, detail, seconds in checks:
        case = ET.SubElement(suite, "testcase", classname="tests.rolling_deploy", name=name, time=f"{seconds:.1f}")
        if not ok:
            ET.SubElement(case, "failure", message=detail[:500]).text = detail
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit", type=Path)
    parser.add_argument("--down", action="store_true")
    parser.add_argument("--no-restore", action="store_true")
    args = parser.parse_args(argv)
    try:
        # The servers go away afterwards: no need to set the greeting back.
        return _run(args.junit, restore=not (args.down or args.no_restore))
    finally:
        if args.down:
            subprocess.run(["lab/lab.sh", "down"], cwd=ROOT, check=False, capture_output=True)


def _run(junit: Path | None, restore: bool = True) -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    failures, checks = [], []
    last = [time.monotonic()]

    def report(ok: bool, what: str, detail: str = "", took: str = "") -> None:
        print(f"{'PASS' if ok else 'FAIL'}  {what}{f' ({took})' if took else ''}"
              f"{': ' + detail if detail and not ok else ''}", flush=True)
        now = time.monotonic()
        checks.append((what, ok, detail, now - last[0]))
        last[0] = now
        if not ok:
            failures.append(what)
        if junit:
            write_junit(junit, checks)

    started = time.monotonic()
    limit = ["--tags", "tls,postfix,firewall"] if os.environ.get("MAILFORT_LAB_IMAGE") else []
    up = subprocess.run(["lab/lab.sh", "up", "-e", "mailfort_serial=100%", *limit], cwd=ROOT,
                        capture_output=True, text=True,
                        env={**os.environ, "MAILFORT_LAB_MAIL_HOSTS": "3", "ANSIBLE_FORCE_COLOR": "0"})
    (WORK / "up.log").write_text(up.stdout + up.stderr)
    report(up.returncode == 0, "three lab mail servers converged", (up.stdout + up.stderr)[-2000:],
           f"{time.monotonic() - started:.0f} s")
    if up.returncode:
        return 1
    addresses = {host: _address(host) for host in HOSTS}
    before = {host: _banner(host) for host in HOSTS}

    # 2. A change rolled out one server at a time.
    marker = f"rollout-{int(time.time())}"
    change = json.dumps({"postfix_main_cf_host": {"smtpd_banner": f"$myhostname ESMTP {marker}"}})
    started = time.monotonic()
    rc, output, probe = _rollout(["-e", change], "rollout.log", addresses, marker)
    took = time.monotonic() - started
    report(rc == 0, "rollout with serial=1 finished", output[-2000:], f"{took:.0f} s")
    batches = output.count("PLAY [Mail submission servers]")
    report(batches == 3, "three batches of one host each", f"{batches} batch headers")
    first = _first_seen(probe, marker)
    order = sorted(first, key=first.get)
    report(order == HOSTS, "the greeting changed on one server after the other, in inventory order",
           f"first seen: {order}")
    overlap = [(host, later) for i, host in enumerate(HOSTS) for later in HOSTS[i + 1:]
               if host in first and any(h == later and marker in line and t <= first[host]
                                        for t, h, line, _ in probe.seen)]
    report(not overlap, "no server changed before the one ahead of it had finished", str(overlap))
    missed = _missed(probe)
    per_host = {host: sum(1 for _, h, _, _ in probe.seen if h == host) for host in HOSTS}
    report(not missed and min(per_host.values()) > 10, "every server answered every probe with 220 during the rollout",
           f"{len(missed)} missed, e.g. {missed[:3]}, per host {per_host}",
           f"{sum(per_host.values())} probes, slowest {_slowest(probe):.1f} s")

    # 3. A change that breaks the second server: the rollout stops there.
    broken = WORK / "broken.yml"
    broken_marker = f"broken-{int(time.time())}"
    broken.write_text(json.dumps({"all": {"children": {"mailservers": {
        "vars": {"postfix_main_cf_host": {"smtpd_banner": f"$myhostname ESMTP {broken_marker}"}},
        "hosts": {"mailfort-lab-2": {"postfix_main_cf_host": {
            "smtpd_banner": f"$myhostname ESMTP {broken_marker}", "message_size_limit": "lots"}}}}}}}))
    live = {host: _banner(host) for host in HOSTS}
    started = time.monotonic()
    rc, output, probe = _rollout(["-i", str(broken)], "broken.log", addresses)
    report(rc != 0, "the rollout failed on the broken server", output[-1500:], f"{time.monotonic() - started:.0f} s")
    report("Check the candidate configuration" in output, "postfix check refused the broken configuration",
           output[-1500:])
    after = {host: _banner(host) for host in HOSTS}
    report(broken_marker in after["mailfort-lab"], "the first server has the change", after["mailfort-lab"])
    report(after["mailfort-lab-2"] == live["mailfort-lab-2"], "the broken server keeps its live configuration",
           after["mailfort-lab-2"])
    report(after["mailfort-lab-3"] == live["mailfort-lab-3"], "the third server was never touched",
           after["mailfort-lab-3"])
    headers = output.count("PLAY [Mail submission servers]")
    report(headers == 2, "no batch started after the failed one", f"{headers} batches")
    missed = _missed(probe)
    report(not missed, "every server kept answering 220 during the failed rollout",
           f"{len(missed)} missed, e.g. {missed[:3]}", f"{len(probe.seen)} probes, slowest {_slowest(probe):.1f} s")

    # 4. Back to the greeting the servers had.
    if restore:
        rc, output = _playbook("--tags", "postfix", "-e", "mailfort_serial=100%", log="restore.log")
        restored = {host: _banner(host) for host in HOSTS}
        report(rc == 0 and restored == before, "the original greeting is back on all three", str(restored))
    print(f"{'FAILED' if failures else 'OK'}: rolling deploy, {len(failures)} of the checks failed"
          f"{': ' + '; '.join(failures) if failures else ''} (logs in {WORK.relative_to(ROOT)})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
