# SPDX-License-Identifier: MIT
from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import math
import re
from types import SimpleNamespace
from typing import ClassVar

import dns.exception
import dns.resolver
import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

DER, PEM = serialization.Encoding.DER, serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def public_pem(key, fmt=SPKI) -> str:
    return key.public_bytes(PEM, fmt).decode()


def private_pem(key) -> str:
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def self_signed(name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return key, cert


@pytest.fixture(scope="module")
def rsa2048():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def leaf():
    return self_signed("mail.example.test")


def rejects(function, needle, *args, **kwargs):
    """The filter raises AnsibleFilterError and the message contains needle (the offending value)."""
    with pytest.raises(AnsibleFilterError) as info:
        function(*args, **kwargs)
    assert needle in str(info.value), str(info.value)
    return str(info.value)


# --- SPF -----------------------------------------------------------------------------------------------------

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
    """Stands in for dns.resolver.Resolver: answers TXT queries from a dict, never touches the network."""

    zone: ClassVar[dict] = {}
    made: ClassVar[list] = []

    def __init__(self, configure=True):
        self.configure = configure
        self.nameservers = []
        self.lifetime = None
        self.queries = []
        FakeResolver.made.append(self)

    def resolve(self, qname, rdtype):
        assert rdtype == "TXT"
        self.queries.append(qname)
        answer = self.zone.get(qname)
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            raise dns.resolver.NXDOMAIN()
        # each record as several character-strings, as DNS delivers long ones
        return [SimpleNamespace(strings=tuple(t[i:i + 7].encode() for i in range(0, len(t), 7))) for t in answer]


@pytest.fixture
def fake_dns(monkeypatch):
    monkeypatch.setattr(dns.resolver, "Resolver", FakeResolver)
    FakeResolver.made = []
    FakeResolver.zone = {}
    return FakeResolver


def test_spf_lookup_count_expands_includes_through_the_given_resolver(filters, fake_dns):
    fake_dns.zone = {
        "_spf.a.test": ["v=spf1 include:_spf.b.test include:_spf.c.test ~all", "google-site-verification=x"],
        "_spf.b.test": ["v=spf1 ip4:192.0.2.0/24 a:b.test -all"],
        "_spf.c.test": ["v=spf1 redirect=_spf.b.test"],
    }
    # own: mx, include = 2; a: 2 includes; b: a = 1; c: redirect = 1, then b again = 1
    total = filters["spf_lookup_count"]("v=spf1 mx include:_spf.a.test -all", resolver="192.0.2.53")
    assert total == 7
    (resolver,) = fake_dns.made
    assert resolver.configure is False
    assert resolver.nameservers == ["192.0.2.53"]
    assert 0 < resolver.lifetime <= 10
    assert resolver.queries == ["_spf.a.test", "_spf.b.test", "_spf.c.test", "_spf.b.test"]


def test_spf_lookup_count_accepts_a_list_of_resolvers(filters, fake_dns):
    fake_dns.zone = {"_spf.a.test": ["v=spf1 mx -all"]}
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
    fake_dns.zone = zone
    rejects(filters["spf_lookup_count"], needle, "v=spf1 include:_spf.a.test -all", "192.0.2.53", max_depth=2)


def test_spf_lookup_count_max_depth_is_reachable(filters, fake_dns):
    fake_dns.zone = {"_spf.a.test": ["v=spf1 include:_spf.b.test"], "_spf.b.test": ["v=spf1 a -all"]}
    assert filters["spf_lookup_count"]("v=spf1 include:_spf.a.test", "192.0.2.53", max_depth=2) == 3


@pytest.mark.parametrize("resolver, needle", [
    ("dns.example.com", "'dns.example.com'"),
    (["192.0.2.53", "192.0.2.999"], "'192.0.2.999'"),
    ([], "at least one"),
    ({"server": "192.0.2.53"}, "'server'"),
])
def test_spf_lookup_count_rejects_bad_resolvers(filters, fake_dns, resolver, needle):
    rejects(filters["spf_lookup_count"], needle, "v=spf1 include:_spf.a.test -all", resolver)


# --- DMARC ---------------------------------------------------------------------------------------------------

def test_dmarc_record_all_tags_in_rfc_order(filters):
    spec = {"ri": 3600, "fo": "1:d", "aspf": "r", "adkim": "s", "ruf": ["mailto:forensic@example.test"],
            "rua": ["mailto:a@example.test", "mailto:b@reports.example.net!10m"], "pct": 50, "sp": "reject",
            "p": "quarantine"}
    assert filters["dmarc_record"](spec) == (
        "v=DMARC1; p=quarantine; sp=reject; pct=50; rua=mailto:a@example.test,mailto:b@reports.example.net!10m;"
        " ruf=mailto:forensic@example.test; adkim=s; aspf=r; fo=1:d; ri=3600"
    )


@pytest.mark.parametrize("spec, record", [
    ({"p": "none"}, "v=DMARC1; p=none"),
    ({"p": "REJECT", "sp": None, "rua": []}, "v=DMARC1; p=reject"),
    ({"p": "none", "pct": 0}, "v=DMARC1; p=none; pct=0"),
    ({"p": "none", "pct": "100"}, "v=DMARC1; p=none; pct=100"),
    ({"p": "none", "fo": 1}, "v=DMARC1; p=none; fo=1"),
    ({"p": "none", "fo": ["0", "s", "S"]}, "v=DMARC1; p=none; fo=0:s"),
    ({"p": "none", "rua": ["MAILTO:Dmarc+Reports@Example.TEST!5G"]},
     "v=DMARC1; p=none; rua=mailto:Dmarc+Reports@Example.TEST!5G"),
])
def test_dmarc_record_variants(filters, spec, record):
    assert filters["dmarc_record"](spec) == record


@pytest.mark.parametrize("spec, needle", [
    ({}, "p (none, quarantine or reject) is required"),
    ({"p": "rejected"}, "p must be one of none, quarantine, reject, got 'rejected'"),
    ({"p": "none", "sp": "drop"}, "sp must be one of none, quarantine, reject, got 'drop'"),
    ({"p": "none", "pct": 101}, "pct must be an integer from 0 to 100, got 101"),
    ({"p": "none", "pct": -1}, "got -1"),
    ({"p": "none", "pct": True}, "pct must be an integer from 0 to 100, got True"),
    ({"p": "none", "pct": "50%"}, "'50%'"),
    ({"p": "none", "rua": "mailto:a@example.test"}, "rua must be a list, got 'mailto:a@example.test'"),
    ({"p": "none", "rua": ["a@example.test"]}, "'a@example.test' is not a mailto: URI"),
    ({"p": "none", "rua": ["mailto:a@@example.test"]}, "'mailto:a@@example.test'"),
    ({"p": "none", "rua": ["mailto:a,b@example.test"]}, "'mailto:a,b@example.test'"),
    ({"p": "none", "rua": ["mailto:a@localhost"]}, "'mailto:a@localhost'"),
    ({"p": "none", "rua": ["mailto:a@example.test!10x"]}, "'mailto:a@example.test!10x'"),
    ({"p": "none", "ruf": ["https://example.test/"]}, "ruf: 'https://example.test/'"),
    ({"p": "none", "adkim": "strict"}, "adkim must be one of r, s, got 'strict'"),
    ({"p": "none", "aspf": None, "adkim": 1}, "got 1"),
    ({"p": "none", "fo": "1:2"}, "'1:2'"),
    ({"p": "none", "fo": ""}, "fo must be a colon-separated list"),
    ({"p": "none", "ri": 0}, "ri must be an integer from 1 to 4294967295, got 0"),
    ({"p": "none", "rf": "afrf"}, "unknown keys ['rf']"),
])
def test_dmarc_record_rejects_bad_input_naming_it(filters, spec, needle):
    rejects(filters["dmarc_record"], needle, spec)


def test_dmarc_record_needs_a_mapping(filters):
    rejects(filters["dmarc_record"], "'p=reject'", "p=reject")


DMARC_ORDER = ["v", "p", "sp", "pct", "rua", "ruf", "adkim", "aspf", "fo", "ri"]
mailtos = st.builds("mailto:{}@{}.{}{}".format,
                    st.from_regex(r"[a-z0-9]([a-z0-9+_-]{0,8}\.?[a-z0-9]){0,2}", fullmatch=True),
                    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
                    st.sampled_from(["test", "example", "org"]),
                    st.sampled_from(["", "!10m", "!1", "!500k", "!2g"]))
dmarc_specs = st.fixed_dictionaries(
    {"p": st.sampled_from(["none", "quarantine", "reject"])},
    optional={"sp": st.sampled_from(["none", "quarantine", "reject"]), "pct": st.integers(0, 100),
              "rua": st.lists(mailtos, min_size=1, max_size=3), "ruf": st.lists(mailtos, min_size=1, max_size=3),
              "adkim": st.sampled_from("rs"), "aspf": st.sampled_from("rs"),
              "fo": st.lists(st.sampled_from(["0", "1", "d", "s"]), min_size=1, max_size=4, unique=True),
              "ri": st.integers(1, 2**32 - 1)},
)


@given(dmarc_specs)
def test_dmarc_record_round_trips_through_a_tag_parser(filters, spec):
    record = filters["dmarc_record"](spec)
    pairs = [tag.split("=", 1) for tag in record.split("; ")]
    names = [name for name, _ in pairs]
    assert names == [name for name in DMARC_ORDER if name == "v" or name in spec]
    parsed = dict(pairs)
    assert parsed.pop("v") == "DMARC1"
    expected = {key: ",".join(value) if key in ("rua", "ruf") else ":".join(value) if key == "fo" else str(value)
                for key, value in spec.items()}
    assert parsed == expected


@pytest.mark.parametrize("phase, spec", [
    ("none", {"p": "none"}),
    (0, {"p": "none"}),
    ("quarantine:10", {"p": "quarantine", "pct": 10}),
    (1, {"p": "quarantine", "pct": 10}),
    ("quarantine:50", {"p": "quarantine", "pct": 50}),
    (2, {"p": "quarantine", "pct": 50}),
    ("Quarantine:100", {"p": "quarantine", "pct": 100}),
    (3, {"p": "quarantine", "pct": 100}),
    ("reject", {"p": "reject"}),
    (4, {"p": "reject"}),
])
def test_dmarc_rollout_phases(filters, phase, spec):
    assert filters["dmarc_rollout"](phase) == spec


def test_dmarc_rollout_merges_base_and_feeds_dmarc_record(filters):
    base = {"rua": ["mailto:dmarc@example.test"], "adkim": "s", "sp": "reject"}
    spec = filters["dmarc_rollout"]("quarantine:50", base)
    assert spec == {**base, "p": "quarantine", "pct": 50}
    assert base == {"rua": ["mailto:dmarc@example.test"], "adkim": "s", "sp": "reject"}  # not modified
    assert filters["dmarc_record"](spec) == (
        "v=DMARC1; p=quarantine; sp=reject; pct=50; rua=mailto:dmarc@example.test; adkim=s"
    )


@pytest.mark.parametrize("phase, base, needle", [
    ("quarantine:25", None, "unknown phase 'quarantine:25'"),
    (5, None, "unknown phase 5"),
    (-1, None, "unknown phase -1"),
    (True, None, "unknown phase True"),
    ("none", {"p": "reject"}, "must not set p"),
    ("none", {"pct": 10, "rua": []}, "must not set pct"),
    ("none", ["rua"], "base must be a mapping, got ['rua']"),
    ("reject", {"rua": ["dmarc@example.test"]}, "'dmarc@example.test'"),
])
def test_dmarc_rollout_rejects_bad_input(filters, phase, base, needle):
    message = rejects(filters["dmarc_rollout"], needle, phase, base)
    if "unknown phase" in needle:
        assert "none, quarantine:10, quarantine:50, quarantine:100, reject" in message


# --- DKIM ----------------------------------------------------------------------------------------------------

def test_dkim_record_rsa_2048_publishes_the_spki_der(filters, rsa2048):
    record = filters["dkim_record"](public_pem(rsa2048.public_key()))
    assert record.startswith("v=DKIM1; k=rsa; p=")
    p = record.split("p=", 1)[1]
    der = base64.b64decode(p, validate=True)
    assert der == rsa2048.public_key().public_bytes(DER, SPKI)
    assert serialization.load_der_public_key(der).public_numbers() == rsa2048.public_key().public_numbers()
    assert len(der) == 294  # SPKI of a 2048-bit RSA key with e=65537


def test_dkim_record_accepts_pkcs1_rsa_public_key(filters, rsa2048):
    pkcs1 = public_pem(rsa2048.public_key(), serialization.PublicFormat.PKCS1)
    assert pkcs1.startswith("-----BEGIN RSA PUBLIC KEY-----")
    assert filters["dkim_record"](pkcs1) == filters["dkim_record"](public_pem(rsa2048.public_key()))


def test_dkim_record_ed25519_rfc8463_vector(filters):
    """RFC 8463 appendix A: the brisbane._domainkey.football.example.com key."""
    private = ed25519.Ed25519PrivateKey.from_private_bytes(
        base64.b64decode("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="))
    assert filters["dkim_record"](public_pem(private.public_key())) == (
        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    )


def test_dkim_record_all_options_in_order(filters, rsa2048):
    pem = public_pem(rsa2048.public_key()).encode()  # bytes are fine too
    record = filters["dkim_record"](pem, key_type="rsa", hash="sha256", testing=True, service=["email"])
    spki = base64.b64encode(rsa2048.public_key().public_bytes(DER, SPKI)).decode()
    assert record == f"v=DKIM1; h=sha256; k=rsa; s=email; t=y; p={spki}"


@pytest.mark.parametrize("bits, ok", [(1023, False), (1024, True)])
def test_dkim_record_rsa_size_edge(filters, bits, ok):
    key = rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 0xF1).public_key()
    if ok:
        assert filters["dkim_record"](public_pem(key)).startswith("v=DKIM1; k=rsa; p=")
    else:
        rejects(filters["dkim_record"], f"the RSA key has {bits} bits", public_pem(key))


