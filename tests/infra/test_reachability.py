# SPDX-License-Identifier: MIT
"""Each SMTP port answers the auditor exactly as the declared allow-lists say.

mailfort_client_access in the inventory declares who may connect to smtp (25),
submission (587) and submissions (465): a list of networks or "any" (smtp's
default). From the machine running the audit, over each IP version: inside a
port's list, the server must greet (220); outside it, the firewall must drop
the connection (no answer at all) or Postfix must refuse it at connect with
"554 ... Port N is not open to this network". A port that answers someone the
list leaves out, or stays silent for someone it names, breaks the promise.

The lists must be literal in the inventory (a Jinja expression cannot be
evaluated without the host's facts): an audit inventory states them as the
operator declared them.
"""
from __future__ import annotations

import ipaddress
import socket
import ssl

import pytest
from lab_hosts import PORT_SERVICES as SERVICES
from smtp_probe import greet_all

# A dropped connection costs this long; every port and address is dialled at once.
CONNECT_TIMEOUT = 5


def _source_address(address: str, port: int) -> str:
    """The address this machine sends from to reach `address` (no packet is sent: UDP connect)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as udp:
        udp.connect((address, port))
        return udp.getsockname()[0]


def _declared(host_vars, port):
    access = host_vars.get("mailfort_client_access")
    if access is None:
        access = {}
    if not isinstance(access, dict):
        pytest.skip("mailfort_client_access is not a literal mapping in the inventory (templated?)")
    value = access.get(SERVICES[port], "any" if port == 25 else None)
    if value is None:
        pytest.skip(f"mailfort_client_access.{SERVICES[port]} is not declared in the inventory")
    if value == "any":
        return "any"
    if not isinstance(value, list) or any("{{" in str(item) for item in value):
        pytest.skip(f"mailfort_client_access.{SERVICES[port]} is not a literal list in the inventory")
    return [ipaddress.ip_network(str(item).strip("[]").replace("]", ""), strict=False) for item in value]


@pytest.fixture(scope="module")
def greetings(probe_addresses, server_name):
    """Every port on every known address, dialled at the same time (drops time out together)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # reachability only: the certificate has its own test
    results = greet_all(list(probe_addresses.values()), list(SERVICES), context, server_name,
                        timeout=CONNECT_TIMEOUT)
    return {(result["address"], result["port"]): result for result in results}


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("port", list(SERVICES))
def test_port_answers_the_auditor_as_the_allow_list_declares(port, family, probe_addresses, host_vars, greetings):
    if family not in probe_addresses:
        pytest.skip(f"no IPv{family} address known for the host (mailfort_probe_address{'6' if family == 6 else ''})")
    declared = _declared(host_vars, port)
    address = probe_addresses[family]
    source = ipaddress.ip_address(_source_address(address, port))
    allowed = declared == "any" or any(source in network for network in declared)
    result = greetings[(address, port)]
    listed = "any" if declared == "any" else ", ".join(map(str, declared))
    where = f"{port}/IPv{family} from {source} (declared: {listed})"
    if allowed:
        assert result.get("code") == 220, f"{where}: listed, but got {result.get('error') or result}"
        return
    refused = result.get("code") == 554 and f"Port {port} is not open to this network" in result.get("text", "")
    assert result.get("error") == "connect-timeout" or refused, (
        f"{where}: not listed, but the port answered: {result.get('code', '')} "
        f"{result.get('text') or result.get('error')}")
