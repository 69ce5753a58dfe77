# SPDX-License-Identifier: MIT
"""SPF (filter_plugins/dns_spf.py): spf_record, spf_lookup_count and spf_limits, through a fake resolver."""
from __future__ import annotations

import ipaddress
import re
from types import SimpleNamespace
from typing import ClassVar

import dns.exception
import dns.resolver
import pytest
from ansible.errors import AnsibleFilterError
from dns_helpers import rejects
from hypothesis import given
from hypothesis import strategies as st

# --- spf_record ----------------------------------------------------------------------------------------------

def test_spf_record_renders_terms_in_order(filters):
    spec = {"include": ["_spf.example.com"], "ip6": ["2001:db8::/32"], "ip4": ["192.0.2.10"], "mx": True}
    assert filters["spf_record"](spec) == "v=spf1 mx ip4:192.0.2.10 ip6:2001:db8::/32 include:_spf.example.com -all"


@pytest.mark.parametrize("spec, record", [
    ({}, "v=spf1 -all"),
    ({"all": "~"}, "v=spf1 ~all"),
    ({"all": "softfail"}, "v=spf1 ~all"),
    ({"all": "Neutral"}, "v=spf1 ?all"),
    ({"all": "fail", "a": True}, "v=spf1 a -all"),
    ({"a": ["Mail.Example.com."], "mx": ["mx.example.net"]}, "v=spf1 a:mail.example.com mx:mx.example.net -all"),
    ({"ip4": ["192.0.2.1/32", "192.0.2.1", "198.51.100.0/24"], "ip6": ["2001:db8::1/128"]},
     "v=spf1 ip4:192.0.2.1 ip4:198.51.100.0/24 ip6:2001:db8::1 -all"),
    ({"exists": ["relay.example.com"], "ptr": True}, "v=spf1 exists:relay.example.com ptr -all"),
    ({"mx": True, "redirect": "_spf.example.com"}, "v=spf1 mx redirect=_spf.example.com"),
    ({"mx": True, "exp": "explain._spf.example.com"}, "v=spf1 mx -all exp=explain._spf.example.com"),
    ({"a": False, "mx": None, "include": []}, "v=spf1 -all"),
])
def test_spf_record_variants(filters, spec, record):
    assert filters["spf_record"](spec) == record


def test_spf_pass_all_needs_explicit_permission(filters):
    rejects(filters["spf_record"], "'+'", {"all": "+"})
    rejects(filters["spf_record"], "'pass'", {"all": "pass"})
    assert filters["spf_record"]({"all": "pass"}, allow_pass_all=True) == "v=spf1 +all"


def includes(count):
    return [f"_spf{n}.example.com" for n in range(count)]


@pytest.mark.parametrize("spec", [
    {"include": includes(10)},
    {"mx": True, "include": includes(9)},
    {"a": True, "mx": ["mx.example.net"], "ptr": True, "exists": ["x.example.com"], "include": includes(5),
     "redirect": "_spf.example.org"},
])
def test_spf_record_allows_exactly_ten_lookups(filters, spec):
    record = filters["spf_record"](spec)
    assert filters["spf_lookup_count"](record) == 10


@pytest.mark.parametrize("spec", [
    {"include": includes(11)},
    {"mx": True, "include": includes(10)},
    {"include": includes(10), "redirect": "_spf.example.org"},
    {"include": includes(10), "ptr": True},
    {"include": includes(9), "exists": ["a.example.com", "b.example.com"]},
])
def test_spf_record_refuses_eleven_lookups(filters, spec):
    message = rejects(filters["spf_record"], "needs 11 DNS lookups", spec)
    assert "RFC 7208 §4.6.4 allows at most 10" in message


def test_spf_duplicates_do_not_count_twice(filters):
    assert filters["spf_record"]({"include": includes(10) + includes(10)}).count("include:") == 10


