# SPDX-License-Identifier: MIT
"""Shared fixtures for the testinfra suite.

The same tests run from molecule (lab containers) and against a real inventory:

    pytest tests/infra --hosts='ansible://mailservers' \
        --ansible-inventory=inventories/production

Probes are made from the machine running pytest to the host's address, never
from the host's own loopback (which Postfix trusts through mynetworks).
"""
from __future__ import annotations

import pytest
from lab_hosts import PROJECT_DIR, direct, global_addresses, group_host


def pytest_configure(config):
    config.addinivalue_line("markers", "network: opens SMTP connections to the host under test")


@pytest.fixture(scope="module")
def host(_testinfra_host):
    """The host under test (lab containers through podman exec, see direct())."""
    return direct(_testinfra_host)


@pytest.fixture(scope="module")
def host_vars(host):
    """Inventory variables of the host under test (empty for non-Ansible backends)."""
    return host.inventory_vars


@pytest.fixture(scope="module")
def probe_address(host, host_vars):
    """Address the controller uses to reach the host's SMTP services.

    `mailfort_probe_address` in the inventory wins; otherwise the host's first
    global address (lab containers), then ansible_host.
    """
    if host_vars.get("mailfort_probe_address"):
        return host_vars["mailfort_probe_address"]
    found = global_addresses(host)
    if 4 in found:
        return found[4]
    if host_vars.get("ansible_host"):
        return host_vars["ansible_host"]
    pytest.fail("cannot find an address to probe; set mailfort_probe_address in the inventory")


@pytest.fixture(scope="module")
def postconf(host):
    """Effective Postfix parameters (postconf), as a dict."""

    def _get(name: str) -> str:
        return host.check_output(f"postconf -h {name}")

    return _get


@pytest.fixture(scope="module")
def server_name(postconf):
    """The name the server gives in its banner; its certificate must cover it."""
    return postconf("myhostname")


@pytest.fixture(scope="module")
def foreign_domain(host_vars):
    """A domain the server must never relay to (RFC 2606; resolves to the lab sink in the lab)."""
    return host_vars.get("mailfort_test_foreign_domain", "example.invalid")


@pytest.fixture(scope="module")
def ca_file(host_vars):
    """CA bundle that must verify the server's certificate: inventory, env, lab CA, or system store."""
    import os

    for candidate in (host_vars.get("mailfort_test_ca_file"), os.environ.get("MAILFORT_CA_FILE"),
                      str(PROJECT_DIR / ".cache" / "lab-ca" / "ca.crt")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture(scope="module")
def tls_context(ca_file):
    """A strict client context: verifies the chain and the host name."""
    import ssl

    return ssl.create_default_context(cafile=ca_file)


@pytest.fixture(scope="module")
def test_accounts(host_vars):
    """Accounts with usable (literal) passwords: mailfort_test_accounts, else lab mailfort_accounts."""
    accounts = host_vars.get("mailfort_test_accounts") or host_vars.get("mailfort_accounts") or []
    return [a for a in accounts
            if isinstance(a.get("password"), str)
            and "{{" not in a["password"] and "$ANSIBLE_VAULT" not in a["password"]]


def _account(accounts, kind):
    for account in accounts:
        if account.get("kind", "person") == kind:
            return account
    pytest.skip(f"no {kind} account with a test password in the inventory (mailfort_test_accounts)")


@pytest.fixture(scope="module")
def person(test_accounts):
    return _account(test_accounts, "person")


@pytest.fixture(scope="module")
def application(test_accounts):
    return _account(test_accounts, "application")


@pytest.fixture(scope="module")
def sink(request):
    """The lab's mail sink (inventory group 'sinks'), or skip outside the lab."""
    return group_host(request, "sinks", "no sink, delivery is not checked")


@pytest.fixture(scope="module")
def lab_only(host_vars):
    """Tests that change the host run only against lab hosts (mailfort_lab: true)."""
    if not host_vars.get("mailfort_lab"):
        pytest.skip("changes the host: runs only in the lab (mailfort_lab: true)")


@pytest.fixture(scope="module")
def host_name(host):
    """The host's name in the inventory."""
    return host.inventory_name
