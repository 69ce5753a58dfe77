# SPDX-License-Identifier: MIT
"""Outbound through a smarthost: with postfix_relayhost and credentials set, mail
leaves over TLS with SASL authentication, on 587 (STARTTLS) and 465 (implicit
TLS) upstream, and only to a smarthost whose certificate verifies. The lab sink
plays the smarthost. Lab only: reconfigures the host.

The relayhost settings are the postfix role's alone, so each run is limited to
that role (--tags postfix; the input checks of every role still run first)."""
from __future__ import annotations

import time
import uuid

import pytest
from lab_hosts import SUBMISSION_PORTS, put_file, run_site_playbook
from test_auth import _send, _wait_for

# The smarthost settings render the same on every distribution (the role has no
# distribution branch for them; the password map type is hash on both), so
# `make test` runs this file on the last distribution's lab only.
pytestmark = [pytest.mark.usefixtures("lab_only"), pytest.mark.distro_independent_last]


@pytest.fixture(scope="module")
def smarthost_user(sink):
    users = sink.inventory_vars.get("lab_sink_smarthost_users") or {}
    if not users:
        pytest.skip("the sink offers no smarthost accounts (lab_sink_smarthost_users)")
    return next(iter(users.items()))


SMARTHOST_CA = "/etc/postfix/mailfort/lab-smarthost-ca.pem"
POSTFIX_ONLY = ["postfix"]


@pytest.fixture(scope="module")
def smarthost_ca(host, sink):
    """Trust the sink's self-signed smarthost certificate on the mail server (and nothing else)."""
    put_file(host, SMARTHOST_CA, sink.file("/etc/mailfort-sink/cert.pem").content_string.encode())
    return SMARTHOST_CA


@pytest.fixture(scope="module")
def restore_direct_delivery(request, host, host_name, tmp_path_factory):
    yield
    rc, output = run_site_playbook(request, host_name, tmp_path_factory.mktemp("restore"), {}, POSTFIX_ONLY)
    host.run(f"rm -f {SMARTHOST_CA}")
    assert rc == 0, output[-3000:]
    # Without credentials the role leaves no smarthost password on the host.
    leftovers = host.run("ls /etc/postfix/mailfort/relay_password "
                         "/etc/postfix/mailfort-staging/mailfort/relay_password")
    assert leftovers.stdout.strip() == "", f"the smarthost password stayed on the host: {leftovers.stdout}"


def _relay_through_the_sink(request, host, host_name, tmp_path, sink, smarthost_user, smarthost_ca, port):
    """Converge the relayhost settings for the sink's port, unless they are live already."""
    relayhost = f"[{sink.inventory_vars.get('lab_sink_hostname', 'sink.lab.test')}]:{port}"
    if host.check_output("postconf -h relayhost").strip() == relayhost:
        return
    user, password = smarthost_user
    rc, output = run_site_playbook(request, host_name, tmp_path, {
        "postfix_relayhost": relayhost,
        "postfix_relayhost_credentials": {"username": user, "password": password},
        "postfix_relayhost_ca_file": smarthost_ca}, POSTFIX_ONLY)
    assert rc == 0, output[-3000:]


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_mail_leaves_through_the_smarthost_with_tls_and_auth(port, request, host, host_name, tmp_path, sink,
                                                            smarthost_user, smarthost_ca, restore_direct_delivery,
                                                            person, probe_address, tls_context, server_name):
    user, _ = smarthost_user
    _relay_through_the_sink(request, host, host_name, tmp_path, sink, smarthost_user, smarthost_ca, port)
    token = uuid.uuid4().hex
    assert _send(probe_address, 587, tls_context, server_name, person, person["senders"][0],
                 "someone@example.net", token) == {}
    stored = _wait_for(sink, token)
    headers = dict(line.split(": ", 1) for line in stored.splitlines() if line.startswith("X-Sink-"))
    assert headers.get("X-Sink-Port") == str(port), headers
    assert headers.get("X-Sink-TLS") == "yes", headers
    assert headers.get("X-Sink-Auth-Login") == user, headers


def test_smarthost_with_an_unverifiable_certificate_gets_nothing(request, host, host_name, tmp_path, sink,
                                                                 smarthost_user, smarthost_ca, restore_direct_delivery,
                                                                 person, probe_address, tls_context, server_name):
    """With only the system's CAs as trust anchor (the role's default), the sink's self-signed
    certificate does not verify: Postfix must keep the mail (and the password).

    The relayhost settings stay as the last test converged them (465, or converged here); the
    trust anchor file is replaced by the system bundle and Postfix reloaded, so no smtp
    process keeps the old trust."""
    _relay_through_the_sink(request, host, host_name, tmp_path, sink, smarthost_user, smarthost_ca,
                            SUBMISSION_PORTS[-1])
    assert host.run(f"cp /etc/ssl/certs/ca-certificates.crt {smarthost_ca} && postfix reload").rc == 0
    token = uuid.uuid4().hex
    assert _send(probe_address, 587, tls_context, server_name, person, person["senders"][0],
                 "someone@example.net", token) == {}
    # The message must be deferred with a certificate problem, and never reach the sink.
    queue = ""
    for _ in range(30):
        queue = host.run("postqueue -j").stdout
        if "certificate" in queue.lower():
            break
        time.sleep(1)
    assert "certificate" in queue.lower(), f"expected a deferral for the smarthost certificate, queue: {queue}"
    assert sink.run(f"grep -rl -- {token} /var/mail/sink").stdout.strip() == "", "mail reached an unverified smarthost"
    host.run("postsuper -d ALL deferred")
