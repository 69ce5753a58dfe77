# SPDX-License-Identifier: MIT
"""SMTP TLS Reporting (RFC 8460): the _smtp._tls TXT record naming where reports go."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.module_utils.validate import is_domain, list_or_fail, mailto_or_fail


def _https_uri(value: str, where: str) -> str:
    text = value.strip()
    try:
        parts = urlsplit(text)
        scheme, host, _ = parts.scheme.lower(), (parts.hostname or ""), parts.port  # port: ValueError if bad
    except ValueError:
        scheme = host = ""
    if scheme != "https" or not is_domain(host) or re.search(r"[\s,;!\"]", text):
        raise AnsibleFilterError(
            f"{where}: {value!r} is not an https:// URI on a valid host name (without , ; ! or spaces)")
    return text


def tlsrpt_record(rua: object) -> str:
    """Build the _smtp._tls TXT record (RFC 8460) from one or more mailto:/https: report URIs."""
    uris = [rua] if isinstance(rua, str) else list_or_fail(rua, "tlsrpt_record: rua")
    if not uris:
        raise AnsibleFilterError("tlsrpt_record: rua needs at least one mailto: or https: URI")
    result = []
    for uri in uris:
        scheme = uri.strip().partition(":")[0].lower() if isinstance(uri, str) else ""
        if scheme == "mailto":
            result.append(mailto_or_fail(uri, "tlsrpt_record: rua")[0])
        elif scheme == "https":
            result.append(_https_uri(uri, "tlsrpt_record: rua"))
        else:
            raise AnsibleFilterError(f"tlsrpt_record: rua {uri!r} must be a mailto: or https: URI")
    return "v=TLSRPTv1; rua=" + ",".join(result)


class FilterModule:
    """TLS-RPT filters (RFC 8460)."""

    def filters(self):
        return {
            "tlsrpt_record": tlsrpt_record,
        }
