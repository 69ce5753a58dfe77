#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What receivers will see of a mail domain: `make diagnose DOMAIN=example.com`.

Run from the operator's machine: DNS questions (to RESOLVER when given, e.g. the
authoritative server, else the system resolver) and connections to the MX hosts
on 25, 587 and 465 (and to mta-sts.DOMAIN on 443). No SSH, no credentials, no
mail is sent. Each finding is one line: status (ok / warn / FAIL), a stable
check id, the subject and what was observed; a finding that is not ok also says
what receivers do about it and the fix in mailfort's terms. Exit status 1 when
any finding is FAIL, 2 on bad usage.

This file is the command line and the live network (LiveNet); the checks are in
diagnose_checks.py and read their answers only through such a `net` object, so the
unit tests (tests/unit/test_diagnose_checks.py) drive every path with fake answers; the
record and certificate parsing is in diagnose_records.py.
"""
from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import socket
import ssl
import sys
from dataclasses import asdict
from pathlib import Path

from diagnose_checks import (
    CLIENT_NAME,
    FAIL,
    OK,
    PORT_TLS,
    WARN,
    DnsLookupError,
    HttpsAnswer,
    SmtpAnswer,
    diagnose,
    summary,
)


class LiveNet:
    """DNS through dnspython (RESOLVER or the system's), SMTP and HTTPS over sockets, short timeouts."""

    def __init__(self, resolver: str | None, cafile: str | None, timeout: float = 5.0):
        import dns.resolver

        self.resolver = dns.resolver.Resolver(configure=resolver is None)
        if resolver:
            self.resolver.nameservers = [resolver]
        self.resolver.lifetime = timeout
        self.cafile = cafile
        self.timeout = timeout

    def lookup(self, name: str, rtype: str) -> list:
        import dns.exception
        import dns.resolver

        try:
            answer = self.resolver.resolve(name, rtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.YXDOMAIN) as exc:
            raise DnsLookupError(str(exc).split(":")[0]) from exc
        values = []
        for rdata in answer.rrset or []:
            if rtype in ("A", "AAAA"):
                values.append(rdata.address)
            elif rtype == "MX":
                values.append((rdata.preference, rdata.exchange.to_text(True).lower()))
            elif rtype in ("TXT", "SPF"):
                values.append(b"".join(rdata.strings).decode("utf-8", "replace"))
            elif rtype == "PTR":
                values.append(rdata.target.to_text(True).lower())
            elif rtype == "TLSA":
                values.append((rdata.usage, rdata.selector, rdata.mtype, rdata.cert.hex()))
        return values

    def _context(self, verify: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.cafile)
        context.check_hostname = False  # the name is checked by cert.name, with its own finding
        if not verify:
            context.verify_mode = ssl.CERT_NONE
        return context

    def smtp(self, address: str, port: int, server_name: str) -> SmtpAnswer:
        answer = self._smtp(address, port, server_name, verify=True)
        if answer.error == "tls-verify":
            retry = self._smtp(address, port, server_name, verify=False)
            retry.verify_error = answer.detail
            return retry
        return answer

    def _smtp(self, address: str, port: int, server_name: str, verify: bool) -> SmtpAnswer:
        import smtplib

        answer = SmtpAnswer(address, port)
        mode = PORT_TLS[port]
        context = self._context(verify)
        client = smtplib.SMTP(local_hostname=CLIENT_NAME, timeout=self.timeout)
        try:
            if mode == "implicit":
                raw = socket.create_connection((address, port), timeout=self.timeout)
                client.sock = context.wrap_socket(raw, server_hostname=server_name)
                answer.cert_der = client.sock.getpeercert(binary_form=True)
                answer.code, message = client.getreply()
            else:
                answer.code, message = client.connect(address, port)
            answer.banner = message.decode(errors="replace")
            if answer.code != 220:
                return answer
            code, message = client.ehlo()
            answer.ehlo_name = message.decode(errors="replace").splitlines()[0].split(" ")[0] if code == 250 else ""
            if mode != "implicit" and client.has_extn("starttls"):
                answer.starttls = True
                code, message = client.docmd("STARTTLS")
                if code != 220:
                    answer.detail = f"{code} {message.decode(errors='replace')}"
                    return answer
                client.sock = context.wrap_socket(client.sock, server_hostname=server_name)
                client.file = None
                answer.cert_der = client.sock.getpeercert(binary_form=True)
            with contextlib.suppress(OSError, smtplib.SMTPException):
                client.quit()
        except ssl.SSLCertVerificationError as exc:
            answer.error, answer.detail = "tls-verify", exc.verify_message
        except ConnectionRefusedError:
            answer.error = "refused"
        except TimeoutError:
            answer.error = "timeout"
        except (smtplib.SMTPServerDisconnected, ConnectionResetError, EOFError, ssl.SSLEOFError):
            answer.error = "closed right after connect" if not answer.code else "closed"
        except (ssl.SSLError, smtplib.SMTPException, OSError) as exc:
            answer.error, answer.detail = "error", str(exc)
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                client.close()
        return answer

    def https(self, host: str, path: str) -> HttpsAnswer:
        import http.client

        addresses = []
        for rtype in ("A", "AAAA"):
            with contextlib.suppress(DnsLookupError):
                addresses += self.lookup(host, rtype)
        if not addresses:
            return HttpsAnswer(error=f"{host} has no A/AAAA record")
        context = ssl.create_default_context(cafile=self.cafile)
        errors = []
        for address in addresses:
            try:
                with socket.create_connection((address, 443), timeout=self.timeout) as raw, \
                        context.wrap_socket(raw, server_hostname=host) as tls:
                    tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                    response = http.client.HTTPResponse(tls)
                    response.begin()
                    body = response.read(65536).decode("utf-8", "replace")
                    return HttpsAnswer(response.status, body, response.getheader("Content-Type", ""))
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{address}: {exc}")
        return HttpsAnswer(error="; ".join(errors))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="What receivers see of a mail domain (read-only, no credentials).")
    parser.add_argument("domain")
    parser.add_argument("--resolver", help="ask this DNS server (address) instead of the system resolver")
    parser.add_argument("--cafile", help="CA bundle to verify certificates with (default: the system store)")
    parser.add_argument("--dkim-key", help="the host's DKIM key (private or public PEM) to compare with DNS")
    parser.add_argument("--selector", default="mail", help="DKIM selector (mailfort's opendkim_selector: mail)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per connection or DNS question")
    parser.add_argument("--json", action="store_true", help="JSON instead of lines")
    args = parser.parse_args(argv)
    key = Path(args.dkim_key).read_bytes() if args.dkim_key else None
    if args.resolver:
        try:
            ipaddress.ip_address(args.resolver)
        except ValueError:
            parser.error(f"--resolver {args.resolver!r} must be an IP address")
    findings = diagnose(args.domain, LiveNet(args.resolver, args.cafile, args.timeout), args.selector, key)
    counts = summary(findings)
    if args.json:
        print(json.dumps({"domain": args.domain, "resolver": args.resolver or "system", "summary": counts,
                          "findings": [asdict(f) for f in findings]}, indent=2))
    else:
        for finding in findings:
            print(finding.line())
        print(f"summary: {args.domain}: {counts[OK]} ok, {counts[WARN]} warn, {counts[FAIL]} FAIL "
              f"(resolver: {args.resolver or 'system'})")
    return 1 if counts[FAIL] else 0


if __name__ == "__main__":
    sys.exit(main())
