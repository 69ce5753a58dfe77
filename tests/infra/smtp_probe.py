# SPDX-License-Identifier: MIT
"""Raw SMTP probes for the testinfra suite.

Commands are sent verbatim (smtplib's mail()/rcpt() would re-quote odd
addresses such as "@[IP]:user@domain" and change what is being tested).
Every probe opens its own connection, so Postfix's error limits can never end
a run early and make the remaining probes pass by default.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass

HELO = "probe.example.com"


@dataclass(frozen=True)
class Reply:
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


def _reply(pair) -> Reply:
    code, text = pair
    return Reply(code, text.decode(errors="replace") if isinstance(text, bytes) else str(text))


class _ImplicitTLS(smtplib.SMTP_SSL):
    """SMTP over implicit TLS whose certificate check uses the server's name, not the address dialled."""

    def __init__(self, server_name: str, **kwargs):
        self._server_name = server_name
        super().__init__(**kwargs)

    def _get_socket(self, host, port, timeout):
        raw = socket.create_connection((host, port), timeout)
        return self.context.wrap_socket(raw, server_hostname=self._server_name)


def connect(address: str, port: int, mode: str, context: ssl.SSLContext | None, server_name: str,
            timeout: float = 20) -> smtplib.SMTP:
    """Open an SMTP session: mode 'plain', 'starttls' (STARTTLS, then EHLO again) or 'implicit' (465)."""
    if mode == "implicit":
        smtp = _ImplicitTLS(server_name, timeout=timeout, context=context or ssl.create_default_context())
        smtp.connect(address, port)
    else:
        smtp = smtplib.SMTP(timeout=timeout)
        smtp.connect(address, port)
        smtp._host = server_name  # STARTTLS checks the certificate against this name
    smtp.ehlo(HELO)
    if mode == "starttls":
        smtp.starttls(context=context)
        smtp.ehlo(HELO)
    return smtp


def envelope(smtp: smtplib.SMTP, sender: str, recipient: str) -> tuple[Reply, Reply]:
    """Send MAIL FROM and RCPT TO verbatim; return both replies."""
    mail = _reply(smtp.docmd("MAIL", "FROM:<>" if sender == "<>" else f"FROM:<{sender}>"))
    rcpt = _reply(smtp.docmd("RCPT", f"TO:<{recipient}>"))
    return mail, rcpt


def probe(address: str, port: int, mode: str, context, server_name: str, sender: str, recipient: str):
    """One relay probe on a fresh connection; returns (MAIL reply, RCPT reply, local address)."""
    smtp = connect(address, port, mode, context, server_name)
    try:
        local = smtp.sock.getsockname()[0]
        mail, rcpt = envelope(smtp, sender, recipient)
        try:
            smtp.docmd("QUIT")
        except smtplib.SMTPException:
            pass
        return mail, rcpt, local
    finally:
        smtp.close()


def relay_variants(domain: str, server_name: str, ip: str) -> list[tuple[str, str]]:
    """The 16 classic relay-test envelopes (MAIL FROM, RCPT TO)."""
    lit = f"[{ip}]" if ":" not in ip else f"[IPv6:{ip}]"
    variants = [
        ("<>", f"relaytest@{domain}"),
        (f"antispam@{domain}", f"relaytest@{domain}"),
        (f"antispam@{server_name}", f"relaytest@{domain}"),
        (f"antispam@{lit}", f"relaytest@{domain}"),
    ]
    for rcpt in (
        f"relaytest%{domain}@{lit}", f"relaytest%{domain}@{server_name}",
        f'"relaytest@{domain}"', f'"relaytest%{domain}"',
        f"relaytest@{domain}@{lit}", f'"relaytest@{domain}"@{lit}', f"relaytest@{domain}@{server_name}",
        f"@{lit}:relaytest@{domain}", f"@{server_name}:relaytest@{domain}",
        f"{domain}!relaytest", f"{domain}!relaytest@{lit}", f"{domain}!relaytest@{server_name}",
    ):
        variants.append((f"antispam@{lit}", rcpt))
    return variants


def tls_handshake(address: str, port: int, mode: str, context: ssl.SSLContext, server_name: str):
    """Return (protocol, cipher) of a completed handshake, or raise ssl.SSLError/OSError."""
    if mode == "implicit":
        with socket.create_connection((address, port), timeout=20) as raw:
            with context.wrap_socket(raw, server_hostname=server_name) as tls:
                return tls.version(), tls.cipher()[0]
    smtp = connect(address, port, "plain", None, server_name)
    try:
        smtp.starttls(context=context)
        return smtp.sock.version(), smtp.sock.cipher()[0]
    finally:
        smtp.close()
