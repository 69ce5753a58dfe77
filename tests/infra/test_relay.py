# SPDX-License-Identifier: MIT
"""No open relay: 16 classic relay envelopes on 25, and unauthenticated on 587 and 465,
over each IP version the host has an address for.

Each probe must be refused by the relay policy itself: a permanent 554 with
"Relay access denied". A 4xx (for example from a DNS check) would hide the
relay decision, so it fails the test just like an acceptance does.
"""
from __future__ import annotations

import pytest
from lab_hosts import PORT_MODES
from smtp_probe import probe, relay_variants

VARIANT_IDS = [f"v{i:02d}" for i in range(1, 17)]


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("port", list(PORT_MODES))
@pytest.mark.parametrize("index", range(16), ids=VARIANT_IDS)
def test_relay_variant_is_refused_by_the_relay_policy(port, index, family, probe_addresses, server_name,
                                                      foreign_domain, tls_context):
    if family not in probe_addresses:
        pytest.skip(f"no IPv{family} address known for the host (mailfort_probe_address{'6' if family == 6 else ''})")
    address = probe_addresses[family]
    sender, recipient = relay_variants(foreign_domain, server_name, address)[index]
    mail, rcpt, local = probe(address, port, PORT_MODES[port], tls_context, server_name, sender, recipient)
    envelope_from = "<>" if sender == "<>" else f"<{sender}>"
    assert mail.code == 250, f"MAIL FROM:{envelope_from} on {port}: {mail}"
    # Postfix relays for mynetworks by design: an acceptance may also mean the
    # auditor's address is trusted there, which is just as wrong for an audit.
    assert rcpt.code == 554 and "Relay access denied" in rcpt.text, (
        f"{port}: MAIL FROM:{envelope_from} RCPT TO:<{recipient}> from {local} -> {rcpt} "
        "(expected 554 Relay access denied)")
