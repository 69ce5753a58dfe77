# SPDX-License-Identifier: MIT
"""Port 25 as MX: mail for our own mailboxes is accepted and delivered (LMTP into
Maildir); unknown users and accounts without a mailbox are refused permanently."""
from __future__ import annotations

import time
import uuid

import pytest
from smtp_probe import connect, envelope


@pytest.fixture(scope="module")
def mailbox_account(test_accounts):
    for account in test_accounts:
        if account.get("mailbox", True):
            return account
    pytest.skip("no account with a mailbox in the inventory")


def test_mail_for_a_mailbox_is_delivered_into_maildir(host, lab_only, mailbox_account, probe_address,
                                                      server_name):
    token = uuid.uuid4().hex
    smtp = connect(probe_address, 25, "plain", None, server_name)
    try:
        refused = smtp.sendmail("sender@example.net", [mailbox_account["name"]],
                                f"Subject: inbound {token}\r\nMessage-ID: <{token}@example.net>\r\n\r\n{token}\r\n")
    finally:
        smtp.close()
    assert refused == {}
    local, domain = mailbox_account["name"].split("@")
    maildir = f"/var/vmail/{domain}/{local}/Maildir/new"
    for _ in range(30):
        if host.run(f"grep -rlq -- {token} {maildir}").rc == 0:
            return
        time.sleep(1)
    pytest.fail(f"message {token} was not delivered into {maildir}")


def test_unknown_user_in_our_domain_is_refused(probe_address, server_name, mailbox_account):
    domain = mailbox_account["name"].split("@")[1]
    smtp = connect(probe_address, 25, "plain", None, server_name)
    try:
        _, rcpt = envelope(smtp, "sender@example.net", f"no-such-user-{uuid.uuid4().hex[:8]}@{domain}")
    finally:
        smtp.close()
    assert rcpt.code == 550 and "User unknown" in rcpt.text, rcpt


def test_account_without_mailbox_receives_nothing(test_accounts, probe_address, server_name):
    senders_only = [a for a in test_accounts if not a.get("mailbox", True)]
    if not senders_only:
        pytest.skip("no account with mailbox: false in the inventory")
    smtp = connect(probe_address, 25, "plain", None, server_name)
    try:
        _, rcpt = envelope(smtp, "sender@example.net", senders_only[0]["name"])
    finally:
        smtp.close()
    assert rcpt.code == 550 and "User unknown" in rcpt.text, rcpt


def _report_mailboxes(host_vars, domains):
    """mailto: report addresses the DNS records advertise (DMARC rua/ruf, TLS-RPT) in our domains."""
    dmarc = host_vars.get("dns_records_dmarc") or {}
    uris = list(dmarc.get("rua", [])) + list(dmarc.get("ruf", [])) + list(host_vars.get("dns_records_tlsrpt_rua") or [])
    found = [u[len("mailto:"):].split("!")[0].lower() for u in uris if u.lower().startswith("mailto:")]
    return [a for a in found if a.rpartition("@")[2] in domains]


def test_role_and_report_addresses_are_delivered(host, host_vars, lab_only, probe_address, server_name):
    """postmaster@ (RFC 5321) and abuse@ (RFC 2142) of every domain, and the DMARC/TLS-RPT report
    mailboxes the records advertise, reach the postmaster's mailbox instead of "User unknown"."""
    domains = [d.lower() for d in host_vars["mailfort_domains"]]
    postmaster = host_vars["mailfort_postmaster"].lower()
    wanted = [f"{local}@{domain}" for domain in domains for local in ("postmaster", "abuse")]
    wanted += _report_mailboxes(host_vars, domains)
    assert len(wanted) >= 2 * len(domains), wanted
    tokens = {}
    smtp = connect(probe_address, 25, "plain", None, server_name)
    try:
        for address in wanted:
            tokens[address] = token = uuid.uuid4().hex
            message = f"Subject: to {address} {token}\r\nMessage-ID: <{token}@example.net>\r\n\r\n{token}\r\n"
            refused = smtp.sendmail("reporter@example.net", [address], message)
            assert refused == {}, (address, refused)
    finally:
        smtp.close()
    local, domain = postmaster.split("@")
    maildir = f"/var/vmail/{domain}/{local}/Maildir/new"
    missing = dict(tokens)
    for _ in range(30):
        missing = {a: t for a, t in missing.items() if host.run(f"grep -rlq -- {t} {maildir}").rc != 0}
        if not missing:
            return
        time.sleep(1)
    pytest.fail(f"not delivered into {maildir} (the postmaster's mailbox): {sorted(missing)}")
