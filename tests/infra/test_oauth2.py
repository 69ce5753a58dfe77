# SPDX-License-Identifier: MIT
"""OAuth 2.0 SMTP AUTH (XOAUTH2, OAUTHBEARER) through Dovecot, against the lab's
RFC 7662 introspection endpoint (role lab_oauth2: tokens.json, written here).

The lab's token account (auth: token) sends with a valid token on 587 and 465
and its mail reaches the sink; bad tokens (unknown, expired, revoked) get
Dovecot's error continuation (334 + JSON) and then 535; a token presented for
another login, a token sent as an AUTH PLAIN password, and a token for an
account that logs in with passwords are refused; the mechanisms are offered
only after TLS; with the endpoint down the login fails and nothing is relayed;
a token revoked at the endpoint is refused at the next login (no cache); sender
ownership holds for token logins. The answer without "active" is judged as
each Dovecot does (2.3.19 accepts it, 2.4 refuses it; README). Lab only.
"""
from __future__ import annotations

import base64
import json
import smtplib
import time
import uuid

import pytest
from lab_hosts import PORT_MODES, SUBMISSION_PORTS, put_file
from smtp_probe import connect
from test_auth import _wait_for

pytestmark = pytest.mark.usefixtures("lab_only")

TOKENS = "/var/lib/mailfort-lab-oauth2/tokens.json"
# A realistic bearer token (a JWT is 1 to 3 KB): longer than Postfix's default
# 2048-octet command line once the client encodes it.
LONG = "eyJ" + "x" * 2600


@pytest.fixture(scope="module")
def token_login(host_vars):
    for account in host_vars.get("mailfort_accounts") or []:
        if account.get("auth") == "token" and account.get("senders"):
            return account
    pytest.skip("no account with auth: token in the inventory")


@pytest.fixture(scope="module")
def dovecot_24(host):
    return host.check_output("dovecot --version").startswith("2.4")


@pytest.fixture
def tokens(host, token_login, probe_address, tls_context, server_name):
    """Define the endpoint's tokens for one test; none are left afterwards.

    Each test ends with one good token login from this machine: Dovecot delays every request from
    a client address after failed logins (2, 4, 8, up to 15 s, until one succeeds), and past 10 s
    Postfix gives up on it (454 "Connection lost to authentication server"). The refusals below
    must each be judged on their own, not through the penalty of the one before.
    """
    def _set(entries: dict) -> None:
        put_file(host, TOKENS, json.dumps(entries).encode())
    refused_before = REFUSED[0]
    yield _set
    if REFUSED[0] == refused_before:
        _set({})
        return
    good = "lab-reset-" + uuid.uuid4().hex
    _set({good: {"username": token_login["name"], "active": True, "scope": "smtp"}})
    try:
        assert _login(probe_address, 465, tls_context, server_name, token_login["name"], good)[-1][0] == 235
    finally:
        _set({})


def _session(probe_address, port, tls_context, server_name):
    return connect(probe_address, port, PORT_MODES[port], tls_context, server_name)


def _initial(mechanism: str, user: str, token: str) -> str:
    if mechanism == "XOAUTH2":
        raw = f"user={user}\x01auth=Bearer {token}\x01\x01"
    else:  # OAUTHBEARER (RFC 7628)
        raw = f"n,a={user},\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(raw.encode()).decode()


# Logins refused so far in this process (the tokens fixture then clears Dovecot's penalty).
REFUSED = [0]


def token_auth(smtp, mechanism: str, user: str, token: str) -> list[tuple[int, str]]:
    """AUTH with a bearer token; every reply, the error continuation (334) answered as RFC 7628 says."""
    replies = [smtp.docmd("AUTH", f"{mechanism} {_initial(mechanism, user, token)}")]
    if replies[-1][0] == 334:
        replies.append(smtp.docmd("AQ==" if mechanism == "OAUTHBEARER" else ""))
    if replies[-1][0] != 235:
        REFUSED[0] += 1
    return [(code, text.decode()) for code, text in replies]


def _login(probe_address, port, tls_context, server_name, user: str, token: str,
           mechanism: str = "XOAUTH2") -> list[tuple[int, str]]:
    """One session that only logs in with a token; its AUTH replies."""
    smtp = _session(probe_address, port, tls_context, server_name)
    try:
        return token_auth(smtp, mechanism, user, token)
    finally:
        smtp.close()


