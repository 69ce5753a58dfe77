# SPDX-License-Identifier: MIT
"""The checks of tools/diagnose.py (diagnose_checks.py) against fake DNS, SMTP and HTTPS answers (no network).

A good world (every record right) gives only ok lines; each test breaks one thing
and requires the finding it should cause, by check id and status, with what
receivers do and a fix in mailfort's terms.
"""
from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import json
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

# tools/ is where `python3 tools/diagnose.py` finds its modules (the script's own folder).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import diagnose as cli
import diagnose_checks as diag
import diagnose_records as records

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
DOMAIN, MX = "example.com", "mx.example.com"
V4, V6 = "192.0.2.10", "2001:db8::10"


def certificate(names, not_after=NOW + dt.timedelta(days=90)) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - dt.timedelta(days=30))
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


DKIM_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CERT = certificate([MX])


def pem(key, private=False) -> bytes:
    if private:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def dkim_record(key) -> str:
    import base64

    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


class FakeNet:
    """DNS answers by (name, type), SMTP answers by (address, port), HTTPS answers by host."""

    def __init__(self):
        self.dns = {
            (DOMAIN, "MX"): [(10, MX)],
            (MX, "A"): [V4], (MX, "AAAA"): [V6],
            (ipaddress.ip_address(V4).reverse_pointer, "PTR"): [MX],
            (ipaddress.ip_address(V6).reverse_pointer, "PTR"): [MX],
            (DOMAIN, "TXT"): [f"v=spf1 ip4:{V4} ip6:{V6} -all", "google-site-verification=abc"],
            (f"mail._domainkey.{DOMAIN}", "TXT"): [dkim_record(DKIM_KEY)],
            (f"_dmarc.{DOMAIN}", "TXT"): [f"v=DMARC1; p=reject; rua=mailto:dmarc-reports@{DOMAIN}; adkim=s; aspf=s"],
            (f"_mta-sts.{DOMAIN}", "TXT"): ["v=STSv1; id=20260601"],
            (f"_smtp._tls.{DOMAIN}", "TXT"): [f"v=TLSRPTv1; rua=mailto:tls-reports@{DOMAIN}"],
            (f"_25._tcp.{MX}", "TLSA"): [(3, 1, 1, records.tlsa_data(CERT, 1, 1))],
        }
        self.smtp_answers = {
            (address, port): diag.SmtpAnswer(address, port, code=220, banner=f"{MX} ESMTP", ehlo_name=MX,
                                             starttls=port != 465, cert_der=CERT)
            for address in (V4, V6) for port in (25, 587, 465)
        }
        self.pages = {f"mta-sts.{DOMAIN}": diag.HttpsAnswer(
            200, f"version: STSv1\nmode: enforce\nmx: {MX}\nmax_age: 604800\n", "text/plain")}
        self.asked = []

    def lookup(self, name, rtype):
        self.asked.append((name, rtype))
        value = self.dns.get((name.rstrip("."), rtype), [])
        if isinstance(value, Exception):
            raise value
        return copy.deepcopy(value)

    def smtp(self, address, port, server_name):
        return self.smtp_answers[address, port]

    def https(self, host, path):
        assert path == "/.well-known/mta-sts.txt"
        return self.pages.get(host, diag.HttpsAnswer(error=f"{host} has no A/AAAA record"))


HOST_KEY = object()  # run()'s default: the host's key, DKIM_KEY


def run(net, key=HOST_KEY, domain=DOMAIN, now=NOW):
    return diag.diagnose(domain, net, "mail", pem(DKIM_KEY) if key is HOST_KEY else key, now=now)


def only(findings, check):
    found = [f for f in findings if f.check == check]
    assert found, f"no {check} finding in {[f.check for f in findings]}"
    return found


def assert_finding(findings, check, status, *words):
    """Some finding `check` has `status`, each word in its line, and (not ok) an impact and a fix."""
    matching = [f for f in only(findings, check) if f.status == status and all(w in f.line() for w in words)]
    assert matching, (status, words, [f.line() for f in only(findings, check)])
    finding = matching[0]
    if status != diag.OK:
        assert finding.impact and finding.fix, finding
    return finding


