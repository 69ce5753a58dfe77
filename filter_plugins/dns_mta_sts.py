# SPDX-License-Identifier: MIT
"""MTA-STS (RFC 8461): the policy file served over HTTPS, its id, and the _mta-sts TXT record."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.module_utils.validate import (
    choice_or_fail,
    int_or_fail,
    is_domain,
    list_or_fail,
)

_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_MAX_AGE = 31557600  # one year, the most RFC 8461 3.2 allows


def mta_sts_record(policy_id: object) -> str:
    """Build the _mta-sts TXT record for a policy id."""
    if isinstance(policy_id, int) and not isinstance(policy_id, bool) and policy_id >= 0:
        text = str(policy_id)
    else:
        text = policy_id.strip() if isinstance(policy_id, str) else ""
    if not _ID.fullmatch(text):
        raise AnsibleFilterError(
            f"mta_sts_record: policy id {policy_id!r} must be 1 to 32 letters and digits (RFC 8461)")
    return f"v=STSv1; id={text}"


def _mx_pattern(item: object) -> str:
    """A host name, or a wildcard *.domain standing for exactly one more label (RFC 8461 4.1)."""
    text = item.strip().lower().rstrip(".") if isinstance(item, str) else ""
    if not is_domain(text.removeprefix("*.")):
        raise AnsibleFilterError(f"mta_sts_policy: mx {item!r} is not a host name or a *.domain wildcard")
    return text


def mta_sts_policy(mode: str, mx: Sequence, max_age: int = 604800) -> str:
    """Render the MTA-STS policy file served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt."""
    mode = choice_or_fail(mode, ("enforce", "testing", "none"), "mta_sts_policy: mode")
    hosts = [_mx_pattern(item) for item in list_or_fail(mx, "mta_sts_policy: mx")]
    if not hosts and mode != "none":
        raise AnsibleFilterError(f"mta_sts_policy: mode {mode} needs at least one mx pattern, got {mx!r}")
    max_age = int_or_fail(max_age, "mta_sts_policy: max_age", 0, _MAX_AGE)
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {host}" for host in dict.fromkeys(hosts))]
    lines.append(f"max_age: {max_age}")
    return "".join(line + "\n" for line in lines)


def mta_sts_id(policy_text: str) -> str:
    """Derive an MTA-STS policy id from the policy text: the first 20 hex digits of its SHA-256."""
    if not isinstance(policy_text, str) or not policy_text:
        raise AnsibleFilterError(f"mta_sts_id expects the policy text, got {policy_text!r}")
    return hashlib.sha256(policy_text.encode("utf-8")).hexdigest()[:20]


class FilterModule:
    """MTA-STS filters (RFC 8461)."""

    def filters(self):
        return {
            "mta_sts_record": mta_sts_record,
            "mta_sts_policy": mta_sts_policy,
            "mta_sts_id": mta_sts_id,
        }
