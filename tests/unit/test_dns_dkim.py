# SPDX-License-Identifier: MIT
"""DKIM (filter_plugins/dns_dkim.py): dkim_record, with RFC 8463's Ed25519 test vector."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from dns_helpers import DER, SPKI, private_pem, public_pem, rejects


@pytest.fixture(scope="module")
def rsa2048():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_dkim_record_rsa_2048_publishes_the_spki_der(filters, rsa2048):
    record = filters["dkim_record"](public_pem(rsa2048.public_key()))
    assert record.startswith("v=DKIM1; k=rsa; p=")
    p = record.split("p=", 1)[1]
    der = base64.b64decode(p, validate=True)
    assert der == rsa2048.public_key().public_bytes(DER, SPKI)
    assert serialization.load_der_public_key(der).public_numbers() == rsa2048.public_key().public_numbers()
    assert len(der) == 294  # SPKI of a 2048-bit RSA key with e=65537


def test_dkim_record_accepts_pkcs1_rsa_public_key(filters, rsa2048):
    pkcs1 = public_pem(rsa2048.public_key(), serialization.PublicFormat.PKCS1)
    assert pkcs1.startswith("-----BEGIN RSA PUBLIC KEY-----")
    assert filters["dkim_record"](pkcs1) == filters["dkim_record"](public_pem(rsa2048.public_key()))


def test_dkim_record_ed25519_rfc8463_vector(filters):
    """RFC 8463 appendix A: the brisbane._domainkey.football.example.com key."""
    private = ed25519.Ed25519PrivateKey.from_private_bytes(
        base64.b64decode("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="))
    assert filters["dkim_record"](public_pem(private.public_key())) == (
        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    )


def test_dkim_record_all_options_in_order(filters, rsa2048):
    pem = public_pem(rsa2048.public_key()).encode()  # bytes are fine too
    record = filters["dkim_record"](pem, key_type="rsa", hash="sha256", testing=True, service=["email"])
    spki = base64.b64encode(rsa2048.public_key().public_bytes(DER, SPKI)).decode()
    assert record == f"v=DKIM1; h=sha256; k=rsa; s=email; t=y; p={spki}"


@pytest.mark.parametrize("bits, ok", [(1023, False), (1024, True)])
def test_dkim_record_rsa_size_edge(filters, bits, ok):
    key = rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 0xF1).public_key()
    if ok:
        assert filters["dkim_record"](public_pem(key)).startswith("v=DKIM1; k=rsa; p=")
    else:
        rejects(filters["dkim_record"], f"the RSA key has {bits} bits", public_pem(key))


def test_dkim_record_refuses_private_keys_without_echoing_them(filters, rsa2048):
    pem = private_pem(rsa2048)
    message = rejects(filters["dkim_record"], "private key", pem)
    body = pem.splitlines()[1]
    assert body[:16] not in message


@pytest.mark.parametrize("make, kwargs, needle", [
    (lambda k: public_pem(ec.generate_private_key(ec.SECP256R1()).public_key()), {},
     "unsupported key type ECPublicKey"),
    (lambda k: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", {},
     "'-----BEGIN PUBLIC KEY-----\\nAAAA"),
    (lambda k: "ssh-ed25519 AAAAC3Nza", {}, "'ssh-ed25519 AAAAC3Nza'"),
    (lambda k: None, {}, "None"),
    (lambda k: public_pem(k.public_key()), {"key_type": "ed25519"}, "key_type is 'ed25519' but the key is rsa"),
    (lambda k: public_pem(k.public_key()), {"key_type": "dsa"}, "'dsa'"),
    (lambda k: public_pem(k.public_key()), {"hash": "sha1"}, "got 'sha1'"),
    (lambda k: public_pem(k.public_key()), {"hash": ["sha256", "sha1"]}, "got 'sha1'"),
    (lambda k: public_pem(k.public_key()), {"service": "web"}, "got 'web'"),
    (lambda k: public_pem(k.public_key()), {"testing": "yes"}, "got 'yes'"),
])
def test_dkim_record_rejects_bad_input_naming_it(filters, rsa2048, make, kwargs, needle):
    rejects(filters["dkim_record"], needle, make(rsa2048), **kwargs)
