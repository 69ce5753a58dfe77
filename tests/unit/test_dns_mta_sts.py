# SPDX-License-Identifier: MIT
"""MTA-STS (filter_plugins/dns_mta_sts.py): mta_sts_record, mta_sts_policy and mta_sts_id."""
from __future__ import annotations

import hashlib

import pytest
from dns_helpers import rejects


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