def test_dkim_record_refuses_private_keys_without_echoing_them(filters, rsa2048):
    pem = private_pem(rsa2048)
    message = rejects(filters["dkim_record"], "private key", pem)
    body = pem.splitlines()[1]
    assert body[:16] not in message


@pytest.mark.parametrize("make, kwargs, needle", [
    (lambda k: public_pem(ec.generate_private_key(ec.SECP256R1()).public_key()), {},
     "unsupported key type ECPublicKey"),
    (lambda k: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", {},
     "'-----BEGIN PUBLIC KEY-----\\nAAAA"),
    (lambda k: "ssh-ed25519 AAAAC3Nza", {}, "'ssh-ed25519 AAAAC3Nza'"),
    (lambda k: None, {}, "None"),
    (lambda k: public_pem(k.public_key()), {"key_type": "ed25519"}, "key_type is 'ed25519' but the key is rsa"),
    (lambda k: public_pem(k.public_key()), {"key_type": "dsa"}, "'dsa'"),
    (lambda k: public_pem(k.public_key()), {"hash": "sha1"}, "got 'sha1'"),
    (lambda k: public_pem(k.public_key()), {"hash": ["sha256", "sha1"]}, "got 'sha1'"),
    (lambda k: public_pem(k.public_key()), {"service": "web"}, "got 'web'"),
    (lambda k: public_pem(k.public_key()), {"testing": "yes"}, "got 'yes'"),
])
def test_dkim_record_rejects_bad_input_naming_it(filters, rsa2048, make, kwargs, needle):
    rejects(filters["dkim_record"], needle, make(rsa2048), **kwargs)