def test_a_good_domain_is_all_ok():
    findings = run(FakeNet())
    assert [f.line() for f in findings if f.status != diag.OK] == []
    checks = {f.check for f in findings}
    assert checks >= {"mx", "mx.address", "port.25", "port.587", "port.465", "ptr", "ptr.helo", "cert.chain",
                      "cert.name", "cert.expiry", "tlsa", "spf.record", "spf.limits", "spf.mx", "dkim.record",
                      "dkim.key", "dkim.match", "dmarc.record", "dmarc.policy", "dmarc.rua", "dmarc.alignment",
                      "mta-sts.record", "mta-sts.policy", "tlsrpt"}
    assert len(only(findings, "spf.mx")) == 2  # one per MX address


# -- MX, addresses, PTR, HELO ------------------------------------------------------------

def test_no_mx_fails():
    net = FakeNet()
    net.dns[DOMAIN, "MX"] = []
    assert_finding(run(net), "mx", diag.FAIL, "no MX record", "dns_records_mx_host")


def test_null_mx_fails():
    net = FakeNet()
    net.dns[DOMAIN, "MX"] = [(0, "")]
    assert_finding(run(net), "mx", diag.FAIL, "null MX", "RFC 7505")


def test_an_mx_without_addresses_fails():
    net = FakeNet()
    net.dns[MX, "A"], net.dns[MX, "AAAA"] = [], []
    assert_finding(run(net), "mx.address", diag.FAIL, "no A or AAAA", "postfix_hostname")


def test_an_address_without_ptr_fails():
    net = FakeNet()
    net.dns[ipaddress.ip_address(V4).reverse_pointer, "PTR"] = []
    assert_finding(run(net), "ptr", diag.FAIL, V4, "no PTR record", "postfix_hostname")


def test_a_ptr_that_does_not_resolve_back_fails():
    net = FakeNet()
    net.dns[ipaddress.ip_address(V4).reverse_pointer, "PTR"] = ["host-10.provider.example"]
    net.dns["host-10.provider.example", "A"] = ["198.51.100.1"]
    assert_finding(run(net), "ptr", diag.FAIL, "does not resolve back", "FCrDNS")


def test_a_ptr_that_is_not_the_helo_name_fails():
    net = FakeNet()
    net.dns[ipaddress.ip_address(V6).reverse_pointer, "PTR"] = ["other.example.com"]
    net.dns["other.example.com", "AAAA"] = [V6]
    findings = run(net)
    assert_finding(findings, "ptr.helo", diag.FAIL, V6, f"HELO {MX}", "PTR is other.example.com", "postfix_hostname")
    assert_finding(findings, "ptr", diag.OK, V6)


# -- reachability --------------------------------------------------------------------------

def test_port_25_unreachable_everywhere_fails_and_points_to_a_relayhost():
    net = FakeNet()
    for address in (V4, V6):
        net.smtp_answers[address, 25] = diag.SmtpAnswer(address, 25, error="timeout")
    findings = run(net)
    assert_finding(findings, "port.25", diag.FAIL, "timeout", "postfix_relayhost", "587", "block port 25")
    assert_finding(findings, "ptr.helo", diag.WARN, "HELO name not known")


def test_port_25_on_one_address_only_warns():
    net = FakeNet()
    net.smtp_answers[V6, 25] = diag.SmtpAnswer(V6, 25, error="refused")
    assert_finding(run(net), "port.25", diag.WARN, f"{V6} refused", "retry over the others")


def test_an_mx_that_turns_this_client_away_on_25_fails():
    net = FakeNet()
    for address in (V4, V6):
        net.smtp_answers[address, 25] = diag.SmtpAnswer(
            address, 25, code=554, banner="5.7.1 Client host rejected: Port 25 is not open to this network")
    assert_finding(run(net), "port.25", diag.FAIL, "554", "mailfort_client_access.smtp: any")


@pytest.mark.parametrize("port, error", [(587, "refused"), (465, "closed right after connect"), (587, "timeout")])
def test_submission_refused_or_closed_names_the_allow_list_and_fail2ban(port, error):
    net = FakeNet()
    for address in (V4, V6):
        net.smtp_answers[address, port] = diag.SmtpAnswer(address, port, error=error)
    service = {587: "submission", 465: "submissions"}[port]
    assert_finding(run(net), f"port.{port}", diag.WARN, error, f"mailfort_client_access.{service}",
                   "fail2ban-client set postfix-sasl unbanip", "mailfort_trusted_networks", "make auth-report")


# -- certificates and TLSA -------------------------------------------------------------------

def _serve(net, der, verify_error=None, ports=(25, 587, 465)):
    for address in (V4, V6):
        for port in ports:
            net.smtp_answers[address, port].cert_der = der
            net.smtp_answers[address, port].verify_error = verify_error


