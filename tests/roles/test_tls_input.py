# SPDX-License-Identifier: MIT
"""The tls role's input checks (tasks_from: validate), run on localhost only.

Bad input must stop the play with a message naming the variable and the
reason; good input must pass. No host is touched.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PLAYBOOK = "tls_input.yml"
HOST = "mx.example.com"
NOW = dt.datetime.now(dt.UTC)
VALID = (NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=90))  # not_before, not_after of a good certificate


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _cert(key, names, not_before, not_after, issuer_key=None):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    return builder.sign(issuer_key or key, hashes.SHA256())


def _write(tmp_path: Path, key, cert) -> dict:
    key_file = tmp_path / "server.key"
    cert_file = tmp_path / "server.crt"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return {"tls_source": "files", "tls_hostnames": [HOST],
            "tls_cert_file": str(cert_file), "tls_key_file": str(key_file)}


@pytest.fixture
def good_files(tmp_path):
    key = _key()
    return _write(tmp_path, key, _cert(key, [HOST], *VALID))


def _fails(run_playbook, extra_vars, *needles):
    rc, out = run_playbook(PLAYBOOK, extra_vars)
    assert rc != 0, out
    for needle in needles:
        assert needle in out, out


def test_valid_files_pass(run_playbook, good_files):
    rc, out = run_playbook(PLAYBOOK, good_files)
    assert rc == 0, out


def test_valid_lab_ca_input_passes(run_playbook):
    rc, out = run_playbook(PLAYBOOK, {"tls_source": "lab_ca", "tls_hostnames": [HOST, "smtp.example.com"]})
    assert rc == 0, out


def test_an_unchosen_source_is_refused_saying_how_to_choose(run_playbook):
    """No silent lab certificate: without tls_source the run stops and names the choices."""
    _fails(run_playbook, {"tls_hostnames": [HOST]}, "tls_source is not set", "tls_source: files",
           "tls_cert_file", "lab_ca is for throwaway lab hosts only")


def test_wildcard_certificate_covers_the_name(run_playbook, tmp_path):
    key = _key()
    extra = _write(tmp_path, key, _cert(key, ["*.example.com"], *VALID))
    rc, out = run_playbook(PLAYBOOK, extra)
    assert rc == 0, out


def test_unknown_source_is_rejected(run_playbook):
    _fails(run_playbook, {"tls_source": "selfsigned", "tls_hostnames": [HOST]}, "tls_source", "selfsigned")


ACME = {"tls_source": "acme", "tls_hostnames": [HOST],
        "tls_acme_directory_url": "https://acme-staging-v02.api.letsencrypt.org/directory",
        "tls_acme_contact": "hostmaster@example.com"}
TSIG = {"tls_acme_challenge": "dns-01", "tls_acme_dns_server": "192.0.2.53", "tls_acme_dns_key_name": "acme-key",
        "tls_acme_dns_key_secret": "Y2FuYXJ5LXRzaWctc2VjcmV0LTQy", "tls_acme_dns_key_algorithm": "hmac-sha256"}


@pytest.mark.parametrize("extra", [{}, TSIG, {**TSIG, "tls_acme_dns_server": "2001:db8::53",
                                              "tls_hostnames": ["*.example.com", HOST]},
                                   {"tls_acme_reuse_key": False, "dns_records_tlsa": False},
                                   {"tls_key_rollover": "prepare"},
                                   {"tls_key_rollover": "switch", "tls_key_rollover_dns_server": "192.0.2.53"},
                                   {"tls_acme_key_type": "both"}],
                         ids=["http-01", "dns-01", "dns-01-wildcard-ipv6", "new-key-without-tlsa", "rollover-prepare",
                              "rollover-switch", "both-key-types"])
def test_valid_acme_input_passes(run_playbook, extra):
    rc, out = run_playbook(PLAYBOOK, {**ACME, **extra})
    assert rc == 0, out


@pytest.mark.parametrize("extra, needles", [
    ({"tls_acme_directory_url": ""}, ["tls_acme_directory_url must be the https URL"]),
    ({"tls_acme_directory_url": "http://acme.example.com/dir"}, ["tls_acme_directory_url must be the https URL"]),
    ({"tls_acme_contact": "not an address"}, ["tls_acme_contact must be one e-mail address"]),
    ({"tls_hostnames": ["*.example.com"]}, ["*.example.com", "only be validated with tls_acme_challenge: dns-01"]),
    ({"tls_acme_webroot": "var/www"}, ["tls_acme_webroot must be an absolute path"]),
    ({**TSIG, "tls_acme_dns_server": "ns1.example.com"}, ["tls_acme_dns_server (an IPv4 or IPv6 address"]),
    ({**TSIG, "tls_acme_dns_key_algorithm": "hmac-sha3"}, ["tls_acme_dns_key_algorithm"]),
    ({"tls_acme_challenge": "tls-alpn-01"}, ["tls_acme_challenge"]),
    ({"tls_acme_reuse_key": False, "dns_records_tlsa": True}, ["tls_acme_reuse_key: false", "dns_records_tlsa"]),
    ({"tls_key_rollover": "now"}, ["tls_key_rollover", "prepare, switch"]),
    ({"tls_key_rollover": "switch"}, ["tls_key_rollover: switch needs tls_key_rollover_dns_server"]),
    ({"tls_key_rollover": "prepare", "tls_acme_reuse_key": False, "dns_records_tlsa": False},
     ["tls_key_rollover needs tls_acme_reuse_key: true"]),
    ({"tls_key_rollover": "prepare", "tls_acme_key_type": "both"}, ["tls_key_rollover changes one key"]),
    ({"tls_acme_key_type": "dsa"}, ["tls_acme_key_type", "rsa, ecdsa, both"]),
], ids=["no-url", "http-url", "contact", "wildcard-http-01", "webroot", "dns-server-name", "tsig-algorithm",
        "challenge", "new-key-under-tlsa", "rollover-value", "rollover-switch-without-server",
        "rollover-without-reuse-key", "rollover-with-both-key-types", "key-type"])
def test_bad_acme_input_is_named(run_playbook, extra, needles):
    rc, out = run_playbook(PLAYBOOK, {**ACME, **extra})
    assert rc != 0, out
    for needle in needles:
        assert needle in out, out
    assert TSIG["tls_acme_dns_key_secret"] not in out, "a refused ACME input printed the TSIG secret"


def test_a_key_rollover_needs_acme(run_playbook):
    rc, out = run_playbook(PLAYBOOK, {"tls_source": "lab_ca", "tls_hostnames": [HOST], "tls_key_rollover": "prepare"})
    assert rc != 0 and "tls_key_rollover: prepare needs tls_source: acme (got lab_ca)" in out, out


def test_empty_hostnames_are_rejected(run_playbook):
    _fails(run_playbook, {"tls_source": "lab_ca", "tls_hostnames": []}, "tls_hostnames", "empty")


@pytest.mark.parametrize("bad", ["mx", "-mx.example.com", "mx..example.com", "mx_1.example.com",
                                 "m x.example.com", "a" * 64 + ".example.com"])
def test_invalid_hostnames_are_rejected(run_playbook, bad):
    _fails(run_playbook, {"tls_source": "lab_ca", "tls_hostnames": [HOST, bad]}, "tls_hostnames",
           "invalid: " + bad.lower())


def test_missing_cert_file_is_named(run_playbook, good_files, tmp_path):
    missing = str(tmp_path / "nope.crt")
    _fails(run_playbook, dict(good_files, tls_cert_file=missing), "tls_cert_file", missing, "missing")


def test_unset_key_file_is_named(run_playbook, good_files):
    _fails(run_playbook, dict(good_files, tls_key_file=""), "tls_key_file", "must be set")


def test_key_that_does_not_match_is_named(run_playbook, good_files, tmp_path):
    other = tmp_path / "other.key"
    other.write_bytes(_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    _fails(run_playbook, dict(good_files, tls_key_file=str(other)), "tls_key_file", "does not match")


def test_certificate_for_another_host_is_named(run_playbook, tmp_path):
    key = _key()
    extra = _write(tmp_path, key, _cert(key, ["mx.example.org"], *VALID))
    _fails(run_playbook, extra, "tls_cert_file", "does not cover tls_hostnames " + HOST)


def test_wildcard_does_not_cover_two_labels(run_playbook, tmp_path):
    key = _key()
    extra = _write(tmp_path, key, _cert(key, ["*.example.com"], *VALID))
    extra["tls_hostnames"] = ["a.mx.example.com"]
    _fails(run_playbook, extra, "tls_cert_file", "does not cover tls_hostnames a.mx.example.com")


def test_expired_certificate_is_named(run_playbook, tmp_path):
    key = _key()
    extra = _write(tmp_path, key, _cert(key, [HOST], NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=1)))
    _fails(run_playbook, extra, "tls_cert_file", "expired or not yet valid")


def test_not_yet_valid_certificate_is_named(run_playbook, tmp_path):
    key = _key()
    extra = _write(tmp_path, key, _cert(key, [HOST], NOW + dt.timedelta(days=2), NOW + dt.timedelta(days=90)))
    _fails(run_playbook, extra, "tls_cert_file", "expired or not yet valid")


def test_certificate_expiring_within_renew_days_is_named(run_playbook, tmp_path):
    key = _key()
    extra = _write(tmp_path, key, _cert(key, [HOST], NOW - dt.timedelta(days=80), NOW + dt.timedelta(days=10)))
    _fails(run_playbook, extra, "tls_cert_file", "expires within tls_renew_days")


def test_garbage_certificate_is_named(run_playbook, good_files, tmp_path):
    junk = tmp_path / "junk.crt"
    junk.write_text("not a certificate\n")
    _fails(run_playbook, dict(good_files, tls_cert_file=str(junk)), "tls_cert_file", "not a readable certificate")