@pytest.mark.parametrize("spec, needle", [
    ({"ip5": ["192.0.2.1"]}, "'ip5'"),
    ({"ip4": ["192.0.2.1/24"]}, "'192.0.2.1/24'"),
    ({"ip4": ["192.0.2.300"]}, "'192.0.2.300'"),
    ({"ip4": ["2001:db8::/32"]}, "'2001:db8::/32'"),
    ({"ip6": ["192.0.2.0/24"]}, "'192.0.2.0/24'"),
    ({"ip6": ["2001:db8::1/32"]}, "'2001:db8::1/32'"),
    ({"ip4": [3221225985]}, "3221225985"),
    ({"ip4": "192.0.2.1"}, "ip4 must be a list, got '192.0.2.1'"),
    ({"include": ["_spf.example.com", "bad_domain.example.com"]}, "'bad_domain.example.com'"),
    ({"include": ["%{i}._spf.example.com"]}, "'%{i}._spf.example.com'"),
    ({"include": ["x" * 64 + ".example.com"]}, "x" * 64),
    ({"include": [".".join(["a" * 60] * 5)]}, "a" * 60),
    ({"include": ["localhost"]}, "'localhost'"),
    ({"include": ["-bad.example.com"]}, "'-bad.example.com'"),
    ({"exists": ["exa mple.com"]}, "'exa mple.com'"),
    ({"a": "mail.example.com"}, "a must be a list, got 'mail.example.com'"),
    ({"mx": ["mx.example.123"]}, "'mx.example.123'"),
    ({"redirect": "not a domain"}, "'not a domain'"),
    ({"redirect": "_spf.example.com", "all": "-"}, "all='-' and redirect='_spf.example.com'"),
    ({"all": "hardfail"}, "'hardfail'"),
    ({"all": True}, "True"),
    ({"exp": "exp..example.com"}, "'exp..example.com'"),
])
def test_spf_record_rejects_bad_input_naming_it(filters, spec, needle):
    rejects(filters["spf_record"], needle, spec)


def test_spf_record_needs_a_mapping(filters):
    rejects(filters["spf_record"], "'v=spf1 -all'", "v=spf1 -all")


def test_spf_domain_length_edges(filters):
    longest = ".".join(["a" * 63] * 3 + ["b" * 61])  # 253 characters
    assert len(longest) == 253
    assert filters["spf_record"]({"include": [longest]}) == f"v=spf1 include:{longest} -all"
    too_long = longest + "b"  # 254 characters, every label still valid
    rejects(filters["spf_record"], repr(too_long), {"include": [too_long]})
    label63 = "l" * 63 + ".example.com"
    assert filters["spf_record"]({"a": [label63]}) == f"v=spf1 a:{label63} -all"


ipv4_nets = st.builds(lambda address, prefix: ipaddress.ip_network(f"{address}/{prefix}", strict=False),
                      st.ip_addresses(v=4), st.integers(0, 32))
ipv6_nets = st.builds(lambda address, prefix: ipaddress.ip_network(f"{address}/{prefix}", strict=False),
                      st.ip_addresses(v=6), st.integers(0, 128))


@given(v4=st.lists(ipv4_nets, max_size=8), v6=st.lists(ipv6_nets, max_size=8), n_includes=st.integers(0, 12),
       mx=st.booleans())
def test_spf_record_round_trips_networks_and_counts_lookups(filters, v4, v6, n_includes, mx):
    spec = {"ip4": [str(n) for n in v4], "ip6": [str(n) for n in v6], "include": includes(n_includes), "mx": mx}
    lookups = n_includes + mx
    if lookups > 10:
        rejects(filters["spf_record"], f"needs {lookups} DNS lookups", spec)
        return
    record = filters["spf_record"](spec)
    words = record.split()
    assert words[0] == "v=spf1"
    assert words[-1] == "-all"
    parsed = {"ip4": set(), "ip6": set(), "include": set()}
    for word in words[1:-1]:
        if word == "mx":
            continue
        kind, _, value = word.partition(":")
        parsed[kind].add(ipaddress.ip_network(value) if kind.startswith("ip") else value)
    assert parsed == {"ip4": set(v4), "ip6": set(v6), "include": set(spec["include"])}
    assert ("mx" in words) == mx
    assert len(words) == 2 + len(set(v4)) + len(set(v6)) + n_includes + mx
    assert filters["spf_lookup_count"](record) == lookups


# --- spf_lookup_count ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("record, count", [
    ("v=spf1 -all", 0),
    ("v=spf1", 0),
    ("v=spf1 ip4:192.0.2.1 ip6:2001:db8::/32 exp=explain.example.com ~all", 0),
    ("v=spf1 a mx ptr exists:x.example.com include:y.example.com redirect=z.example.com", 6),
    ("V=SPF1 +A:mail.example.com/24 -MX//64 ?include:_spf.example.com ~all", 3),
    ("v=spf1 include:a.example.com include:b.example.com unknown-modifier=foo -all", 2),
])
def test_spf_lookup_count_without_resolver(filters, record, count):
    assert filters["spf_lookup_count"](record) == count


