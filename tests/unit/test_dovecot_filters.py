# SPDX-License-Identifier: MIT
from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError
from argon2 import PasswordHasher
from collection_import import filter_module
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from passlib.hash import sha512_crypt

# Argon2 with 64 MiB per hash is slow on purpose: keep property runs small.
slow = settings(max_examples=8, deadline=None)
passwords = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1, max_size=40)


@pytest.mark.parametrize("scheme, prefix", [
    ("ARGON2ID", "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$"),
    ("SHA512-CRYPT", "{SHA512-CRYPT}$6$"),
])
def test_hash_has_dovecot_format_and_verifies(filters, scheme, prefix):
    digest = filters["dovecot_password_hash"]("Blue-Tangerine-Orbit-42", scheme)
    assert digest.startswith(prefix)
    bare = digest.split("}", 1)[1]
    if scheme == "ARGON2ID":
        assert PasswordHasher().verify(bare, "Blue-Tangerine-Orbit-42")
    else:
        assert sha512_crypt.verify("Blue-Tangerine-Orbit-42", bare)


@slow
@given(password=passwords, scheme=st.sampled_from(["ARGON2ID", "SHA512-CRYPT"]))
def test_hash_is_kept_while_it_verifies_its_password(password, scheme):
    hash_ = filter_module("dovecot").dovecot_password_hash
    first = hash_(password, scheme)
    assert hash_(password, scheme, first) == first


@slow
@given(old=passwords, new=passwords, scheme=st.sampled_from(["ARGON2ID", "SHA512-CRYPT"]))
def test_a_different_password_gets_a_new_hash(old, new, scheme):
    assume(old != new)
    hash_ = filter_module("dovecot").dovecot_password_hash
    first = hash_(old, scheme)
    second = hash_(new, scheme, first)
    assert second != first
    assert hash_(new, scheme, second) == second


def test_hash_is_salted_and_rehashed_on_scheme_change(filters):
    hash_ = filters["dovecot_password_hash"]
    argon = hash_("Blue-Tangerine-Orbit-42", "ARGON2ID")
    assert hash_("Blue-Tangerine-Orbit-42", "ARGON2ID") != argon
    sha = hash_("Blue-Tangerine-Orbit-42", "SHA512-CRYPT", argon)
    assert sha.startswith("{SHA512-CRYPT}$6$")


def test_hash_with_other_argon2_parameters_is_replaced(filters):
    weak = "{ARGON2ID}" + PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("Blue-Tangerine-Orbit-42")
    new = filters["dovecot_password_hash"]("Blue-Tangerine-Orbit-42", "ARGON2ID", weak)
    assert new != weak
    assert "m=65536,t=3,p=1" in new


@pytest.mark.parametrize("existing", ["", "garbage", "{ARGON2ID}garbage", "{SHA512-CRYPT}$6$broken", "{PLAIN}x"])
def test_unusable_existing_hash_is_replaced(filters, existing):
    hashed = filters["dovecot_password_hash"]("Blue-Tangerine-Orbit-42", "ARGON2ID", existing)
    assert hashed.startswith("{ARGON2ID}$argon2id$")


@pytest.mark.parametrize("password, scheme, needle", [
    ("", "ARGON2ID", "non-empty"), ("x" * 20, "MD5", "MD5"), ("abc\0defghijklm", "ARGON2ID", "NUL"),
])
def test_hash_rejects_bad_input(filters, password, scheme, needle):
    with pytest.raises(AnsibleFilterError, match=needle):
        filters["dovecot_password_hash"](password, scheme)


def test_policy_accepts_a_good_password(filters):
    assert filters["dovecot_password_problems"]("Blue-Tangerine-Orbit-42", "alice@lab.test", 12, ["123456"]) == []


@pytest.mark.parametrize("password, needle", [
    ("Short-1", "shorter than 12"),
    ("my-name-is-ALICE-ok", "login name 'alice'"),
    ("CorrectHorseBatteryStaple", "common"),
])
def test_policy_names_the_rule(filters, password, needle):
    problems = filters["dovecot_password_problems"](password, "alice@lab.test", 12, ["correcthorsebatterystaple"])
    assert any(needle in problem for problem in problems)


@given(password=st.text(min_size=1, max_size=30), min_length=st.integers(1, 40))
def test_policy_length_rule_and_never_repeats_the_password(password, min_length):
    problems = filter_module("dovecot").dovecot_password_problems(password, "zq@lab.test", min_length, [password])
    assert (len(password) < min_length) == any("shorter" in p for p in problems)
    assert any("common" in p for p in problems)
    # The messages never echo the password. A short password can still be a
    # substring of the fixed wording ("pass" in "password"), so compare with the
    # messages produced for a different password of the same length.
    other = "\u2603" * len(password)
    wording = " ".join(filter_module("dovecot").dovecot_password_problems(other, "zq@lab.test", min_length, [other]))
    if len(password) >= 4:
        assert not any(password in p and password not in wording for p in problems)


def test_common_file_of_the_role_is_refused(filters):
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "roles/dovecot/files/common-passwords.txt"
    common = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    assert len(common) >= 100
    assert filters["dovecot_password_problems"]("Password123", "x@lab.test", 1, common)


def test_accounts_valid(filters):
    accounts = [
        {"name": "alice@lab.test", "password": "x", "senders": ["alice@lab.test"], "mailbox": True, "kind": "person"},
        {"name": "app@lab.test", "password": "y", "mailbox": False, "kind": "application"},
    ]
    assert filters["dovecot_account_problems"](accounts) == []


