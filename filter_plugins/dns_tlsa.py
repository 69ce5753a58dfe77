# SPDX-License-Identifier: MIT
"""DANE TLSA (RFC 6698, with RFC 7672 for SMTP): the record pinning a mail server's key."""
from __future__ import annotations

import hashlib
import re

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.module_utils.validate import excerpt, int_or_fail, pem_or_fail
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_PUBLIC_KEY = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


def tlsa_record(cert_pem: str, usage: int = 3, selector: int = 1, matching: int = 1) -> str:
    """Build TLSA RDATA (usage selector matching data) from the first certificate of a PEM bundle."""
    usage = int_or_fail(usage, "tlsa_record: usage", 0, 3)
    selector = int_or_fail(selector, "tlsa_record: selector", 0, 1)
    matching = int_or_fail(matching, "tlsa_record: matching", 0, 2)
    text = pem_or_fail(cert_pem, "tlsa_record")
    block, public_key = _CERTIFICATE.search(text), _PUBLIC_KEY.search(text)
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        if block:
            cert = x509.load_pem_x509_certificate(block.group(0).encode())
            data = cert.public_bytes(der) if selector == 0 else cert.public_key().public_bytes(der, spki)
        elif public_key and selector == 1:
            data = serialization.load_pem_public_key(public_key.group(0).encode()).public_bytes(der, spki)
        else:
            raise ValueError("no certificate found (a public key alone needs selector 1)")
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise AnsibleFilterError(f"tlsa_record: {excerpt(cert_pem)} is not a usable PEM certificate") from exc
    if matching == 1:
        data = hashlib.sha256(data).digest()
    elif matching == 2:
        data = hashlib.sha512(data).digest()
    return f"{usage} {selector} {matching} {data.hex()}"


class FilterModule:
    """TLSA filters (RFC 6698)."""

    def filters(self):
        return {
            "tlsa_record": tlsa_record,
        }
