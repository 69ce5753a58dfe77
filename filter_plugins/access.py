# SPDX-License-Identifier: MIT
"""Filters for mailfort's client access lists (who may connect to which SMTP service).

Shared by the postfix role (per-service CIDR maps), the firewall role (nftables
sets) and the fail2ban role (ignore list).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.module_utils.shared import SERVICE_PORTS as SERVICES
from ansible_collections.mailfort.mail.plugins.module_utils.validate import network_or_fail

# Services whose list has no default: leaving them empty is an error, not "open".
EXPLICIT = ("submission", "submissions")
ANY = "any"


def _networks(variable: str, items: object) -> list:
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise AnsibleFilterError(f"{variable}: expected a list of CIDR networks or the word '{ANY}', got {items!r}")
    networks = [network_or_fail(item, variable) for item in items]
    for i, first in enumerate(networks):
        for second in networks[i + 1:]:
            if first.version == second.version and first.overlaps(second):
                raise AnsibleFilterError(
                    f"{variable}: {first} and {second} overlap; list each network once "
                    "(an overlap usually means a typo)")
    return networks


def mailfort_client_access(access: object, variable: str = "mailfort_client_access") -> dict:
    """Validate the per-service access lists; return {service: 'any' | [CIDR text, ...]}.

    smtp (port 25) defaults to 'any' (an MX must take mail from the world);
    submission (587) and submissions (465) have no default: an empty or missing
    list is refused, so opening a port to every address is always written down.
    """
    if access is None:
        access = {}
    if not isinstance(access, Mapping):
        raise AnsibleFilterError(f"{variable}: expected a mapping of service to networks, got {access!r}")
    unknown = sorted(set(access) - set(SERVICES))
    if unknown:
        raise AnsibleFilterError(
            f"{variable}: unknown service(s) {unknown}; known: "
            + ", ".join(f"{name} (port {port})" for name, port in SERVICES.items()))
    result: dict = {}
    for service, port in SERVICES.items():
        name = f"{variable}.{service}"
        value = access.get(service, ANY if service not in EXPLICIT else None)
        if value is None or (not isinstance(value, str) and isinstance(value, Sequence) and len(value) == 0):
            raise AnsibleFilterError(
                f"{name} (port {port}) is empty: list the networks allowed to connect, "
                f"or write '{ANY}' to allow every address")
        if isinstance(value, str):
            if value.strip().lower() != ANY:
                raise AnsibleFilterError(f"{name} (port {port}): {value!r} is neither a list of networks nor '{ANY}'")
            result[service] = ANY
            continue
        if isinstance(value, Sequence) and any(isinstance(v, str) and v.strip().lower() == ANY for v in value):
            raise AnsibleFilterError(
                f"{name} (port {port}) mixes '{ANY}' with networks {list(value)!r}: "
                f"write either '{ANY}' or a list of networks")
        result[service] = [str(net) for net in _networks(name, value)]
    return result


def mailfort_trusted_networks(trusted: object, access: Mapping | None = None,
                              variable: str = "mailfort_trusted_networks") -> list:
    """Validate trusted networks (exempt from rate limits and bans); return them as CIDR text.

    With ``access`` (the output of mailfort_client_access), each trusted network
    must lie inside at least one service's list: a trusted network that may
    connect nowhere is a contradiction, usually a typo.
    """
    if trusted is None:
        return []
    networks = _networks(variable, trusted)
    if access:
        for net in networks:
            if not any(_covered(net, value) for value in access.values()):
                raise AnsibleFilterError(
                    f"{variable}: {net} is trusted but may not connect to any service "
                    f"(it is outside every list in mailfort_client_access)")
    return [str(net) for net in networks]


def _covered(net, value) -> bool:
    if value == ANY:
        return True
    return any(net.version == other.version and net.subnet_of(other)
               for other in (ipaddress.ip_network(text) for text in value))


def mailfort_networks_by_family(networks: object, family: int) -> list:
    """The CIDR texts of one IP version (4 or 6) from a list ('any' gives the whole space)."""
    if family not in (4, 6):
        raise AnsibleFilterError(f"mailfort_networks_by_family: family must be 4 or 6, got {family!r}")
    if networks == ANY:
        return ["0.0.0.0/0" if family == 4 else "::/0"]
    return [str(net) for net in _networks("networks", networks) if net.version == family]


def mailfort_address_in(address: object, networks: object) -> bool:
    """True when an IP address lies inside a list of networks (or the list is 'any')."""
    try:
        ip = ipaddress.ip_address(str(address).strip().strip("[]"))
    except ValueError:
        raise AnsibleFilterError(f"mailfort_address_in: {address!r} is not an IP address") from None
    if networks == ANY:
        return True
    return any(ip.version == net.version and ip in net for net in _networks("networks", networks))


class FilterModule:
    def filters(self):
        return {
            "mailfort_client_access": mailfort_client_access,
            "mailfort_trusted_networks": mailfort_trusted_networks,
            "mailfort_networks_by_family": mailfort_networks_by_family,
            "mailfort_address_in": mailfort_address_in,
        }
