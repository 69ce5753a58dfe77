# SPDX-License-Identifier: MIT
"""The one definition of a valid domain name, mail address and network in mailfort.

Every role's filters check their input with these functions, so a value one role
accepts is accepted by all of them (tests/unit/test_shared_validators.py proves it
with generated input). Each ``*_or_fail`` variant raises AnsibleFilterError naming
``where`` (the variable) and the value; the ``is_*`` predicates never raise.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

# A DNS label of letters, digits and inner hyphens (RFC 1035 / 5891 LDH), at most 63 octets.
_LABEL = re.compile(r"(?=.{1,63}\Z)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
# An owner name label such as _dmarc, _domainkey, _mta-sts, _25 (underscore=True).
_SERVICE_LABEL = re.compile(r"(?=.{1,63}\Z)_[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
# The top-level label starts with a letter: no numeric TLD (RFC 3696 2), so no IP address passes.
_TOP_LABEL = re.compile(r"(?=.{1,63}\Z)[a-z](?:[a-z0-9-]*[a-z0-9])?")
# RFC 5322 dot-atom without "%": Postfix would route user%other@host to other (the percent hack).
_LOCAL_PART = re.compile(r"[a-z0-9!#$&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$&'*+/=?^_`{|}~-]+)*")
_MAX_LOCAL_PART = 64
_MAX_ADDRESS = 254
# DMARC's optional size limit after a report URI (mailto:dmarc@example.com!10m).
_SIZE_SUFFIX = re.compile(r"![0-9]+[kmgt]?\Z", re.IGNORECASE)


def is_domain(text: object, underscore: bool = False) -> bool:
    """True for a fully qualified domain name: two or more labels, the last one starting with a letter.

    With ``underscore`` the labels before the last may be service labels (``_dmarc``, ``_25``).
    Letter case does not matter; a trailing dot is not part of the name here.
    """
    if not isinstance(text, str):
        return False
    labels = text.lower().split(".")
    return (
        len(text) <= 253
        and len(labels) >= 2
        and all(_LABEL.fullmatch(label) or (underscore and _SERVICE_LABEL.fullmatch(label)) for label in labels[:-1])
        and _TOP_LABEL.fullmatch(labels[-1]) is not None
    )


def domain_or_fail(value: object, where: str, underscore: bool = False) -> str:
    """The domain name, lower-cased and without a trailing dot; AnsibleFilterError if it is none."""
    text = value.strip().lower().rstrip(".") if isinstance(value, str) else ""
    if not is_domain(text, underscore):
        raise AnsibleFilterError(f"{where}: {value!r} is not a valid domain name")
    return text


def is_local_part(text: object) -> bool:
    """True for the local part of a mail address mailfort accepts (dot-atom, no "%", at most 64 octets)."""
    return isinstance(text, str) and len(text) <= _MAX_LOCAL_PART and _LOCAL_PART.fullmatch(text.lower()) is not None


def is_address(text: object) -> bool:
    """True for local@domain with a valid local part and domain (letter case does not matter)."""
    if not isinstance(text, str) or len(text) > _MAX_ADDRESS:
        return False
    local, _, domain = text.rpartition("@")
    return is_local_part(local) and is_domain(domain)


def address_or_fail(value: object, where: str) -> str:
    """The mail address, lower-cased; AnsibleFilterError if it is none (white space around it included:
    the same account list feeds Dovecot's passwd-file, where it would become part of the login)."""
    text = value.lower() if isinstance(value, str) else ""
    if not is_address(text):
        raise AnsibleFilterError(f"{where}: {value!r} is not a valid mail address (local@domain.tld)")
    return text


def mailto_or_fail(value: object, where: str, size_suffix: bool = False) -> tuple[str, str]:
    """A mailto: report URI (with DMARC's optional !size suffix if size_suffix): returns the URI with
    its scheme lower-cased and the address, lower-cased; AnsibleFilterError if it is none."""
    text = value.strip() if isinstance(value, str) else ""
    scheme, _, rest = text.partition(":")
    suffix = _SIZE_SUFFIX.search(rest) if size_suffix else None
    address = rest[: suffix.start()] if suffix else rest
    if scheme.lower() != "mailto" or not is_address(address):
        hint = " (optionally followed by a size limit such as !10m)" if size_suffix else ""
        raise AnsibleFilterError(f"{where}: {value!r} is not a mailto: URI with a valid mail address{hint}")
    return f"mailto:{rest}", address.lower()


def network_or_fail(value: object, where: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An IPv4 or IPv6 network in CIDR notation (a bare address is its /32 or /128; Postfix's
    [2001:db8::]/32 form is accepted), with no host bits set; AnsibleFilterError if it is none."""
    if not isinstance(value, str) or not value.strip():
        raise AnsibleFilterError(
            f"{where}: {value!r} is not a valid network (write CIDRs such as 192.0.2.0/24 or 2001:db8::/32)")
    text = value.strip()
    if text.startswith("["):
        text = text[1:].replace("]", "", 1)
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as err:
        raise AnsibleFilterError(f"{where}: {value!r} is not a valid network in CIDR notation ({err})") from None


def list_or_fail(value: object, where: str) -> list:
    """The value as a list (None is empty); AnsibleFilterError for a string, mapping or scalar."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise AnsibleFilterError(f"{where} must be a list, got {value!r}")
    return list(value)


def int_or_fail(value: object, where: str, low: int, high: int) -> int:
    """An integer from low to high (a string of digits counts); AnsibleFilterError otherwise."""
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        number = None
    if number is None or not low <= number <= high:
        raise AnsibleFilterError(f"{where} must be an integer from {low} to {high}, got {value!r}")
    return number


def choice_or_fail(value: object, choices: Sequence[str], where: str) -> str:
    """One of choices (compared lower-cased); AnsibleFilterError otherwise."""
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in choices:
        raise AnsibleFilterError(f"{where} must be one of {', '.join(choices)}, got {value!r}")
    return text


def pem_or_fail(value: object, where: str) -> str:
    """PEM text (bytes are decoded); AnsibleFilterError, never quoting key material, otherwise."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    if not isinstance(text, str) or "-----BEGIN " not in text:
        raise AnsibleFilterError(f"{where}: expected PEM text, got {excerpt(value)}")
    return text


def excerpt(value: object) -> str:
    """Name a value in an error message briefly, never copying private key material."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str) and "PRIVATE KEY" in value:
        return "a PEM private key"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
