# SPDX-License-Identifier: MIT
"""One definition of a domain, a mail address and a network, and every role agrees with it.

Generated input (well-formed, nearly well-formed and garbage) goes through every filter
that takes that kind of value from an operator; each must accept exactly what
module_utils/validate.py accepts. Before this module existed, four definitions disagreed:
``a%b@example.com`` passed the Dovecot account check and failed Postfix's sender logins.
"""
from __future__ import annotations

import ipaddress

import pytest
from ansible.errors import AnsibleFilterError
from collection_import import shared_module
from hypothesis import example, given, settings
from hypothesis import strategies as st

validate = shared_module("validate")
shared = shared_module("shared")

_LABEL = st.from_regex(r"\A_?[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?\Z")
_NEAR_DOMAIN = st.builds(".".join, st.lists(_LABEL, min_size=1, max_size=4))
_DOMAIN_TEXT = st.one_of(
    _NEAR_DOMAIN,
    st.text(alphabet="abz09-_.A%@ ", max_size=20),
    st.from_regex(r"\A[a-z]{1,8}\.[a-z0-9-]{1,8}\Z"),
)
_LOCAL = st.one_of(
    st.from_regex(r"\A[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]{1,12}\Z"),
    st.text(alphabet="ab.%+ @\"", max_size=8),
)
# White space around a value is a separate question (URIs are stripped, addresses are not).
_ADDRESS_TEXT = st.one_of(st.builds("{}@{}".format, _LOCAL, _DOMAIN_TEXT), _DOMAIN_TEXT).filter(
    lambda text: text == text.strip())
_NETWORK_TEXT = st.one_of(
    st.builds("{}/{}".format, st.ip_addresses(v=4), st.integers(0, 33)),
    st.builds("{}/{}".format, st.ip_addresses(v=6), st.integers(0, 129)),
    st.builds("[{}]/{}".format, st.ip_addresses(v=6), st.integers(0, 128)),
    st.builds(str, st.ip_addresses()),
    st.text(alphabet="0123456789./:abf[]", max_size=16),
)
AGREEMENT = settings(max_examples=150, deadline=None)


def _also(name: str, *values: str):
    """Hypothesis examples: the values the old definitions disagreed on are always tried."""
    def wrap(test):
        for value in reversed(values):
            test = example(**{name: value})(test)
        return test
    return wrap


def _accepts(call) -> bool:
    try:
        call()
    except AnsibleFilterError:
        return False
    return True


def _dovecot_accepts(filters, address: str) -> bool:
    problems = filters["dovecot_account_problems"]([{"name": address, "password": "x", "senders": [address]}])
    return not problems


@AGREEMENT
@given(address=_ADDRESS_TEXT)
@_also("address", "a%b@example.com", "Alice@Example.COM", "a@b.c0", "a@example.123", "x@_dmarc.example.com")
def test_every_role_accepts_exactly_the_shared_mail_addresses(filters, address):
    expected = validate.is_address(address)
    verdicts = {
        "postfix_sender_logins": _accepts(lambda: filters["postfix_sender_logins"]([{"name": address}])),
        "postfix_virtual_aliases": _accepts(lambda: filters["postfix_virtual_aliases"](
            [], ["agreement.invalid"], address)),
        "dovecot_account_problems": _dovecot_accepts(filters, address),
        "dmarc_record rua": _accepts(lambda: filters["dmarc_record"]({"p": "none", "rua": [f"mailto:{address}"]})),
        "tlsrpt_record rua": _accepts(lambda: filters["tlsrpt_record"](f"mailto:{address}")),
    }
    assert verdicts == dict.fromkeys(verdicts, expected), address


@AGREEMENT
@given(domain=_DOMAIN_TEXT)
@_also("domain", "example.c0m", "example.123", "_spf.example.com", "Example.COM.")
def test_every_role_accepts_exactly_the_shared_domain_names(filters, domain):
    expected = validate.is_domain(domain.strip().rstrip("."))
    verdicts = {
        "postfix_domain_names": _accepts(lambda: filters["postfix_domain_names"]([domain])),
        "opendkim_key_plan": _accepts(lambda: filters["opendkim_key_plan"]([domain], "mail")),
        "mta_sts_policy mx": _accepts(lambda: filters["mta_sts_policy"]("enforce", [domain])),
        "dns_records_domain_records": _accepts(lambda: filters["dns_records_domain_records"](
            [{"host": "h", "domains": [domain], "mx_host": "mx.example.com", "dkim_keys": {}}], {})),
    }
    assert verdicts == dict.fromkeys(verdicts, expected), domain