# --- TXT -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("length, sizes", [
    (1, [1]), (254, [254]), (255, [255]), (256, [255, 1]), (510, [255, 255]), (511, [255, 255, 1]),
])
def test_txt_strings_255_octet_edges(filters, length, sizes):
    record = "".join(chr(33 + i % 94) for i in range(length))
    parts = filters["txt_strings"](record)
    assert [len(part) for part in parts] == sizes
    assert "".join(parts) == record


def test_txt_strings_limit_and_empty_record(filters):
    assert filters["txt_strings"]("abcdefg", limit=3) == ["abc", "def", "g"]
    assert filters["txt_strings"]("") == [""]
    assert filters["txt_zone"]("") == '""'


def test_txt_zone_quotes_and_escapes(filters):
    assert filters["txt_zone"]('v=x; say "hi" \\o/') == '"v=x; say \\"hi\\" \\\\o/"'
    assert filters["txt_zone"]("a" * 256) == f'"{"a" * 255}" "a"'


def test_txt_single(filters):
    assert filters["txt_single"]("v=spf1 mx -all") == "v=spf1 mx -all"
    assert filters["txt_single"](["v=spf1 mx ", "-all"]) == "v=spf1 mx -all"
    assert filters["txt_single"]([]) == ""


@pytest.mark.parametrize("name, args, needle", [
    ("txt_strings", ("v=spf1 café",), "'é' at position 10"),
    ("txt_strings", ("v=DKIM1;\np=abc",), "'\\n' at position 8"),
    ("txt_strings", ("tab\there",), "'\\t' at position 3"),
    ("txt_strings", (42,), "int: 42"),
    ("txt_strings", ("abc", 0), "limit must be an integer from 1 to 255, got 0"),
    ("txt_strings", ("abc", 256), "got 256"),
    ("txt_zone", ("naïve",), "'ï' at position 2"),
    ("txt_zone", (["a"],), "['a']"),
    ("txt_single", ("naïve",), "'ï'"),
    ("txt_single", (["ok", "bäd"],), "'ä' at position 1 of 'bäd'"),
    ("txt_single", ([1],), "int: 1"),
    ("txt_single", (None,), "None"),
])
def test_txt_filters_reject_bad_input(filters, name, args, needle):
    rejects(filters[name], needle, *args)


printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=1200)
ZONE_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_zone(text: str) -> list[str]:
    """Read zone-file character-strings: quoted, separated by one space, backslash escapes."""
    matches = list(ZONE_STRING.finditer(text))
    assert " ".join(m.group(0) for m in matches) == text, "unquoted text or bad separators"
    return [re.sub(r"\\(.)", r"\1", m.group(1)) for m in matches]


@given(printable, st.integers(1, 255))
def test_txt_strings_properties(filters, record, limit):
    parts = filters["txt_strings"](record, limit)
    assert "".join(parts) == record
    assert all(len(part.encode("ascii")) <= limit for part in parts)
    assert len(parts) == max(1, math.ceil(len(record) / limit))
    assert all(parts) or parts == [""] == [record]


@given(printable)
def test_txt_zone_parses_back(filters, record):
    chunks = parse_zone(filters["txt_zone"](record))
    assert "".join(chunks) == record
    assert chunks == filters["txt_strings"](record)
    assert filters["txt_single"](chunks) == record


# --- MTA-STS and TLS-RPT -------------------------------------------------------------------------------------

@pytest.mark.parametrize("policy_id, record", [
    ("20250101T000000", "v=STSv1; id=20250101T000000"),
    (20250101, "v=STSv1; id=20250101"),
    ("a" * 32, "v=STSv1; id=" + "a" * 32),
    (" abc1 ", "v=STSv1; id=abc1"),
])
def test_mta_sts_record(filters, policy_id, record):
    assert filters["mta_sts_record"](policy_id) == record


