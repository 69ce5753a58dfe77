# SPDX-License-Identifier: MIT
"""Shared fixtures for the testinfra suite.

The same tests run from molecule (lab containers) and against a real inventory:

    pytest tests/infra --hosts='ansible://mailservers' \
        --ansible-inventory=inventories/production

Probes are made from the machine running pytest to the host's address, never
from the host's own loopback (which Postfix trusts through mynetworks).
"""
from __future__ import annotations

import ipaddress
import json

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "network: opens SMTP connections to the host under test")


@pytest.fixture(scope="module")
def host_vars(host):
    """Inventory variables of the host under test (empty for non-Ansible backends)."""
    try:
        return host.backend.get_variables()
    except AttributeError:
        return {}


@pytest.fixture(scope="module")
def probe_address(host, host_vars):
    """Address the controller uses to reach the host's SMTP services.

    `mailfort_probe_address` in the inventory wins; otherwise the host's first
    global address (lab containers), then ansible_host.
    """
    if host_vars.get("mailfort_probe_address"):
        return host_vars["mailfort_probe_address"]
    out = host.check_output("ip -json address show scope global")
    for iface in json.loads(out):
        for addr in iface.get("addr_info", []):
            if addr.get("family") == "inet":
                return addr["local"]
    if host_vars.get("ansible_host"):
        return host_vars["ansible_host"]
    pytest.fail("cannot find an address to probe; set mailfort_probe_address in the inventory")


@pytest.fixture(scope="module")
def postconf(host):
    """Effective Postfix parameters (postconf), as a dict."""

    def _get(name: str) -> str:
        return host.check_output(f"postconf -h {name}")

    return _get


def is_loopback_network(text: str) -> bool:
    bare = text.strip().strip(",")
    if bare.startswith("["):
        bare = bare[1:].replace("]", "", 1)
    return ipaddress.ip_network(bare, strict=False).is_loopback