def test_an_expired_certificate_fails():
    net = FakeNet()
    _serve(net, certificate([MX], not_after=NOW - dt.timedelta(days=1)))
    findings = run(net)
    assert {f.subject.split(" ")[0] for f in findings if f.check == "cert.expiry" and f.status == diag.FAIL} == {
        f"{MX}:25", f"{MX}:587", f"{MX}:465"}
    assert_finding(findings, "cert.expiry", diag.FAIL, "expired on", "tls_cert_file")


def test_a_certificate_expiring_soon_warns():
    net = FakeNet()
    _serve(net, certificate([MX], not_after=NOW + dt.timedelta(days=10)), ports=(587,))
    assert_finding(run(net), "cert.expiry", diag.WARN, f"{MX}:587", "in 10 days", "tls_renew_days")


def test_a_certificate_for_another_name_fails():
    net = FakeNet()
    _serve(net, certificate(["mail.example.net"]))
    assert_finding(run(net), "cert.name", diag.FAIL, "certificate for mail.example.net, not mx.example.com",
                   "tls_hostnames")


def test_a_wildcard_certificate_covers_one_label():
    assert records.name_matches(MX, ["*.example.com"])
    assert not records.name_matches("a.mx.example.com", ["*.example.com"])
    assert not records.name_matches("example.com", ["*.example.com"])


def test_a_chain_that_does_not_verify_fails():
    net = FakeNet()
    _serve(net, CERT, verify_error="unable to get local issuer certificate", ports=(465,))
    findings = run(net)
    assert_finding(findings, "cert.chain", diag.FAIL, f"{MX}:465", "unable to get local issuer", "tls_chain_file")
    assert_finding(findings, "cert.chain", diag.OK, f"{MX}:25")


def test_no_starttls_on_25_fails():
    net = FakeNet()
    for address in (V4, V6):
        net.smtp_answers[address, 25].starttls = False
        net.smtp_answers[address, 25].cert_der = None
    findings = run(net)
    assert_finding(findings, "cert.tls", diag.FAIL, "no STARTTLS offered", "clear text")
    assert_finding(findings, "tlsa", diag.WARN, "no certificate seen")


def test_a_tlsa_record_that_matches_no_certificate_fails():
    net = FakeNet()
    net.dns[f"_25._tcp.{MX}", "TLSA"] = [(3, 1, 1, "00" * 32)]
    assert_finding(run(net), "tlsa", diag.FAIL, "none matches the certificate on 25", "DANE", "dns_records_tlsa")


def test_a_tlsa_record_for_the_old_certificate_fails_after_a_new_one_is_installed():
    net = FakeNet()
    _serve(net, certificate([MX]))  # a new key; the record still pins CERT's
    assert_finding(run(net), "tlsa", diag.FAIL, "none matches")


def test_tlsa_full_certificate_and_sha512_records_match():
    net = FakeNet()
    net.dns[f"_25._tcp.{MX}", "TLSA"] = [(3, 0, 2, records.tlsa_data(CERT, 0, 2)),
                                         (1, 1, 0, records.tlsa_data(CERT, 1, 0))]
    assert_finding(run(net), "tlsa", diag.OK, "matches")


def test_trust_anchor_tlsa_records_are_not_compared():
    net = FakeNet()
    net.dns[f"_25._tcp.{MX}", "TLSA"] = [(2, 0, 1, "ab" * 32)]
    assert_finding(run(net), "tlsa", diag.WARN, "usage 0/2")


# -- SPF --------------------------------------------------------------------------------------

def test_no_spf_record_fails():
    net = FakeNet()
    net.dns[DOMAIN, "TXT"] = ["google-site-verification=abc"]
    assert_finding(run(net), "spf.record", diag.FAIL, "no v=spf1 record", "dns_records_spf")


def test_two_spf_records_fail():
    net = FakeNet()
    net.dns[DOMAIN, "TXT"] += ["v=spf1 mx -all"]
    assert_finding(run(net), "spf.record", diag.FAIL, "2 v=spf1 records", "permerror")


def test_spf_not_covering_an_mx_address_fails():
    net = FakeNet()
    net.dns[DOMAIN, "TXT"] = [f"v=spf1 ip4:{V4} -all"]
    findings = run(net)
    assert_finding(findings, "spf.mx", diag.FAIL, f"{V6} ({MX}): fail", "DMARC p=reject it is rejected",
                   "dns_records_spf")
    assert_finding(findings, "spf.mx", diag.OK, f"{V4} ({MX}): pass")
    # One mechanism passes, DKIM is fine: DMARC still passes, through DKIM.
    assert_finding(findings, "dmarc.alignment", diag.WARN, "does not pass")


