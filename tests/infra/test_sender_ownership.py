# SPDX-License-Identifier: MIT
"""Sender ownership, the header half: the From: header of mail from a login must be one
of the login's own addresses (rspamd's milter, roles/rspamd), as the envelope sender
must be (Postfix's reject_sender_login_mismatch, tests/test_auth.py). OpenDKIM signs by
the From: domain, so without this any login could send DKIM-valid mail "From: ceo@".

Every message here uses an envelope sender the login owns: only the header is forged,
and each forgery must be refused at the end of DATA with its own 554 5.7.1 reply."""
from __future__ import annotations

import base64
import json
import smtplib
import time
import uuid

import pytest
from lab_hosts import PORT_MODES, PORT_SERVICES, SUBMISSION_PORTS, global_addresses
from smtp_probe import connect
from test_auth import _wait_for

# rspamd's milter listens (its Unix socket, or its TCP port when the socket is off).
RSPAMD_LISTENING = "(ss -Hlx; ss -Hltn 'sport = :11332') | grep -qE 'rspamd/milter[.]sock|:11332'"


def _message(from_lines: list[str], recipient: str, token: str) -> str:
    headers = "".join(f"{line}\r\n" for line in from_lines)
    return (f"{headers}To: <{recipient}>\r\nSubject: mailfort sender ownership {token}\r\n"
            f"Message-ID: <{token}@mailfort.test>\r\n\r\nmailfort sender ownership test {token}\r\n")


def _submit(probe_address, port, tls_context, server_name, account, from_lines, recipient, token):
    """Send as `account` with its own envelope sender; return (code, text) of the end of DATA
    (250 when accepted), or of whichever command was refused first."""
    smtp = connect(probe_address, port, PORT_MODES[port], tls_context, server_name)
    try:
        smtp.login(account["name"], account["password"])
        try:
            smtp.sendmail(account.get("senders", [account["name"]])[0], [recipient],
                          _message(from_lines, recipient, token))
        except smtplib.SMTPRecipientsRefused as error:
            (code, text), = error.recipients.values()
            return code, text.decode()
        except smtplib.SMTPResponseException as error:
            return error.smtp_code, error.smtp_error.decode()
        return 250, "accepted"
    finally:
        smtp.close()


def _encoded_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def _domain(account):
    return account["name"].split("@")[1]


# name -> (From: lines given the login's own address and its domain, refusal text after "554 5.7.1 ").
# {own} is an address the login owns, {other} one another account owns, {domain} the login's domain.
FORGERIES = {
    "another_accounts_address": (["From: <{other}>"], "From: header address <{other}> not owned by login {login}"),
    "ceo_of_our_domain": (["From: <ceo@{domain}>"], "From: header address <ceo@{domain}> not owned by login {login}"),
    "foreign_domain": (["From: <ceo@{foreign}>"], "From: header address <ceo@{foreign}> not owned by login {login}"),
    # The addr-spec counts: a display name showing an owned address does not make it owned.
    "own_address_as_display_name": (['From: "{own}" <ceo@{foreign}>'],
                                    "From: header address <ceo@{foreign}> not owned by login {login}"),
    # ...and what most clients show is the display name: it must not show another address.
    "other_address_as_display_name": (['From: "ceo@{domain}" <{own}>'],
                                      "From: display name shows <ceo@{domain}>, not owned by login {login}"),
    "other_address_in_an_encoded_display_name": (["From: {encoded_ceo} <{own}>"],
                                                 "From: display name shows <ceo@{domain}>, not owned by login {login}"),
    "two_from_addresses": (["From: <{own}>, <ceo@{domain}>"],
                           "From: header must hold exactly one address, it holds 2 (login {login})"),
    "two_from_headers": (["From: <{own}>", "From: <ceo@{domain}>"],
                         "message has 2 From: headers, one is allowed (login {login})"),
    "missing_from_header": ([], "message has no From: header (login {login})"),
    "group_without_address": (["From: undisclosed-recipients:;"],
                              "From: header address is not valid (login {login})"),
}

# name -> From: lines the login may use.
GENUINE = {
    "own_address_with_a_display_name": ["From: Alice Example <{own}>"],
    "own_address_in_other_case": ['From: "Alice" <{own_upper}>'],
    "own_address_with_an_encoded_display_name": ["From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <{own}>"],
}