@pytest.mark.parametrize("accounts, needle", [
    ("alice", "must be a list"),
    ([{"name": "alice", "password": "x"}], "name must be an email address"),
    ([{"name": "a@lab.test", "password": ""}], "password must be a non-empty string"),
    ([{"name": "a@lab.test", "password": "x", "senders": ["a b@lab.test"]}], "is not an email address"),
    ([{"name": "a@lab.test", "password": "x", "senders": "a@lab.test"}], "senders must be a list"),
    ([{"name": "a@lab.test", "password": "x", "kind": "robot"}], "kind must be one of"),
    ([{"name": "a@lab.test", "password": "x", "mailbox": "yes"}], "mailbox must be true or false"),
    ([{"name": "a@lab.test", "password": "x", "quota": 1}], "unknown keys"),
    ([{"name": "a@lab.test", "password": "x"}, {"name": "A@lab.test", "password": "y"}], "duplicate"),
    ([{"name": "a@lab.test", "password": "x", "auth": "oauth"}], "auth must be one of"),
    ([{"name": "a@lab.test", "auth": "both"}], "password must be a non-empty string"),
    ([{"name": "a@lab.test", "password": "x", "auth": "token"}], "an account with auth token has no password"),
])
def test_accounts_problems_name_variable_and_account(filters, accounts, needle):
    problems = filters["dovecot_account_problems"](accounts, "mailfort_accounts")
    assert any(needle in p for p in problems), problems
    assert all(p.startswith("mailfort_accounts") for p in problems)
    assert not any("'x'" in p for p in problems)


def test_a_token_account_needs_no_password(filters):
    assert filters["dovecot_account_problems"]([{"name": "app@lab.test", "kind": "application", "auth": "token"}]) == []


@pytest.mark.parametrize("account, default, expected", [
    ({"name": "a@lab.test"}, "token", "password"),
    ({"name": "a@lab.test", "kind": "application"}, "token", "token"),
    ({"name": "a@lab.test", "kind": "application"}, "password", "password"),
    ({"name": "a@lab.test", "kind": "application", "auth": "both"}, "token", "both"),
    ({"name": "a@lab.test", "auth": "token"}, "password", "token"),
])
def test_account_auth_takes_the_account_then_the_application_default(filters, account, default, expected):
    assert filters["dovecot_account_auth"](account, default) == expected


def test_account_auth_refuses_an_unknown_application_default(filters):
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError, match="dovecot_application_auth must be one of"):
        filters["dovecot_account_auth"]({"name": "a@lab.test"}, "oauth")


def test_conf_renders_sections_lists_booleans_and_drops_null(filters):
    text = filters["dovecot_conf"]({
        "dovecot_config_version": "2.4.0",
        "protocols": ["lmtp", "imap"],
        "auth_verbose": True,
        "ssl_server_cert_file": None,
        "service auth": {"unix_listener /var/spool/postfix/private/auth": {"mode": "0660", "user": "postfix"}},
    })
    assert text.splitlines() == [
        "dovecot_config_version = 2.4.0",
        "protocols = lmtp imap",
        "auth_verbose = yes",
        "service auth {",
        "  unix_listener /var/spool/postfix/private/auth {",
        "    mode = 0660",
        "    user = postfix",
        "  }",
        "}",
    ]


def test_conf_quotes_what_the_parser_would_misread_but_not_expansions(filters):
    text = filters["dovecot_conf"]({
        "a": "{", "b": 'say "hi" # not a comment',
        "c": "/var/vmail/%{user | domain}/%{user | username}", "d": "<" + "/etc/x",
    })
    assert text.splitlines() == [
        'a = "{"', 'b = "say \\"hi\\" # not a comment"',
        "c = /var/vmail/%{user | domain}/%{user | username}", "d = </etc/x",
    ]


@pytest.mark.parametrize("settings_, needle", [
    ({"bad{name": 1}, "bad{name"),
    ({"ssl": "no\nauth_mechanisms = anonymous"}, "ssl"),
    ({"service auth": {"mode": object()}}, "service auth/mode"),
    ({"auth mechanisms": "plain"}, "only sections"),
])
def test_conf_rejects_bad_input_naming_it(filters, settings_, needle):
    with pytest.raises(AnsibleFilterError, match=needle.replace("{", r"\{")):
        filters["dovecot_conf"](settings_)


names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
printable = st.from_regex(r"[!-~][ -~]{0,30}", fullmatch=True).map(str.strip).filter(bool)
values = st.one_of(st.booleans(), st.integers(0, 10**9), printable)


@given(st.dictionaries(names, st.one_of(values, st.dictionaries(names, values, max_size=5)), max_size=15))
def test_conf_sections_balance_and_settings_round_trip(settings_):
    text = filter_module("dovecot").dovecot_conf(settings_)
    # A section is a "name {" line closed by a "}" line; a value may end in a brace too (%{user}).
    sections = sum(isinstance(v, dict) for v in settings_.values())
    assert sum(line.endswith(" {") and " = " not in line for line in text.splitlines()) == sections
    assert sum(line.strip() == "}" for line in text.splitlines()) == sections
    top = {}
    for line in text.splitlines():
        if not line.startswith(" ") and " = " in line:
            name, _, value = line.partition(" = ")
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            top[name] = value
    scalars = {k: v for k, v in settings_.items() if not isinstance(v, dict)}
    assert top == {k: ("yes" if v is True else "no" if v is False else str(v)) for k, v in scalars.items()}
