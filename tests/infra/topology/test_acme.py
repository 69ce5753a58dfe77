# SPDX-License-Identifier: MIT
"""tls_source acme against the lab's ACME server (pebble on the nameserver host, role lab_acme).

In order, on the lab's mail server (each converge limited to the tls role, the
input checks of every role first; the lab's own source is put back at the end):

1. http-01: certbot answers the challenge itself on port 80, which the
   firewall opens only meanwhile; 465 and 587 then present the new
   certificate, whose chain verifies against pebble's root.
2. A second converge with the same settings changes nothing (and asks the CA nothing).
3. dns-01: a changed challenge re-issues, through RFC 2136 updates of the lab BIND.
4. Renewal: certbot's timer is on; a forced renewal (certbot renew, as the
   timer runs it) installs the new certificate and reloads: a session opened
   before it goes on, a new one sees the new certificate with the same key.
5. The CA down: a converge that needs a certificate fails with a message
   naming the directory, and the host keeps serving its certificate.
Lab only: reconfigures the host.
"""
from __future__ import annotations

import base64
import ssl
import tempfile
import time

import pytest
from lab_hosts import PORT_MODES, PROJECT_DIR, container_addresses, group_host, recap_changed, run_site_playbook
from smtp_probe import connect

# certbot is 2.1 on Debian 12 and 4.0 on Debian 13: not distribution independent,
# but CI has time for one lab (make test: the last distribution's).
pytestmark = [pytest.mark.usefixtures("lab_only"), pytest.mark.last_distro_only]

TLS_ONLY = ["tls"]
LIVE = "/etc/letsencrypt/live/mailfort"
RENEWAL_CONF = "/etc/letsencrypt/renewal/mailfort.conf"


@pytest.fixture(scope="module")
def ns(request):
    return group_host(request, "nameservers", "tls_source acme needs the lab's ACME server (pebble) on the nameserver")


@pytest.fixture(scope="module")
def acme_vars(ns):
    name = ns.check_output("hostname -f").strip()
    address = container_addresses(ns.backend.get_hostname()).get(4)
    assert address, "no IPv4 address for the nameserver"
    return {
        # The run is limited to the mail server, so the default (dns_records_nsupdate_server, from
        # the nameserver's facts) is empty: the lab BIND's address, as an operator writes it.
        "tls_acme_dns_server": address,
        "tls_source": "acme",
        "tls_acme_directory_url": f"https://{name}:14000/dir",
        # pebble's HTTPS certificate comes from the lab CA (role lab_acme).
        "tls_acme_directory_ca_file": str(PROJECT_DIR / ".cache" / "lab-ca" / "ca.crt"),
        "tls_acme_contact": "postmaster@lab.test",
        # The lab BIND is the only server of the zone: pebble asks it directly.
        "tls_acme_dns_propagation_seconds": 0,
    }


def _converge(request, host_name, tmp_path_factory, extra_vars):
    started = time.monotonic()
    rc, output = run_site_playbook(request, host_name, tmp_path_factory.mktemp("acme"), extra_vars, TLS_ONLY)
    return rc, output, time.monotonic() - started


@pytest.fixture(scope="module")
def acme_lab(request, host, host_name, tmp_path_factory):
    """Put the lab's own certificate source back after the module (and pebble, if a test stopped it)."""
    yield
    ns = group_host(request, "nameservers", "")
    ns.run("systemctl start mailfort-lab-pebble")
    # pebble forgets every account when it restarts (the CA-down test stops it): the host's
    # account with it is gone, so a later run on this lab registers a new one.
    host.run("rm -rf /etc/letsencrypt/accounts")
    rc, output, _ = _converge(request, host_name, tmp_path_factory, {})
    assert rc == 0, output[-3000:]
    assert not host.file(RENEWAL_CONF).exists, "certbot still renews the ACME certificate after leaving tls_source acme"


def _served(address: str, port: int, server_name: str, context: ssl.SSLContext) -> bytes:
    """The DER leaf certificate the server presents on 465 (implicit TLS) or 587 (STARTTLS), verified."""
    smtp = connect(address, port, PORT_MODES[port], context, server_name)
    try:
        return smtp.sock.getpeercert(binary_form=True)
    finally:
        smtp.close()


def _pebble_context(host, acme_vars) -> ssl.SSLContext:
    """Trusts pebble's current root only (it makes a new one at every start), fetched by the mail host."""
    roots = acme_vars["tls_acme_directory_url"].replace(":14000/dir", ":15000/roots/0")
    root = host.check_output("python3 -c 'import sys, urllib.request; "
                             "print(urllib.request.urlopen(sys.argv[1], timeout=15).read().decode())' " + roots)
    assert "BEGIN CERTIFICATE" in root, root
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
        handle.write(root)
    return ssl.create_default_context(cafile=handle.name)


def _serial(host) -> str:
    return host.check_output(f"openssl x509 -in {LIVE}/cert.pem -noout -serial")


