# SPDX-License-Identifier: MIT
"""Raw SMTP probes for the testinfra suite.

Commands are sent verbatim (smtplib's mail()/rcpt() would re-quote odd
addresses such as "@[IP]:user@domain" and change what is being tested).
Every probe opens its own connection, so Postfix's error limits can never end
a run early and make the remaining probes pass by default.
"""
from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from dataclasses import dataclass

# Port -> how a client starts a session there. This script also runs alone on
# the lab's client hosts (standard library only), so it keeps its own copy of
# module_utils/shared.py's service ports; tests/unit/test_shared_validators.py
# checks that the two agree.
PORT_MODES = {25: "plain", 587: "starttls", 465: "implicit"}

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


class ConnectTimeoutError(TimeoutError):
    """The TCP connection itself was never answered (a firewall drop), as opposed
    to a connection that was accepted and then stayed silent (no banner)."""


def _tcp_connect(host, port, timeout):
    try:
        return socket.create_connection((host, port), timeout)
    except TimeoutError as err:
        raise ConnectTimeoutError(f"no answer to the TCP connection to {host}:{port} within {timeout}s") from err


class _SMTP(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        return _tcp_connect(host, port, timeout)


class _ImplicitTLS(smtplib.SMTP_SSL):
    """SMTP over implicit TLS whose certificate check uses the server's name, not the address dialled."""

    def __init__(self, server_name: str, **kwargs):
        self._server_name = server_name
        super().__init__(**kwargs)

    def _get_socket(self, host, port, timeout):
        raw = _tcp_connect(host, port, timeout)
        return self.context.wrap_socket(raw, server_hostname=self._server_name)


def connect(address: str, port: int, mode: str, context: ssl.SSLContext | None, server_name: str,
            timeout: float = 20) -> smtplib.SMTP:
    """Open an SMTP session: mode 'plain', 'starttls' (STARTTLS, then EHLO again) or 'implicit' (465)."""
    if mode == "implicit":
        smtp = _ImplicitTLS(server_name, timeout=timeout, context=context or ssl.create_default_context())
        smtp.connect(address, port)
    else:
        smtp = _SMTP(timeout=timeout)
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


def probe(address: str, port: int, mode: str, context, server_name: str, sender: str, recipient: str,
          timeout: float = 20):
    """One relay probe on a fresh connection; returns (MAIL reply, RCPT reply, local address)."""
    smtp = connect(address, port, mode, context, server_name, timeout=timeout)
    try:
        local = smtp.sock.getsockname()[0]
        mail, rcpt = envelope(smtp, sender, recipient)
        with contextlib.suppress(smtplib.SMTPException):
            smtp.docmd("QUIT")
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
        with socket.create_connection((address, port), timeout=20) as raw, \
                context.wrap_socket(raw, server_hostname=server_name) as tls:
            return tls.version(), tls.cipher()[0]
    smtp = connect(address, port, "plain", None, server_name)
    try:
        smtp.starttls(context=context)
        return smtp.sock.version(), smtp.sock.cipher()[0]
    finally:
        smtp.close()


# --- Command line: the same probes run from other hosts (tests/infra/topology) ---
# The script is copied to a client host and run there with the system python3;
# it prints JSON, so the test on the controller sees exactly what the client saw.

def failure_kind(err: BaseException) -> str:
    """A short, stable name for why a session could not be had.

    "connect-timeout": the TCP connection was never answered (what a firewall
    drop looks like); "timeout": connected, then no reply in time (a banner or
    command timeout) - never evidence of a drop."""
    if isinstance(err, ConnectTimeoutError):
        return "connect-timeout"
    if isinstance(err, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(err, ConnectionRefusedError):
        return "refused"
    if isinstance(err, ConnectionResetError):
        return "reset"
    if isinstance(err, ssl.SSLError):
        return f"tls: {err.reason or err}"
    if isinstance(err, smtplib.SMTPServerDisconnected):
        # smtplib turns a read timeout into "Connection unexpectedly closed: timed out".
        return "timeout" if "timed out" in str(err) else "disconnected"
    return f"{type(err).__name__}: {err}"


def _context(ca_file):
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


def greet(address: str, port: int, mode: str, context, server_name: str, timeout: float = 8) -> dict:
    """Connect (TLS first on 465) and return the greeting, or why there was none."""
    smtp = _ImplicitTLS(server_name, timeout=timeout, context=context) if mode == "implicit" else _SMTP(timeout=timeout)
    try:
        code, text = smtp.connect(address, port)
        return {"code": code, "text": text.decode(errors="replace"), "local": smtp.sock.getsockname()[0]}
    except (OSError, smtplib.SMTPException) as err:
        return {"error": failure_kind(err)}
    finally:
        smtp.close()


def greet_all(addresses: list[str], ports: list[int], context, server_name: str, timeout: float = 8) -> list[dict]:
    """greet() every address on every port at the same time (drops time out together, not one by one)."""
    from concurrent.futures import ThreadPoolExecutor

    modes = PORT_MODES
    jobs = [(address, port) for address in addresses for port in ports]

    def run(job):
        address, port = job
        return {"address": address, "port": port,
                **greet(address, port, modes.get(port, "plain"), context, server_name, timeout)}

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def authenticate(address: str, port: int, mode: str, context, server_name: str, user: str, password: str,
                 sender: str | None = None, recipient: str | None = None, timeout: float = 8) -> dict:
    """AUTH PLAIN on a fresh session; with sender and recipient, also send a short message."""
    import base64

    try:
        smtp = connect(address, port, mode, context, server_name, timeout=timeout)
    except (OSError, smtplib.SMTPException) as err:
        return {"error": failure_kind(err), "stage": "connect"}
    try:
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        auth = _reply(smtp.docmd("AUTH", f"PLAIN {token}"))
        result = {"auth": [auth.code, auth.text], "local": smtp.sock.getsockname()[0]}
        if auth.code == 235 and sender and recipient:
            mail, rcpt = envelope(smtp, sender, recipient)
            result["mail"], result["rcpt"] = [mail.code, mail.text], [rcpt.code, rcpt.text]
            if rcpt.code == 250:
                message = f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: mailfort probe\r\n\r\nprobe\r\n"
                data = _reply(smtp.data(message.encode()))
                result["data"] = [data.code, data.text]
        return result
    except (OSError, smtplib.SMTPException) as err:
        return {"error": failure_kind(err), "stage": "session"}
    finally:
        smtp.close()


def auth_burst(address: str, port: int, mode: str, context, server_name: str, user: str, password: str,
               count: int, timeout: float = 8) -> list:
    """`count` AUTH sessions one after another (right password, so no failure delay): each one's AUTH
    reply as [code, text], or [0, failure kind]. Stops at the first refused AUTH."""
    replies = []
    for _ in range(count):
        out = authenticate(address, port, mode, context, server_name, user, password, timeout=timeout)
        replies.append(out["auth"] if "auth" in out else [0, out["error"]])
        if replies[-1][0] != 235:
            break
    return replies


def relay_suite(address: str, ports: list[int], context, server_name: str, domain: str,
                timeout: float = 8, workers: int = 8) -> list[dict]:
    """All 16 relay variants on each port, each on its own connection, `workers` at a time
    (at most 8 where the server answers: the per-client connection limit is 10)."""
    from concurrent.futures import ThreadPoolExecutor

    modes = PORT_MODES
    jobs = [(port, index, sender, recipient) for port in ports
            for index, (sender, recipient) in enumerate(relay_variants(domain, server_name, address))]

    def run(job):
        port, index, sender, recipient = job
        outcome = {"port": port, "variant": index + 1, "sender": sender, "recipient": recipient}
        try:
            mail, rcpt, local = probe(address, port, modes[port], context, server_name, sender, recipient, timeout)
            outcome.update(mail=[mail.code, mail.text], rcpt=[rcpt.code, rcpt.text], local=local)
        except (OSError, smtplib.SMTPException) as err:
            outcome["error"] = failure_kind(err)
        return outcome

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, jobs))


