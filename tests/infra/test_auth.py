# SPDX-License-Identifier: MIT
"""Authentication: never on 25, only after TLS on 587, only with the right password,
and a login may only use the envelope senders it owns."""
from __future__ import annotations

import smtplib
import socket
import time
import uuid

import pytest
from lab_hosts import PORT_MODES, SUBMISSION_PORTS
from smtp_probe import connect


def _session(probe_address, port, tls_context, server_name):
    return connect(probe_address, port, PORT_MODES[port], tls_context, server_name)


def test_port_25_never_offers_auth(probe_address, tls_context, server_name):
    for mode in ("plain", "starttls"):
        smtp = connect(probe_address, 25, mode, tls_context, server_name)
        try:
            assert not smtp.has_extn("auth"), (
                f"AUTH offered on port 25 ({mode}): 250-AUTH {smtp.esmtp_features['auth'].strip()}")
        finally:
            smtp.close()


def test_587_offers_auth_only_after_starttls(probe_address, tls_context, server_name):
    smtp = connect(probe_address, 587, "plain", None, server_name)
    try:
        assert smtp.has_extn("starttls")
        assert not smtp.has_extn("auth"), "AUTH offered before STARTTLS on 587"
        code, text = smtp.docmd("MAIL", "FROM:<antispam@example.com>")
        assert (code, b"Must issue a STARTTLS command first" in text) == (530, True), (code, text)
    finally:
        smtp.close()
    smtp = connect(probe_address, 587, "starttls", tls_context, server_name)
    try:
        mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
        assert {"PLAIN", "LOGIN"} <= set(mechanisms), mechanisms
    finally:
        smtp.close()


def test_465_refuses_a_plaintext_session(probe_address):
    with socket.create_connection((probe_address, 465), timeout=10) as raw:
        raw.settimeout(5)
        try:
            banner = raw.recv(512)
        except TimeoutError:
            banner = b""
    assert not banner.startswith(b"220"), f"465 answered in plaintext: {banner!r}"


# One wrong password per audit run (fail2ban counts each): 587 in the credentialed tier,
# 465 in the lab only.
@pytest.mark.parametrize("port", [587, pytest.param(465, marks=pytest.mark.lab)])
def test_wrong_password_is_refused(port, person, probe_address, tls_context, server_name):
    smtp = _session(probe_address, port, tls_context, server_name)
    try:
        with pytest.raises(smtplib.SMTPAuthenticationError) as error:
            smtp.login(person["name"], person["password"] + "-wrong")
        assert error.value.smtp_code == 535, error.value
    finally:
        smtp.close()


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_right_password_authenticates(port, person, probe_address, tls_context, server_name):
    """AUTH succeeds; the session ends there (QUIT), nothing is sent."""
    smtp = _session(probe_address, port, tls_context, server_name)
    try:
        code, text = smtp.login(person["name"], person["password"])
        assert code == 235, f"{port}: AUTH as {person['name']}: {code} {text.decode()}"
    finally:
        smtp.close()


def _send(probe_address, port, tls_context, server_name, account, sender, recipient, token):
    smtp = _session(probe_address, port, tls_context, server_name)
    try:
        smtp.login(account["name"], account["password"])
        message = (f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: mailfort test {token}\r\n"
                   f"Message-ID: <{token}@mailfort.test>\r\n\r\nmailfort test message {token}\r\n")
        return smtp.sendmail(sender, [recipient], message)
    finally:
        smtp.close()


def _refusal(error: smtplib.SMTPException) -> tuple[int, str]:
    """Code and text of a refused envelope, whether Postfix said no at MAIL or (delayed) at RCPT."""
    if isinstance(error, smtplib.SMTPSenderRefused):
        return error.smtp_code, error.smtp_error.decode()
    (code, text), = error.recipients.values()
    return code, text.decode()


def _wait_for(sink, token, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        # new/ only: a message in tmp/ is still being written, and moves to new/ (Maildir).
        found = sink.run(f"grep -rl -- {token} /var/mail/sink/new")
        if found.rc == 0 and found.stdout.strip():
            return sink.file(found.stdout.split()[0]).content_string
        time.sleep(2)
    pytest.fail(f"message {token} did not arrive at the sink within {seconds}s")


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_right_password_sends_and_mail_arrives_at_the_sink(port, person, sink, probe_address, tls_context,
                                                           server_name, foreign_domain):
    token = uuid.uuid4().hex
    refused = _send(probe_address, port, tls_context, server_name, person, person["senders"][0],
                    f"someone@{foreign_domain}", token)
    assert refused == {}
    stored = _wait_for(sink, token)
    assert f"mailfort test {token}" in stored


def _domain_of(account):
    return account["name"].split("@")[1]


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_login_cannot_send_as_an_address_it_does_not_own(port, person, test_accounts, probe_address, tls_context,
                                                         server_name, foreign_domain):
    """Another account's address when the inventory has a second one; else (an audit with one
    account) an address of the login's own domain that no account has."""
    others = [a for a in test_accounts if a["name"] != person["name"] and a.get("senders")]
    unowned = f"mailfort-audit-{uuid.uuid4().hex[:8]}@{_domain_of(person)}"
    foreign_sender = others[0]["senders"][0] if others else unowned
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused)) as error:
        _send(probe_address, port, tls_context, server_name, person, foreign_sender,
              f"someone@{foreign_domain}", uuid.uuid4().hex)
    code, text = _refusal(error.value)
    assert code == 553 and f"not owned by user {person['name']}" in text, (code, text)


