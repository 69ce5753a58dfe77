# SPDX-License-Identifier: MIT
"""On the host, read-only: each secret mailfort writes is readable by its owner alone (and, for
Dovecot's accounts, by the dovecot group), never by other users or writable by the group.

The files are found from the running configuration where it names them: the keys Postfix serves
(smtpd_tls_chain_files, smtpd_tls_key_file), the smarthost password maps (smtp_sasl_password_maps),
every DKIM key in OpenDKIM's key table, and Dovecot's account file (dovecot_users_file, else the
role's default)."""
from __future__ import annotations

import re

DOVECOT_USERS_FILE = "/etc/dovecot/mailfort-users"


def _postconf_paths(host, parameter):
    """The absolute file paths a Postfix parameter names (type:path tables included)."""
    value = host.run(f"postconf -h {parameter}").stdout
    return [re.sub(r"^[a-z]+:", "", item) for item in re.split(r"[\s,]+", value)
            if re.sub(r"^[a-z]+:", "", item).startswith("/")]


def _secrets(host, host_vars):
    """[(what, path, owner, group allowed to read or None)]."""
    found = []
    chain = _postconf_paths(host, "smtpd_tls_chain_files")
    for path in chain[:1] + _postconf_paths(host, "smtpd_tls_key_file"):
        found.append(("TLS private key", path, "root", None))
    for path in _postconf_paths(host, "smtp_sasl_password_maps"):
        found.append(("smarthost password map", path, "root", None))
    table = host.run("cat /etc/opendkim/key_table")
    for line in table.stdout.splitlines() if table.rc == 0 else []:
        if line.strip() and not line.startswith("#"):
            found.append(("DKIM private key", line.split()[1].split(":", 2)[2], "opendkim", None))
    users = host_vars.get("dovecot_users_file") or DOVECOT_USERS_FILE
    if "{{" not in users:
        found.append(("Dovecot accounts (password hashes)", users, "root", "dovecot"))
    return found


def test_secret_files_are_readable_by_their_owner_alone(host, host_vars):
    secrets = _secrets(host, host_vars)
    assert any(what == "TLS private key" for what, *_ in secrets), "Postfix names no TLS private key"
    wrong = []
    for what, path, owner, group in secrets:
        stat = host.run(f"stat -c '%U %G %a' {path}")
        if stat.rc != 0:
            wrong.append(f"{what} {path}: missing ({stat.stderr.strip()})")
            continue
        user, file_group, mode = stat.stdout.split()
        bits = int(mode, 8)
        allowed = 0o040 if group and file_group == group else 0
        if user != owner or bits & 0o077 & ~allowed:
            wrong.append(f"{what} {path}: {user}:{file_group} mode {mode}, wanted owner {owner}, "
                         f"{'group ' + group + ' read at most' if group else 'no group or other access'}")
    assert not wrong, "; ".join(wrong)