def test_http01_issues_and_both_submission_ports_present_it(request, host, host_name, tmp_path_factory, acme_vars,
                                                             acme_lab, probe_address, server_name):
    rc, output, took = _converge(request, host_name, tmp_path_factory,
                                 {**acme_vars, "tls_acme_challenge": "http-01"})
    assert rc == 0, output[-4000:]
    print(f"http-01: converge with a first issuance took {took:.1f}s")
    assert "authenticator = standalone" in host.file(RENEWAL_CONF).content_string
    context = _pebble_context(host, acme_vars)
    live = host.check_output(f"openssl x509 -in {LIVE}/cert.pem -outform DER | base64 -w0")
    for port in (465, 587):
        served = _served(probe_address, port, server_name, context)
        assert base64.b64encode(served).decode() == live, f"port {port} does not present the ACME certificate"
    # Port 80 was open only during the challenge.
    assert host.run("nft list chain inet mailfort acme_http01").stdout.count("dport 80") == 0


def test_a_second_converge_changes_nothing(request, host_name, tmp_path_factory, acme_vars, acme_lab):
    rc, output, took = _converge(request, host_name, tmp_path_factory, {**acme_vars, "tls_acme_challenge": "http-01"})
    assert rc == 0, output[-4000:]
    assert recap_changed(output, host_name) == 0, output[-4000:]
    print(f"second converge (no issuance) took {took:.1f}s")


def test_dns01_reissues_through_the_lab_bind(request, host, host_name, tmp_path_factory, acme_vars, acme_lab,
                                             probe_address, server_name):
    before = _serial(host)
    rc, output, took = _converge(request, host_name, tmp_path_factory, {**acme_vars, "tls_acme_challenge": "dns-01"})
    assert rc == 0, output[-4000:]
    print(f"dns-01: converge with an issuance took {took:.1f}s")
    assert _serial(host) != before, "a changed challenge must re-issue the certificate"
    assert "authenticator = dns-rfc2136" in host.file(RENEWAL_CONF).content_string
    assert host.file("/etc/mailfort/acme/rfc2136.ini").mode == 0o600
    served = _served(probe_address, 465, server_name, _pebble_context(host, acme_vars))
    assert ssl.DER_cert_to_PEM_cert(served).strip() in host.file(LIVE + "/cert.pem").content_string


def test_renewal_reloads_and_an_open_session_goes_on(host, acme_vars, acme_lab, probe_address, server_name):
    assert host.service("certbot.timer").is_enabled
    assert host.service("certbot.timer").is_running
    context = _pebble_context(host, acme_vars)
    old = _served(probe_address, 587, server_name, context)
    key_before = host.check_output("openssl pkey -in /etc/mailfort/tls/server.key -pubout | sha256sum")
    session = connect(probe_address, 587, PORT_MODES[587], context, server_name, timeout=30)
    try:
        started = time.monotonic()
        # As certbot.service runs it (Debian's: no random sleep), forced.
        renewed = host.run("certbot renew --non-interactive --no-random-sleep-on-renew --cert-name mailfort "
                           "--force-renewal")
        took = time.monotonic() - started
        assert renewed.rc == 0, renewed.stdout + renewed.stderr
        print(f"forced renewal (certbot renew, dns-01, deploy hook with reload) took {took:.1f}s")
        # The session opened before the renewal completes normally.
        assert session.noop()[0] == 250
        assert session.ehlo("renewal-test.lab.test")[0] == 250
        assert session.sock.getpeercert(binary_form=True) == old
        assert session.quit()[0] == 221
    finally:
        session.close()
    new = _served(probe_address, 587, server_name, context)
    assert new != old, "the renewed certificate is not served on 587"
    assert _served(probe_address, 465, server_name, context) == new, "the renewed certificate is not served on 465"
    assert host.check_output("openssl pkey -in /etc/mailfort/tls/server.key -pubout | sha256sum") == key_before, \
        "a renewal with tls_acme_reuse_key must keep the key (TLSA 3 1 1 stays valid)"
    # The timer's own run: nothing is due, nothing changes.
    serial = _serial(host)
    assert host.run("systemctl start certbot.service").rc == 0
    assert host.check_output("systemctl show -P Result certbot.service") == "success"
    assert _serial(host) == serial


def test_the_ca_down_fails_the_converge_clearly_and_the_certificate_stays(request, host, host_name, ns,
                                                                          tmp_path_factory, acme_vars, acme_lab,
                                                                          probe_address, server_name):
    context = _pebble_context(host, acme_vars)
    served = _served(probe_address, 465, server_name, context)
    assert ns.run("systemctl stop mailfort-lab-pebble").rc == 0
    # A changed challenge makes the certificate due.
    rc, output, took = _converge(request, host_name, tmp_path_factory, {**acme_vars, "tls_acme_challenge": "http-01"})
    assert rc != 0, "the converge must fail when the certificate is due and the CA does not answer"
    assert f"tls_acme_directory_url {acme_vars['tls_acme_directory_url']} did not answer" in output, output[-3000:]
    assert "keeps serving its current certificate" in output
    assert took < 120, f"the failure took {took:.0f}s"
    assert _served(probe_address, 465, server_name, context) == served
    assert _served(probe_address, 587, server_name, context) == served
