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
5. A key rollover (tls_key_rollover) with dns_records_tlsa: the next key's
   TLSA record is published before any certificate uses the key (a switch
   before that, or before tls_key_rollover_wait, is refused), and while the
   switch converges a probe compares, every second, the key served on port 25
   with the TLSA records the lab BIND answers: one always matches.
6. Both key types (tls_acme_key_type both): a second, ECDSA certificate;
   on 465 and 587 a client that offers only ECDSA suites gets it, one that
   offers only RSA suites the RSA one, each verifying against pebble's root,
   and both keys have a TLSA record.
7. The CA down: a converge that needs a certificate fails with a message
   naming the directory, and the host keeps serving its certificate.
Lab only: reconfigures the host.
"""
from __future__ import annotations

import base64
import hashlib
import ssl
import tempfile
import threading
import time

import pytest
from lab_hosts import PORT_MODES, PROJECT_DIR, container_addresses, group_host, recap_changed, run_site_playbook
from smtp_probe import connect

# certbot is 2.1 on Debian 12 and 4.0 on Debian 13: not distribution independent,
# but CI has time for one lab (make test: the last distribution's).
pytestmark = [pytest.mark.usefixtures("lab_only"), pytest.mark.last_distro_only]

TLS_ONLY = ["tls"]
ROLLOVER_TAGS = ["tls", "dns_records"]
NEXT_PUBLIC_KEY = "/etc/mailfort/tls/next-key.pub"
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
        # The lab BIND is the only server of the zone and pebble asks it directly; it signs the zone
        # inline (DNSSEC), and an update reaches the signed zone a moment after it is accepted (CI saw
        # pebble get NXDOMAIN for the challenge with no wait at all).
        "tls_acme_dns_propagation_seconds": 2,
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
    # The lab's source again, also for Postfix (it served the ECDSA pair too) and the TLSA records.
    address = container_addresses(ns.backend.get_hostname()).get(4)
    rc, output = run_site_playbook(request, host_name, tmp_path_factory.mktemp("acme"),
                                   {"dns_records_nsupdate_server": address}, ["tls", "postfix", "dns_records"])
    assert rc == 0, output[-3000:]
    assert not host.file(RENEWAL_CONF).exists, "certbot still renews the ACME certificate after leaving tls_source acme"
    assert not host.file(RENEWAL_CONF.replace("mailfort.conf", "mailfort-ecdsa.conf")).exists
    assert not host.file(NEXT_PUBLIC_KEY).exists and not host.file("/etc/mailfort/acme/next.key").exists, \
        "the next key of a finished rollover must go with tls_key_rollover: \"\""


def _served(address: str, port: int, server_name: str, context: ssl.SSLContext, mode: str = "") -> bytes:
    """The DER leaf certificate the server presents on 465 (implicit TLS) or 587 (STARTTLS), verified
    as the context says; mode "starttls" for port 25."""
    smtp = connect(address, port, mode or PORT_MODES[port], context, server_name)
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


def _spki_tlsa(der_cert: bytes) -> str:
    """3 1 1 data of a DER certificate's key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    spki = x509.load_der_x509_certificate(der_cert).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "3 1 1 " + hashlib.sha256(spki).hexdigest()


def _published_tlsa(ns_address: str, name: str) -> set[str]:
    """The TLSA records the lab BIND answers for name (asked directly, no cache), as 'u s m hex'."""
    return set(_published(ns_address, name, "TLSA"))


def _published(ns_address: str, name: str, rdtype: str) -> list[str]:
    """The values of name/rdtype the lab BIND answers."""
    import dns.message
    import dns.query
    import dns.rdatatype
    response = dns.query.tcp(dns.message.make_query(name, dns.rdatatype.from_text(rdtype)), ns_address, timeout=10)
    return [r.to_text() for rrset in response.answer for r in rrset]


