#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mailfort benchmarks (`make bench`; LAB ONLY: they bring up, load and break lab hosts).

Benches (bench/README.md says what each measures and why):
  converge    fresh `make lab` converge, then an immediate second one (changed=0): ratio second/first,
              and the re-run's profile (controller CPU, the slowest tasks)
  throughput  2 KiB messages to the lab sink: (a) port 25, no TLS, no AUTH (the baseline; also
              Postfix's smtp-source into a local mailbox), (b) 587 STARTTLS + AUTH, 20 clients
              reusing their sessions, (c) 465 the same, (d) 587 with a new connection, handshake and
              AUTH per message, (e) (d) with Dovecot's auth cache off, (f) (d) with SHA512-CRYPT
              hashes instead of ARGON2ID; messages per second, p50/p95
              latency, ratio to (a), the load client's CPU share, and every accepted message counted
              at the sink by Message-ID (none lost, none twice). Then an untrusted client (the sink
              host) against the per-client limits: accepted up to them, then 4xx, nothing lost.
  fleet       1, 4 and 8 lab mail servers converged fresh in one run each (forks, serial 100%)
  faults      during a bounded load on 587: Dovecot restarted, OpenDKIM restarted, an smtpd killed
              (-9), Postfix reloaded with a changed configuration; per fault: every 250 is at the sink
              exactly once and DKIM-signed, refusals are 4xx, and the time until mail flows again
  suite       the molecule phases of the last `make test` (.cache/timings), if there is one

Every figure is measured here, now, on this machine; ratios compare figures of the same run.
Writes .cache/bench/bench-<UTC time>.json (machine, commit, every figure with min/median/max over
the repeats) and prints a table. --smoke runs each bench once with tiny counts (CI does, so the
code stays alive: `tests/lab-run.sh`); converge and fleet then run only the playbook's tasks tagged
always, the fleet of 1 is the converge bench's fresh run, then a fleet of 2; its figures mean nothing.

usage: bench/run.py [--smoke] [--only converge,throughput,fleet,faults,suite] [--repeats N]
                    [--distros debian12,debian13] [--keep]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".cache" / "bench"
MX, SINK, NETWORK = "mailfort-lab", "mailfort-lab-sink", "mailfort-lab"
SERVER_NAME = "mx.lab.test"
CA = ROOT / ".cache" / "lab-ca" / "ca.crt"
SINK_MAILDIR = "/var/mail/sink/new"
LOAD = ROOT / "bench" / "smtpload.py"
# Messages per run of the scenarios that log in for every message ((d), (e), (f)), at most.
NEW_CONNECTION_MESSAGES = 300
BENCHES = ["converge", "throughput", "fleet", "faults", "suite"]
# In a smoke run the converge and fleet benches run only the playbook's tasks tagged always (facts, the
# lab's own plays, every role's input checks): their code runs end to end in a minute or two, with hosts
# from MAILFORT_LAB_IMAGE / MAILFORT_LAB_SINK_IMAGE when set (CI: the images of its converged lab).
SMOKE_CONVERGE = "; SMOKE: --tags always only (facts, the lab's plays, the input checks), not a full converge"
# The promises every bench run also checks (not the targets): (name, ok, detail).
CHECKS: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    CHECKS.append((name, bool(ok), detail))
    if not ok:
        log(f"FAIL {name}: {detail}")


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def run(command: list[str], *, env: dict | None = None, timeout: int = 1800, check: bool = True,
        stdin: str | None = None) -> tuple[int, str, float]:
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, **(env or {})}, input=stdin,
                            capture_output=True, text=True, timeout=timeout, check=False)
    took = time.monotonic() - started
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise SystemExit(f"bench: {' '.join(command[:4])}... failed (rc {result.returncode}):\n{output[-3000:]}")
    return result.returncode, output, took


def podman_exec(container: str, script: str, **kw) -> str:
    return run(["podman", "exec", container, "sh", "-c", script], **kw)[1]


def address(container: str) -> str:
    return run(["podman", "container", "inspect", "--format",
                f'{{{{ (index .NetworkSettings.Networks "{NETWORK}").IPAddress }}}}', container])[1].strip()


