# SPDX-License-Identifier: MIT
"""Who owns which DNS value, what a domain's records are, and SPF's limits: all without DNS.

plan() of roles/dns_records/library/mailfort_dns_rrsets.py decides what one
UPDATE adds and deletes; dns_records_domain_records computes a domain's records
from every host serving it; spf_limits counts lookups, void lookups and octets
through a fake resolver (never the network).
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import dns.exception
import dns.resolver
import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

MODULE = Path(__file__).resolve().parents[2] / "roles" / "dns_records" / "library" / "mailfort_dns_rrsets.py"
_spec = importlib.util.spec_from_file_location("mailfort_dns_rrsets", MODULE)
rrsets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rrsets)

APEX = ("example.com.", "TXT")
MX = ("example.com.", "MX")


def owned_of(entries):
    return {(n, t, rrsets.value_hash(n, t, v)) for (n, t), values in entries.items() for v in values}


# --- plan(): the pure diff -------------------------------------------------------------------------------------

def test_foreign_values_stay_and_ours_are_added():
    current = {APEX: {'"google-site-verification=abc"'}, MX: {"50 backup-mx.example.net."}}
    wanted = {APEX: {'"v=spf1 mx -all"'}, MX: {"10 mx.example.com."}}
    result = rrsets.plan(current, wanted, owned=set())
    assert result["add"] == wanted
    assert result["delete"] == {}
    assert result["owned"] == owned_of(wanted)


def test_a_value_we_published_and_no_longer_want_is_deleted_alone():
    current = {MX: {"10 mx1.example.com.", "10 mx2.example.com.", "50 backup-mx.example.net."}}
    owned = owned_of({MX: {"10 mx1.example.com.", "10 mx2.example.com."}})
    result = rrsets.plan(current, {MX: {"10 mx1.example.com."}}, owned)
    assert result["add"] == {}
    assert result["delete"] == {MX: {"10 mx2.example.com."}}
    assert result["owned"] == owned_of({MX: {"10 mx1.example.com."}})


def test_a_name_no_longer_wanted_at_all_is_cleaned_value_by_value():
    name = ("old._domainkey.example.com.", "TXT")
    current = {name: {'"v=DKIM1; p=OLD"', '"someone else"'}}
    result = rrsets.plan(current, {}, owned_of({name: {'"v=DKIM1; p=OLD"'}}))
    assert result["delete"] == {name: {'"v=DKIM1; p=OLD"'}}
    assert result["owned"] == set()


def test_retired_names_lose_every_value_owned_or_not():
    name = ("old._domainkey.example.com.", "TXT")
    result = rrsets.plan({name: {'"v=DKIM1; p=OLD"'}}, {}, set(), retired=[("OLD._domainkey.example.com.", "txt")])
    assert result["delete"] == {name: {'"v=DKIM1; p=OLD"'}}


def test_preserved_names_keep_their_owned_values():
    name = ("sel2._domainkey.example.com.", "TXT")
    current = {name: {'"v=DKIM1; p=HOST2"'}}
    result = rrsets.plan(current, {}, owned_of(current), preserve=["._domainkey.example.com."])
    assert result["delete"] == {}
    assert result["owned"] == owned_of(current)


def test_a_competing_foreign_spf_is_a_conflict_deleted_only_when_adopted():
    current = {APEX: {'"v=spf1 a -all"', '"google-site-verification=abc"'}}
    wanted = {APEX: {'"v=spf1 mx -all"'}}
    refused = rrsets.plan(current, wanted, set(), exclusive={APEX: "v=spf1"})
    assert refused["conflicts"] == {APEX: {'"v=spf1 a -all"'}}
    assert refused["delete"] == {}
    adopted = rrsets.plan(current, wanted, set(), exclusive={APEX: "v=spf1"}, adopt=True)
    assert adopted["delete"] == {APEX: {'"v=spf1 a -all"'}}


def test_the_registry_text_round_trips():
    digest = rrsets.value_hash("example.com.", "MX", "10 mx.example.com.")
    text = rrsets.registry_text("Example.COM.", "mx", digest)
    assert text == f"mailfort name=example.com. type=MX value={digest}"
    assert rrsets.parse_registry([text, "v=spf1 -all", "mailfort broken"]) == {("example.com.", "MX", digest)}


VALUES = st.sampled_from(["a", "b", "c", "d", "e"]).map(lambda v: f'"{v}"')
KEYS = st.sampled_from([APEX, ("_dmarc.example.com.", "TXT"), ("x.example.com.", "TXT")])
SETS = st.dictionaries(KEYS, st.sets(VALUES, max_size=4), max_size=3)


@given(current=SETS, wanted=SETS, owned_part=SETS)
def test_property_foreign_values_are_never_deleted_and_the_result_is_wanted_plus_foreign(current, wanted, owned_part):
    owned = owned_of(owned_part)
    result = rrsets.plan(current, wanted, owned)

    def is_owned(key, value):
        return (key[0], key[1], rrsets.value_hash(key[0], key[1], value)) in owned

    for key, values in result["delete"].items():
        assert all(is_owned(key, v) for v in values), "a foreign value is in the delete set"
        assert not values & set(wanted.get(key, ())), "a wanted value is in the delete set"
    for key in set(current) | set(wanted):
        after = (set(current.get(key, ())) - result["delete"].get(key, set())) | result["add"].get(key, set())
        foreign = {v for v in current.get(key, ()) if not is_owned(key, v)}
        assert after == set(wanted.get(key, ())) | foreign
    # afterwards mailfort owns exactly the wanted values (plus owned values it kept)
    assert owned_of(wanted) <= result["owned"]


# --- dns_records_domain_records ------------------------------------------------------------------------------

SETTINGS = {"spf": {"mx": True, "all": "-"}, "spf_host_addresses": True, "dmarc": {"phase": "none", "tags": {}},
            "mta_sts_mode": "testing", "mta_sts_max_age": 86400, "tlsrpt_rua": []}


def host(name, mx, addresses=("192.0.2.10",), dkim=None, **extra):
    return {"host": name, "domains": ["example.com"], "mx_host": mx, "mx_preference": 10,
            "addresses": list(addresses) if addresses is not None else None,
            "dkim_keys": dkim if dkim is not None else {}, "dkim_retired": [], "tlsa": "", **extra}


def by_key(result, domain="example.com"):
    return {(r["name"], r["type"]): r["values"] for r in result[domain]["records"]}


def test_two_hosts_for_one_domain_give_two_mx_and_one_spf_covering_both(filters):
    result = filters["dns_records_domain_records"](
        [host("a", "mx1.example.com"), host("b", "mx2.example.com", ["192.0.2.20", "2001:db8::20"])], SETTINGS)
    records = by_key(result)
    assert records[("example.com.", "MX")] == ["10 mx1.example.com.", "10 mx2.example.com."]
    assert records[("example.com.", "TXT")] == ['"v=spf1 mx ip4:192.0.2.10 ip4:192.0.2.20 ip6:2001:db8::20 -all"']
    assert result["example.com"]["spf"] == "v=spf1 mx ip4:192.0.2.10 ip4:192.0.2.20 ip6:2001:db8::20 -all"
    assert result["example.com"]["hosts"] == ["a", "b"]
    assert "mx: mx1.example.com\nmx: mx2.example.com" in result["example.com"]["mta_sts_policy"]
    assert [r["exclusive"] for r in result["example.com"]["records"] if r["type"] == "TXT"][:1] == ["v=spf1"]


def test_a_host_outside_the_play_without_addresses_fails_naming_it(filters):
    unknown = re.escape("mx2-host serves example.com but its addresses are unknown")
    with pytest.raises(AnsibleFilterError, match=unknown):
        filters["dns_records_domain_records"]([host("a", "mx1.example.com"), host("mx2-host", "mx2.example.com",
                                                                                      addresses=None)], SETTINGS)


def test_unknown_dkim_keys_and_tlsa_are_preserved_not_deleted(filters):
    outside = host("b", "mx2.example.com", dkim=None, tlsa=None)
    outside["dkim_keys"] = None
    result = filters["dns_records_domain_records"]([host("a", "mx1.example.com"), outside], SETTINGS)
    assert result["example.com"]["preserve"] == ["._domainkey.example.com.", "_25._tcp.mx2.example.com."]


def test_two_hosts_with_different_keys_for_one_selector_are_refused(filters, rsa_pems):
    first, second = rsa_pems
    with pytest.raises(AnsibleFilterError, match=re.escape("different keys for the DKIM selector mail of example.com")):
        filters["dns_records_domain_records"](
            [host("a", "mx1.example.com", dkim={"example.com": {"mail": first}}),
             host("b", "mx2.example.com", dkim={"example.com": {"mail": second}})], SETTINGS)


def test_retired_selectors_and_tlsa_land_where_they_belong(filters, rsa_pems):
    result = filters["dns_records_domain_records"](
        [host("a", "mx1.example.com", dkim={"example.com": {"new": rsa_pems[0]}}, dkim_retired=["old", "new"],
              tlsa="3 1 1 abcd")], SETTINGS)
    assert result["example.com"]["retired"] == [{"name": "old._domainkey.example.com.", "type": "TXT",
                                                 "domain": "example.com"}]
    records = by_key(result)
    assert records[("_25._tcp.mx1.example.com.", "TLSA")] == ["3 1 1 abcd"]
    assert records[("new._domainkey.example.com.", "TXT")][0].startswith('"v=DKIM1; k=rsa; p=')


@pytest.fixture(scope="module")
def rsa_pems():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    return [rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode() for _ in range(2)]


# --- spf_limits --------------------------------------------------------------------------------------------------

class FakeResolver:
    """Stands in for dns.resolver.Resolver: answers from a dict {(name, type): [texts]}, never the network."""

    zone: ClassVar[dict] = {}
    made: ClassVar[list] = []

    def __init__(self, configure=True):
        self.configure, self.nameservers, self.lifetime = configure, [], None
        FakeResolver.made.append(self)

    def resolve(self, qname, rdtype):
        answer = self.zone.get((qname, rdtype))
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            raise dns.resolver.NXDOMAIN()
        return [SimpleNamespace(strings=(t.encode(),)) for t in answer]


@pytest.fixture
def fake_dns(monkeypatch):
    monkeypatch.setattr(dns.resolver, "Resolver", FakeResolver)
    FakeResolver.made, FakeResolver.zone = [], {}
    return FakeResolver


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


def test_an_owned_value_that_is_kept_is_no_conflict():
    name = ("sel._domainkey.example.com.", "TXT")
    current = {name: {'"v=DKIM1; p=HOST2"'}}
    result = rrsets.plan(current, {name: {'"v=DKIM1; p=HOST1"'}}, owned_of(current),
                         preserve=["._domainkey.example.com."], exclusive={name: "v=DKIM1"})
    assert result["conflicts"] == {}
    assert result["delete"] == {}