def _served_on_25(address: str, server_name: str) -> bytes:
    """The certificate port 25 presents after STARTTLS (any issuer: only its key is compared)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return _served(address, 25, server_name, context, "starttls")


class _DaneProbe(threading.Thread):
    """Every second: the key served on 25 and the TLSA records in DNS; keeps (served, published)."""

    def __init__(self, address, server_name, ns_address, name):
        super().__init__(daemon=True)
        self.args, self.seen, self.stopping = (address, server_name, ns_address, name), [], threading.Event()

    def run(self):
        address, server_name, ns_address, name = self.args
        while not self.stopping.is_set():
            served = _spki_tlsa(_served_on_25(address, server_name))
            self.seen.append((served, _published_tlsa(ns_address, name)))
            self.stopping.wait(1.0)


def test_a_key_rollover_publishes_the_next_tlsa_before_the_switch(request, host, host_name, ns, tmp_path_factory,
                                                                  acme_vars, acme_lab, probe_address, server_name):
    ns_address = acme_vars["tls_acme_dns_server"]
    name = f"_25._tcp.{server_name}."
    # The run is limited to the mail server: the update server is given as an operator writes it.
    # TLSA on whatever the inventory says (the production example leaves it off).
    rollover = {**acme_vars, "tls_acme_challenge": "dns-01", "dns_records_nsupdate_server": ns_address,
                "dns_records_tlsa": True}
    old = _spki_tlsa(_served_on_25(probe_address, server_name))

    # A switch with no prepared key (and no wait): the role makes the next key, but its record
    # is not in DNS: refused, the host keeps its key.
    rc, output, _ = _converge(request, host_name, tmp_path_factory,
                              {**rollover, "tls_key_rollover": "switch", "tls_key_rollover_wait": 0})
    assert rc != 0, "a switch before the next key's TLSA record is published must be refused"
    assert "switch refused" in output and "is not published at " + name[:-1] in output, output[-3000:]
    assert "less than tls_key_rollover_wait" not in output, output[-3000:]
    assert _spki_tlsa(_served_on_25(probe_address, server_name)) == old
    next_tlsa = host.check_output(f"openssl pkey -pubin -in {NEXT_PUBLIC_KEY} -outform DER | sha256sum")
    next_tlsa = "3 1 1 " + next_tlsa.split()[0]
    assert next_tlsa != old and next_tlsa not in _published_tlsa(ns_address, name)

    # prepare, with the DNS play, publishes the next key's record beside the current one.
    started = time.monotonic()
    rc, output = run_site_playbook(request, host_name, tmp_path_factory.mktemp("acme"),
                                   {**rollover, "tls_key_rollover": "prepare"}, ROLLOVER_TAGS)
    assert rc == 0, output[-4000:]
    print(f"rollover prepare (tls + dns_records) took {time.monotonic() - started:.1f}s")
    assert _published_tlsa(ns_address, name) == {old, next_tlsa}
    # A run limited to some roles still publishes the DKIM keys it did not converge (it reads them).
    dkim_name = host.check_output("awk '!/^#/ && NF {print $1; exit}' /etc/opendkim/key_table")
    assert _published(ns_address, dkim_name + ".", "TXT"), f"the --tags run deleted {dkim_name}"
    # Published just now: the default wait (twice the TTL, 7200 s here) has not passed.
    rc, output, _ = _converge(request, host_name, tmp_path_factory, {**rollover, "tls_key_rollover": "switch"})
    assert rc != 0, "a switch before tls_key_rollover_wait has passed must be refused"
    assert "less than tls_key_rollover_wait (7200 s)" in output, output[-3000:]
    assert "is not published" not in output, output[-3000:]

    probe = _DaneProbe(probe_address, server_name, ns_address, name)
    probe.start()
    started = time.monotonic()
    try:
        rc, output = run_site_playbook(request, host_name, tmp_path_factory.mktemp("acme"),
                                       {**rollover, "tls_key_rollover": "switch", "tls_key_rollover_wait": 0},
                                       ROLLOVER_TAGS)
    finally:
        probe.stopping.set()
        probe.join()
    assert rc == 0, output[-4000:]
    print(f"rollover switch (tls + dns_records, certbot with the next key) took {time.monotonic() - started:.1f}s,"
          f" {len(probe.seen)} probes")
    unmatched = [(served[:20], sorted(p[:20] for p in published)) for served, published in probe.seen
                 if served not in published]
    assert not unmatched, f"a served key without a published TLSA record: {unmatched[:3]}"
    assert {served for served, _ in probe.seen} == {old, next_tlsa}, "the probe must see both keys served"
    assert _spki_tlsa(_served_on_25(probe_address, server_name)) == next_tlsa
    # After the switch the old key's record is gone.
    assert _published_tlsa(ns_address, name) == {next_tlsa}

    # The step after switch (tls_key_rollover: "") is the module's last converge (acme_lab).


def _served_with(address: str, port: int, server_name: str, context: ssl.SSLContext, suite: str) -> bytes:
    """The certificate served to a TLS 1.2 client that offers only `suite` (its signature algorithm picks the key)."""
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(suite)
    return _served(address, port, server_name, context)


def test_both_key_types_give_each_client_the_certificate_it_supports(request, host, host_name, ns, tmp_path_factory,
                                                                      acme_vars, acme_lab, probe_address, server_name):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    ns_address = acme_vars["tls_acme_dns_server"]
    started = time.monotonic()
    rc, output = run_site_playbook(request, host_name, tmp_path_factory.mktemp("acme"),
                                   {**acme_vars, "tls_acme_challenge": "dns-01", "tls_acme_key_type": "both",
                                    "dns_records_nsupdate_server": ns_address, "dns_records_tlsa": True},
                                   ["tls", "postfix", "dns_records"])
    assert rc == 0, output[-4000:]
    print(f"both key types (a second certificate, Postfix and DNS) took {time.monotonic() - started:.1f}s")
    assert host.file(RENEWAL_CONF.replace("mailfort.conf", "mailfort-ecdsa.conf")).exists
    served = {}
    for port in (465, 587):
        for kind, suite, key_class in (("ecdsa", "ECDHE-ECDSA-AES128-GCM-SHA256", ec.EllipticCurvePublicKey),
                                       ("rsa", "ECDHE-RSA-AES128-GCM-SHA256", rsa.RSAPublicKey)):
            # Verified against pebble's root: each chain is complete.
            der = _served_with(probe_address, port, server_name, _pebble_context(host, acme_vars), suite)
            assert isinstance(x509.load_der_x509_certificate(der).public_key(), key_class), \
                f"port {port}: a client offering only {suite} did not get the {kind} certificate"
            served[port, kind] = der
    assert served[465, "ecdsa"] == served[587, "ecdsa"] and served[465, "rsa"] == served[587, "rsa"]
    # Both keys are pinned in DNS.
    assert _published_tlsa(ns_address, f"_25._tcp.{server_name}.") == {
        _spki_tlsa(served[465, "ecdsa"]), _spki_tlsa(served[465, "rsa"])}


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
