# SPDX-License-Identifier: MIT
"""DKIM (RFC 6376, with RFC 8301's key sizes and RFC 8463's Ed25519 keys): the selector's key record."""
from __future__ import annotations

import base64
from collections.abc import Sequence

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.module_utils.validate import (
    choice_or_fail,
    excerpt,
    list_or_fail,
    pem_or_fail,
)
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa


def _tag_list(value: object, allowed: Sequence[str], where: str) -> str:
    items = [value] if isinstance(value, str) else list_or_fail(value, where)
    choices = [choice_or_fail(item, allowed, where) for item in items]
    if not choices:
        raise AnsibleFilterError(f"{where} must not be empty")
    return ":".join(dict.fromkeys(choices))


def _key_data(public_key_pem: object) -> tuple[str, bytes]:
    """The key type (rsa or ed25519) and the bytes its p= tag publishes."""
    text = pem_or_fail(public_key_pem, "dkim_record")
    if "PRIVATE KEY" in text:
        raise AnsibleFilterError("dkim_record: got a PEM private key; pass the public key (BEGIN PUBLIC KEY) instead")
    try:
        key = serialization.load_pem_public_key(text.encode("ascii", "replace"))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise AnsibleFilterError(f"dkim_record: {excerpt(public_key_pem)} is not a readable PEM public key") from exc
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 1024:
            raise AnsibleFilterError(
                f"dkim_record: the RSA key has {key.key_size} bits; RFC 8301 requires at least 1024 (use 2048)")
        return "rsa", key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raise AnsibleFilterError(f"dkim_record: unsupported key type {type(key).__name__}; DKIM keys are RSA or Ed25519")


def dkim_record(public_key_pem: str, key_type: str = "auto", hash: object = None,  # noqa: A002 - the DKIM tag's name
                testing: bool = False, service: object = None) -> str:
    """Build a DKIM key TXT record (for SELECTOR._domainkey.DOMAIN) from a PEM public key."""
    key_type = choice_or_fail(key_type, ("auto", "rsa", "ed25519"), "dkim_record: key_type")
    kind, data = _key_data(public_key_pem)
    if key_type not in ("auto", kind):
        raise AnsibleFilterError(f"dkim_record: key_type is {key_type!r} but the key is {kind}")
    if not isinstance(testing, bool):
        raise AnsibleFilterError(f"dkim_record: testing must be a boolean, got {testing!r}")
    tags = ["v=DKIM1"]
    if hash is not None:
        tags.append("h=" + _tag_list(hash, ("sha256",), "dkim_record: hash"))
    tags.append(f"k={kind}")
    if service is not None:
        tags.append("s=" + _tag_list(service, ("email", "*"), "dkim_record: service"))
    if testing:
        tags.append("t=y")
    tags.append("p=" + base64.b64encode(data).decode("ascii"))
    return "; ".join(tags)


class FilterModule:
    """DKIM filters (RFC 6376)."""

    def filters(self):
        return {
            "dkim_record": dkim_record,
        }
