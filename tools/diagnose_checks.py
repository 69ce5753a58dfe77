# SPDX-License-Identifier: MIT
"""The checks of `make diagnose` (tools/diagnose.py): what receivers will see of a mail domain.

Every check reads its answers through a `net` object with three methods:
lookup(name, type) (DnsLookupError when the question gets no usable answer, [] when
there is no such record), smtp(address, port, server name) -> SmtpAnswer and
https(host, path) -> HttpsAnswer. tools/diagnose.py gives the live one; the unit
tests (tests/unit/test_diagnose_checks.py) give fake answers.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import ipaddress
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from diagnose_records import (
    cert_names,
    dkim_public_key,
    dkim_tags,
    dmarc_problem,
    dmarc_tags,
    key_b64,
    load_key,
    name_matches,
    parse_sts_policy,
    public_bytes,
    same_organization,
    sts_mx_matches,
    tlsa_data,
    tlsa_matches,
)

PROJECT_DIR = Path(__file__).resolve().parents[1]

# The service ports and how each starts TLS, from their one home (module_utils/shared.py).
_spec = importlib.util.spec_from_file_location("mailfort_shared", PROJECT_DIR / "module_utils" / "shared.py")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
SERVICE_PORTS: dict[str, int] = _shared.SERVICE_PORTS
PORT_TLS = {port: _shared.SERVICE_TLS[service] for service, port in SERVICE_PORTS.items()}
MX_PORT = SERVICE_PORTS["smtp"]
SUBMISSION_PORTS = [SERVICE_PORTS[service] for service in _shared.SUBMISSION_SERVICES]

CERT_WARN_DAYS = 21
SPF_LOOKUP_LIMIT = 10  # RFC 7208 4.6.4
SPF_VOID_LIMIT = 2
# The name this tool gives in EHLO: never the machine's own (no DNS lookup for it).
CLIENT_NAME = "mailfort-diagnose.invalid"

OK, WARN, FAIL = "ok", "warn", "FAIL"

class DnsLookupError(Exception):
    """A DNS question got no usable answer (timeout, SERVFAIL, REFUSED): not the same as 'no such record'."""


@dataclass
class Finding:
    status: str
    check: str
    subject: str
    observed: str
    impact: str = ""
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4}  {self.check:<16} {self.subject}: {self.observed}"
        if self.status != OK:
            text += f" -- receivers: {self.impact} -- fix: {self.fix}"
        return text


@dataclass
class SmtpAnswer:
    """What one connection to address:port showed. error: '' or refused / timeout / closed / tls / ...."""
    address: str
    port: int
    error: str = ""
    detail: str = ""
    code: int = 0
    banner: str = ""
    ehlo_name: str = ""
    starttls: bool = False
    cert_der: bytes | None = None
    verify_error: str | None = None

    @property
    def greeted(self) -> bool:
        return not self.error and self.code == 220


@dataclass
class HttpsAnswer:
    status: int = 0
    body: str = ""
    content_type: str = ""
    error: str = ""


@dataclass
class Diagnosis:
    domain: str
    net: object
    selector: str = "mail"
    dkim_key_pem: bytes | None = None
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    findings: list[Finding] = field(default_factory=list)

    # -- helpers ---------------------------------------------------------------
    def add(self, status, check, subject, observed, impact="", fix=""):
        self.findings.append(Finding(status, check, subject, observed, impact, fix))

    def lookup(self, name: str, rtype: str, check: str, impact: str = "") -> list | None:
        """Answers, [] for none; None (and a warn line) when the question failed. `impact`: what
        receivers do when it fails (default: a message's check ends in temperror)."""
        try:
            return self.net.lookup(name, rtype)
        except DnsLookupError as exc:
            self.add(WARN, check, name, f"{rtype} lookup failed: {exc}",
                     impact or "a receiver that gets the same failure defers the message (temperror) and retries later",
                     "make the zone's nameservers answer (check the delegation and the primary's zone)")
            return None

    def txt(self, name: str, check: str, prefix: str, impact: str = "") -> list[str] | None:
        values = self.lookup(name, "TXT", check, impact)
        if values is None:
            return None
        return [v for v in values if re.match(rf"(?i){re.escape(prefix)}(\s|;|$)", v.strip())]

    # -- the run ---------------------------------------------------------------
    def run(self) -> list[Finding]:
        hosts = self.check_mx()
        addresses = {host: self.check_mx_addresses(host) for host in hosts}
        # Every connection at once: an address that drops packets costs one timeout, not one per port.
        probes = [(host, port, address) for host, host_addresses in addresses.items()
                  for port in (MX_PORT, *SUBMISSION_PORTS) for address in host_addresses]
        with ThreadPoolExecutor(max_workers=max(1, min(len(probes), 12))) as pool:
            results = dict(zip(probes, pool.map(lambda probe: self.net.smtp(probe[2], probe[1], probe[0]), probes),
                               strict=True))
        answers = {}
        for host, host_addresses in addresses.items():
            for port in (MX_PORT, *SUBMISSION_PORTS):
                answers[host, port] = [results[host, port, a] for a in host_addresses]
                if host_addresses:
                    self.check_port(host, port, answers[host, port])
            for answer in answers[host, MX_PORT]:
                self.check_ptr(answer)
            for port in (MX_PORT, *SUBMISSION_PORTS):
                self.check_certificates(host, port, answers[host, port])
            self.check_tlsa(host, answers[host, MX_PORT])
        spf_ok = self.check_spf(addresses)
        dkim_ok = self.check_dkim()
        self.check_dmarc(spf_ok, dkim_ok)
        self.check_mta_sts(hosts)
        self.check_tlsrpt()
        return self.findings

    # -- MX and addresses ------------------------------------------------------
    def check_mx(self) -> list[str]:
        try:
            records = self.net.lookup(self.domain, "MX")
        except DnsLookupError as exc:
            # Nothing else can be judged, and receivers asking the same servers cannot deliver either.
            self.add(FAIL, "mx", self.domain, f"MX lookup failed: {exc}",
                     "senders defer mail to the domain while its nameservers do not answer, and bounce it after days",
                     "make the zone's nameservers answer (check the delegation, the primary and RESOLVER)")
            return []
        fix = ("mailfort publishes one MX per host of dns_records_group serving the domain "
               "(dns_records_mx_host, dns_records_mx_preference): run playbooks/dns-records.yml")
        if not records:
            self.add(FAIL, "mx", self.domain, "no MX record",
                     "senders fall back to the domain's own A/AAAA record (RFC 5321 5.1) or bounce the mail", fix)
            return []
        shown = ", ".join(f"{pref} {host}" for pref, host in sorted(records))
        if any(host in ("", ".") for _, host in records):
            self.add(FAIL, "mx", self.domain, f"null MX ({shown}): the domain says it takes no mail",
                     "senders bounce every message to this domain at once (RFC 7505)", fix)
            return []
        self.add(OK, "mx", self.domain, shown)
        return [host for _, host in sorted(records)]

    def check_mx_addresses(self, host: str) -> list[str]:
        found, failed = [], False
        for rtype in ("A", "AAAA"):
            values = self.lookup(host, rtype, "mx.address")
            failed |= values is None
            found += values or []
        if found:
            self.add(OK, "mx.address", host, " ".join(found))
        elif not failed:
            self.add(FAIL, "mx.address", host, "the MX name has no A or AAAA record",
                     "senders cannot deliver to this MX: they try the next one, then defer and bounce after days",
                     "publish the host's addresses under postfix_hostname (the MX target, dns_records_mx_host)")
        return found

    # -- reachability ----------------------------------------------------------
    def check_port(self, host: str, port: int, answers: list[SmtpAnswer]):
        good = [a for a in answers if a.greeted]
        bad = [a for a in answers if not a.greeted]
        shown = "; ".join(_describe(a) for a in answers)
        subject = f"{host}:{port}"
        if not bad:
            self.add(OK, f"port.{port}", subject, shown)
            return
        status = WARN if good or port != MX_PORT else FAIL
        if port == MX_PORT:
            impact = "senders' servers cannot reach this MX on 25 " + (
                "over some addresses; they retry over the others" if good
                else "at all: mail to the domain is deferred and bounces after days")
            fix = ("open 25 (mailfort_client_access.smtp: any; firewall role) and check the provider: many block "
                   "port 25, in and out. If the host's provider blocks it, send through a relayhost on 587 "
                   "(postfix_relayhost: \"[smtp.provider.example]:587\", postfix_relayhost_credentials) and receive "
                   "through an MX that has 25; if only your own network blocks outbound 25, run diagnose from "
                   "elsewhere")
            if any(a.code and a.code != 220 for a in bad):
                fix = ("the server refuses this address on 25 (mailfort_client_access.smtp lists networks): an MX must "
                       "greet everyone, set mailfort_client_access.smtp: any")
        else:
            impact = (f"mail clients cannot submit on {port} from this address; the MX is not affected"
                      if not good else f"{port} answers on some addresses only")
            fix = (f"either this address is not in mailfort_client_access.{_service(port)} (the firewall drops it, "
                   "Postfix answers 554 'not open to this network'), or fail2ban banned it after failed logins "
                   "(fail2ban_maxretry within fail2ban_findtime, for fail2ban_bantime): on the host "
                   "`fail2ban-client status postfix-sasl` (and `dovecot`) lists bans, "
                   "`fail2ban-client set postfix-sasl unbanip ADDRESS` lifts one, `make auth-report` shows who failed; "
                   "list the auditor's and the office's networks in mailfort_trusted_networks (never banned)")
        self.add(status, f"port.{port}", subject, shown, impact, fix)

    # -- PTR and HELO ------------------------------------------------------------
    def check_ptr(self, answer: SmtpAnswer):
        address = answer.address
        reverse = ipaddress.ip_address(address).reverse_pointer
        names = self.lookup(reverse, "PTR", "ptr")
        if names is None:
            return
        fix_ptr = ("ask whoever owns the address (the hosting provider) to set its PTR to postfix_hostname, "
                   "which must resolve back to this address")
        if not names:
            self.add(FAIL, "ptr", address, f"no PTR record ({reverse})",
                     "many receivers (Gmail, Microsoft, most Postfix sites with reject_unknown_client_hostname) reject "
                     "or junk mail from an address without reverse DNS", fix_ptr)
            return
        confirmed = [n for n in names if address in (self.net_lookup_quiet(n, "A") + self.net_lookup_quiet(n, "AAAA"))]
        if not confirmed:
            self.add(FAIL, "ptr", address, f"PTR {', '.join(names)} does not resolve back to {address}",
                     "receivers that require forward-confirmed reverse DNS (FCrDNS) reject or junk the mail "
                     "('client hostname unknown')", fix_ptr + "; publish the A/AAAA record of that name")
            return
        self.add(OK, "ptr", address, f"PTR {confirmed[0]}, resolves back")
        if not answer.greeted:
            self.add(WARN, "ptr.helo", address, f"HELO name not known: port 25 {_describe(answer)}",
                     "receivers compare the PTR with the name in the server's EHLO",
                     "make port 25 reachable to compare")
            return
        helo = answer.ehlo_name or answer.banner.split(" ")[0]
        if helo.lower().rstrip(".") in {n.lower() for n in confirmed}:
            self.add(OK, "ptr.helo", address, f"HELO {helo} = PTR")
        else:
            self.add(FAIL, "ptr.helo", address, f"the server says HELO {helo}, PTR is {', '.join(confirmed)}",
                     "the same server sends with that HELO: receivers that match HELO against reverse DNS (Microsoft, "
                     "spam filters) score or reject it",
                     "make postfix_hostname (myhostname, the HELO) the PTR name, "
                     "or have the PTR set to postfix_hostname")

    def net_lookup_quiet(self, name: str, rtype: str) -> list:
        try:
            return self.net.lookup(name, rtype)
        except DnsLookupError:
            return []

    # -- certificates ----------------------------------------------------------------
    def check_certificates(self, host: str, port: int, answers: list[SmtpAnswer]):
        groups: dict[bytes, list[SmtpAnswer]] = {}
        for answer in answers:
            if answer.cert_der:
                groups.setdefault(answer.cert_der, []).append(answer)
        for answer in answers:
            if answer.greeted and not answer.cert_der and port == MX_PORT:
                self.add(FAIL, "cert.tls", f"{host}:{port} [{answer.address}]",
                         "no STARTTLS offered" if not answer.starttls else f"STARTTLS failed: {answer.detail}",
                         "mail to this MX travels in clear text; "
                         "senders with MTA-STS enforce or DANE refuse to deliver",
                         "the postfix role enables STARTTLS on 25 with postfix_tls_cert_file: converge the host")
        for der, group in groups.items():
            subject = f"{host}:{port} [{', '.join(a.address for a in group)}]"
            self.check_certificate(subject, host, port, der, group[0].verify_error)

    def check_certificate(self, subject: str, host: str, port: int, der: bytes, verify_error: str | None):
        from cryptography import x509

        cert = x509.load_der_x509_certificate(der)
        who = ("senders with MTA-STS enforce or DANE refuse to deliver (opportunistic TLS senders still deliver)"
               if port == MX_PORT else "mail clients refuse to connect or make the user accept the certificate")
        fix = ("tls_source: files with tls_cert_file (full chain) and tls_key_file covering postfix_hostname "
               "(tls_hostnames); the tls role checks chain, names and dates before installing")
        if verify_error:
            self.add(FAIL, "cert.chain", subject, f"does not verify: {verify_error} (issuer {_name(cert.issuer)})",
                     who, fix + "; include the intermediates (tls_chain_file)")
        else:
            self.add(OK, "cert.chain", subject, f"verifies (issuer {_name(cert.issuer)})")
        names = cert_names(cert)
        if name_matches(host, names):
            self.add(OK, "cert.name", subject, f"covers {host}")
        else:
            self.add(FAIL, "cert.name", subject, f"certificate for {', '.join(names) or 'no name'}, not {host}",
                     who, fix + f"; add {host} to tls_hostnames or point the MX at a name the certificate covers")
        days = (cert.not_valid_after_utc - self.now).total_seconds() / 86400
        end = cert.not_valid_after_utc.strftime("%Y-%m-%d")
        if days < 0:
            self.add(FAIL, "cert.expiry", subject, f"expired on {end}", who, fix + "; install a renewed certificate")
        elif days < CERT_WARN_DAYS:
            self.add(WARN, "cert.expiry", subject, f"expires {end}, in {int(days)} days",
                     "nothing yet; the day it expires: " + who, fix + "; renew (tls_renew_days) now")
        else:
            self.add(OK, "cert.expiry", subject, f"valid until {end} ({int(days)} days)")

    # -- TLSA ----------------------------------------------------------------------
    def check_tlsa(self, host: str, answers: list[SmtpAnswer]):
        name = f"_{MX_PORT}._tcp.{host}"
        records = self.lookup(name, "TLSA", "tlsa")
        if records is None:
            return
        fix = ("dns_records_tlsa: true publishes 3 1 1 of the host certificate's key (dns_records_tlsa_cert_file); "
               "after a key change publish the new record first (playbooks/dns-records.yml), then switch")
        if not records:
            self.add(WARN, "tlsa", name, "no TLSA record (DANE not used)",
                     "DANE senders use opportunistic TLS for this MX", fix + " (and sign the zone with DNSSEC)")
            return
        shown = "; ".join(f"{u} {s} {m} {d[:16]}..." for u, s, m, d in records)
        ders = {a.cert_der for a in answers if a.cert_der}
        if not ders:
            self.add(WARN, "tlsa", name, f"{shown}; no certificate seen on {MX_PORT} to compare",
                     "cannot tell", "make port 25 reachable from here to compare")
            return
        for der in ders:
            matching = [r for r in records if tlsa_matches(r, der)]
            comparable = [r for r in records if r[0] in (1, 3)]
            if matching:
                self.add(OK, "tlsa", name, f"{shown}: matches the certificate on {MX_PORT}")
            elif not comparable:
                self.add(WARN, "tlsa", name, f"{shown}: only trust-anchor records (usage 0/2), not compared",
                         "cannot tell from the leaf certificate alone", fix)
            else:
                self.add(FAIL, "tlsa", name,
                         f"{shown}: none matches the certificate on {MX_PORT} (3 1 1 {tlsa_data(der, 1, 1)[:16]}...)",
                         "DANE senders (Postfix smtp_tls_security_level=dane, Exchange Online) defer mail to this MX "
                         "and finally bounce it, when the zone is DNSSEC-signed", fix)

    # -- SPF -----------------------------------------------------------------------
    def check_spf(self, addresses: dict[str, list[str]]) -> bool:
        records = self.txt(self.domain, "spf.record", "v=spf1")
        if records is None:
            return False
        fix = ("dns_records publishes one SPF record covering every mail server of the domain "
               "(dns_records_spf, dns_records_spf_host_addresses; a relayhost's include: in dns_records_spf): "
               "run playbooks/dns-records.yml")
        if not records:
            self.add(FAIL, "spf.record", self.domain, "no v=spf1 record",
                     "SPF result none: DMARC can pass through DKIM only; Gmail and Yahoo junk or reject bulk mail "
                     "without SPF", fix)
            return False
        if len(records) > 1:
            self.add(FAIL, "spf.record", self.domain, f"{len(records)} v=spf1 records: {' | '.join(records)}",
                     "permerror for every message (RFC 7208 4.5): SPF never passes, with DMARC p=reject mail that "
                     "is not DKIM-aligned is rejected", fix + "; remove the records mailfort does not own")
            return False
        self.add(OK, "spf.record", self.domain, records[0])
        self.check_spf_limits(records[0])
        passed = True
        for host, host_addresses in addresses.items():
            for address in host_addresses:
                result, explanation = self.spf_result(address, host)
                observed = f"{address} ({host}): {result}" + (f" ({explanation}; {records[0]})" if explanation else "")
                if result == "pass":
                    self.add(OK, "spf.mx", self.domain, observed)
                    continue
                passed = False
                if result in ("fail", "permerror"):
                    self.add(FAIL, "spf.mx", self.domain, observed,
                             f"mail this server sends as @{self.domain} gets SPF {result}: many receivers reject "
                             f"-all failures outright; {self.dmarc_consequence()}", fix)
                else:
                    self.add(WARN, "spf.mx", self.domain, observed,
                             f"SPF {result} is no pass: DMARC relies on DKIM alone", fix)
        return passed

    def dmarc_consequence(self) -> str:
        """What the domain's DMARC policy makes of mail that fails SPF, for the SPF findings."""
        records = [v for v in self.net_lookup_quiet(f"_dmarc.{self.domain}", "TXT") if v.startswith("v=DMARC1")]
        tags = dmarc_tags(records[0]) if len(records) == 1 else {}
        policy = tags.get("p", "").lower() if not dmarc_problem(tags) else ""
        if policy in ("reject", "quarantine"):
            done = "rejected" if policy == "reject" else "junked"
            return f"with this domain's DMARC p={policy} it is {done} unless DKIM aligns"
        return "DMARC (p=none or no valid record) does not act on it, receivers' own filters do"

    def spf_result(self, address: str, host: str) -> tuple[str, str]:
        import spf

        saved = spf.DNSLookup
        spf.DNSLookup = self._spf_lookup
        try:
            result, explanation = spf.check2(i=address, s=f"postmaster@{self.domain}", h=host, timeout=10)
        finally:
            spf.DNSLookup = saved
        return result, explanation if result != "pass" else ""

    def _spf_lookup(self, name, qtype, tcpfallback=True, timeout=30):
        """pyspf's DNS function, answered by this diagnosis' resolver."""
        import spf

        try:
            values = self.net.lookup(name, qtype)
        except DnsLookupError as exc:
            raise spf.TempError(f"DNS {exc}") from exc
        if qtype in ("TXT", "SPF"):
            return [((name, qtype), [v.encode()]) for v in values]
        return [((name, qtype), v) for v in values]

    def check_spf_limits(self, record: str):
        lookups, voids, seen = 0, 0, set()

        def walk(text: str, depth: int):
            nonlocal lookups, voids
            for term in text.split()[1:]:
                mechanism = term.lstrip("+-~?").lower()
                kind = re.split(r"[:=/]", mechanism, maxsplit=1)[0]
                target = mechanism.split(":", 1)[1] if ":" in mechanism else (
                    mechanism.split("=", 1)[1] if "=" in mechanism else self.domain)
                if kind in ("a", "mx", "ptr", "exists", "include", "redirect"):
                    lookups += 1
                if kind in ("include", "redirect") and target not in seen and depth < 10:
                    seen.add(target)
                    found = [v for v in self.net_lookup_quiet(target, "TXT") if v.lower().startswith("v=spf1")]
                    if not found:
                        voids += 1
                    else:
                        walk(found[0], depth + 1)
                elif kind in ("a", "mx") and "%" not in target:
                    name = target.split("/")[0]
                    rtype = "MX" if kind == "mx" else "A"
                    if not self.net_lookup_quiet(name, rtype) and not (
                            kind == "a" and self.net_lookup_quiet(name, "AAAA")):
                        voids += 1

        walk(record, 0)
        observed = f"{lookups} of {SPF_LOOKUP_LIMIT} DNS lookups, {voids} void (limit {SPF_VOID_LIMIT})"
        fix = ("flatten the record: fewer include:/a/mx terms in dns_records_spf (dns_records_spf_host_addresses "
               "lists the servers' addresses instead of names); the dns_records role checks these limits")
        if lookups > SPF_LOOKUP_LIMIT or voids > SPF_VOID_LIMIT:
            self.add(FAIL, "spf.limits", self.domain, observed,
                     "permerror (RFC 7208 4.6.4): SPF never passes; with DMARC p=reject mail that is not "
                     "DKIM-aligned is rejected", fix)
        elif lookups > SPF_LOOKUP_LIMIT - 2:
            self.add(WARN, "spf.limits", self.domain, observed,
                     "still evaluated; one more include: upstream makes it permerror", fix)
        else:
            self.add(OK, "spf.limits", self.domain, observed)

    # -- DKIM ----------------------------------------------------------------------
    def check_dkim(self) -> bool:
        name = f"{self.selector}._domainkey.{self.domain}"
        values = self.lookup(name, "TXT", "dkim.record")
        if values is None:
            return False
        fix = ("the opendkim role makes a key per selector (opendkim_selector, opendkim_selectors_published) and "
               "dns_records publishes it from opendkim_public_keys: run playbooks/dns-records.yml")
        missing = "every signature with this selector fails (no key): DMARC relies on SPF alone"
        if not values:
            self.add(FAIL, "dkim.record", name, "no TXT record", missing,
                     fix + " (or give SELECTOR= the selector the host signs with; mailfort's default is mail)")
            return False
        if len(values) > 1:
            self.add(FAIL, "dkim.record", name, f"{len(values)} TXT records", "DKIM verification is undefined "
                     "(RFC 6376 3.6.2.2): most verifiers fail the signature", fix)
            return False
        try:
            tags = dkim_tags(values[0])
            kind, public = dkim_public_key(tags)
        except ValueError as exc:
            self.add(FAIL, "dkim.record", name, f"{exc}: {_short(values[0])}", missing, fix)
            return False
        self.add(OK, "dkim.record", name, _short(values[0]))
        size = getattr(public, "key_size", 256)
        if kind == "rsa" and size < 1024:
            self.add(FAIL, "dkim.key", name, f"RSA {size} bits",
                     "RFC 8301: verifiers treat signatures with keys under 1024 bits as failed",
                     "opendkim_key_size: 2048, then rotate (opendkim_selectors_published)")
            return False
        if kind == "rsa" and size < 2048:
            self.add(WARN, "dkim.key", name, f"RSA {size} bits", "accepted, but 1024-bit keys are being phased out",
                     "opendkim_key_size: 2048, then rotate (opendkim_selectors_published)")
        elif tags.get("t", "").lower().startswith("y"):
            self.add(WARN, "dkim.key", name, f"{kind} {size} bits, t=y (testing)",
                     "verifiers may treat failures as if unsigned", "drop t=y from the record")
        else:
            self.add(OK, "dkim.key", name, f"{kind} {size} bits")
        if self.dkim_key_pem is None:
            return True
        try:
            expected = load_key(self.dkim_key_pem)
        except ValueError as exc:
            self.add(WARN, "dkim.match", name, f"DKIM_KEY not usable: {exc}", "cannot tell",
                     "give the key file from the host (/etc/opendkim/keys/...) or its public half")
            return True
        if public_bytes(expected) == public_bytes(public):
            self.add(OK, "dkim.match", name, "published p= is DKIM_KEY's public key")
            return True
        self.add(FAIL, "dkim.match", name,
                 f"published p=...{key_b64(public)[-16:]}, DKIM_KEY's public key p=...{key_b64(expected)[-16:]}",
                 "every message the host signs with this key fails DKIM (dkim=fail): DMARC relies on SPF alone, "
                 "with p=reject forwarded mail is rejected",
                 "publish the host's key: playbooks/dns-records.yml (dns_records_dkim_keys from opendkim_public_keys);"
                 " to change keys use opendkim_selectors_published, then opendkim_selector")
        return False

    # -- DMARC ---------------------------------------------------------------------
    def check_dmarc(self, spf_ok: bool, dkim_ok: bool):
        name = f"_dmarc.{self.domain}"
        records = self.txt(name, "dmarc.record", "v=DMARC1")
        if records is None:
            return
        fix = ("dns_records publishes it: dns_records_dmarc_phase (none, quarantine:10/50/100, reject) and "
               "dns_records_dmarc (rua, adkim, aspf): run playbooks/dns-records.yml")
        if not records:
            self.add(FAIL, "dmarc.record", name, "no v=DMARC1 record",
                     "receivers apply their own policy; Gmail and Yahoo require DMARC from bulk senders and junk or "
                     "reject without it; anyone can send as @" + self.domain, fix)
            return
        if len(records) > 1:
            self.add(FAIL, "dmarc.record", name, f"{len(records)} records", "receivers ignore DMARC for the domain "
                     "(RFC 7489 6.6.3)", fix)
            return
        tags = dmarc_tags(records[0])
        problem = dmarc_problem(tags)
        if problem:
            self.add(FAIL, "dmarc.record", name, f"{problem}: {records[0]}",
                     "the domain counts as having no usable DMARC policy (RFC 7489 6.6.3): no protection, "
                     "no reports", fix)
            return
        self.add(OK, "dmarc.record", name, records[0])
        policy = tags["p"].lower()
        if policy == "none":
            self.add(WARN, "dmarc.policy", name, "p=none (monitoring only)",
                     f"mail failing DMARC, including forgeries From: @{self.domain}, is delivered normally",
                     "after the reports show your own mail passes, advance dns_records_dmarc_phase: "
                     "quarantine:10 -> quarantine:50 -> quarantine:100 -> reject")
        else:
            self.add(OK, "dmarc.policy", name, f"p={policy}" + (f" pct={tags['pct']}" if "pct" in tags else ""))
        self.check_dmarc_rua(name, tags)
        self.check_alignment(name, tags, policy, spf_ok, dkim_ok)

    def check_dmarc_rua(self, name: str, tags: dict):
        if "rua" not in tags:
            self.add(WARN, "dmarc.rua", name, "no rua: no aggregate reports",
                     "receivers send no reports: you will not see who sends as your domain",
                     "dns_records_dmarc: {rua: [mailto:dmarc-reports@DOMAIN]} (delivered to mailfort_postmaster)")
            return
        for uri in (u.strip() for u in tags["rua"].split(",")):
            if not uri.lower().startswith("mailto:"):
                self.add(WARN, "dmarc.rua", name, f"{uri} is not a mailto: URI",
                         "most receivers send aggregate reports by mail only", "use mailto: in dns_records_dmarc.rua")
                continue
            target = uri[7:].split("!")[0].rpartition("@")[2].lower().rstrip(".")
            if same_organization(target, self.domain):
                self.add(OK, "dmarc.rua", name, uri)
                continue
            auth = f"{self.domain}._report._dmarc.{target}"
            values = self.txt(auth, "dmarc.rua", "v=DMARC1",
                              f"a receiver that cannot read {auth} sends no aggregate reports to {target}; "
                              "the mail itself is not affected")
            if values is None:
                continue
            if values:
                self.add(OK, "dmarc.rua", name, f"{uri} (authorized by {auth})")
            else:
                self.add(WARN, "dmarc.rua", name, f"{uri}: another domain, and {auth} has no v=DMARC1 record",
                         f"receivers send no reports to {target} (RFC 7489 7.1)",
                         f"publish \"v=DMARC1\" at {auth}, or use an address of {self.domain} in dns_records_dmarc.rua")

    def check_alignment(self, name: str, tags: dict, policy: str, spf_ok: bool, dkim_ok: bool):
        modes = f"adkim={tags.get('adkim', 'r')} aspf={tags.get('aspf', 'r')}"
        note = (f"SPF for MAIL FROM @{self.domain} {'passes' if spf_ok else 'does not pass'}, DKIM d={self.domain} "
                f"(selector {self.selector}) {'usable' if dkim_ok else 'not usable'}; mailfort sends with envelope, "
                f"From: and d= all in {self.domain}, so both align ({modes})")
        if spf_ok and dkim_ok:
            self.add(OK, "dmarc.alignment", name, note)
        elif spf_ok or dkim_ok:
            self.add(WARN, "dmarc.alignment", name, note,
                     "DMARC passes through one mechanism only: forwarding breaks SPF, a broken key breaks DKIM",
                     "fix the spf.* / dkim.* findings above")
        else:
            action = {"reject": "rejected", "quarantine": "junked"}.get(policy, "delivered, but fails DMARC")
            self.add(FAIL, "dmarc.alignment", name, note,
                     f"no aligned pass is possible: with p={policy} the domain's own mail is {action}",
                     "fix the spf.* and dkim.* findings above")

    # -- MTA-STS and TLS-RPT ---------------------------------------------------------
    def check_mta_sts(self, hosts: list[str]):
        name = f"_mta-sts.{self.domain}"
        records = self.txt(name, "mta-sts.record", "v=STSv1")
        if records is None:
            return
        fix = ("dns_records_mta_sts_mode (testing, then enforce) and dns_records_mta_sts_max_age; the policy file "
               "must be served at https://mta-sts." + self.domain + "/.well-known/mta-sts.txt with a valid certificate")
        if not records:
            self.add(WARN, "mta-sts.record", name, "no MTA-STS record",
                     "senders use TLS opportunistically: an attacker on the path can strip STARTTLS", fix)
            return
        match = re.search(r"(?:^|;)\s*id=([A-Za-z0-9]{1,32})\s*(?:;|$)", records[0])
        if len(records) > 1 or not match:
            self.add(WARN, "mta-sts.record", name, " | ".join(records),
                     "senders treat the domain as having no MTA-STS (RFC 8461 3.1)", fix)
            return
        self.add(OK, "mta-sts.record", name, records[0])
        policy_host = f"mta-sts.{self.domain}"
        answer = self.net.https(policy_host, "/.well-known/mta-sts.txt")
        url = f"https://{policy_host}/.well-known/mta-sts.txt"
        if answer.error or answer.status != 200:
            self.add(WARN, "mta-sts.policy", url, answer.error or f"HTTP {answer.status}",
                     "senders without a cached policy treat the domain as having no MTA-STS; with a cached "
                     "enforce policy they keep using it until max_age",
                     fix + " (the web server is not mailfort's, #15)")
            return
        policy, problem = parse_sts_policy(answer.body)
        if problem:
            self.add(FAIL if policy.get("mode") == "enforce" else WARN, "mta-sts.policy", url, problem,
                     "senders ignore an invalid policy (RFC 8461 3.2)", fix)
            return
        uncovered = [h for h in hosts if not any(sts_mx_matches(p, h) for p in policy["mx"])]
        shown = f"mode {policy['mode']}, mx {', '.join(policy['mx'])}, max_age {policy['max_age']}"
        if uncovered and policy["mode"] == "enforce":
            self.add(FAIL, "mta-sts.policy", url, f"{shown}: does not cover {', '.join(uncovered)}",
                     "MTA-STS senders (Gmail, Microsoft) refuse to deliver to an MX outside the policy: mail is "
                     "deferred, then bounced", "the policy's mx lines come from the MX names: publish the policy "
                     "computed by dns_records (mta_sts_policy) and bump its id")
        elif uncovered:
            self.add(WARN, "mta-sts.policy", url, f"{shown}: does not cover {', '.join(uncovered)}",
                     "testing mode: delivered, but reported as failures (TLS-RPT)", fix)
        elif int(policy["max_age"]) < 86400:
            self.add(WARN, "mta-sts.policy", url, shown, "senders cache the policy only briefly: little protection",
                     "dns_records_mta_sts_max_age: 604800 or more")
        elif policy["mode"] != "enforce":
            self.add(WARN, "mta-sts.policy", url, shown,
                     f"mode {policy['mode']}: senders deliver even when TLS fails, and only report it",
                     "after clean TLS-RPT reports, dns_records_mta_sts_mode: enforce")
        else:
            self.add(OK, "mta-sts.policy", url, shown)

    def check_tlsrpt(self):
        name = f"_smtp._tls.{self.domain}"
        records = self.txt(name, "tlsrpt", "v=TLSRPTv1")
        if records is None:
            return
        fix = "dns_records_tlsrpt_rua: [mailto:tls-reports@" + self.domain + "]"
        if not records:
            self.add(WARN, "tlsrpt", name, "no TLS-RPT record",
                     "senders send no reports about failed TLS to your MX", fix)
        elif len(records) > 1 or not re.search(r"rua=(mailto:|https:)", records[0]):
            self.add(WARN, "tlsrpt", name, " | ".join(records), "senders ignore the record (RFC 8460 3)", fix)
        else:
            self.add(OK, "tlsrpt", name, records[0])


def _service(port: int) -> str:
    return {p: s for s, p in SERVICE_PORTS.items()}[port]


def _describe(answer: SmtpAnswer) -> str:
    if answer.error:
        return f"{answer.address} {answer.error}" + (f" ({answer.detail})" if answer.detail else "")
    return f"{answer.address} {answer.code} {answer.banner}".rstrip()


def _name(name) -> str:
    return name.rfc4514_string() or "empty"


def _short(text: str) -> str:
    return text if len(text) < 90 else text[:60] + "..." + text[-16:]


def diagnose(domain: str, net, selector: str = "mail", dkim_key_pem: bytes | None = None,
             now: dt.datetime | None = None) -> list[Finding]:
    diagnosis = Diagnosis(domain.lower().rstrip("."), net, selector, dkim_key_pem)
    if now is not None:
        diagnosis.now = now
    return diagnosis.run()


def summary(findings: list[Finding]) -> dict[str, int]:
    return {status: sum(f.status == status for f in findings) for status in (OK, WARN, FAIL)}
