# SPDX-License-Identifier: MIT
"""TLSA (filter_plugins/dns_tlsa.py): tlsa_record for every selector and matching type."""
from __future__ import annotations

import datetime
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from dns_helpers import DER, PEM, SPKI, private_pem, public_pem, rejects


def self_signed(name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return key, cert


@pytest.fixture(scope="module")
def leaf():
    return self_signed("mail.example.test")


@pytest.mark.parametrize("selector, matching", [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)])
def test_tlsa_record_data(filters, leaf, selector, matching):
    _, cert = leaf
    data = cert.public_bytes(DER) if selector == 0 else cert.public_key().public_bytes(DER, SPKI)
    digest = [lambda d: d, lambda d: hashlib.sha256(d).digest(), lambda d: hashlib.sha512(d).digest()][matching](data)
    pem = cert.public_bytes(PEM).decode()
    assert filters["tlsa_record"](pem, 3, selector, matching) == f"3 {selector} {matching} {digest.hex()}"


def test_tlsa_record_defaults_to_3_1_1_of_the_leaf(filters, leaf):
    key, cert = leaf
    _, issuer = self_signed("ca.example.test")
    bundle = cert.public_bytes(PEM).decode() + issuer.public_bytes(PEM).decode() + private_pem(key)
    expected = hashlib.sha256(cert.public_key().public_bytes(DER, SPKI)).hexdigest()
    assert filters["tlsa_record"](bundle) == f"3 1 1 {expected}"
    assert filters["tlsa_record"](bundle, usage=2) == f"2 1 1 {expected}"
    # the next key can be published before its certificate exists
    assert filters["tlsa_record"](public_pem(key.public_key())) == f"3 1 1 {expected}"
    assert expected != hashlib.sha256(issuer.public_key().public_bytes(DER, SPKI)).hexdigest()


@pytest.mark.parametrize("kwargs, needle", [
    ({"usage": 4}, "usage must be an integer from 0 to 3, got 4"),
    ({"usage": True}, "got True"),
    ({"selector": 2}, "selector must be an integer from 0 to 1, got 2"),
    ({"matching": 3}, "matching must be an integer from 0 to 2, got 3"),
    ({"matching": "sha256"}, "got 'sha256'"),
])
def test_tlsa_record_rejects_bad_parameters(filters, leaf, kwargs, needle):
    rejects(filters["tlsa_record"], needle, leaf[1].public_bytes(PEM).decode(), **kwargs)


def test_tlsa_record_rejects_bad_pem(filters, leaf):
    key, _ = leaf
    rejects(filters["tlsa_record"], "'not a certificate'", "not a certificate")
    bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    rejects(filters["tlsa_record"], repr(bad)[:40], bad)
    rejects(filters["tlsa_record"], "not a usable PEM certificate", public_pem(key.public_key()), selector=0)
    message = rejects(filters["tlsa_record"], "a PEM private key", private_pem(key))
    assert private_pem(key).splitlines()[1][:16] not in message