def figures(values: list[float]) -> dict:
    values = [round(v, 3) for v in values]
    return {"min": min(values), "median": round(statistics.median(values), 3), "max": max(values), "values": values}


def lab_password(user: str) -> str:
    """LAB ONLY: the lab inventory's published test password of `user` (never printed)."""
    import yaml
    accounts = yaml.safe_load((ROOT / "inventories/lab/group_vars/mailservers/accounts.yml").read_text())
    return next(a["password"] for a in accounts["mailfort_accounts"] if a["name"] == user)


def lab(action: str, *args: str, hosts: int = 1, distro: str = "debian12", profile: bool = False) -> tuple[str, float]:
    env = {"MAILFORT_LAB_MAIL_HOSTS": str(hosts), "MAILFORT_DISTRO": distro, "ANSIBLE_FORCE_COLOR": "0"}
    if profile:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
    _, output, took = run(["lab/lab.sh", action, *args], env=env, timeout=3600)
    return output, took


def recap_changed(output: str) -> int:
    return sum(int(n) for n in re.findall(r"^\S+\s+: ok=\d+\s+changed=(\d+)", output, re.M))


def recap_mail_servers(output: str) -> dict[str, bool]:
    """The lab mail servers (mailfort-lab, mailfort-lab-N) in a run's recap: name -> neither failed nor unreachable."""
    return {name: unreachable == failed == "0" for name, unreachable, failed in re.findall(
        r"^(mailfort-lab(?:-\d+)?)\s+: ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", output, re.M)}


def slowest_tasks(output: str, count: int = 8) -> list[str]:
    """profile_tasks' table at the end of a run."""
    lines = output.split("TASKS RECAP", 1)[-1].splitlines()
    return [re.sub(r"\s-+\s", " ", line).strip() for line in lines if re.search(r"-{3,} \d+\.\d+s$", line)][:count]


def children_cpu() -> float:
    import resource
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- converge ---------------------------------------------------------------------------------

def bench_converge(args) -> dict:
    fresh, rerun, cpu_fresh, cpu_rerun, changed, profile = [], [], [], [], [], []
    for repeat in range(args.repeats):
        lab("down", distro=args.distro)
        before = children_cpu()
        output, took = lab("up", *args.converge_args, distro=args.distro)
        fresh.append(took)
        # A smoke run's fleet of 1 is this (one mail server from new containers): CI brings it up once.
        args.smoke_fleet_of_1 = (output, took) if args.smoke else None
        cpu_fresh.append(children_cpu() - before)
        before = children_cpu()
        output, took = lab("up", *args.converge_args, distro=args.distro, profile=True)
        rerun.append(took)
        cpu_rerun.append(children_cpu() - before)
        changed.append(recap_changed(output))
        profile = slowest_tasks(output)
        log(f"converge {repeat + 1}/{args.repeats}: fresh {fresh[-1]:.0f} s, re-run {rerun[-1]:.0f} s "
            f"(changed={changed[-1]})")
    check("converge: the re-run changed nothing", all(c == 0 for c in changed), f"changed={changed}")
    return {
        "what": "make lab (lab/lab.sh up: playbooks/lab.yml on a mail server and a sink) from new containers, "
                "then the same again at once" + SMOKE_CONVERGE * args.smoke,
        "fresh_s": figures(fresh), "rerun_s": figures(rerun),
        "controller_cpu_fresh_s": figures(cpu_fresh), "controller_cpu_rerun_s": figures(cpu_rerun),
        "rerun_changed": changed,
        "ratio_rerun_to_fresh": round(statistics.median(rerun) / statistics.median(fresh), 3),
        "target_ratio_rerun_to_fresh": 0.25,
        "rerun_slowest_tasks": profile,
    }


# --- throughput ---------------------------------------------------------------------------------

