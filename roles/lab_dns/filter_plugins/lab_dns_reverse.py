# SPDX-License-Identifier: MIT
"""LAB ONLY: the reverse zones of the lab hosts' networks, so each lab host's address has a PTR."""
from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError


def lab_dns_reverse_zones(hosts: dict, ipv4_prefix: int = 24, ipv6_prefix: int = 64) -> dict:
    """{reverse zone: {PTR owner name: host name}} for every address of `hosts` (name -> addresses).

    The zones are the /ipv4_prefix and /ipv6_prefix networks around the addresses
    (whole octets and nibbles only, so each is one delegation point).
    """
    if not isinstance(hosts, dict):
        raise AnsibleFilterError(f"lab_dns_reverse_zones expects a mapping of name to addresses, got {hosts!r}")
    if ipv4_prefix % 8 or ipv6_prefix % 4:
        raise AnsibleFilterError("lab_dns_reverse_zones: prefixes must end on an octet (IPv4) or a nibble (IPv6)")
    zones: dict[str, dict[str, str]] = {}
    for name, addresses in hosts.items():
        for text in addresses or []:
            try:
                address = ipaddress.ip_address(str(text))
            except ValueError as exc:
                raise AnsibleFilterError(f"lab_dns_reverse_zones: {text!r} of {name} is not an address") from exc
            owner = address.reverse_pointer + "."
            labels = owner.rstrip(".").split(".")
            keep = (ipv4_prefix // 8 if address.version == 4 else ipv6_prefix // 4) + 2  # + in-addr/ip6 + arpa
            zone = ".".join(labels[-keep:])
            zones.setdefault(zone, {})[owner] = name.rstrip(".") + "."
    return zones


class FilterModule:
    """LAB ONLY reverse zone filters."""

    def filters(self):
        return {"lab_dns_reverse_zones": lab_dns_reverse_zones}
