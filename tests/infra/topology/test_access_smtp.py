# SPDX-License-Identifier: MIT
"""Port 25 restricted to a list (internal relay hosts): mailfort_client_access.smtp as
networks instead of "any", converged for real, then probed from an allowed and a
refused client over IPv4 and IPv6. The firewall drops the refused client; let
through the firewall for a moment, Postfix itself refuses it at connect. Lab only:
reconfigures the host (postfix and firewall roles) and converges it back.
"""
from __future__ import annotations

import pytest
from lab_hosts import run_site_playbook

# The port 25 list renders the same on both distributions (the Postfix map and the
# nftables set come from one template each, no distribution branch), so `make
# test` runs this file on the first distribution's lab only.
pytestmark = [pytest.mark.usefixtures("lab_only"), pytest.mark.distro_independent]

FAMILIES = [4, 6]
ACCESS_ROLES = ["postfix", "firewall"]
# Port 25 only for the controller (the rest of the suite probes from it) and the
# trusted client; 587/465 as the inventory has them.
SMTP_LIST = dict.fromkeys(
    ("postfix_client_access", "firewall_client_access"),
    "{{ mailfort_client_access | combine({'smtp': lab_controller_networks + lab_trusted_client_networks}) }}",
)


@pytest.fixture(scope="module")
def smtp_restricted(request, host, host_name, tmp_path_factory):
    rc, output = run_site_playbook(request, host_name, tmp_path_factory.mktemp("smtp-list"), SMTP_LIST, ACCESS_ROLES)
    try:
        assert rc == 0, output[-3000:]
        cidr = host.file("/etc/postfix/mailfort/clients_smtp.cidr").content_string
        assert "REJECT" in cidr, f"port 25 map without a refusal after the converge:\n{cidr}"
        yield
    finally:
        rc, output = run_site_playbook(request, host_name, tmp_path_factory.mktemp("smtp-any"), {}, ACCESS_ROLES)
        assert rc == 0, output[-3000:]


@pytest.mark.parametrize("family", FAMILIES, ids=["ipv4", "ipv6"])
def test_listed_client_is_greeted_on_port_25(smtp_restricted, trusted, address_of, family):
    result = trusted.probe("greet", address_of(family), port=25)
    assert result.get("code") == 220 and result.get("local") == trusted.addresses[family], result


@pytest.fixture(scope="module")
def unlisted_greetings(smtp_restricted, roaming, address_of):
    """The roaming client (allowed on 587/465, not on this port 25) dials 25 over both families at once."""
    addresses = [address_of(family) for family in FAMILIES]
    results = roaming.probe("greet-all", ",".join(addresses), ports="25", timeout=4)
    return {result["address"]: result for result in results}


@pytest.mark.parametrize("family", FAMILIES, ids=["ipv4", "ipv6"])
def test_unlisted_client_gets_no_answer_on_port_25(unlisted_greetings, roaming, address_of, family):
    result = unlisted_greetings[address_of(family)]
    assert result.get("error") == "connect-timeout", f"{roaming.name} -> 25/IPv{family}: {result}"


@pytest.mark.parametrize("family", FAMILIES, ids=["ipv4", "ipv6"])
def test_unlisted_client_is_refused_by_postfix_on_port_25(smtp_restricted, roaming, address_of,
                                                          firewall_exception, family):
    with firewall_exception(roaming.addresses[family], family, ports="25"):
        result = roaming.probe("greet", address_of(family), port=25)
    assert result.get("local") == roaming.addresses[family], result
    assert result.get("code") == 554, f"25/IPv{family}: {result} (expected 554 at connect)"
    assert "Client host rejected: Port 25 is not open to this network" in result["text"], result
