# SPDX-License-Identifier: MIT
"""Shared fixtures for the testinfra suite.

The same tests run from molecule (lab containers) and against a real inventory:

    pytest tests/infra -m external --hosts='ansible://mailservers' \
        --ansible-inventory=inventories/production

Probes are made from the machine running pytest to the host's address, never
from the host's own loopback (which Postfix trusts through mynetworks).

Every test belongs to one tier, found from the fixtures it uses (audit_tiers.py):
external (SMTP reach only), credentialed (a test account's password), onhost (a
shell on the host, read-only) and lab (lab hosts or changes: never in an audit).
`-m external` etc. selects a tier; a test of the external or credentialed tier
that asks for a shell on the host anyway fails instead of running.
"""
from __future__ import annotations

import pytest
from audit_report import pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401 - hooks
from audit_tiers import (  # noqa: F401 - the hooks
    SHELL_TIERS,
    pytest_collection_modifyitems,
    pytest_runtest_setup,
    register_markers,
    running_tier,
)
from lab_hosts import PROJECT_DIR, container_addresses, direct, group_host, inventory_vars


def pytest_configure(config):
    config.addinivalue_line("markers", "network: opens SMTP connections to the host under test")
    config.addinivalue_line(
        "markers", "distro_independent: proves nothing a second distribution would not (make test runs it on the "
        "first distro's lab only)")
    config.addinivalue_line(
        "markers", "distro_independent_last: as distro_independent, run on the last distro's lab only (make test "
        "balances the two labs' time)")
    config.addinivalue_line(
        "markers", "last_distro_only: may depend on the distribution, but CI has time for one lab only: make test "
        "runs it on the last distro's lab (the closing notes say how it was run on the others)")
    register_markers(config)


@pytest.fixture(scope="module")
def host(_testinfra_host):
    """The host under test, with a shell (lab containers through podman exec, see direct())."""
    tier = running_tier()
    if tier not in SHELL_TIERS:
        pytest.fail(f"a test of the {tier} tier asked for a shell on the host: a test that needs one "
                    "must name the host fixture among its arguments (that puts it in the onhost tier)")
    return direct(_testinfra_host)


@pytest.fixture(scope="module")
def host_vars(_testinfra_host):
    """Inventory variables of the host under test, as the inventory has them (not templated); no connection."""
    return inventory_vars(_testinfra_host)


def _literal(value) -> str | None:
    """A plain string from the inventory; None for a Jinja expression or a vault value."""
    if isinstance(value, str) and value and "{{" not in value and "$ANSIBLE_VAULT" not in value:
        return value
    return None


@pytest.fixture(scope="module")
def probe_addresses(host_vars):
    """The addresses the controller probes, by IP version: {4: ..., 6: ...}. No shell on the host needed.

    `mailfort_probe_address` / `mailfort_probe_address6` in the inventory win; then
    ansible_host when it is an address; then, for lab containers, the addresses
    podman gave them (asked of podman on the controller, not of the host).
    """
    import ipaddress

    found = {}
    for family, name in ((4, "mailfort_probe_address"), (6, "mailfort_probe_address6")):
        if _literal(host_vars.get(name)):
            found[family] = host_vars[name]
    try:
        address = ipaddress.ip_address(str(host_vars.get("ansible_host", "")))
        found.setdefault(address.version, str(address))
    except ValueError:
        pass
    if host_vars.get("ansible_connection") in ("containers.podman.podman", "podman"):
        container = host_vars.get("ansible_podman_container") or host_vars.get("ansible_host") \
            or host_vars["inventory_hostname"]
        for family, address in container_addresses(container).items():
            found.setdefault(family, address)
    return found


@pytest.fixture(scope="module")
def probe_address(probe_addresses):
    """Address (IPv4 first) the controller uses to reach the host's SMTP services."""
    if probe_addresses:
        return probe_addresses.get(4) or probe_addresses[6]
    pytest.fail("cannot find an address to probe; set mailfort_probe_address in the inventory")


@pytest.fixture(scope="module")
def postconf(host):
    """Effective Postfix parameters (postconf), as a dict."""

    def _get(name: str) -> str:
        return host.check_output(f"postconf -h {name}")

    return _get


@pytest.fixture(scope="module")
def server_name(host_vars, probe_address):
    """The server's name, which its certificate must cover: postfix_hostname from the inventory
    (a literal, or the inventory name), else the name the server announces in its greeting."""
    name = host_vars.get("postfix_hostname")
    if name and name.replace(" ", "") == "{{inventory_hostname}}":
        return host_vars["inventory_hostname"]
    if _literal(name):
        return name
    import smtplib

    with smtplib.SMTP(timeout=20) as smtp:
        code, greeting = smtp.connect(probe_address, 25)
    assert code == 220, f"no greeting on port 25 to learn the server's name: {code} {greeting!r}"
    return greeting.decode(errors="replace").split()[0]


@pytest.fixture(scope="module")
def foreign_domain(host_vars):
    """A domain the server must never relay to (RFC 2606; resolves to the lab sink in the lab)."""
    return host_vars.get("mailfort_test_foreign_domain", "example.invalid")


@pytest.fixture(scope="module")
def ca_file(host_vars):
    """CA bundle that must verify the server's certificate: inventory, env, lab CA; None: the system store."""
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


def _password(value) -> str | None:
    """A password from the inventory: a literal, or an Ansible Vault value decrypted with the password
    file in ANSIBLE_VAULT_PASSWORD_FILE (in this process: the clear text is never printed)."""
    import os

    text = value.get("__ansible_vault") if isinstance(value, dict) else value
    if not isinstance(text, str) or "{{" in text:
        return None
    if not text.lstrip().startswith("$ANSIBLE_VAULT"):
        return text
    from pathlib import Path

    from ansible.constants import DEFAULT_VAULT_ID_MATCH
    from ansible.parsing.vault import VaultLib, VaultSecret

    secret_file = os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE")
    if not secret_file:
        pytest.skip("the audit account's password is vault-encrypted: set ANSIBLE_VAULT_PASSWORD_FILE")
    secret = VaultSecret(Path(secret_file).read_text().strip().encode())
    return VaultLib([(DEFAULT_VAULT_ID_MATCH, secret)]).decrypt(text.strip()).decode()


@pytest.fixture(scope="module")
def test_accounts(host_vars):
    """Accounts with usable passwords. The audit account first: mailfort_audit_account ({name, senders,
    password}), its password from the environment (MAILFORT_AUDIT_PASSWORD) or the inventory (literal or
    Ansible Vault); then mailfort_test_accounts, else the lab's mailfort_accounts (literal passwords)."""
    import os

    accounts = []
    audit = host_vars.get("mailfort_audit_account")
    if isinstance(audit, dict) and audit.get("name"):
        password = os.environ.get("MAILFORT_AUDIT_PASSWORD") or _password(audit.get("password"))
        if password:
            accounts.append({"kind": "person", "senders": [audit["name"]], **audit, "password": password})
    for account in host_vars.get("mailfort_test_accounts") or host_vars.get("mailfort_accounts") or []:
        password = _password(account.get("password"))
        if password and "$ANSIBLE_VAULT" not in str(account.get("password")):
            accounts.append({**account, "password": password})
    return accounts


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
def host_name(host_vars):
    """The host's name in the inventory."""
    return host_vars["inventory_hostname"]