@AGREEMENT
@given(domain=_DOMAIN_TEXT)
@_also("domain", "_spf.example.com", "example._com")
def test_spf_targets_accept_exactly_the_shared_owner_names(filters, domain):
    """SPF include/redirect targets are owner names: service labels such as _spf are allowed."""
    expected = validate.is_domain(domain.strip().rstrip("."), underscore=True)
    verdicts = {key: _accepts(lambda key=key: filters["spf_record"]({key: [domain] if key == "include" else domain}))
                for key in ("include", "redirect")}
    assert verdicts == dict.fromkeys(verdicts, expected), domain


def _shared_network(text: str):
    try:
        return validate.network_or_fail(text, "x")
    except AnsibleFilterError:
        return None


@AGREEMENT
@given(network=_NETWORK_TEXT)
@_also("network", "10.0.0.1/8", "[2001:db8::]/32", "")
def test_every_role_accepts_exactly_the_shared_networks(filters, network):
    expected = _shared_network(network)
    access = {"submission": [network], "submissions": "any"}
    verdicts = {
        "mailfort_client_access": _accepts(lambda: filters["mailfort_client_access"](access)),
        "mailfort_trusted_networks": _accepts(lambda: filters["mailfort_trusted_networks"]([network])),
        "postfix_networks": _accepts(lambda: filters["postfix_networks"]([network])),
        "mailfort_networks_by_family": _accepts(lambda: filters["mailfort_networks_by_family"]([network], 4)),
    }
    assert verdicts == dict.fromkeys(verdicts, expected is not None), network
    if expected is not None and not network.startswith("["):
        family = f"ip{expected.version}"
        assert _accepts(lambda: filters["spf_record"]({family: [network]})), network


def test_the_service_ports_are_the_ones_every_role_uses(filters):
    """The access lists, the Postfix services and the firewall all take their ports from shared.py."""
    assert shared.SERVICE_PORTS == {"smtp": 25, "submission": 587, "submissions": 465}
    assert set(filters["mailfort_client_access"]({"submission": "any", "submissions": "any"})) == set(
        shared.SERVICE_PORTS)
    assert filters["mailfort_shared"]("service_ports") == shared.SERVICE_PORTS


@pytest.mark.parametrize("name", sorted(shared_module("shared").SHARED))
def test_mailfort_shared_returns_each_fact(filters, name):
    assert filters["mailfort_shared"](name) == shared.SHARED[name]


def test_mailfort_shared_names_the_known_facts(filters):
    with pytest.raises(AnsibleFilterError, match=r"mailfort_shared: unknown fact 'port'; known: service_ports"):
        filters["mailfort_shared"]("port")


def test_default_controller_dir_is_beside_the_config_or_the_playbook(filters):
    assert filters["mailfort_default_controller_dir"]("/srv/project/ansible.cfg", "/srv/project/playbooks") == \
        "/srv/project/.cache"
    assert filters["mailfort_default_controller_dir"](None, "/srv/project/playbooks") == \
        "/srv/project/playbooks/.cache"
    assert filters["mailfort_default_controller_dir"]("", "/p") == "/p/.cache"


def test_networks_in_postfix_syntax_are_the_shared_ones():
    assert validate.network_or_fail("[2001:db8::]/32", "x") == ipaddress.ip_network("2001:db8::/32")


def test_the_lab_probe_script_agrees_with_the_shared_ports():
    """tests/infra/smtp_probe.py runs alone on client hosts and keeps its own port map."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "infra" / "smtp_probe.py"
    spec = importlib.util.spec_from_file_location("mailfort_smtp_probe", path)
    probe = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = probe  # its dataclasses look their module up there
    spec.loader.exec_module(probe)
    modes = {"starttls-optional": "plain", "starttls": "starttls", "implicit": "implicit"}
    assert {port: modes[shared.SERVICE_TLS[name]] for name, port in shared.SERVICE_PORTS.items()} == probe.PORT_MODES
