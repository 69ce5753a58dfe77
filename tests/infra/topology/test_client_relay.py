# SPDX-License-Identifier: MIT
"""The relay suite (16 variants x 25/587/465) from other hosts, over IPv4 and IPv6.

From the roaming client (inside the access lists, not authenticated) every
probe must reach the relay decision and get 554 "Relay access denied". From
the outsider, port 25 must answer the same way and 587/465 must not answer at
all (the firewall drops them). Nothing may be accepted.
"""
from __future__ import annotations

import pytest

# The clients are chosen at run time (request.getfixturevalue): their fixtures are not in the signature.
pytestmark = pytest.mark.lab

TOTALS = {"run": 0, "refused": 0}


def _check_refused_by_relay_policy(outcome):
    where = f"port {outcome['port']} v{outcome['variant']:02d} <{outcome['sender']}> -> <{outcome['recipient']}>"
    assert "error" not in outcome, f"{where}: no session ({outcome['error']})"
    assert outcome["mail"][0] == 250, f"{where}: MAIL {outcome['mail']}"
    assert outcome["rcpt"][0] == 554 and "Relay access denied" in outcome["rcpt"][1], (
        f"{where}: RCPT {outcome['rcpt']} (expected 554 Relay access denied)")


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("who", ["roaming", "outsider"])
def test_relay_suite_from_another_host(request, host_vars, who, family, address_of, foreign_domain):
    client = request.getfixturevalue(who)
    firewall = host_vars.get("firewall_enabled", True)
    if who == "outsider" and firewall:
        # 587/465 are dropped: all 32 probes wait out their connect timeouts together.
        outcomes = (client.probe("relay", address_of(family), domain=foreign_domain, timeout=6, ports="25")
                    + client.probe("relay", address_of(family), domain=foreign_domain, timeout=6, ports="587,465",
                                   workers=32))
    else:
        outcomes = client.probe("relay", address_of(family), domain=foreign_domain, timeout=6)
    assert len(outcomes) == 48
    if who == "outsider" and not firewall:
        # Without the firewall, Postfix's greeting is the refusal: check it once per port.
        for port in (587, 465):
            greeting = client.probe("greet", address_of(family), port=port)
            assert greeting.get("code") == 554 and "Client host rejected" in greeting.get("text", ""), greeting
    refused = 0
    for outcome in outcomes:
        if who == "outsider" and outcome["port"] in (587, 465) and firewall:
            assert outcome.get("error") == "connect-timeout", (
                f"outsider port {outcome['port']}: {outcome} (expected a silent drop)")
        elif who == "outsider" and outcome["port"] == 587:
            # After the 554 greeting Postfix answers EHLO with 503, so STARTTLS is never offered.
            assert str(outcome.get("error", "")).startswith("SMTPNotSupportedError"), outcome
        elif who == "outsider" and outcome["port"] == 465:
            assert outcome["mail"][0] == 503 and "access denied" in outcome["mail"][1], outcome
        else:
            _check_refused_by_relay_policy(outcome)
            assert outcome["local"] == client.addresses[family], f"probe left from {outcome['local']}"
        refused += 1
    TOTALS["run"] += len(outcomes)
    TOTALS["refused"] += refused
    print(f"\nrelay probes from {client.name} over IPv{family}: {len(outcomes)} run, {refused} refused, 0 accepted "
          f"(running total {TOTALS['run']} run, {TOTALS['refused']} refused)")
