# SPDX-License-Identifier: MIT
"""Outbound through a smarthost: with postfix_relayhost and credentials set, mail
leaves over TLS with SASL authentication, on 587 (STARTTLS) and 465 (implicit
TLS) upstream. The lab sink plays the smarthost. Lab only: reconfigures the host."""
from __future__ import annotations

import uuid

import pytest
from conftest import run_site_playbook
from test_auth import _send, _wait_for

pytestmark = pytest.mark.usefixtures("lab_only")


@pytest.fixture(scope="module")
def smarthost_user(sink):
    users = sink.backend.get_variables().get("lab_sink_smarthost_users") or {}
    if not users:
        pytest.skip("the sink offers no smarthost accounts (lab_sink_smarthost_users)")
    return next(iter(users.items()))


@pytest.fixture(scope="module")
def restore_direct_delivery(request, host_name, tmp_path_factory):
    yield
    rc, output = run_site_playbook(request, host_name, tmp_path_factory.mktemp("restore"), {})
    assert rc == 0, output[-3000:]


@pytest.mark.parametrize("port", [587, 465])
def test_mail_leaves_through_the_smarthost_with_tls_and_auth(port, request, host_name, tmp_path, sink,
                                                            smarthost_user, restore_direct_delivery, person,
                                                            probe_address, tls_context, server_name):
    user, password = smarthost_user
    relayhost = f"[{sink.backend.get_variables().get('lab_sink_hostname', 'sink.lab.test')}]:{port}"
    rc, output = run_site_playbook(request, host_name, tmp_path, {
        "postfix_relayhost": relayhost,
        "postfix_relayhost_credentials": {"username": user, "password": password}})
    assert rc == 0, output[-3000:]
    token = uuid.uuid4().hex
    assert _send(probe_address, 587, tls_context, server_name, person, person["senders"][0],
                 "someone@example.net", token) == {}
    stored = _wait_for(sink, token)
    headers = dict(line.split(": ", 1) for line in stored.splitlines() if line.startswith("X-Sink-"))
    assert headers.get("X-Sink-Port") == str(port), headers
    assert headers.get("X-Sink-TLS") == "yes", headers
    assert headers.get("X-Sink-Auth-Login") == user, headers
