# SPDX-License-Identifier: MIT
from __future__ import annotations

import ipaddress

import pytest
from ansible.errors import AnsibleFilterError
from collection_import import filter_module
from hypothesis import given
from hypothesis import strategies as st


def test_main_cf_renders_scalars_lists_booleans_and_drops_null(filters):
    text = filters["postfix_main_cf"](
        {"myhostname": "mx.example.com", "biff": False, "message_size_limit": 10,
         "mynetworks": ["127.0.0.0/8", "[::1]/128"], "relayhost": None, "mydestination": ["localhost"]}
    )
    assert text == (
        "myhostname = mx.example.com\nbiff = no\nmessage_size_limit = 10\n"
        "mynetworks =\n    127.0.0.0/8,\n    [::1]/128\nmydestination = localhost\n"
    )


@pytest.mark.parametrize("params, needle", [
    ({"bad name": "x"}, "'bad name'"),
    ({"myhostname": "a\nrelayhost = evil"}, "myhostname"),
    ({"myhostname": {"nested": 1}}, "myhostname"),
])
def test_main_cf_rejects_bad_input_naming_it(filters, params, needle):
    with pytest.raises(AnsibleFilterError, match=needle):
        filters["postfix_main_cf"](params)


names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
values = st.one_of(st.booleans(), st.integers(0, 10**9),
                   st.from_regex(r"[!-~][ -~]{0,30}", fullmatch=True).map(str.strip).filter(bool))


@given(st.dictionaries(names, values, max_size=20))
def test_main_cf_round_trips_through_a_parser(params):
    """Parsing the rendered text the way Postfix does gives back every parameter."""
    text = filter_module("postfix").postfix_main_cf(params)
    parsed = {}
    for line in text.splitlines():
        if line.startswith((" ", "\t")):
            continue
        name, _, value = line.partition(" = ")
        parsed[name] = value
    expected = {k: ("yes" if v is True else "no" if v is False else str(v)) for k, v in params.items()}
    assert parsed == expected


def test_master_cf_renders_options_and_args(filters):
    text = filters["postfix_master_cf"]([
        {"service": "submission", "type": "inet", "private": "n", "chroot": "y", "command": "smtpd",
         "options": {"syslog_name": "postfix/submission", "smtpd_tls_security_level": "encrypt"}},
        {"service": "pipe1", "type": "unix", "unpriv": "n", "chroot": "n", "command": "pipe",
         "args": ["flags=R user=nobody argv=/bin/true"]},
    ])
    assert text.splitlines() == [
        "submission inet  n       -       y       -       -       smtpd",
        "  -o syslog_name=postfix/submission",
        "  -o smtpd_tls_security_level=encrypt",
        "pipe1      unix  -       n       n       -       -       pipe",
        "  flags=R user=nobody argv=/bin/true",
    ]


@pytest.mark.parametrize("entry, needle", [
    ({"service": "x", "type": "tcp", "command": "smtpd"}, "type must be one of"),
    ({"service": "x", "type": "inet"}, "command is required"),
    ({"service": "x y", "type": "inet", "command": "smtpd"}, "invalid service name"),
    ({"service": "x", "type": "inet", "command": "smtpd", "options": {"a": "b c"}}, "contains a space"),
    ({"service": "x", "type": "inet", "command": "smtpd", "opts": {}}, "unknown keys"),
])
def test_master_cf_rejects_bad_entries(filters, entry, needle):
    with pytest.raises(AnsibleFilterError, match=needle):
        filters["postfix_master_cf"]([entry])


def test_merge_services_updates_adds_and_removes(filters):
    base = [
        {"service": "smtp", "type": "inet", "command": "smtpd", "options": {"a": "1"}},
        {"service": "smtp", "type": "unix", "command": "smtp"},
        {"service": "relay", "type": "unix", "command": "smtp"},
    ]
    merged = filters["postfix_merge_services"](base, [
        {"service": "smtp", "type": "inet", "chroot": "n", "options": {"b": "2"}},
        {"service": "relay", "type": "unix", "state": "absent"},
        {"service": "submission", "type": "inet", "command": "smtpd"},
    ])
    assert merged == [
        {"service": "smtp", "type": "inet", "command": "smtpd", "chroot": "n", "options": {"a": "1", "b": "2"}},
        {"service": "smtp", "type": "unix", "command": "smtp", "options": {}},
        {"service": "submission", "type": "inet", "command": "smtpd", "options": {}},
    ]


def test_networks_normalises_to_postfix_syntax(filters):
    assert filters["postfix_networks"](["127.0.0.0/8", "::1/128", "[2001:db8::]/32", "192.0.2.1"]) == [
        "127.0.0.0/8", "[::1]/128", "[2001:db8::]/32", "192.0.2.1/32"]


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "10.0.0.1/8", "example.com", "2001:db8::/129", ""])
def test_networks_rejects_bad_cidr_naming_variable(filters, bad):
    with pytest.raises(AnsibleFilterError, match=r"postfix_mynetworks: .* is not a valid network"):
        filters["postfix_networks"]([bad], "postfix_mynetworks")