def test_spf_softfail_warns():
    net = FakeNet()
    net.dns[DOMAIN, "TXT"] = ["v=spf1 ip4:198.51.100.0/24 ~all"]
    assert_finding(run(net), "spf.mx", diag.WARN, "softfail", "DKIM alone")


def test_spf_over_the_lookup_limit_fails():
    net = FakeNet()
    includes = [f"spf{i}.example.net" for i in range(11)]
    net.dns[DOMAIN, "TXT"] = ["v=spf1 " + " ".join(f"include:{n}" for n in includes) + f" ip4:{V4} ip6:{V6} -all"]
    for name in includes:
        net.dns[name, "TXT"] = ["v=spf1 ip4:198.51.100.1 -all"]
    findings = run(net)
    assert_finding(findings, "spf.limits", diag.FAIL, "11 of 10 DNS lookups", "dns_records_spf")
    assert_finding(findings, "spf.mx", diag.FAIL, "permerror")


def test_spf_void_lookups_over_the_limit_fail():
    net = FakeNet()
    net.dns[DOMAIN, "TXT"] = [f"v=spf1 a:gone1.example.com a:gone2.example.com a:gone3.example.com ip4:{V4} -all"]
    assert_finding(run(net), "spf.limits", diag.FAIL, "3 void")


def test_spf_is_evaluated_with_the_diagnosis_resolver_only():
    import spf

    before = spf.DNSLookup
    net = FakeNet()
    net.dns[DOMAIN, "TXT"] = ["v=spf1 mx -all"]
    assert_finding(run(net), "spf.mx", diag.OK, "pass")
    assert (DOMAIN, "MX") in net.asked and spf.DNSLookup is before


def test_a_failing_report_authorization_lookup_says_only_reports_are_lost():
    """The rua authorization record decides where reports go, not whether mail is delivered."""
    net = FakeNet()
    net.dns[f"_dmarc.{DOMAIN}", "TXT"] = ["v=DMARC1; p=reject; rua=mailto:reports@dmarc.example.net"]
    net.dns[f"{DOMAIN}._report._dmarc.dmarc.example.net", "TXT"] = diag.DnsLookupError("SERVFAIL")
    finding = assert_finding(run(net), "dmarc.rua", diag.WARN, "lookup failed", "no aggregate reports")
    assert "temperror" not in finding.impact


def test_a_failing_dns_lookup_warns_instead_of_crashing():
    net = FakeNet()
    net.dns[DOMAIN, "TXT"] = diag.DnsLookupError("SERVFAIL")
    findings = run(net)
    assert_finding(findings, "spf.record", diag.WARN, "lookup failed", "temperror")
    assert not [f for f in findings if f.status == diag.FAIL and f.check.startswith("spf")]


# -- DKIM -------------------------------------------------------------------------------------

def test_no_dkim_record_fails():
    net = FakeNet()
    del net.dns[f"mail._domainkey.{DOMAIN}", "TXT"]
    assert_finding(run(net), "dkim.record", diag.FAIL, "no TXT record", "opendkim_selector")


@pytest.mark.parametrize("record, words", [
    ("v=DKIM1; k=rsa; p=", "revoked"),
    ("v=DKIM1; k=rsa; p=not*base64", "not base64"),
    ("k=rsa; v=DKIM1; p=AAAA", "come first"),
    ("v=DKIM1; k=rsa; p=QUJD", "not an RSA public key"),
    ("v=DKIM1; k=dsa; p=QUJD", "unknown key type"),
])
def test_a_broken_dkim_record_fails(record, words):
    net = FakeNet()
    net.dns[f"mail._domainkey.{DOMAIN}", "TXT"] = [record]
    assert_finding(run(net), "dkim.record", diag.FAIL, words)


def test_a_1024_bit_dkim_key_warns():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    net = FakeNet()
    net.dns[f"mail._domainkey.{DOMAIN}", "TXT"] = [dkim_record(small)]
    assert_finding(run(net, key=pem(small, private=True)), "dkim.key", diag.WARN, "1024 bits", "opendkim_key_size")


def test_a_published_key_other_than_the_hosts_fails():
    net = FakeNet()
    net.dns[f"mail._domainkey.{DOMAIN}", "TXT"] = [dkim_record(OTHER_KEY)]
    findings = run(net)
    assert_finding(findings, "dkim.match", diag.FAIL, "DKIM_KEY's public key", "dns_records_dkim_keys")