def hold(address: str, port: int, count: int, timeout: float = 8) -> list:
    """Open `count` plain connections one after another and keep them all open; return each greeting."""
    sessions, greetings = [], []
    try:
        for _ in range(count):
            smtp = _SMTP(timeout=timeout)
            try:
                code, text = smtp.connect(address, port)
                greetings.append([code, text.decode(errors="replace")])
            except (OSError, smtplib.SMTPException) as err:
                greetings.append([0, failure_kind(err)])
            sessions.append(smtp)
    finally:
        for smtp in sessions:
            smtp.close()
    return greetings


def main(argv=None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(description="mailfort SMTP probes (JSON on stdout)")
    parser.add_argument("command", choices=["greet", "greet-all", "auth", "auth-burst", "relay", "hold"])
    parser.add_argument("--address", required=True, help="comma-separated for greet-all")
    parser.add_argument("--server-name", required=True)
    parser.add_argument("--ca-file")
    parser.add_argument("--port", type=int, default=587)
    parser.add_argument("--ports", default="25,587,465")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--sender")
    parser.add_argument("--recipient")
    parser.add_argument("--domain", default="example.invalid")
    parser.add_argument("--timeout", type=float, default=8)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    context = _context(args.ca_file)
    mode = PORT_MODES.get(args.port, "plain")
    if args.command == "greet":
        out = greet(args.address, args.port, mode, context, args.server_name, args.timeout)
    elif args.command == "greet-all":
        out = greet_all(args.address.split(","), [int(p) for p in args.ports.split(",")], context,
                        args.server_name, args.timeout)
    elif args.command == "auth":
        out = authenticate(args.address, args.port, mode, context, args.server_name, args.user, args.password,
                           args.sender, args.recipient, args.timeout)
    elif args.command == "auth-burst":
        out = auth_burst(args.address, args.port, mode, context, args.server_name, args.user, args.password,
                         args.count, args.timeout)
    elif args.command == "hold":
        out = hold(args.address, args.port, args.count, args.timeout)
    else:
        out = relay_suite(args.address, [int(p) for p in args.ports.split(",")], context, args.server_name,
                          args.domain, args.timeout, args.workers)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