@pytest.mark.parametrize("record, needle", [
    ("spf1 -all", "'spf1 -all'"),
    ("v=spf10 mx", "'v=spf10 mx'"),
    ("v=spf1 mx bogus:example.com -all", "'bogus:example.com'"),
    ("v=spf1 -redirect=example.com", "'-redirect=example.com'"),
    ("v=spf1 1mx", "'1mx'"),
    (None, "None"),
])
def test_spf_lookup_count_rejects_non_spf(filters, record, needle):
    rejects(filters["spf_lookup_count"], needle, record)


class FakeResolver:
    """Stands in for dns.resolver.Resolver: answers from a dict {(name, type): [texts] or an exception}.

    A missing (name, type) is NXDOMAIN; every query is recorded as (name, type) in ``queries``.
    """

    zone: ClassVar[dict] = {}
    made: ClassVar[list] = []

    def __init__(self, configure=True):
        self.configure, self.nameservers, self.lifetime = configure, [], None
        self.queries = []
        FakeResolver.made.append(self)

    def resolve(self, qname, rdtype):
        self.queries.append((qname, rdtype))
        answer = self.zone.get((qname, rdtype))
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            raise dns.resolver.NXDOMAIN()
        # each record as several character-strings, as DNS delivers long ones
        return [SimpleNamespace(strings=tuple(t[i:i + 7].encode() for i in range(0, len(t), 7))) for t in answer]


@pytest.fixture
def fake_dns(monkeypatch):
    monkeypatch.setattr(dns.resolver, "Resolver", FakeResolver)
    FakeResolver.made, FakeResolver.zone = [], {}
    return FakeResolver


def txt(records: dict) -> dict:
    """A zone of TXT answers only: {name: answer} as the fake's {(name, "TXT"): answer}."""
    return {(name, "TXT"): answer for name, answer in records.items()}


def test_spf_lookup_count_expands_includes_through_the_given_resolver(filters, fake_dns):
    fake_dns.zone = txt({
        "_spf.a.test": ["v=spf1 include:_spf.b.test include:_spf.c.test ~all", "google-site-verification=x"],
        "_spf.b.test": ["v=spf1 ip4:192.0.2.0/24 a:b.test -all"],
        "_spf.c.test": ["v=spf1 redirect=_spf.b.test"],
    })
    # own: mx, include = 2; a: 2 includes; b: a = 1; c: redirect = 1, then b again = 1
    total = filters["spf_lookup_count"]("v=spf1 mx include:_spf.a.test -all", resolver="192.0.2.53")
    assert total == 7
    (resolver,) = fake_dns.made
    assert resolver.configure is False
    assert resolver.nameservers == ["192.0.2.53"]
    assert 0 < resolver.lifetime <= 10
    assert resolver.queries == [(name, "TXT") for name in ("_spf.a.test", "_spf.b.test", "_spf.c.test", "_spf.b.test")]


def test_spf_lookup_count_accepts_a_list_of_resolvers(filters, fake_dns):
    fake_dns.zone = txt({"_spf.a.test": ["v=spf1 mx -all"]})
    assert filters["spf_lookup_count"]("v=spf1 include:_spf.a.test -all", ["192.0.2.53", "2001:db8::53"]) == 2
    assert fake_dns.made[0].nameservers == ["192.0.2.53", "2001:db8::53"]


def test_spf_lookup_count_without_resolver_makes_no_query(filters, fake_dns):
    assert filters["spf_lookup_count"]("v=spf1 include:_spf.a.test -all") == 1
    assert fake_dns.made == []