def start_load(mode: str, port: int, clients: int, messages: int, *, reuse: bool, user: str = "",
               recipient: str = "someone@example.net", sender: str = "alice@lab.test", host: str | None = None,
               container: str | None = None, extra: list[str] | None = None) -> tuple[subprocess.Popen, str]:
    """Start one bounded load run from the controller (or from inside a lab container); (process, run id)."""
    run_id = "b" + uuid.uuid4().hex[:12]
    command = ["--host", host or address(MX), "--port", str(port), "--mode", mode, "--server-name", SERVER_NAME,
               "--clients", str(clients), "--messages", str(messages), "--sender", sender,
               "--recipient", recipient, "--run-id", run_id, *(["--reuse"] if reuse else []),
               *(["--user", user] if user else []), *(extra or [])]
    env = {"SMTPLOAD_PASSWORD": lab_password(user)} if user else {}
    if container:
        run(["podman", "cp", str(LOAD), f"{container}:/root/smtpload.py"])
        # The password (if any) passes through podman's environment, never its command line.
        command = ["podman", "exec", "--env=SMTPLOAD_PASSWORD", container, "python3", "/root/smtpload.py", *command]
    else:
        command = [sys.executable, str(LOAD), "--cafile", str(CA), *command]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **env})
    return process, run_id


def finish_load(process: subprocess.Popen) -> dict:
    """Wait for a load run; its JSON result."""
    stdout, stderr = process.communicate(timeout=900)
    if process.returncode != 0:
        raise SystemExit(f"bench: the load client failed (rc {process.returncode}):\n{(stdout + stderr)[-3000:]}")
    return json.loads(stdout.strip().splitlines()[-1])


def load(mode: str, port: int, clients: int, messages: int, **options) -> dict:
    """One bounded load run, waited for: its JSON result."""
    return finish_load(start_load(mode, port, clients, messages, **options)[0])


def sink_count(run_id: str, accepted: int, maildir: str = SINK_MAILDIR, container: str = SINK,
               wait: float = 120.0, flush_after: float = 15.0) -> dict:
    """Messages of a run that arrived (by Message-ID), waiting until all accepted ones did or `wait` passed.

    Accepted mail that a busy machine deferred (an LMTP or SMTP delivery that failed for the moment) is not
    lost: Postfix would retry it minutes later. After `flush_after` seconds the mail server's queue is
    flushed once (postqueue -f), and how many messages it held then is reported as `queued_at_flush`."""
    started = time.monotonic()
    queued = None
    while True:
        ids = podman_exec(container, f"grep -rhoE '^Message-ID: <{run_id}\\.[0-9.]+@' {maildir} || true",
                          check=False).split()
        ids = [i for i in ids if i.startswith("<")]
        if len(set(ids)) >= accepted or time.monotonic() - started > wait:
            break
        if queued is None and time.monotonic() - started > flush_after:
            queued = podman_exec(MX, "postqueue -j | wc -l; postqueue -f", check=False).split()[0]
        time.sleep(1)
    return {"arrived": len(set(ids)), "duplicates": len(ids) - len(set(ids)),
            "lost": max(accepted - len(set(ids)), 0), "queued_at_flush": queued}


def signed_count(run_id: str) -> int:
    out = podman_exec(SINK, f"grep -rlF 'Message-ID: <{run_id}.' {SINK_MAILDIR} | xargs -r grep -l '^DKIM-Signature:'"
                      " | wc -l", check=False)
    return int(out.strip() or 0)


def cpu_by_command(container: str = MX) -> dict[str, float]:
    """CPU seconds used so far by each command in a lab container (processes alive now: an approximation,
    as processes that exited between two readings are missed)."""
    out = podman_exec(container, "for f in /proc/[0-9]*/stat; do cat $f 2>/dev/null; echo; done", check=False)
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for line in out.splitlines():
        match = re.match(r"^(\d+) \((.*)\) \S+ (.*)$", line)
        if not match:
            continue
        fields = match.group(3).split()
        used[match.group(2)] = used.get(match.group(2), 0.0) + (int(fields[10]) + int(fields[11])) / ticks
    return used


def cpu_profile(before: dict[str, float], after: dict[str, float], top: int = 8) -> dict[str, float]:
    delta = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}
    return {name: round(value, 2) for name, value in sorted(delta.items(), key=lambda item: -item[1])[:top]
            if value > 0}