def _message(sender, recipient, token):
    return (f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: mailfort token test {token}\r\n"
            f"Message-ID: <{token}@mailfort.test>\r\n\r\nmailfort token test {token}\r\n")


# Postfix decides where AUTH is offered, the same on both distributions.
@pytest.mark.distro_independent
@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_token_mechanisms_are_offered_only_after_tls(port, probe_address, tls_context, server_name):
    if PORT_MODES[port] == "starttls":
        plain = connect(probe_address, port, "plain", None, server_name)
        try:
            assert not plain.has_extn("auth"), plain.esmtp_features
        finally:
            plain.close()
    smtp = _session(probe_address, port, tls_context, server_name)
    try:
        offered = smtp.esmtp_features.get("auth", "").upper().split()
    finally:
        smtp.close()
    assert {"XOAUTH2", "OAUTHBEARER", "PLAIN", "LOGIN"} <= set(offered), offered


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_a_valid_token_sends_and_the_mail_reaches_the_sink(port, mechanism, tokens, token_login, sink,
                                                          probe_address, tls_context, server_name, foreign_domain):
    bearer = LONG if mechanism == "XOAUTH2" else "lab-" + uuid.uuid4().hex
    tokens({bearer: {"username": token_login["name"], "active": True, "scope": "smtp"}})
    mark = uuid.uuid4().hex
    smtp = _session(probe_address, port, tls_context, server_name)
    try:
        assert token_auth(smtp, mechanism, token_login["name"], bearer)[-1][0] == 235
        sender = token_login["senders"][0]
        assert smtp.sendmail(sender, [f"someone@{foreign_domain}"], _message(sender, "someone", mark)) == {}
    finally:
        smtp.close()
    assert f"mailfort token test {mark}" in _wait_for(sink, mark)


BAD = {
    "unknown": {},
    "expired": {"exp": 1_000_000_000},
    "revoked": {"active": False},
}


# Every bad case once and the revoked token with both mechanisms: each mechanism's error
# continuation is proven, and each refusal costs Dovecot's failure delay and a penalty reset.
@pytest.mark.parametrize("case, mechanism", [("unknown", "OAUTHBEARER"), ("expired", "XOAUTH2"),
                                              ("revoked", "XOAUTH2"), ("revoked", "OAUTHBEARER")])
def test_a_bad_token_gets_the_error_continuation_then_535(case, mechanism, tokens, token_login, probe_address,
                                                         tls_context, server_name):
    bearer = "lab-" + uuid.uuid4().hex
    entries = {} if case == "unknown" else {bearer: {"username": token_login["name"], "active": True, "scope": "smtp",
                                                     **BAD[case]}}
    tokens(entries)
    replies = _login(probe_address, 587, tls_context, server_name, token_login["name"], bearer, mechanism)
    assert [code for code, _ in replies] == [334, 535], replies
    challenge = json.loads(base64.b64decode(replies[0][1]))
    assert challenge.get("status") in ({"401", "invalid_token"} if mechanism == "XOAUTH2" else {"invalid_token"}), \
        challenge
    assert replies[1][1].startswith("5.7.8"), replies


def test_an_answer_without_active_is_judged_as_the_readme_says(tokens, token_login, probe_address, tls_context,
                                                               server_name, dovecot_24):
    """RFC 7662 makes "active" mandatory. Dovecot 2.4 refuses an answer without it; Debian 12's 2.3.19 checks
    the value only when the field is there (fixed in 2.3.21), which mailfort cannot change: documented."""
    bearer = "lab-" + uuid.uuid4().hex
    tokens({bearer: {"username": token_login["name"], "omit_active": True, "scope": "smtp"}})
    final = _login(probe_address, 587, tls_context, server_name, token_login["name"], bearer)[-1][0]
    assert final == (535 if dovecot_24 else 235)


@pytest.mark.parametrize("who", ["another token login", "a password account"])
def test_a_token_is_refused_for_any_other_login(who, tokens, token_login, person, probe_address, tls_context,
                                                server_name):
    bearer = "lab-" + uuid.uuid4().hex
    if who == "another token login":  # the token is the token account's, presented as the person
        tokens({bearer: {"username": token_login["name"], "active": True, "scope": "smtp"}})
    else:  # a valid token naming the person, who logs in with a password only
        tokens({bearer: {"username": person["name"], "active": True, "scope": "smtp"}})
    assert _login(probe_address, 587, tls_context, server_name, person["name"], bearer)[-1][0] == 535