@pytest.mark.parametrize("private", [True, False], ids=["private key", "public key"])
def test_the_hosts_key_matches_given_as_private_or_public_pem(private):
    assert_finding(run(FakeNet(), key=pem(DKIM_KEY, private=private)), "dkim.match", diag.OK)


def test_a_record_split_into_strings_with_spaces_still_parses():
    net = FakeNet()
    record = dkim_record(DKIM_KEY)
    net.dns[f"mail._domainkey.{DOMAIN}", "TXT"] = [record[:60] + " " + record[60:]]
    assert_finding(run(net), "dkim.match", diag.OK)


def test_without_a_key_file_there_is_no_match_line():
    findings = run(FakeNet(), key=None)
    assert not [f for f in findings if f.check == "dkim.match"]


# -- DMARC ------------------------------------------------------------------------------------

@pytest.mark.parametrize("record, words", [
    ("v=DMARC1; p=bogus", "p=bogus is not none"),
    ("v=DMARC1; rua=mailto:d@example.com", "p=(missing)"),
    ("v=DMARC1; p=reject; adkim=x", "adkim=x"),
    ("v=DMARC1; p=reject; pct=150", "pct=150"),
    ("v=DMARC1; p=reject; sp=maybe", "sp=maybe"),
])
def test_an_invalid_dmarc_record_fails(record, words):
    net = FakeNet()
    net.dns[f"_dmarc.{DOMAIN}", "TXT"] = [record]
    assert_finding(run(net), "dmarc.record", diag.FAIL, words, "no usable DMARC policy", "dns_records_dmarc_phase")


def test_a_record_not_starting_with_v_dmarc1_is_no_dmarc_record():
    net = FakeNet()
    net.dns[f"_dmarc.{DOMAIN}", "TXT"] = ["p=reject; v=DMARC1"]
    assert_finding(run(net), "dmarc.record", diag.FAIL, "no v=DMARC1 record")


def test_no_dmarc_record_fails_and_two_fail():
    net = FakeNet()
    net.dns[f"_dmarc.{DOMAIN}", "TXT"] = []
    assert_finding(run(net), "dmarc.record", diag.FAIL, "no v=DMARC1 record")
    net.dns[f"_dmarc.{DOMAIN}", "TXT"] = ["v=DMARC1; p=none", "v=DMARC1; p=reject"]
    assert_finding(run(net), "dmarc.record", diag.FAIL, "2 records", "ignore")


def test_dmarc_p_none_warns():
    net = FakeNet()
    net.dns[f"_dmarc.{DOMAIN}", "TXT"] = ["v=DMARC1; p=none; rua=mailto:d@example.com"]
    assert_finding(run(net), "dmarc.policy", diag.WARN, "p=none", "dns_records_dmarc_phase")


def test_reports_to_another_domain_need_its_authorization():
    net = FakeNet()
    net.dns[f"_dmarc.{DOMAIN}", "TXT"] = ["v=DMARC1; p=reject; rua=mailto:reports@dmarc.example.net"]
    assert_finding(run(net), "dmarc.rua", diag.WARN, f"{DOMAIN}._report._dmarc.dmarc.example.net", "RFC 7489 7.1")
    net.dns[f"{DOMAIN}._report._dmarc.dmarc.example.net", "TXT"] = ["v=DMARC1"]
    assert_finding(run(net), "dmarc.rua", diag.OK, "authorized by")


def test_no_aligned_pass_possible_fails_with_what_p_reject_does():
    net = FakeNet()
    net.dns[DOMAIN, "TXT"] = ["v=spf1 -all"]
    net.dns[f"mail._domainkey.{DOMAIN}", "TXT"] = [dkim_record(OTHER_KEY)]
    assert_finding(run(net), "dmarc.alignment", diag.FAIL, "p=reject", "rejected")


# -- MTA-STS and TLS-RPT ----------------------------------------------------------------------------

def test_an_enforce_policy_that_does_not_cover_the_mx_fails():
    net = FakeNet()
    net.pages[f"mta-sts.{DOMAIN}"].body = "version: STSv1\nmode: enforce\nmx: mail.example.net\nmax_age: 604800\n"
    assert_finding(run(net), "mta-sts.policy", diag.FAIL, f"does not cover {MX}", "refuse to deliver")


def test_a_wildcard_policy_covers_the_mx():
    net = FakeNet()
    net.pages[f"mta-sts.{DOMAIN}"].body = "version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 604800\n"
    assert_finding(run(net), "mta-sts.policy", diag.OK, "mode enforce")


