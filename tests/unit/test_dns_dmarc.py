# SPDX-License-Identifier: MIT
"""DMARC (filter_plugins/dns_dmarc.py): dmarc_record and dmarc_rollout."""
from __future__ import annotations

import pytest
from dns_helpers import rejects
from hypothesis import given
from hypothesis import strategies as st


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
