# SPDX-License-Identifier: MIT
"""Who owns which DNS value and what a domain's records are: all without DNS.

plan() of modules/mailfort_dns_rrsets.py decides what one
UPDATE adds and deletes; dns_records_domain_records (filter_plugins/dns_records.py)
computes a domain's records from every host serving it. SPF's limits (spf_limits)
are tested with the other SPF filters in test_dns_spf.py.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from cryptography.hazmat.primitives.asymmetric import rsa
from dns_helpers import public_pem
from hypothesis import given
from hypothesis import strategies as st

MODULE = Path(__file__).resolve().parents[2] / "modules" / "mailfort_dns_rrsets.py"
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


def test_an_owned_value_that_is_kept_is_no_conflict():
    name = ("sel._domainkey.example.com.", "TXT")
    current = {name: {'"v=DKIM1; p=HOST2"'}}
    result = rrsets.plan(current, {name: {'"v=DKIM1; p=HOST1"'}}, owned_of(current),
                         preserve=["._domainkey.example.com."], exclusive={name: "v=DKIM1"})
    assert result["conflicts"] == {}
    assert result["delete"] == {}


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


def test_serving_mta_sts_publishes_the_policy_host_at_every_serving_host(filters):
    hosts = [host("a", "mx1.example.com"), host("b", "mx2.example.com", ["192.0.2.20", "2001:db8::20"])]
    records = by_key(filters["dns_records_domain_records"](hosts, {**SETTINGS, "mta_sts_serve": True}))
    assert records[("mta-sts.example.com.", "A")] == ["192.0.2.10", "192.0.2.20"]
    assert records[("mta-sts.example.com.", "AAAA")] == ["2001:db8::20"]
    # Served elsewhere (the default of the filter), or no MTA-STS at all: no policy host records.
    assert ("mta-sts.example.com.", "A") not in by_key(filters["dns_records_domain_records"](hosts, SETTINGS))
    off = {**SETTINGS, "mta_sts_mode": "", "mta_sts_serve": True}
    assert ("mta-sts.example.com.", "A") not in by_key(filters["dns_records_domain_records"](hosts, off))
    unknown = re.escape("b serves example.com but its addresses are unknown")
    with pytest.raises(AnsibleFilterError, match=unknown):
        filters["dns_records_domain_records"]([host("a", "mx1.example.com"), host("b", "mx2.example.com",
                                                                                  addresses=None)],
                                              {**SETTINGS, "spf_host_addresses": False, "mta_sts_serve": True})


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


def test_a_key_rollover_publishes_the_current_and_the_next_tlsa_once_each(filters):
    result = filters["dns_records_domain_records"](
        [host("a", "mx1.example.com", tlsa=["3 1 1 abcd", "3 1 1 ef01", "3 1 1 abcd", ""])], SETTINGS)
    assert by_key(result)[("_25._tcp.mx1.example.com.", "TLSA")] == ["3 1 1 abcd", "3 1 1 ef01"]
    empty = filters["dns_records_domain_records"]([host("a", "mx1.example.com", tlsa=[])], SETTINGS)
    assert ("_25._tcp.mx1.example.com.", "TLSA") not in by_key(empty)


def test_tlsa_data_that_is_not_text_is_refused_naming_the_host(filters):
    with pytest.raises(AnsibleFilterError, match=re.escape("host a: tlsa: 311 is not TLSA record data")):
        filters["dns_records_domain_records"]([host("a", "mx1.example.com", tlsa=[311])], SETTINGS)


@pytest.fixture(scope="module")
def rsa_pems():
    return [public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()) for _ in range(2)]