def dovecot_state() -> dict:
    """What decides a login's cost: the auth cache's size and the scheme of the bench user's hash."""
    out = podman_exec(MX, "doveconf -h auth_cache_size; grep -oE '^alice@lab.test:[{][A-Z0-9-]+[}]' "
                          "/etc/dovecot/mailfort-users | cut -d: -f2", check=False).split()
    return {"auth_cache_size": out[0] if out else None, "password_scheme": out[1] if len(out) > 1 else None}


def converge_tags(tags: str, *extra: str) -> None:
    run(["ansible-playbook", "-i", "inventories/lab", "--tags", tags, *extra, "playbooks/site.yml"],
        env={"ANSIBLE_FORCE_COLOR": "0"}, timeout=900)


def bench_throughput(args) -> dict:
    if not args.lab_up:
        lab("up", distro=args.distro)
    user, n, clients = "alice@lab.test", args.messages, args.clients
    scenarios = {
        # Port 25 relays only for mynetworks (loopback): the baseline's client runs on the mail server.
        "a_port25_plain": {"mode": "plain", "port": 25, "reuse": True, "host": "127.0.0.1", "container": MX},
        "b_587_starttls_auth_reuse": {"mode": "starttls", "port": 587, "reuse": True, "user": user},
        "c_465_tls_auth_reuse": {"mode": "tls", "port": 465, "reuse": True, "user": user},
        "d_587_new_connection_per_message": {"mode": "starttls", "port": 587, "reuse": False, "user": user},
    }
    result: dict = {"what": f"{n} messages of 2 KiB per run (at most {NEW_CONNECTION_MESSAGES} for (d), (e) and (f)), "
                            f"{clients} clients (asyncio, one process; from the "
                            "controller, a trusted lab address, so the per-client limits do not apply; for (a) on the "
                            "mail server itself, as port 25 relays only for loopback), to someone@example.net, which "
                            "the lab delivers to the sink", "scenarios": {}}
    runs: dict[str, list[dict]] = {}

    def measure(name: str, spec: dict) -> None:
        # A warm-up (not measured): Postfix starts its processes, Dovecot fills its caches.
        load(spec["mode"], spec["port"], clients, clients, reuse=spec["reuse"], user=spec.get("user", ""),
             host=spec.get("host"), container=spec.get("container"))
        # A login per message is slow (each one a password hash): fewer messages give the same rate.
        count = n if spec["reuse"] else min(n, NEW_CONNECTION_MESSAGES)
        for _ in range(args.repeats):
            before = cpu_by_command()
            got = load(spec["mode"], spec["port"], clients, count, reuse=spec["reuse"], user=spec.get("user", ""),
                       host=spec.get("host"), container=spec.get("container"))
            got["server_cpu_s_by_command"] = cpu_profile(before, cpu_by_command())
            if spec.get("user"):
                # Dovecot's auth process (the login check, the password hash) per login of the run.
                logins = clients if spec["reuse"] else count
                got["auth_cpu_ms_per_login"] = round(1000 * got["server_cpu_s_by_command"].get("auth", 0) / logins, 1)
            got.update(sink_count(got["run_id"], got["accepted"]))
            runs.setdefault(name, []).append(got)
            check(f"{name}: every message accepted", got["accepted"] == count, json.dumps(got["refused"]))
            check(f"{name}: every accepted message at the sink once", got["lost"] == 0 and got["duplicates"] == 0,
                  f"lost {got['lost']}, twice {got['duplicates']}")
            log(f"{name}: {got['accepted']}/{count} accepted, {got['msgs_per_s']} msg/s, "
                f"p95 {got['latency_p95_ms']} ms, client CPU {got['client_cpu_share']:.0%}, lost {got['lost']}, "
                f"twice {got['duplicates']}")

    for name, spec in scenarios.items():
        measure(name, spec)
    result["dovecot_d"] = dovecot_state()
    # (d) again with Dovecot changed one way: (e) the auth cache off, (f) SHA512-CRYPT hashes instead of
    # ARGON2ID (what a login costs when hashing is cheap). Each converges the dovecot role with the change
    # and then back (the hashes are made again): not on a lab this run does not own (CI's smoke).
    variants = {"e_587_new_connection_auth_cache_off": "dovecot_auth_cache_size=0",
                "f_587_new_connection_sha512_crypt": "dovecot_password_scheme=SHA512-CRYPT"}
    for name, change in variants.items():
        if args.lab_up:
            result[name] = "not run with --lab-up (it converges Dovecot twice)"
            continue
        converge_tags("dovecot", "-e", change)
        result[f"dovecot_{name[0]}"] = dovecot_state()
        try:
            measure(name, scenarios["d_587_new_connection_per_message"])
        finally:
            converge_tags("dovecot")
    # Postfix's own client, on the mail server like (a)'s, the same way to the sink.
    count = min(n, 2000)
    subject = "b" + uuid.uuid4().hex[:12]
    _, _output, took = run(["podman", "exec", MX, "smtp-source", "-s", str(clients), "-m", str(count), "-l", "2048",
                            "-f", "alice@lab.test", "-t", "someone@example.net", "-S", subject, "127.0.0.1:25"],
                           timeout=900)
    deadline = time.monotonic() + 120
    while True:
        got = int(podman_exec(SINK, f"grep -rlF 'Subject: {subject}' {SINK_MAILDIR} | wc -l", check=False).strip() or 0)
        if got >= count or time.monotonic() > deadline:
            break
        time.sleep(1)
    check("smtp-source: every message at the sink", got == count, f"{got} of {count}")
    result["a_smtp_source"] = {"messages": count, "elapsed_s": round(took, 3),
                                             "msgs_per_s": round(count / took, 2), "arrived": got,
                                             "client": "smtp-source in the mail server's container, to 127.0.0.1:25, "
                                                       "relayed to the sink"}
    for name, got in runs.items():
        entry = {key: figures([g[key] for g in got]) for key in
                 ("msgs_per_s", "latency_p50_ms", "latency_p95_ms", "client_cpu_share")}
        if "auth_cpu_ms_per_login" in got[0]:
            entry["auth_cpu_ms_per_login"] = figures([g["auth_cpu_ms_per_login"] for g in got])
        if all(g.get("msgs_per_s_after_logins") for g in got):
            # Reused sessions once all clients have logged in (the steady rate of a bulk sender).
            entry["logins_done_s"] = figures([g["logins_done_s"] for g in got])
            entry["msgs_per_s_after_logins"] = figures([g["msgs_per_s_after_logins"] for g in got])
        entry.update(server_cpu_s_by_command=got[-1]["server_cpu_s_by_command"],
                     accepted=[g["accepted"] for g in got], refused=[g["refused"] for g in got],
                     lost=sum(g["lost"] for g in got), duplicates=sum(g["duplicates"] for g in got))
        result["scenarios"][name] = entry
    base = result["scenarios"]["a_port25_plain"]["msgs_per_s"]["median"]
    # (a)'s sessions have no login: its rate once they are all open.
    base_after = result["scenarios"]["a_port25_plain"].get("msgs_per_s_after_logins", {}).get("median")
    for name, entry in result["scenarios"].items():
        entry["ratio_to_a"] = round(entry["msgs_per_s"]["median"] / base, 3) if base else None
        if "msgs_per_s_after_logins" in entry and name != "a_port25_plain" and base_after:
            entry["ratio_after_logins_to_a"] = round(entry["msgs_per_s_after_logins"]["median"] / base_after, 3)
    result["target_ratio_b_to_a"] = 0.5
    result["limits_untrusted"] = bench_limits(args)
    return result


