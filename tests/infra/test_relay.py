# SPDX-License-Identifier: MIT
"""No open relay: 16 classic relay envelopes on 25, and unauthenticated on 587 and 465.

Each probe must be refused by the relay policy itself: a permanent 554 with
"Relay access denied". A 4xx (for example from a DNS check) would hide the
relay decision, so it fails the test just like an acceptance does.
"""
from __future__ import annotations

import ipaddress

import pytest
from lab_hosts import PORT_MODES
from smtp_probe import probe, relay_variants

VARIANT_IDS = [f"v{i:02d}" for i in range(1, 17)]


@pytest.fixture(scope="module")
def mynetworks(postconf):
    nets = []
    for item in postconf("mynetworks").replace(",", " ").split():
        nets.append(ipaddress.ip_network(item.replace("[", "").replace("]", ""), strict=False))
    return nets


@pytest.mark.parametrize("port", [25, 587, 465])
@pytest.mark.parametrize("index", range(16), ids=VARIANT_IDS)
def test_relay_variant_is_refused_by_the_relay_policy(port, index, probe_address, server_name, foreign_domain,
                                                      tls_context, mynetworks, postconf):
    sender, recipient = relay_variants(foreign_domain, server_name, probe_address)[index]
    mail, rcpt, local = probe(probe_address, port, PORT_MODES[port], tls_context, server_name, sender, recipient)
    # A probe from a trusted network proves nothing: Postfix would relay for it by design.
    source = ipaddress.ip_address(local)
    assert not any(source in net for net in mynetworks), f"probe source {source} is inside mynetworks"
    assert mail.code == 250, f"MAIL FROM:<{sender}> on {port}: {mail}"
    assert rcpt.code == 554 and "Relay access denied" in rcpt.text, (
        f"{port}: MAIL FROM:<{sender}> RCPT TO:<{recipient}> -> {rcpt} (expected 554 Relay access denied)")
