# SPDX-License-Identifier: MIT
"""mailfort_auth_report on real log lines (Postfix 3.7 / Dovecot 2.3 from the lab)."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

LINES = """\
2026-11-27T23:37:03+0000 mx dovecot[6859]: auth: passwd-file(alice@lab.test,10.89.70.1): Password mismatch
2026-11-27T23:37:05+0000 mx postfix/submission/smtpd[7023]: warning: host.containers.internal[10.89.70.1]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=alice@lab.test
2026-11-27T23:37:09+0000 mx dovecot[6859]: auth: passwd-file(nobody@lab.test,10.89.70.1): unknown user
2026-11-27T23:37:11+0000 mx postfix/submissions/smtpd[7023]: warning: unknown[fd00:6d66:60::50]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=Nobody@lab.test
2026-11-27T23:37:19+0000 mx dovecot[6859]: stats: {"event":"auth_request_finished","hostname":"mx.lab.test","fields":{"success":"yes","mechanism":"PLAIN","remote_ip":"10.89.70.1","user":"alice@lab.test"}}
2026-11-27T23:37:20+0000 mx dovecot[6859]: stats: {"event":"auth_request_finished","hostname":"mx.lab.test","fields":{"success":"no","remote_ip":"10.89.70.1","user":"alice@lab.test"}}
2026-11-27T23:37:19+0000 mx postfix/submissions/smtpd[7026]: C4551182092: client=unknown[10.89.70.1], sasl_method=PLAIN, sasl_username=alice@lab.test
"""


def test_counts_failures_by_client_and_user_and_successes(filters):
    report = filters["mailfort_auth_report"](LINES)
    assert report["failures"] == 2
    assert report["failures_by_client"] == {"10.89.70.1": 1, "fd00:6d66:60::50": 1}
    assert report["failures_by_user"] == {"alice@lab.test": 1, "nobody@lab.test": 1}
    assert report["successes"] == 1
    assert report["successes_by_user"] == {"alice@lab.test": 1}
    assert report["successes_by_client"] == {"10.89.70.1": 1}


def test_dovecot_lines_stand_in_when_postfix_logs_no_user(filters):
    lines = [
        "mx postfix/submission/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
        "mx dovecot[2]: auth: passwd-file(bob@example.com,192.0.2.7,<AbCd>): Password mismatch",
        "mx dovecot[2]: auth-worker(9): Info: passwd-file(bob@example.com,192.0.2.7,sasl:plain)<x>: unknown user",
    ]
    report = filters["mailfort_auth_report"](lines)
    assert report["failures_by_client"] == {"192.0.2.7": 1}
    assert report["failures_by_user"] == {"bob@example.com": 2}


def test_unrelated_lines_count_nothing(filters):
    report = filters["mailfort_auth_report"](["mx postfix/smtpd[1]: connect from unknown[192.0.2.7]", ""])
    assert report["failures"] == 0
    assert report["successes"] == 0


def test_bad_input(filters):
    with pytest.raises(AnsibleFilterError, match="expects log lines"):
        filters["mailfort_auth_report"](42)


def test_banned_addresses_from_fail2ban_status(filters):
    status = ("Status for the jail: postfix-sasl\n|- Filter\n`- Actions\n   |- Currently banned:\t2\n"
              "   `- Banned IP list:\t10.89.60.50 fd00:6d66:60::50\n")
    report = filters["mailfort_auth_report"]([], {"postfix-sasl": status, "dovecot": "`- Banned IP list:\t"})
    assert report["banned"] == {"postfix-sasl": ["10.89.60.50", "fd00:6d66:60::50"], "dovecot": []}


def test_dovecot_24_failure_lines(filters):
    lines = [
        "mx dovecot[7954]: auth(alice@lab.test,10.89.60.50,sasl:plain): passwd-file: Password mismatch",
        "mx dovecot[7954]: auth(Bob@lab.test,fd00:6d66:60::50,sasl:plain): passwd-file: unknown user",
    ]
    report = filters["mailfort_auth_report"](lines)
    assert report["failures_by_user"] == {"alice@lab.test": 1, "bob@lab.test": 1}
    assert report["failures_by_client"] == {"10.89.60.50": 1, "fd00:6d66:60::50": 1}