# Lab: the first message is accepted and sent (a real host would deliver it).
@pytest.mark.lab
@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_application_account_sends_only_as_its_own_addresses(port, application, person, probe_address,
                                                             tls_context, server_name, foreign_domain):
    assert _send(probe_address, port, tls_context, server_name, application, application["senders"][-1],
                 f"someone@{foreign_domain}", uuid.uuid4().hex) == {}
    for not_owned in (person["senders"][0], f"ceo@{person['name'].split('@')[1]}"):
        with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused)) as error:
            _send(probe_address, port, tls_context, server_name, application, not_owned,
                  f"someone@{foreign_domain}", uuid.uuid4().hex)
        code, text = _refusal(error.value)
        assert code == 553 and f"not owned by user {application['name']}" in text, (not_owned, code, text)


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_unknown_recipient_in_our_domain_is_refused_at_rcpt(port, person, probe_address, tls_context, server_name):
    """An authenticated client gets the same 550 at RCPT as port 25 gives, instead of a bounce later
    (10,000 such messages would be 10,000 bounces in the sender's mailbox)."""
    domain = person["name"].split("@")[1]
    recipient = f"no-such-user-{uuid.uuid4().hex[:8]}@{domain}"
    with pytest.raises(smtplib.SMTPRecipientsRefused) as error:
        _send(probe_address, port, tls_context, server_name, person, person["senders"][0], recipient,
              uuid.uuid4().hex)
    code, text = _refusal(error.value)
    assert code == 550 and "User unknown" in text, (port, code, text)


@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_login_cannot_send_with_the_null_sender(port, person, probe_address, tls_context, server_name,
                                                foreign_domain):
    """reject_sender_login_mismatch skips <>: without its own check any login could send
    bounce-shaped mail that no sender address is held to."""
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused)) as error:
        _send(probe_address, port, tls_context, server_name, person, "", f"someone@{foreign_domain}",
              uuid.uuid4().hex)
    code, text = _refusal(error.value)
    assert code == 553 and "The null sender is not allowed on submission" in text, (port, code, text)


# How soon after Dovecot is back a login must work again: Dovecot's start plus Postfix's
# service_throttle_time (mailfort: 10s), with room for a busy machine; Postfix's default 60 s fails it.
RECOVERY_SECONDS = 30


def _login_works(port, person, probe_address, tls_context, server_name) -> str:
    """'' when a new session logs in, else what went wrong."""
    try:
        smtp = connect(probe_address, port, PORT_MODES[port], tls_context, server_name, timeout=5)
    except (OSError, smtplib.SMTPException) as error:
        return f"{type(error).__name__}: {error}"
    try:
        code, text = smtp.login(person["name"], person["password"])
        return "" if code == 235 else f"AUTH: {code} {text.decode()}"
    except (OSError, smtplib.SMTPException) as error:
        return f"{type(error).__name__}: {error}"
    finally:
        smtp.close()


def test_submission_logs_in_again_soon_after_dovecot_was_down(lab_only, host, person, probe_address, tls_context,
                                                               server_name):
    """While Dovecot (the SASL server) is down, new submission sessions cannot log in; Postfix 3.7's
    smtpd even exits with 'fatal: no SASL authentication mechanisms', and its master then holds the
    service back for service_throttle_time ('bad command startup -- throttling'), 60 s by default. A
    Dovecot restart (an upgrade, mailfort's own handler) must not stop submission for a minute:
    once Dovecot is back, a new session on each submission port logs in within RECOVERY_SECONDS."""
    since = host.check_output("date '+%Y-%m-%d %H:%M:%S'")
    host.check_output("systemctl stop dovecot")
    try:
        # New sessions while the auth socket is gone (on Postfix 3.7 each smtpd that starts dies).
        down = [(port, _login_works(port, person, probe_address, tls_context, server_name))
                for port in SUBMISSION_PORTS for _ in range(3)]
    finally:
        host.check_output("systemctl start dovecot")
    started = time.monotonic()
    assert all(error for _, error in down), f"a login worked while Dovecot was stopped: {down}"
    errors = {}
    while time.monotonic() - started < RECOVERY_SECONDS:
        errors = {port: error for port in SUBMISSION_PORTS
                  if (error := _login_works(port, person, probe_address, tls_context, server_name))}
        if not errors:
            break
        time.sleep(1)
    log = host.check_output(f"journalctl --no-pager --since '{since}' "
                            "| grep -E 'throttling|no SASL authentication mechanisms' | tail -n 4 || true")
    assert not errors, (f"{RECOVERY_SECONDS} s after Dovecot started, logins still fail: {errors}; "
                        f"service_throttle_time={host.check_output('postconf -h service_throttle_time')}; "
                        f"Postfix logged: {log}")