def bench_limits(args) -> dict:
    """An untrusted client (the sink host: port 25 only) against the per-client limits."""
    # More than the message rate limit (100 a minute), from more clients than the connection limit (10).
    messages = 120
    got = load("plain", 25, 12, messages, reuse=True, recipient="alice@lab.test",
               sender="someone@example.org", container=SINK, extra=["--pause-after-refusal", "0.5"])
    home = podman_exec(MX, "doveadm user -f home alice@lab.test").strip()
    got.update(sink_count(got["run_id"], got["accepted"], maildir=f"{home}/Maildir/new {home}/Maildir/cur",
                          container=MX))
    refusals = got["refused"]
    got["only_4xx_refusals"] = all(re.search(r" 4\d\d$", key) for key in refusals)
    log(f"untrusted client: {got['accepted']}/{messages} accepted, refused {refusals}, lost {got['lost']}")
    check("untrusted client: refusals are 4xx only", got["only_4xx_refusals"], json.dumps(refusals))
    check("untrusted client: the limits refused some", bool(refusals), "12 clients against a limit of 10")
    check("untrusted client: every accepted message delivered once", got["lost"] == 0 and got["duplicates"] == 0,
          f"lost {got['lost']}, twice {got['duplicates']}")
    return {"what": "12 clients from the sink host (not trusted) on port 25 into a lab mailbox, sessions reused",
            **{k: got[k] for k in ("messages", "accepted", "refused", "examples", "arrived", "lost", "duplicates",
                                   "queued_at_flush", "only_4xx_refusals", "elapsed_s")}}


