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
