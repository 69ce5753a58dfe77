# SPDX-License-Identifier: MIT
"""Fixtures for tests whose SMTP clients run on other hosts (molecule/topology).

The inventory names the client hosts by group: trusted_clients (inside the
access lists and the trusted networks), roaming_clients (inside the access
lists, not trusted) and outside_clients (in no list). Each carries its fixed
addresses in the lab network (read from the host itself). Without such hosts
these tests are skipped.
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from lab_hosts import global_addresses, group_host, put_file

PROBE_SCRIPT = Path(__file__).resolve().parents[1] / "smtp_probe.py"
REMOTE_SCRIPT = "/tmp/mailfort_smtp_probe.py"
REMOTE_CA = "/tmp/mailfort-lab-ca.crt"


class Client:
    """A client host that runs smtp_probe.py against the mail server and reports JSON."""

    def __init__(self, host, kind: str, ca_file: str | None, server_name: str):
        self.host = host
        self.kind = kind
        self.name = host.inventory_name
        self.addresses = global_addresses(host)
        self.server_name = server_name
        self._install(ca_file)

    def _install(self, ca_file):
        put_file(self.host, REMOTE_SCRIPT, PROBE_SCRIPT.read_bytes())
        self.ca = None
        if ca_file:
            put_file(self.host, REMOTE_CA, Path(ca_file).read_bytes())
            self.ca = REMOTE_CA

    def probe(self, command: str, address: str, **options):
        args = ["python3", REMOTE_SCRIPT, command, "--address", address, "--server-name", self.server_name]
        if self.ca:
            args += ["--ca-file", self.ca]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        out = self.host.check_output(" ".join(shlex.quote(a) for a in args))
        return json.loads(out)


def _group_host(request, group):
    return group_host(request, group, "source-address tests need the client hosts of the topology lab")


@pytest.fixture(scope="module")
def trusted(request, ca_file, server_name):
    return Client(_group_host(request, "trusted_clients"), "trusted", ca_file, server_name)


@pytest.fixture(scope="module")
def roaming(request, ca_file, server_name):
    return Client(_group_host(request, "roaming_clients"), "roaming", ca_file, server_name)


@pytest.fixture(scope="module")
def outsider(request, ca_file, server_name):
    return Client(_group_host(request, "outside_clients"), "outsider", ca_file, server_name)


@pytest.fixture(scope="module")
def server_addresses(host):
    """The mail server's global addresses by IP version: {4: ..., 6: ...}."""
    return global_addresses(host)


@pytest.fixture(scope="module")
def address_of(server_addresses):
    def _get(family: int) -> str:
        if family not in server_addresses:
            pytest.fail(f"the mail server has no global IPv{family} address: the topology lab is dual-stack")
        return server_addresses[family]
    return _get


@pytest.fixture(scope="module")
def firewall_exception(host, host_vars, lab_only):
    """Let one client address through the firewall for a moment (lab only), to test Postfix's own check."""
    import contextlib

    @contextlib.contextmanager
    def _open(address: str, family: int, ports: str = "587, 465"):
        if not host_vars.get("firewall_enabled", True):
            yield  # no mailfort firewall on this host: Postfix is the only layer anyway
            return
        match = "ip saddr" if family == 4 else "ip6 saddr"
        out = host.check_output(
            f"nft --echo --handle insert rule inet mailfort input {match} {address} tcp dport '{{ {ports} }}' accept")
        handle = out.rsplit("# handle", 1)[1].split()[0]
        try:
            yield
        finally:
            host.run(f"nft delete rule inet mailfort input handle {handle}")
    return _open