def test_a_token_sent_as_a_plain_password_is_refused(tokens, token_login, probe_address, tls_context, server_name):
    bearer = "lab-" + uuid.uuid4().hex
    tokens({bearer: {"username": token_login["name"], "active": True, "scope": "smtp"}})
    smtp = _session(probe_address, 587, tls_context, server_name)
    smtp.user, smtp.password = token_login["name"], bearer
    REFUSED[0] += 1
    try:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.auth("PLAIN", smtp.auth_plain)
    finally:
        smtp.close()
    assert refused.value.smtp_code == 535


# Postfix's sender login maps decide, the same for every login on both distributions.
@pytest.mark.distro_independent
@pytest.mark.parametrize("port", SUBMISSION_PORTS)
def test_token_logins_own_only_their_senders(port, tokens, token_login, person, probe_address, tls_context,
                                             server_name, foreign_domain):
    bearer = "lab-" + uuid.uuid4().hex
    tokens({bearer: {"username": token_login["name"], "active": True, "scope": "smtp"}})
    smtp = _session(probe_address, port, tls_context, server_name)
    try:
        assert token_auth(smtp, "XOAUTH2", token_login["name"], bearer)[-1][0] == 235
        code, text = smtp.docmd("MAIL", f"FROM:<{person['senders'][0]}>")
        if code == 250:
            code, text = smtp.docmd("RCPT", f"TO:<someone@{foreign_domain}>")
    finally:
        smtp.close()
    assert code == 553 and b"not owned by user" in text, (code, text)


def test_with_the_endpoint_down_the_login_fails_and_nothing_is_relayed(host, tokens, token_login, probe_address,
                                                                       tls_context, server_name, foreign_domain):
    bearer = "lab-" + uuid.uuid4().hex
    tokens({bearer: {"username": token_login["name"], "active": True, "scope": "smtp"}})
    host.check_output("systemctl stop mailfort-lab-introspect")
    try:
        smtp = _session(probe_address, 587, tls_context, server_name)
        try:
            started = time.monotonic()
            replies = token_auth(smtp, "XOAUTH2", token_login["name"], bearer)
            waited = time.monotonic() - started
            mail = smtp.docmd("MAIL", f"FROM:<{token_login['senders'][0]}>")
            rcpt = smtp.docmd("RCPT", f"TO:<someone@{foreign_domain}>")
        finally:
            smtp.close()
    finally:
        host.check_output("systemctl start mailfort-lab-introspect")
    assert replies[-1][0] == 535 and replies[-1][1].startswith("5.7.8"), replies
    assert waited < 15, f"the failed login took {waited:.1f}s"
    print(f"endpoint down: AUTH answered {replies[-1][0]} after {waited:.1f}s")
    # Not logged in: the recipient in a foreign domain is refused, whatever MAIL said.
    assert rcpt[0] == 554 and b"Relay access denied" in rcpt[1], (mail, rcpt)


def test_a_token_revoked_at_the_endpoint_is_refused_at_the_next_login(tokens, token_login, probe_address,
                                                                      tls_context, server_name):
    bearer = "lab-" + uuid.uuid4().hex
    tokens({bearer: {"username": token_login["name"], "active": True, "scope": "smtp"}})
    assert _login(probe_address, 465, tls_context, server_name, token_login["name"], bearer)[-1][0] == 235
    tokens({bearer: {"username": token_login["name"], "active": False}})
    # The documented bound is the next login: token answers are not cached.
    assert _login(probe_address, 465, tls_context, server_name, token_login["name"], bearer)[-1][0] == 535


def test_a_token_without_the_required_scope_is_refused(host_vars, tokens, token_login, probe_address, tls_context,
                                                       server_name):
    required = host_vars.get("dovecot_oauth2_scope") or []
    if not required:
        pytest.skip("no dovecot_oauth2_scope in this inventory")
    other = "lab-" + uuid.uuid4().hex
    tokens({other: {"username": token_login["name"], "active": True, "scope": "imap profile"}})
    replies = _login(probe_address, 587, tls_context, server_name, token_login["name"], other)
    assert replies[-1][0] == 535 and replies[-1][1].startswith("5.7.8"), replies