def _fill(lines, person, application, foreign_domain):
    """The From: lines with the values put in; `application` (the other account) may be None when
    no line names {other}."""
    own = person["senders"][0]
    other = application["senders"][0] if application else None
    values = {"own": own, "own_upper": own.upper(), "other": other, "domain": _domain(person),
              "foreign": foreign_domain, "login": person["name"].lower(),
              "encoded_ceo": _encoded_word(f"ceo@{_domain(person)}")}
    return [line.format(**values) for line in lines], values


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_from_header_is_refused(forgery, port, request, person, probe_address, tls_context, server_name,
                                       foreign_domain):
    """Only the forgery with another account's address needs a second account (an audit has one)."""
    lines, expected = FORGERIES[forgery]
    application = request.getfixturevalue("application") if "{other}" in "".join(lines) + expected else None
    from_lines, values = _fill(lines, person, application, foreign_domain)
    code, text = _submit(probe_address, port, tls_context, server_name, person, from_lines,
                         f"someone@{foreign_domain}", uuid.uuid4().hex)
    assert (code, text) == (554, "5.7.1 " + expected.format(**values)), (forgery, from_lines)


# Lab: messages with the login's own From: are accepted and sent (a real host would deliver them).
@pytest.mark.lab
@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_forgery_over_ipv6_is_refused_and_own_address_accepted(port, host, host_vars, person, application,
                                                               tls_context, server_name, foreign_domain):
    """The same milter behind the IPv6 listeners (the lab is dual-stack; a host without IPv6 skips)."""
    address = host_vars.get("mailfort_probe_address6") or global_addresses(host).get(6)
    if not address:
        pytest.skip("the host has no global IPv6 address (set mailfort_probe_address6)")
    lines, expected = FORGERIES["ceo_of_our_domain"]
    from_lines, values = _fill(lines, person, application, foreign_domain)
    assert _submit(address, port, tls_context, server_name, person, from_lines, f"someone@{foreign_domain}",
                   uuid.uuid4().hex) == (554, "5.7.1 " + expected.format(**values))
    own, _ = _fill(GENUINE["own_address_with_a_display_name"], person, application, foreign_domain)
    assert _submit(address, port, tls_context, server_name, person, own, f"someone@{foreign_domain}",
                   uuid.uuid4().hex) == (250, "accepted")


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
@pytest.mark.parametrize("variant", list(GENUINE))
def test_own_from_header_is_accepted_and_delivered(variant, port, person, application, sink, probe_address,
                                                   tls_context, server_name, foreign_domain):
    from_lines, _ = _fill(GENUINE[variant], person, application, foreign_domain)
    token = uuid.uuid4().hex
    assert _submit(probe_address, port, tls_context, server_name, person, from_lines,
                   f"someone@{foreign_domain}", token) == (250, "accepted"), from_lines
    assert f"mailfort sender ownership {token}" in _wait_for(sink, token)


# Lab: messages with the login's own From: are accepted and sent (a real host would deliver them).
@pytest.mark.lab
@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_application_uses_each_of_its_addresses_but_not_its_logins_siblings(port, application, person,
                                                                            probe_address, tls_context,
                                                                            server_name, foreign_domain):
    for sender in application["senders"]:
        assert _submit(probe_address, port, tls_context, server_name, application, [f"From: <{sender}>"],
                       f"someone@{foreign_domain}", uuid.uuid4().hex) == (250, "accepted"), sender
    own = person["senders"][0]
    assert _submit(probe_address, port, tls_context, server_name, application, [f"From: <{own}>"],
                   f"someone@{foreign_domain}", uuid.uuid4().hex) == (
        554, f"5.7.1 From: header address <{own}> not owned by login {application['name'].lower()}")


def test_header_and_envelope_checks_grant_the_same_addresses(host):
    """One source: rspamd's map holds exactly the sender -> logins pairs of Postfix's smtpd_sender_login_maps."""
    def pairs(path):
        lines = host.file(path).content_string.splitlines()
        return sorted(line.split() for line in lines if line.strip() and not line.startswith("#"))

    postfix = pairs(host.check_output("postconf -h smtpd_sender_login_maps").split(":", 1)[1])
    assert postfix
    assert pairs("/etc/rspamd/mailfort/sender_logins.map") == postfix