# --- fleet --------------------------------------------------------------------------------------

def bench_fleet(args) -> dict:
    sizes = [1, 2] if args.smoke else [1, 4, 8]
    times = {}
    for size in sizes:
        if size == 1 and getattr(args, "smoke_fleet_of_1", None):
            output, took = args.smoke_fleet_of_1
        else:
            lab("down", distro=args.distro, hosts=9)
            output, took = lab("up", "-e", "mailfort_serial=100%", *args.converge_args, distro=args.distro,
                               hosts=size)
        times[size] = took
        servers = recap_mail_servers(output)
        check(f"fleet of {size}: every mail server converged", len(servers) == size and all(servers.values()),
              json.dumps(servers))
        log(f"fleet of {size}: {took:.0f} s")
    lab("down", distro=args.distro, hosts=9)
    one = times[sizes[0]]
    return {"what": "lab/lab.sh up with MAILFORT_LAB_MAIL_HOSTS=N from new containers, one converge, "
                    "mailfort_serial=100% (every host in one batch), forks 10 (ansible.cfg)"
                    + SMOKE_CONVERGE * args.smoke,
            "seconds": {str(k): round(v, 1) for k, v in times.items()},
            **{f"ratio_{k}_to_1": round(v / one, 3) for k, v in times.items() if k != 1},
            "target_ratio_8_to_1": 2.5}


# --- faults -------------------------------------------------------------------------------------

FAULTS = {
    "dovecot_restart": "systemctl restart dovecot",
    "opendkim_restart": "systemctl restart opendkim",
    "smtpd_kill_9": "pkill -KILL -n -x smtpd",
    "postfix_reload_changed": "postconf -e 'smtpd_banner=$myhostname ESMTP bench' && postfix reload",
}


def log_kinds(lines: list[str], top: int = 6) -> dict[str, int]:
    """Log lines counted by kind: addresses, queue ids and numbers replaced, the most frequent first."""
    counts: dict[str, int] = {}
    for line in lines:
        kind = re.sub(r"\[[0-9a-fA-F:.]+\]", "[ADDR]", line.strip())
        kind = re.sub(r"\b[0-9A-F]{8,}\b", "QID", kind)
        kind = re.sub(r"\d+", "N", kind)[:200]
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1])[:top])


def server_warnings(since: float) -> dict[str, int]:
    """The mail server's warnings, errors and fail2ban bans logged since `since` (epoch seconds), by kind."""
    out = podman_exec(MX, f"journalctl --since @{int(since)} -o cat -q --no-pager "
                          "| grep -E 'warning|error|fatal|panic|Ban ' || true", check=False)
    return log_kinds(out.splitlines())


# How long after a fault the bench waits for mail to flow again.
RECOVERY_DEADLINE_S = 120


def probe_recovery(probes: dict, deadline: float) -> float | None:
    """Send one message at a time (587, new connection, AUTH) until one is accepted or `deadline` (epoch
    seconds) passes; the time of the first acceptance (an upper bound of the recovery). Every accepted probe
    must reach the sink once; the refusals are counted by kind in probes["refused"]."""
    while time.time() < deadline:
        process, run_id = start_load("starttls", 587, 1, 1, reuse=False, user="alice@lab.test",
                                     extra=["--timeout", "20"])
        got = finish_load(process)
        probes["sent"] += 1
        for kind, count in got["refused"].items():
            probes["refused"][kind] = probes["refused"].get(kind, 0) + count
        if got["accepted"]:
            probes["accepted"] += 1
            arrived = sink_count(run_id, 1)
            check("recovery probe: at the sink once", arrived["lost"] == 0 and arrived["duplicates"] == 0,
                  json.dumps(arrived))
            return time.time()
        time.sleep(1)
    return None