@pytest.mark.parametrize("zone, needle", [
    ({"_spf.a.test": ["v=spf1 include:_spf.b.test -all"], "_spf.b.test": ["v=spf1 include:_spf.a.test -all"]},
     "loop: _spf.a.test -> _spf.b.test -> _spf.a.test"),
    ({"_spf.a.test": ["v=spf1 redirect=_spf.a.test"]}, "loop: _spf.a.test -> _spf.a.test"),
    ({}, "'_spf.a.test' publishes 0 SPF records"),
    ({"_spf.a.test": ["v=spf1 mx -all", "v=spf1 a -all"]}, "'_spf.a.test' publishes 2 SPF records"),
    ({"_spf.a.test": dns.resolver.NoAnswer()}, "'_spf.a.test' publishes 0 SPF records"),
    ({"_spf.a.test": dns.exception.Timeout()}, "TXT lookup of '_spf.a.test' failed"),
    ({"_spf.a.test": ["v=spf1 include:%{i}._spf.a.test -all"]}, "'%{i}._spf.a.test'"),
    ({"_spf.a.test": ["v=spf1 include:_spf.b.test"], "_spf.b.test": ["v=spf1 include:_spf.c.test"],
      "_spf.c.test": ["v=spf1 -all"]}, "deeper than max_depth=2: _spf.a.test -> _spf.b.test -> _spf.c.test"),
])
def test_spf_lookup_count_expansion_errors(filters, fake_dns, zone, needle):
    fake_dns.zone = txt(zone)
    rejects(filters["spf_lookup_count"], needle, "v=spf1 include:_spf.a.test -all", "192.0.2.53", max_depth=2)


def test_spf_lookup_count_max_depth_is_reachable(filters, fake_dns):
    fake_dns.zone = txt({"_spf.a.test": ["v=spf1 include:_spf.b.test"], "_spf.b.test": ["v=spf1 a -all"]})
    assert filters["spf_lookup_count"]("v=spf1 include:_spf.a.test", "192.0.2.53", max_depth=2) == 3


@pytest.mark.parametrize("resolver, needle", [
    ("dns.example.com", "'dns.example.com'"),
    (["192.0.2.53", "192.0.2.999"], "'192.0.2.999'"),
    ([], "at least one"),
    ({"server": "192.0.2.53"}, "'server'"),
])
def test_spf_lookup_count_rejects_bad_resolvers(filters, fake_dns, resolver, needle):
    rejects(filters["spf_lookup_count"], needle, "v=spf1 include:_spf.a.test -all", resolver)


# --- spf_limits ----------------------------------------------------------------------------------------------

def test_spf_limits_follows_the_chain_and_counts(filters, fake_dns):
    fake_dns.zone = {("_spf.a.test", "TXT"): ["v=spf1 include:_spf.b.test a mx -all", "other text"],
                     ("_spf.b.test", "TXT"): ["v=spf1 ip4:192.0.2.0/24 -all"]}
    result = filters["spf_limits"]("v=spf1 mx include:_spf.a.test -all", ["192.0.2.53"], domain="example.com")
    assert (result["lookups"], result["void_lookups"], result["problems"]) == (5, 0, [])
    assert result["octets"] == len("v=spf1 mx include:_spf.a.test -all")
    assert result["chain"] == [
        "example.com: 'v=spf1 mx include:_spf.a.test -all' (2 lookups, 34 octets)",
        "example.com -> _spf.a.test: 'v=spf1 include:_spf.b.test a mx -all' (3 lookups, 36 octets)",
        "example.com -> _spf.a.test -> _spf.b.test: 'v=spf1 ip4:192.0.2.0/24 -all' (0 lookups, 28 octets)",
    ]
    (resolver,) = fake_dns.made
    assert resolver.configure is False
    assert resolver.nameservers == ["192.0.2.53"]


def test_spf_limits_reports_too_many_lookups_with_the_chain(filters, fake_dns):
    fake_dns.zone = {("_spf.many.test", "TXT"): ["v=spf1 a mx a mx a mx a mx a mx -all"]}
    result = filters["spf_limits"]("v=spf1 mx include:_spf.many.test -all", "192.0.2.53", domain="example.com")
    assert result["lookups"] == 12
    assert result["problems"] == ["12 DNS lookups (RFC 7208 4.6.4 allows 10)"]
    assert "example.com -> _spf.many.test: 'v=spf1 a mx a mx a mx a mx a mx -all' (10 lookups" in result["chain"][1]


def test_spf_limits_counts_void_lookups(filters, fake_dns):
    fake_dns.zone = {("_spf.a.test", "TXT"): dns.resolver.NoAnswer(), ("exists.test", "A"): ["192.0.2.1"]}
    record = "v=spf1 include:_spf.a.test include:_gone.test a:nothing.test mx:exists.test a:exists.test -all"
    result = filters["spf_limits"](record, "192.0.2.53")
    # _spf.a.test (no TXT), _gone.test (NXDOMAIN), a:nothing.test and mx:exists.test (no MX)
    assert result["void_lookups"] == 4
    assert result["problems"] == ["4 void lookups (RFC 7208 4.6.4 allows 2)"]
    assert "(record) -> _gone.test: no TXT record (void lookup)" in result["chain"]