def test_networks_rejects_a_bare_string(filters):
    with pytest.raises(AnsibleFilterError, match="must be a list"):
        filters["postfix_networks"]("127.0.0.0/8", "postfix_mynetworks")


@given(st.one_of(st.ip_addresses(v=4).map(lambda a: ipaddress.ip_network(f"{a}/{a.max_prefixlen}")),
                 st.ip_addresses(v=6).map(lambda a: ipaddress.ip_network(f"{a}/{a.max_prefixlen}"))),
       st.integers(0, 128))
def test_networks_accepts_every_valid_network(net, prefix):
    net = net.supernet(new_prefix=min(prefix, net.max_prefixlen))
    (rendered,) = filter_module("postfix").postfix_networks([str(net)])
    assert ipaddress.ip_network(rendered.replace("[", "").replace("]", "")) == net


ALICE = {"name": "alice@example.com", "senders": ["alice@example.com"]}
APP = {"name": "app@example.com", "mailbox": False, "senders": ["noreply@example.com"]}


def test_virtual_aliases_route_role_and_report_addresses_to_the_postmaster(filters):
    table = filters["postfix_virtual_aliases"](
        [ALICE, APP], ["example.com", "example.org"], "alice@example.com", ["postmaster", "abuse"],
        ["mailto:dmarc@example.com!10m", "https://tlsrpt.example.net/", "mailto:reports@example.net"],
        {"sales@example.org": "alice@example.com"})
    assert table == {
        "abuse@example.com": ["alice@example.com"], "abuse@example.org": ["alice@example.com"],
        "dmarc@example.com": ["alice@example.com"],
        "postmaster@example.com": ["alice@example.com"], "postmaster@example.org": ["alice@example.com"],
        "sales@example.org": ["alice@example.com"],
    }


def test_virtual_aliases_leave_addresses_an_account_or_the_operator_already_receives(filters):
    owner = {"name": "postmaster@example.com"}
    table = filters["postfix_virtual_aliases"](
        [ALICE, owner], ["example.com"], "alice@example.com", ["postmaster", "abuse"], [],
        {"abuse@example.com": ["soc@example.net"]})
    assert table == {"abuse@example.com": ["soc@example.net"]}


def test_virtual_aliases_without_domains_need_no_postmaster(filters):
    assert filters["postfix_virtual_aliases"]([], [], "", ["postmaster"]) == {}


@pytest.mark.parametrize("postmaster, aliases, needle", [
    ("", {}, "mailfort_postmaster.*is required.*postmaster@example.com"),
    ("nobody@example.com", {}, "postfix_postmaster: 'nobody@example.com' is in postfix_domains but is no account"),
    ("app@example.com", {}, "no account mailbox"),  # an account without a mailbox receives nothing
    ("not an address", {}, "postfix_postmaster: 'not an address' is not a valid mail address"),
    ("alice@example.com", {"x@example.net": ["alice@example.com"]}, "'x@example.net' is not in postfix_domains"),
    ("alice@example.com", {"alice@example.com": ["x@example.net"]}, "is an account mailbox already"),
    ("alice@example.com", {"x@example.com": []}, "needs a non-empty list"),
    ("alice@example.com", {"x@example.com": ["bad"]}, "'bad' is not a valid mail address"),
])
def test_virtual_aliases_refuse_bad_input_naming_the_variable(filters, postmaster, aliases, needle):
    with pytest.raises(AnsibleFilterError, match=needle):
        filters["postfix_virtual_aliases"]([ALICE, APP], ["example.com"], postmaster, ["postmaster", "abuse"], [],
                                           aliases)


@pytest.fixture
def milter(filters):
    return filters["postfix_milter"]


@pytest.mark.parametrize("socket,expected", [
    ("local:/var/spool/postfix/opendkim/opendkim.sock", "unix:opendkim/opendkim.sock"),
    ("local:/var/spool/postfix/rspamd/milter.sock", "unix:rspamd/milter.sock"),
    ("local:/var/spool/postfix/private/dkim", "unix:private/dkim"),
    ("inet:8891@127.0.0.1", "inet:127.0.0.1:8891"),
    ("inet:8891@localhost", "inet:localhost:8891"),
    ("inet6:8891@::1", "inet:[::1]:8891"),
    ("inet:11332@::1", "inet:[::1]:11332"),
])
def test_postfix_reaches_the_milter_socket_at(milter, socket, expected):
    assert milter(socket) == expected


@pytest.mark.parametrize("variable", ["opendkim_socket", "rspamd_milter_socket"])
@pytest.mark.parametrize("socket", ["local:/run/opendkim/opendkim.sock", "local:/var/spool/postfix/",
                                    "local:/var/spool/postfixes/x.sock", "inet:0@127.0.0.1",
                                    "inet:99999@127.0.0.1", "unix:/x", "", None])
def test_milter_sockets_postfix_cannot_reach_are_refused_naming_the_variable(milter, socket, variable):
    with pytest.raises(AnsibleFilterError, match=variable):
        milter(socket, variable)


def test_a_milter_socket_in_another_queue_directory(milter):
    assert milter("local:/srv/postfix/dkim.sock", queue_directory="/srv/postfix/") == "unix:dkim.sock"