def test_rspamd_runs_no_stock_module_and_fetches_nothing(host):
    """The milter checks the From: header and nothing else: every module rspamd ships is
    switched off in its effective configuration (rspamadm configdump), so it fetches no maps
    from maps.rspamd.com and asks no outside service, not even at the start during
    installation (its log since then). surbl and emails have no section of their own: rspamd
    turns their rules into rbl rules, and rbl is off."""
    shipped = sorted(name.removesuffix(".conf") for name in
                     host.check_output("ls /etc/rspamd/modules.d").split() if name.endswith(".conf"))
    assert "multimap" in shipped
    config = json.loads(host.check_output("rspamadm configdump -j 2>/dev/null"))
    running = [name for name in shipped
               if config.get(name) not in (None, [], {}) and config[name].get("enabled") is not False]
    assert running == [], f"stock rspamd modules not switched off: {running}"
    fetched = host.run("grep -F maps.rspamd.com /var/log/rspamd/rspamd.log").stdout.splitlines()
    assert fetched == [], "rspamd loaded remote maps:\n" + "\n".join(fetched[:5])


def test_only_postfix_reaches_the_rspamd_milter(host):
    """rspamd's protocols have no authentication: its milter is a Unix socket that only group
    postfix may use (the default), or else a loopback TCP port, never an outside address."""
    milters = host.check_output("postconf -h mailfort_submission_milters")
    rspamd = [m.strip() for m in milters.split(",") if "rspamd" in m or ":11332" in m]
    assert rspamd, milters
    if rspamd[0].startswith("unix:"):
        socket = host.file("/var/spool/postfix/" + rspamd[0].removeprefix("unix:"))
        directory = host.file(socket.path.rsplit("/", 1)[0])
        assert (directory.user, directory.group, directory.mode) == ("_rspamd", "postfix", 0o2750)
        assert socket.is_socket and (socket.group, socket.mode & 0o777) == ("postfix", 0o660)
        assert socket.path in host.check_output("ss -Hlx"), "rspamd does not listen on its socket"
    else:
        assert rspamd[0].startswith(("inet:127.", "inet:[::1]")), rspamd


# Lab: the message is delivered into the account's mailbox.
@pytest.mark.lab
def test_port_25_mail_is_not_held_to_a_login(person, probe_address, tls_context, server_name, foreign_domain):
    """Inbound mail has no login: the header rule must not touch it (no milter on port 25)."""
    smtp = connect(probe_address, 25, PORT_MODES[25], tls_context, server_name)
    try:
        token = uuid.uuid4().hex
        refused = smtp.sendmail(f"someone@{foreign_domain}", [person["name"]],
                                _message([f"From: <ceo@{_domain(person)}>"], person["name"], token))
    finally:
        smtp.close()
    assert refused == {}


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_submission_fails_closed_while_rspamd_is_down(port, lab_only, host, person, probe_address, tls_context,
                                                      server_name, foreign_domain):
    """milter_default_action=tempfail: without the checker, submission is deferred (4xx), never accepted
    unchecked. Postfix cannot reach the milter at CONNECT (its log: 451 4.7.1) and then answers the
    session's next command with a temporary error (Postfix 3.7: 454 4.3.0 to STARTTLS on 587, to AUTH
    on 465); the reply must be transient, and the log must name the milter as the cause."""
    since = host.check_output("date '+%Y-%m-%d %H:%M:%S'")
    host.check_output("systemctl stop rspamd")
    try:
        try:
            code, text = _submit(probe_address, port, tls_context, server_name, person,
                                 [f"From: <{person['senders'][0]}>"], f"someone@{foreign_domain}", uuid.uuid4().hex)
        except smtplib.SMTPResponseException as error:
            code, text = error.smtp_code, error.smtp_error.decode()
    finally:
        host.check_output("systemctl start rspamd")
        for _ in range(60):
            if host.run(RSPAMD_LISTENING).rc == 0:
                break
            time.sleep(1)
    assert 400 <= code < 500 and text.startswith("4."), (code, text)
    log = host.check_output(f"journalctl --no-pager --since '{since}' | grep -F 'milter-reject: CONNECT' || true")
    service = PORT_SERVICES[port]
    assert any(f"postfix/{service}/smtpd" in line and "451 4.7.1 Service unavailable - try again later" in line
               for line in log.splitlines()), log