@pytest.mark.parametrize("policy_id", ["", "a" * 33, "2025-01-01", "id;x", True, None, -1, "é1"])
def test_mta_sts_record_rejects_bad_ids(filters, policy_id):
    rejects(filters["mta_sts_record"], f"policy id {policy_id!r}", policy_id)


def test_mta_sts_policy_text(filters):
    assert filters["mta_sts_policy"]("enforce", ["mail.example.com"]) == (
        "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 604800\n"
    )
    assert filters["mta_sts_policy"]("Testing", ["MX1.Example.com.", "*.example.net", "mx1.example.com"], 86400) == (
        "version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 86400\n"
    )
    assert filters["mta_sts_policy"]("none", [], 0) == "version: STSv1\nmode: none\nmax_age: 0\n"
    assert filters["mta_sts_policy"]("enforce", ["mx.example.com"], 31557600).endswith("max_age: 31557600\n")


@pytest.mark.parametrize("args, needle", [
    (("strict", ["mx.example.com"]), "mode must be one of enforce, testing, none, got 'strict'"),
    (("enforce", []), "needs at least one mx pattern, got []"),
    (("enforce", "mx.example.com"), "mx must be a list, got 'mx.example.com'"),
    (("enforce", ["*.*.example.com"]), "'*.*.example.com'"),
    (("enforce", ["mx.*.example.com"]), "'mx.*.example.com'"),
    (("enforce", ["*.com"]), "'*.com'"),
    (("enforce", ["*mx.example.com"]), "'*mx.example.com'"),
    (("enforce", ["_mx.example.com"]), "'_mx.example.com'"),
    (("enforce", ["mx.example.com", 7]), "mx 7 is not"),
    (("enforce", ["mx.example.com"], 31557601), "max_age must be an integer from 0 to 31557600, got 31557601"),
    (("enforce", ["mx.example.com"], -1), "got -1"),
    (("enforce", ["mx.example.com"], "1w"), "got '1w'"),
])
def test_mta_sts_policy_rejects_bad_input(filters, args, needle):
    rejects(filters["mta_sts_policy"], needle, *args)


def test_mta_sts_id_follows_the_policy_text(filters):
    policy = filters["mta_sts_policy"]("enforce", ["mail.example.com"])
    policy_id = filters["mta_sts_id"](policy)
    assert policy_id == hashlib.sha256(policy.encode()).hexdigest()[:20]
    assert filters["mta_sts_id"](filters["mta_sts_policy"]("enforce", ["mail.example.com"])) == policy_id
    assert filters["mta_sts_id"](filters["mta_sts_policy"]("testing", ["mail.example.com"])) != policy_id
    assert filters["mta_sts_id"](policy.replace("\n", "\r\n")) != policy_id
    assert filters["mta_sts_record"](policy_id) == f"v=STSv1; id={policy_id}"
    rejects(filters["mta_sts_id"], "got None", None)
    rejects(filters["mta_sts_id"], "got ''", "")