def bench_faults(args) -> dict:
    results = {}
    for distro in [args.distro] if args.lab_up else args.distros:
        if not args.lab_up:
            lab("down", distro=distro)
            lab("up", distro=distro)
        banner = podman_exec(MX, "postconf -h smtpd_banner").strip()
        results[distro] = {}
        for fault, command in FAULTS.items():
            # Enough messages that the load mostly outlasts the fault and the recovery. When it does not (with 40,
            # a busy CI machine had sent 3 per client before the fault and each client's last one was refused:
            # CI run 13), probe_recovery sends one message at a time until one is accepted.
            messages = 40 if args.smoke else 600
            process, run_id = start_load("starttls", 587, 10, messages, reuse=False, user="alice@lab.test",
                                         extra=["--pause-after-refusal", "0.2", "--timeout", "20", "--timeline"])
            time.sleep(1.0 if args.smoke else 3.0)
            fault_at = time.time()
            podman_exec(MX, command)
            got = finish_load(process)
            got.update(sink_count(run_id, got["accepted"]))
            signed = signed_count(run_id)
            refusals = got["refused"]
            timeline = got.pop("timeline", [])
            failures = [t for t, ok in timeline if not ok and t >= fault_at]
            last_failure = max(failures, default=None)
            recovered = next((t for t, ok in timeline if ok and last_failure is not None and t > last_failure), None)
            probes = {"sent": 0, "accepted": 0, "refused": {}}
            if last_failure is not None and recovered is None:
                # The load ended before the server came back: one message at a time until one is accepted.
                recovered = probe_recovery(probes, fault_at + RECOVERY_DEADLINE_S)
            results[distro][fault] = {
                "messages": messages, "accepted": got["accepted"], "arrived": got["arrived"], "lost": got["lost"],
                "duplicates": got["duplicates"], "signed": signed, "unsigned": got["arrived"] - signed,
                "refused": refusals, "examples": got["examples"],
                "refusals_all_4xx_or_connection": all(not re.search(r" 5\d\d$", key)
                                                      for key in [*refusals, *probes["refused"]]),
                "recovery_s": round(recovered - fault_at, 2) if recovered else (0.0 if last_failure is None else None),
                # Messages sent after the load to find the recovery (when it ended first), and how many got a 250.
                "recovery_probes": probes,
                # What the mail server logged meanwhile: where a refusal or a slow recovery came from.
                "server_warnings": server_warnings(fault_at - 1),
            }
            if fault == "postfix_reload_changed":
                podman_exec(MX, f"postconf -e smtpd_banner={shlex.quote(banner)} && postfix reload")
            entry = results[distro][fault]
            log(f"{distro} {fault}: {entry}")
            check(f"{distro} {fault}: every 250 at the sink once", entry["lost"] == 0 and entry["duplicates"] == 0,
                  f"lost {entry['lost']}, twice {entry['duplicates']}")
            check(f"{distro} {fault}: every delivered message DKIM-signed", entry["unsigned"] == 0,
                  f"{entry['unsigned']} unsigned")
            check(f"{distro} {fault}: refused with 4xx or a closed connection, never 5xx",
                  entry["refusals_all_4xx_or_connection"], json.dumps([entry["refused"], probes["refused"]]))
            check(f"{distro} {fault}: mail flows again", entry["recovery_s"] is not None,
                  f"no message accepted within {RECOVERY_DEADLINE_S} s of the fault, after the last refusal")
    return {"what": "10 clients on 587 (STARTTLS, AUTH, a new connection per message) while one fault "
                    "is made on the mail server; refused messages are not retried", "distros": results}


# --- suite --------------------------------------------------------------------------------------

def bench_suite(args) -> dict:
    phases = {}
    for tsv in sorted((ROOT / ".cache" / "timings").glob("*.tsv")):
        for line in tsv.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) >= 3 and fields[2]:
                phases[f"{fields[0]} {fields[1]}"] = float(fields[2])
    return {"what": "wall time of each step of the last make test (.cache/timings), if any", "seconds": phases}


