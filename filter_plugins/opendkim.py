# SPDX-License-Identifier: MIT
"""Filters of the opendkim role: which DKIM keys a host holds, signs with and retires."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.module_utils.validate import domain_or_fail

# A selector is one or more DNS labels (RFC 6376 3.1 allows dotted sub-selectors).
_SELECTOR = re.compile(r"(?=.{1,63}(\.|\Z))[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\Z")


def _names(value: object, variable: str) -> list[str]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise AnsibleFilterError(f"{variable} must be a list, got {value!r}")
    return [_selector(item, variable) for item in value]


def _selector(value: object, variable: str) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if not _SELECTOR.match(text) or any(len(label) > 63 for label in text.split(".")):
        raise AnsibleFilterError(
            f"{variable}: {value!r} is not a valid DKIM selector (DNS labels of letters, digits and hyphens)")
    return text


def opendkim_key_plan(domains: Sequence, selector: str, published: Sequence = (), retired: Sequence = ()) -> dict:
    """Plan the DKIM keys of a host: which (domain, selector) pairs sign, are only published, or are retired."""
    if isinstance(domains, (str, bytes, Mapping)) or not isinstance(domains, Sequence):
        raise AnsibleFilterError(f"opendkim_domains must be a list of domain names, got {domains!r}")
    names = [domain_or_fail(item, "opendkim_domains") for item in domains]
    signing = _selector(selector, "opendkim_selector")
    extra = _names(published, "opendkim_selectors_published")
    gone = _names(retired, "opendkim_selectors_retired")
    clash = sorted(set(gone) & ({signing} | set(extra)))
    if clash:
        raise AnsibleFilterError(
            f"opendkim_selectors_retired: {clash} also sign or are published (opendkim_selector,"
            " opendkim_selectors_published); a selector is live or retired, not both")
    live = list(dict.fromkeys([signing, *extra]))
    return {
        "keys": [{"domain": d, "selector": s, "signing": s == signing}
                 for d in dict.fromkeys(names) for s in live],
        "retired": [{"domain": d, "selector": s} for d in dict.fromkeys(names) for s in dict.fromkeys(gone)],
    }


class FilterModule:
    """Filters of the opendkim role."""

    def filters(self):
        return {"opendkim_key_plan": opendkim_key_plan}