@pytest.mark.parametrize("rua, record", [
    ("mailto:tls@example.test", "v=TLSRPTv1; rua=mailto:tls@example.test"),
    (["mailto:tls@example.test", "https://reports.example.test/v1/tlsrpt"],
     "v=TLSRPTv1; rua=mailto:tls@example.test,https://reports.example.test/v1/tlsrpt"),
    ([" https://reports.example.test:8443/x "], "v=TLSRPTv1; rua=https://reports.example.test:8443/x"),
])
def test_tlsrpt_record(filters, rua, record):
    assert filters["tlsrpt_record"](rua) == record


@pytest.mark.parametrize("rua, needle", [
    ("tls@example.test", "'tls@example.test' must be a mailto: or https: URI"),
    ("http://reports.example.test/", "'http://reports.example.test/'"),
    ("https://reports.example.test/a,b", "'https://reports.example.test/a,b'"),
    ("https://exa mple.test/", "'https://exa mple.test/'"),
    ("https://localhost/", "'https://localhost/'"),
    ("https://reports.example.test:99999/", "'https://reports.example.test:99999/'"),
    ("mailto:tls@localhost", "'mailto:tls@localhost'"),
    ("mailto:tls@example.test!10m", "'mailto:tls@example.test!10m'"),
    ([], "at least one"),
    ([None], "None"),
])
def test_tlsrpt_record_rejects_bad_uris(filters, rua, needle):
    rejects(filters["tlsrpt_record"], needle, rua)


# --- TLSA ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("selector, matching", [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)])
def test_tlsa_record_data(filters, leaf, selector, matching):
    _, cert = leaf
    data = cert.public_bytes(DER) if selector == 0 else cert.public_key().public_bytes(DER, SPKI)
    digest = [lambda d: d, lambda d: hashlib.sha256(d).digest(), lambda d: hashlib.sha512(d).digest()][matching](data)
    pem = cert.public_bytes(PEM).decode()
    assert filters["tlsa_record"](pem, 3, selector, matching) == f"3 {selector} {matching} {digest.hex()}"


def test_tlsa_record_defaults_to_3_1_1_of_the_leaf(filters, leaf):
    key, cert = leaf
    _, issuer = self_signed("ca.example.test")
    bundle = cert.public_bytes(PEM).decode() + issuer.public_bytes(PEM).decode() + private_pem(key)
    expected = hashlib.sha256(cert.public_key().public_bytes(DER, SPKI)).hexdigest()
    assert filters["tlsa_record"](bundle) == f"3 1 1 {expected}"
    assert filters["tlsa_record"](bundle, usage=2) == f"2 1 1 {expected}"
    # the next key can be published before its certificate exists
    assert filters["tlsa_record"](public_pem(key.public_key())) == f"3 1 1 {expected}"
    assert expected != hashlib.sha256(issuer.public_key().public_bytes(DER, SPKI)).hexdigest()


@pytest.mark.parametrize("kwargs, needle", [
    ({"usage": 4}, "usage must be an integer from 0 to 3, got 4"),
    ({"usage": True}, "got True"),
    ({"selector": 2}, "selector must be an integer from 0 to 1, got 2"),
    ({"matching": 3}, "matching must be an integer from 0 to 2, got 3"),
    ({"matching": "sha256"}, "got 'sha256'"),
])
def test_tlsa_record_rejects_bad_parameters(filters, leaf, kwargs, needle):
    rejects(filters["tlsa_record"], needle, leaf[1].public_bytes(PEM).decode(), **kwargs)


def test_tlsa_record_rejects_bad_pem(filters, leaf):
    key, _ = leaf
    rejects(filters["tlsa_record"], "'not a certificate'", "not a certificate")
    bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    rejects(filters["tlsa_record"], repr(bad)[:40], bad)
    rejects(filters["tlsa_record"], "not a usable PEM certificate", public_pem(key.public_key()), selector=0)
    message = rejects(filters["tlsa_record"], "a PEM private key", private_pem(key))
    assert private_pem(key).splitlines()[1][:16] not in message
