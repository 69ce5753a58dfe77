# SPDX-License-Identifier: MIT
"""Filters for mailfort's Dovecot role: password hashing and policy, account checks, dovecot.conf text."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.module_utils.render import conf_scalar
from ansible_collections.mailfort.mail.plugins.module_utils.validate import is_address

# Dovecot's own ARGON2ID parameters (doveadm pw -s ARGON2ID): 64 MiB, 3 passes, 1 lane.
_ARGON2_PARAMS = {"time_cost": 3, "memory_cost": 65536, "parallelism": 1}
_SCHEMES = ("ARGON2ID", "SHA512-CRYPT")
_SCHEME_PREFIX = re.compile(r"^\{([A-Z0-9.-]+)\}(.*)$", re.DOTALL)
_ACCOUNT_KEYS = frozenset(("name", "password", "senders", "mailbox", "kind", "auth"))
_KINDS = ("person", "application")
_AUTHS = ("password", "token", "both")
_SETTING_NAME = re.compile(r"^[A-Za-z0-9_.:/-]+(?: [^\s{}\"]+|\s\"[^\"]*\")?$")


def _argon2_hasher():
    from argon2 import PasswordHasher, Type  # imported lazily: only needed for this scheme

    return PasswordHasher(type=Type.ID, **_ARGON2_PARAMS)


def _verifies(scheme: str, digest: str, password: str) -> bool:
    if scheme == "ARGON2ID":
        from argon2.exceptions import InvalidHashError, VerificationError

        hasher = _argon2_hasher()
        try:
            hasher.verify(digest, password)
        except (VerificationError, InvalidHashError, ValueError):
            return False
        # Keep the hash only while it still uses the parameters mailfort asks for.
        return not hasher.check_needs_rehash(digest)
    from passlib.hash import sha512_crypt

    try:
        return bool(sha512_crypt.verify(password, digest))
    except ValueError:
        return False


def dovecot_password_hash(password: str, scheme: str = "ARGON2ID", existing_hash: str | None = None) -> str:
    """Return a Dovecot password hash ({SCHEME}...), reusing existing_hash if it verifies the password."""
    if not isinstance(password, str) or not password:
        raise AnsibleFilterError("dovecot_password_hash expects a non-empty password string")
    if "\0" in password:
        # SASL PLAIN separates fields with NUL, so such a password could never be used.
        raise AnsibleFilterError("dovecot_password_hash: a password must not contain a NUL character")
    scheme = str(scheme).upper()
    if scheme not in _SCHEMES:
        raise AnsibleFilterError(f"dovecot_password_hash: scheme must be one of {', '.join(_SCHEMES)}, got {scheme!r}")
    if existing_hash:
        match = _SCHEME_PREFIX.match(str(existing_hash).strip())
        if match and match.group(1) == scheme and _verifies(scheme, match.group(2), password):
            return str(existing_hash).strip()
    if scheme == "ARGON2ID":
        digest = _argon2_hasher().hash(password)
    else:
        from passlib.hash import sha512_crypt

        digest = sha512_crypt.hash(password)
    return "{" + scheme + "}" + digest


def dovecot_password_problems(password: str, name: str, min_length: int = 12, common: Sequence | None = None) -> list:
    """List what is wrong with an account's password, without ever repeating the password."""
    if not isinstance(password, str):
        return ["password is missing or not a string"]
    problems = []
    if len(password) < int(min_length):
        problems.append(f"password is shorter than {int(min_length)} characters")
    lowered = password.strip().lower()
    local_part = str(name).split("@", 1)[0].lower()
    if len(local_part) >= 3 and local_part in lowered:
        problems.append(f"password contains the login name {local_part!r}")
    if common and lowered in {str(word).strip().lower() for word in common}:
        problems.append("password is in the list of common passwords")
    return problems


def dovecot_account_auth(account: Mapping, application_default: str = "password") -> str:
    """How an account logs in: its `auth`, else application_default for an application account, else password."""
    if not isinstance(account, Mapping):
        raise AnsibleFilterError(f"dovecot_account_auth expects an account mapping, got {type(account).__name__}")
    if application_default not in _AUTHS:
        raise AnsibleFilterError(
            f"dovecot_application_auth must be one of {', '.join(_AUTHS)}, got {application_default!r}")
    if "auth" in account:
        return account["auth"]
    return application_default if account.get("kind", "person") == "application" else "password"