def test_a_testing_policy_and_an_unreachable_policy_warn():
    net = FakeNet()
    net.pages[f"mta-sts.{DOMAIN}"].body = f"version: STSv1\nmode: testing\nmx: {MX}\nmax_age: 604800\n"
    assert_finding(run(net), "mta-sts.policy", diag.WARN, "mode testing", "dns_records_mta_sts_mode: enforce")
    del net.pages[f"mta-sts.{DOMAIN}"]
    assert_finding(run(net), "mta-sts.policy", diag.WARN, "no A/AAAA record", "no MTA-STS")


def test_an_invalid_enforce_policy_fails():
    net = FakeNet()
    net.pages[f"mta-sts.{DOMAIN}"].body = f"version: STSv1\nmode: enforce\nmx: {MX}\nmax_age: forever\n"
    assert_finding(run(net), "mta-sts.policy", diag.FAIL, "max_age 'forever'")


def test_missing_mta_sts_and_tlsrpt_records_warn():
    net = FakeNet()
    del net.dns[f"_mta-sts.{DOMAIN}", "TXT"]
    net.dns[f"_smtp._tls.{DOMAIN}", "TXT"] = ["v=TLSRPTv1; rua=ftp://reports"]
    findings = run(net)
    assert_finding(findings, "mta-sts.record", diag.WARN, "no MTA-STS record")
    assert_finding(findings, "tlsrpt", diag.WARN, "ftp://", "dns_records_tlsrpt_rua")


# -- output -------------------------------------------------------------------------------------

def test_each_finding_is_one_line_with_impact_and_fix_when_not_ok():
    net = FakeNet()
    net.dns[DOMAIN, "TXT"] = [f"v=spf1 ip4:{V4} -all"]
    for finding in run(net):
        line = finding.line()
        assert "\n" not in line and line.startswith(finding.status) and finding.check in line
        assert ("-- receivers: " in line and "-- fix: " in line) == (finding.status != diag.OK), line


def test_main_prints_lines_or_json_and_exits_1_on_fail(monkeypatch, capsys, tmp_path):
    net = FakeNet()
    net.dns[f"mail._domainkey.{DOMAIN}", "TXT"] = [dkim_record(OTHER_KEY)]
    # main() judges the dates against the clock: a certificate valid from now on, pinned by TLSA.
    current = certificate([MX], not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=90))
    _serve(net, current)
    net.dns[f"_25._tcp.{MX}", "TLSA"] = [(3, 1, 1, records.tlsa_data(current, 1, 1))]
    monkeypatch.setattr(cli, "LiveNet", lambda resolver, cafile, timeout: net)
    key = tmp_path / "mail.private"
    key.write_bytes(pem(DKIM_KEY, private=True))
    assert cli.main([DOMAIN, "--resolver", "192.0.2.53", "--dkim-key", str(key)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("FAIL  dkim.match") for line in out), out
    assert out[-1].startswith(f"summary: {DOMAIN}: ") and "1 FAIL" in out[-1] and "192.0.2.53" in out[-1]
    assert cli.main([DOMAIN, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["FAIL"] == 0 and {"status", "check", "subject", "observed", "impact", "fix"} <= set(
        report["findings"][0])


def test_the_resolver_must_be_an_address():
    with pytest.raises(SystemExit) as exit_info:
        cli.main([DOMAIN, "--resolver", "ns1.example.com"])
    assert exit_info.value.code == 2


def test_an_mx_question_without_answer_fails_and_stops():
    net = FakeNet()
    net.dns[DOMAIN, "MX"] = diag.DnsLookupError("REFUSED")
    findings = run(net)
    assert_finding(findings, "mx", diag.FAIL, "MX lookup failed: REFUSED", "nameservers")
    assert not [f for f in findings if f.check.startswith(("port.", "cert.", "ptr"))]


def test_a_given_resolver_is_the_only_one_asked():
    net = cli.LiveNet("192.0.2.53", None, timeout=2)
    assert net.resolver.nameservers == ["192.0.2.53"] and net.resolver.lifetime == 2


def test_an_spf_fail_under_p_none_says_dmarc_does_not_act():
    net = FakeNet()
    net.dns[DOMAIN, "TXT"] = ["v=spf1 -all"]
    net.dns[f"_dmarc.{DOMAIN}", "TXT"] = ["v=DMARC1; p=none"]
    assert_finding(run(net), "spf.mx", diag.FAIL, "fail", "does not act on it")
