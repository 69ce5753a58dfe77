# SPDX-License-Identifier: MIT
"""Summarise authentication events from Postfix and Dovecot log lines.

Documented in mailfort_auth_report.yml beside this file (``ansible-doc -t filter``).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence

from ansible.errors import AnsibleFilterError

# postfix/submission/smtpd[123]: warning: name[192.0.2.7]: SASL PLAIN authentication failed: ..., sasl_username=u
_POSTFIX_FAILURE = re.compile(
    r"postfix/(?:[\w.-]+/)?smtpd\[\d+\]: warning: [^\s\[]*\[(?P<ip>[0-9A-Fa-f:.]+)\]: "
    r"SASL \S+ authentication failed(?:[^,]*)?(?:, sasl_username=(?P<user>\S+))?")
# dovecot: auth: passwd-file(user,192.0.2.7[,...])[<session>]: Password mismatch | unknown user
_DOVECOT_FAILURE = re.compile(
    r"auth(?:-worker)?(?:\(\d+\))?: (?:Info: )?[\w-]+\((?P<user>[^,()]*),(?P<ip>[0-9A-Fa-f:.]+)(?:,[^)]*)?\)"
    r"(?:<[^>]*>)?: (?P<reason>Password mismatch|unknown user|invalid credentials)")
# Dovecot 2.4: auth(user,192.0.2.7,sasl:plain): passwd-file: Password mismatch
_DOVECOT24_FAILURE = re.compile(
    r"auth(?:-worker)?\((?P<user>[^,()]*),(?P<ip>[0-9A-Fa-f:.]+)(?:,[^)]*)?\)(?:<[^>]*>)?: [\w-]+: "
    r"(?P<reason>Password mismatch|unknown user|invalid credentials)")
_EVENT = re.compile(r"(\{\"event\":\"auth_request_finished\".*\})\s*$")


def mailfort_auth_report(lines: object, jail_status: dict | None = None) -> dict:
    """Count authentication failures and successes by client address and by user.

    jail_status maps a fail2ban jail name to the text of `fail2ban-client status JAIL`;
    the addresses each jail bans are listed under "banned".
    """
    if isinstance(lines, str):
        lines = lines.splitlines()
    if not isinstance(lines, Sequence):
        raise AnsibleFilterError(f"mailfort_auth_report expects log lines, got {type(lines).__name__}")
    smtp_by_client, smtp_by_user = Counter(), Counter()
    check_by_user, check_by_client = Counter(), Counter()
    ok_by_user, ok_by_client = Counter(), Counter()
    for line in lines:
        line = str(line)
        if match := _POSTFIX_FAILURE.search(line):
            smtp_by_client[match["ip"]] += 1
            if match["user"]:
                smtp_by_user[match["user"].lower()] += 1
        elif match := _DOVECOT_FAILURE.search(line) or _DOVECOT24_FAILURE.search(line):
            check_by_user[match["user"].lower()] += 1
            check_by_client[match["ip"]] += 1
        elif match := _EVENT.search(line):
            try:
                fields = json.loads(match[1]).get("fields", {})
            except ValueError:
                continue
            if fields.get("success") == "yes":
                ok_by_user[str(fields.get("user", "?")).lower()] += 1
                ok_by_client[str(fields.get("remote_ip", "?"))] += 1
    # Postfix sees every SMTP AUTH failure; Dovecot's own lines stand in when a
    # Postfix version does not log the user name.
    by_client = smtp_by_client or check_by_client
    by_user = smtp_by_user or check_by_user
    return {
        "failures": sum(by_client.values()),
        "failures_by_client": dict(by_client.most_common()),
        "failures_by_user": dict(by_user.most_common()),
        "successes": sum(ok_by_user.values()),
        "successes_by_user": dict(ok_by_user.most_common()),
        "successes_by_client": dict(ok_by_client.most_common()),
        "banned": {jail: _banned(text) for jail, text in (jail_status or {}).items()},
    }


def _banned(status: object) -> list:
    for line in str(status or "").splitlines():
        if "Banned IP list:" in line:
            return line.split("Banned IP list:", 1)[1].split()
    return []


class FilterModule:
    def filters(self):
        return {"mailfort_auth_report": mailfort_auth_report}