# --- main ---------------------------------------------------------------------------------------

def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "0")
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gib": round(int(memory) / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "load_average_at_start": os.getloadavg()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="mailfort benchmarks (LAB ONLY)")
    parser.add_argument("--smoke", action="store_true", help="each bench once with tiny counts")
    parser.add_argument("--only", default=",".join(BENCHES))
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--messages", type=int, default=None)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--distros", default="debian12,debian13", help="for the fault bench")
    parser.add_argument("--keep", action="store_true", help="leave the lab up at the end")
    parser.add_argument("--lab-up", action="store_true",
                        help="use the lab that is up (lab/lab.sh) as it is: no converge, nothing brought up or down "
                             "(throughput, faults and suite only)")
    parser.add_argument("--junit", type=Path, help="also write the checks as a JUnit report")
    args = parser.parse_args(argv)
    args.only = [b for b in args.only.split(",") if b]
    unknown = set(args.only) - set(BENCHES)
    if unknown:
        parser.error(f"unknown bench {sorted(unknown)}; choose from {BENCHES}")
    args.repeats = args.repeats or (1 if args.smoke else 3)
    args.messages = args.messages or (20 if args.smoke else 1000)
    args.distros = [d for d in args.distros.split(",") if d]
    args.converge_args = ["--tags", "always"] if args.smoke else []
    args.distro = os.environ.get("MAILFORT_DISTRO", "debian12")
    if args.lab_up and set(args.only) & {"converge", "fleet"}:
        parser.error("converge and fleet bring labs up and down: not with --lab-up")
    WORK.mkdir(parents=True, exist_ok=True)
    commit = run(["git", "rev-parse", "HEAD"], check=False)[1].strip()
    report = {"started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "commit": commit,
              "smoke": args.smoke, "machine": machine(), "distro": args.distro, "repeats": args.repeats,
              "benches": {}}
    out = WORK / f"bench-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}{'-smoke' if args.smoke else ''}.json"
    try:
        for name in args.only:
            log(f"{name} ...")
            started = time.monotonic()
            report["benches"][name] = globals()[f"bench_{name}"](args)
            report["benches"][name]["bench_seconds"] = round(time.monotonic() - started, 1)
            out.write_text(json.dumps(report, indent=2))
    finally:
        if not args.keep and not args.lab_up and set(args.only) & {"converge", "throughput", "fleet", "faults"}:
            lab("down", hosts=9)
    out.write_text(json.dumps(report, indent=2))
    print_table(report)
    report["checks"] = [{"name": n, "ok": ok, "detail": d} for n, ok, d in CHECKS]
    out.write_text(json.dumps(report, indent=2))
    if args.junit:
        write_junit(args.junit)
    failed = [n for n, ok, _ in CHECKS if not ok]
    print(f"bench: figures in {out.relative_to(ROOT)}; {len(CHECKS) - len(failed)} of {len(CHECKS)} checks passed"
          f"{': FAILED ' + '; '.join(failed) if failed else ''}")
    return 1 if failed else 0


def write_junit(path: Path) -> None:
    import xml.etree.ElementTree as ET
    suite = ET.Element("testsuite", name="bench", tests=str(len(CHECKS)),
                       failures=str(sum(not ok for _, ok, _ in CHECKS)))
    for name, ok, detail in CHECKS:
        case = ET.SubElement(suite, "testcase", classname="bench.run", name=name, time="0")
        if not ok:
            ET.SubElement(case, "failure", message=detail[:500]).text = detail
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)


def print_table(report: dict) -> None:
    rows = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict) and "median" in value:
            rows.append((prefix, f"{value['median']} (min {value['min']}, max {value['max']})"))
        elif isinstance(value, dict):
            for key, item in value.items():
                if key not in ("what", "values", "examples", "rerun_slowest_tasks", "server_warnings"):
                    walk(f"{prefix}.{key}" if prefix else key, item)
        elif isinstance(value, (int, float, str, bool)) or value is None:
            rows.append((prefix, str(value)))
        else:
            rows.append((prefix, json.dumps(value)))
    walk("", report["benches"])
    width = max((len(name) for name, _ in rows), default=10)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
