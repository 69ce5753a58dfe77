# SPDX-License-Identifier: MIT
"""TXT records (RFC 1035 3.3.14, 5.1): character-strings of at most 255 octets, for zone files and APIs."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.module_utils.validate import excerpt, int_or_fail, list_or_fail


def _ascii(record: object, where: str) -> str:
    if not isinstance(record, str):
        raise AnsibleFilterError(f"{where}: expected a string, got {type(record).__name__}: {record!r}")
    for index, char in enumerate(record):
        if not " " <= char <= "~":
            raise AnsibleFilterError(
                f"{where}: character {char!r} at position {index} of {excerpt(record)} is not printable ASCII")
    return record


def txt_strings(record: str, limit: int = 255) -> list[str]:
    """Split a TXT record into character-strings of at most limit octets."""
    _ascii(record, "txt_strings")
    limit = int_or_fail(limit, "txt_strings: limit", 1, 255)
    if not record:
        return [""]
    return [record[start:start + limit] for start in range(0, len(record), limit)]


def txt_zone(record: str) -> str:
    """Render a TXT record as zone-file RDATA: quoted, escaped 255-octet strings on one line."""
    chunks = txt_strings(record)
    return " ".join('"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks)


def txt_single(record: object) -> str:
    """Return a TXT record as one string (for DNS provider APIs); a list of strings is joined."""
    if isinstance(record, str):
        return _ascii(record, "txt_single")
    if record is None:
        raise AnsibleFilterError("txt_single expects a string or a list of strings, got None")
    return "".join(_ascii(chunk, "txt_single") for chunk in list_or_fail(record, "txt_single"))


class FilterModule:
    """TXT record filters (RFC 1035)."""

    def filters(self):
        return {
            "txt_strings": txt_strings,
            "txt_zone": txt_zone,
            "txt_single": txt_single,
        }