def dovecot_account_problems(accounts: Sequence, variable: str = "dovecot_accounts") -> list:
    """List structural problems in a list of mailfort accounts, naming the variable and account."""
    if isinstance(accounts, (str, Mapping)) or not isinstance(accounts, Sequence):
        return [f"{variable} must be a list of accounts, got {type(accounts).__name__}"]
    problems = []
    seen: set[str] = set()
    for index, account in enumerate(accounts):
        where = f"{variable}[{index}]"
        if not isinstance(account, Mapping):
            problems.append(f"{where} must be a mapping, got {type(account).__name__}")
            continue
        name = account.get("name")
        if isinstance(name, str) and name:
            where = f"{variable}[{index}] ({name})"
        unknown = set(account) - _ACCOUNT_KEYS
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        if not isinstance(name, str) or not is_address(name):
            problems.append(f"{where}: name must be an email address, got {name!r}")
        elif name.lower() in seen:
            problems.append(f"{where}: duplicate account name {name!r}")
        else:
            seen.add(name.lower())
        auth = account.get("auth", "password")
        if auth not in _AUTHS:
            problems.append(f"{where}: auth must be one of {', '.join(_AUTHS)}, got {auth!r}")
        if auth == "token":
            if "password" in account:
                problems.append(f"{where}: an account with auth token has no password (it would never be used)")
        elif not isinstance(account.get("password"), str) or not account.get("password"):
            problems.append(f"{where}: password must be a non-empty string")
        senders = account.get("senders", [])
        if isinstance(senders, str) or not isinstance(senders, Sequence):
            problems.append(f"{where}: senders must be a list of email addresses")
        else:
            for sender in senders:
                if not isinstance(sender, str) or not is_address(sender):
                    problems.append(f"{where}: sender {sender!r} is not an email address")
        if not isinstance(account.get("mailbox", True), bool):
            problems.append(f"{where}: mailbox must be true or false")
        if account.get("kind", "person") not in _KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(_KINDS)}, got {account.get('kind')!r}")
    return problems


_EXPANSION = re.compile(r"%\{[^{}]*\}")
_NEEDS_QUOTES = re.compile(r'[{}#"\\]')


def _quote(value: str) -> str:
    """Quote a value Dovecot's parser would otherwise misread (braces, comments, quotes)."""
    if not _NEEDS_QUOTES.search(_EXPANSION.sub("", value)) and value == value.strip():
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(path: str, value: object) -> str:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return " ".join(_value(path, item) for item in value)
    text = conf_scalar(f"dovecot setting {path!r}", value)
    return _quote(text) if isinstance(value, str) else text


def _render(settings: Mapping, depth: int, parent: str) -> list:
    lines = []
    indent = "  " * depth
    for name, value in settings.items():
        path = f"{parent}/{name}" if parent else str(name)
        if not isinstance(name, str) or not _SETTING_NAME.match(name):
            raise AnsibleFilterError(f"invalid dovecot setting or section name: {path!r}")
        if value is None:
            continue
        if isinstance(value, Mapping):
            lines.append(f"{indent}{name} {{")
            lines.extend(_render(value, depth + 1, path))
            lines.append(f"{indent}}}")
        else:
            if " " in name:
                raise AnsibleFilterError(f"dovecot setting {path!r}: only sections may have a name with a space")
            lines.append(f"{indent}{name} = {_value(path, value)}".rstrip())
    return lines


def dovecot_conf(settings: Mapping) -> str:
    """Render a nested mapping of Dovecot settings as dovecot.conf text (mappings become sections)."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"dovecot_conf expects a mapping, got {type(settings).__name__}")
    return "".join(line + "\n" for line in _render(settings, 0, ""))


class FilterModule:
    """Dovecot filters."""

    def filters(self):
        return {
            "dovecot_account_auth": dovecot_account_auth,
            "dovecot_account_problems": dovecot_account_problems,
            "dovecot_conf": dovecot_conf,
            "dovecot_password_hash": dovecot_password_hash,
            "dovecot_password_problems": dovecot_password_problems,
        }
