# SPDX-License-Identifier: MIT
"""TLS on the submission ports: 1.2 and 1.3 only, modern suites only, a certificate
that verifies and covers the server's name."""
from __future__ import annotations

import ssl

import pytest
from lab_hosts import PORT_MODES, SUBMISSION_PORTS
from smtp_probe import connect, tls_handshake

WEAK_SUITES = {
    "RSA key exchange": "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA",
    "CBC": "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA:DHE-RSA-AES128-SHA256",
    "anonymous": "ADH-AES128-GCM-SHA256:AECDH-AES128-SHA:ADH-AES256-SHA",
}


def _context(version: ssl.TLSVersion, ciphers: str | None = None) -> ssl.SSLContext:
    """A client pinned to one protocol version that does not care about the certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # SECLEVEL=0 so this client really offers TLS 1.0/1.1 and weak suites: the
    # server, not the client library, has to say no.
    context.set_ciphers((ciphers or "ALL") + ":@SECLEVEL=0")
    context.minimum_version = version
    context.maximum_version = version
    return context


def _refused(address, port, context, server_name) -> str:
    """'' when the server refuses the handshake; else what it agreed to (for the failure message)."""
    try:
        protocol, cipher = tls_handshake(address, port, PORT_MODES[port], context, server_name)
    except (ssl.SSLError, ConnectionError):
        return ""
    return f"the server completed the handshake: {protocol} {cipher}"


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1], ids=["TLSv1.0", "TLSv1.1"])
def test_old_protocols_are_refused(port, version, probe_address, server_name):
    agreed = _refused(probe_address, port, _context(version), server_name)
    assert not agreed, f"{port}: {version.name} offered, {agreed}"


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["TLSv1.2", "TLSv1.3"])
def test_modern_protocols_are_accepted(port, version, probe_address, server_name):
    protocol, _ = tls_handshake(probe_address, port, PORT_MODES[port], _context(version), server_name)
    assert protocol == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
@pytest.mark.parametrize("kind", sorted(WEAK_SUITES))
def test_weak_tls12_suites_are_refused(port, kind, probe_address, server_name):
    agreed = _refused(probe_address, port, _context(ssl.TLSVersion.TLSv1_2, WEAK_SUITES[kind]), server_name)
    assert not agreed, f"{port}: only {kind} TLS 1.2 suites offered, {agreed}"


# A certificate that expires within this many days fails the audit (renewal is overdue:
# ACME clients renew 30 days ahead). mailfort_audit_cert_min_days in the inventory overrides it.
CERT_MIN_DAYS = 14


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_certificate_verifies_and_matches_the_host_name(port, tls_context, probe_address, server_name, host_vars):
    """The chain verifies (mailfort_test_ca_file, MAILFORT_CA_FILE, the lab CA, else the system store),
    the certificate covers the server's name, and it is not about to expire."""
    import time

    try:
        smtp = connect(probe_address, port, PORT_MODES[port], tls_context, server_name)
    except ssl.SSLCertVerificationError as error:
        pytest.fail(f"{port}: the certificate does not verify for {server_name}: {error.verify_message}")
    try:
        certificate = smtp.sock.getpeercert()
    finally:
        smtp.close()
    minimum = int(host_vars.get("mailfort_audit_cert_min_days", CERT_MIN_DAYS))
    days = (ssl.cert_time_to_seconds(certificate["notAfter"]) - time.time()) / 86400
    assert days >= minimum, (
        f"{port}: the certificate for {server_name} expires in {days:.1f} days ({certificate['notAfter']}), "
        f"less than {minimum} days away: its renewal is overdue")


# Key exchange groups: Mozilla "intermediate" allows X25519, prime256v1 and
# secp384r1; an outside scanner reports a server that also agrees to X448 or
# secp521r1 as non-compliant. The client (openssl s_client) offers one group
# only, so the server must use that group or nothing.
ALLOWED_GROUPS = ["X25519", "prime256v1", "secp384r1"]
REFUSED_GROUPS = ["X448", "secp521r1"]


def _key_exchange(address, port, server_name, group, version):
    """(handshake completed, the server's temp key line) for a client that offers only `group`."""
    import subprocess

    target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    command = ["openssl", "s_client", "-connect", target, "-servername", server_name, "-groups", group,
               f"-{version}", "-no_ign_eof"] + (["-starttls", "smtp"] if PORT_MODES[port] == "starttls" else [])
    result = subprocess.run(command, input="QUIT\n", capture_output=True, text=True, timeout=30, check=False)
    temp_key = next((line.split(":", 1)[1].strip() for line in result.stdout.splitlines()
                     if line.strip().startswith(("Server Temp Key:", "Peer Temp Key:"))), "")
    completed = result.returncode == 0 and "Cipher is (NONE)" not in result.stdout and bool(temp_key)
    return completed, temp_key


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
@pytest.mark.parametrize("group", ALLOWED_GROUPS)
def test_intermediate_key_exchange_groups_are_used(port, group, probe_address, server_name):
    completed, temp_key = _key_exchange(probe_address, port, server_name, group, "tls1_3")
    assert completed and group in temp_key, f"{port}: TLS 1.3 offering only {group}: {temp_key or 'no handshake'}"


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
@pytest.mark.parametrize("group", REFUSED_GROUPS)
@pytest.mark.parametrize("version", ["tls1_3", "tls1_2"])
def test_off_list_key_exchange_groups_are_refused(port, group, version, probe_address, server_name):
    completed, temp_key = _key_exchange(probe_address, port, server_name, group, version)
    # TLS 1.3 has no fallback: no shared group, no handshake. TLS 1.2 may fall back
    # to finite-field DHE (ffdhe2048), which is in the intermediate profile.
    assert group not in temp_key, f"{port} {version}: the server agreed to {group} ({temp_key})"
    if version == "tls1_3":
        assert not completed, f"{port}: TLS 1.3 handshake with only {group} offered completed ({temp_key})"
