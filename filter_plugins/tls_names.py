# SPDX-License-Identifier: MIT
"""Filters for the tls role."""
from __future__ import annotations

from collections.abc import Sequence

from ansible.errors import AnsibleFilterError


def _dns_names(sans: Sequence[str]) -> set[str]:
    names = set()
    for entry in sans:
        if not isinstance(entry, str):
            raise AnsibleFilterError(f"tls_uncovered_names: subject alternative name must be a string, got {entry!r}")
        kind, sep, value = entry.partition(":")
        if not sep:
            kind, value = "DNS", entry
        if kind.strip().upper() == "DNS":
            names.add(value.strip().rstrip(".").lower())
    return names


def tls_uncovered_names(hostnames: Sequence[str], sans: Sequence[str]) -> list[str]:
    """Return the hostnames that no DNS subject alternative name covers.

    A SAN covers a name when equal (case-insensitive) or when it is a wildcard
    whose ``*`` stands for exactly the name's first label (RFC 6125 6.4.3).
    """
    if isinstance(hostnames, str) or not isinstance(hostnames, Sequence):
        raise AnsibleFilterError(f"tls_uncovered_names: expected a list of host names, got {hostnames!r}")
    if isinstance(sans, str) or not isinstance(sans, Sequence):
        raise AnsibleFilterError(f"tls_uncovered_names: expected a list of subject alternative names, got {sans!r}")
    names = _dns_names(sans)
    uncovered = []
    for host in hostnames:
        if not isinstance(host, str):
            raise AnsibleFilterError(f"tls_uncovered_names: host name must be a string, got {host!r}")
        wanted = host.strip().rstrip(".").lower()
        first, dot, rest = wanted.partition(".")
        covered = wanted in names or (
            not wanted.startswith("*.") and bool(dot) and bool(first) and "." in rest and f"*.{rest}" in names
        )
        if not covered:
            uncovered.append(host)
    return uncovered


class FilterModule:
    def filters(self):
        return {"tls_uncovered_names": tls_uncovered_names}