def test_spf_limits_refuses_more_than_450_octets(filters, fake_dns):
    record = "v=spf1 " + " ".join(f"ip4:192.0.2.{n}" for n in range(1, 40)) + " -all"
    result = filters["spf_limits"](record, offline=True)
    assert result["octets"] == len(record) > 450
    assert result["problems"] == [f"{len(record)} octets (RFC 7208 3.4: keep it under 450)"]


def test_spf_limits_offline_asks_nobody_and_says_so(filters, fake_dns):
    result = filters["spf_limits"]("v=spf1 include:_spf.a.test -all", ["192.0.2.53"], offline=True)
    assert fake_dns.made == []
    assert (result["lookups"], result["offline"], result["problems"]) == (1, True, [])


def test_spf_limits_without_a_resolver_uses_the_system_one(filters, fake_dns):
    fake_dns.zone = {("_spf.a.test", "TXT"): ["v=spf1 -all"]}
    filters["spf_limits"]("v=spf1 include:_spf.a.test -all")
    assert fake_dns.made[0].configure is True


def test_spf_limits_names_failed_lookups_and_bad_targets(filters, fake_dns):
    fake_dns.zone = {("_spf.a.test", "TXT"): dns.exception.Timeout(),
                     ("_spf.two.test", "TXT"): ["v=spf1 -all", "v=spf1 a -all"]}
    with pytest.raises(AnsibleFilterError, match=re.escape("TXT lookup of '_spf.a.test' failed")):
        filters["spf_limits"]("v=spf1 include:_spf.a.test -all", "192.0.2.53")
    result = filters["spf_limits"]("v=spf1 include:_spf.two.test -all", "192.0.2.53")
    assert result["problems"] == ["(record) -> _spf.two.test: 2 SPF records (needs exactly one)"]


@pytest.mark.parametrize("zone, needle", [
    ({"_spf.a.test": ["v=spf1 include:_spf.a.test"]},
     "spf_limits: SPF include loop: example.com -> _spf.a.test -> _spf.a.test"),
    ({"_spf.a.test": ["v=spf1 redirect=example.com"]}, "loop: example.com -> _spf.a.test -> example.com"),
    ({"_spf.a.test": ["v=spf1 include:_spf.b.test"], "_spf.b.test": ["v=spf1 include:_spf.c.test"],
      "_spf.c.test": ["v=spf1 -all"]},
     "spf_limits: includes nest deeper than max_depth=2: example.com -> _spf.a.test -> _spf.b.test -> _spf.c.test"),
])
def test_spf_limits_refuses_loops_and_deep_nesting(filters, fake_dns, zone, needle):
    fake_dns.zone = txt(zone)
    rejects(filters["spf_limits"], needle, "v=spf1 include:_spf.a.test -all", "192.0.2.53", "example.com", max_depth=2)


def test_spf_limits_and_spf_lookup_count_walk_a_chain_alike(filters, fake_dns):
    """One walker: the same chain costs the same lookups, whichever filter follows it."""
    fake_dns.zone = {**txt({"_spf.a.test": ["v=spf1 include:_spf.b.test a:host.test mx -all"],
                            "_spf.b.test": ["v=spf1 exists:host.test redirect=_spf.c.test"],
                            "_spf.c.test": ["v=spf1 ptr -all"]}),
                     ("host.test", "A"): ["192.0.2.1"], ("a.test", "MX"): ["10 host.test."]}
    record = "v=spf1 mx:a.test include:_spf.a.test -all"
    limits = filters["spf_limits"](record, "192.0.2.53")
    assert limits["lookups"] == filters["spf_lookup_count"](record, "192.0.2.53") == 8
    assert (limits["void_lookups"], limits["problems"]) == (0, [])


def test_spf_limits_names_itself_for_a_bad_resolver(filters, fake_dns):
    rejects(filters["spf_limits"], "spf_limits: resolver 'dns.example.com' is not an IP address",
            "v=spf1 -all", "dns.example.com")
