# SPDX-License-Identifier: MIT
"""What the DNS filter tests share: the error check and PEM text of keys."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from cryptography.hazmat.primitives import serialization

DER, PEM = serialization.Encoding.DER, serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def rejects(function, needle, *args, **kwargs):
    """The filter raises AnsibleFilterError and the message contains needle (the offending value)."""
    with pytest.raises(AnsibleFilterError) as info:
        function(*args, **kwargs)
    assert needle in str(info.value), str(info.value)
    return str(info.value)


def public_pem(key, fmt=SPKI) -> str:
    return key.public_bytes(PEM, fmt).decode()


def private_pem(key) -> str:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
