# SPDX-License-Identifier: MIT
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from collection_import import filter_module
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize("hostnames, sans, uncovered", [
    (["mx.example.com"], ["DNS:mx.example.com"], []),
    (["MX.Example.com."], ["DNS:mx.example.COM"], []),
    (["mx.example.com"], ["mx.example.com"], []),
    (["mx.example.com"], ["DNS:*.example.com"], []),
    (["example.com"], ["DNS:*.example.com"], ["example.com"]),
    (["a.mx.example.com"], ["DNS:*.example.com"], ["a.mx.example.com"]),
    (["example.com"], ["DNS:*.com"], ["example.com"]),
    (["mx.example.com"], ["DNS:mx.example.org", "IP Address:192.0.2.1"], ["mx.example.com"]),
    (["*.example.com"], ["DNS:*.example.com"], []),
    (["*.example.com"], ["DNS:mx.example.com"], ["*.example.com"]),
    (["mx.example.com", "smtp.example.net"], ["DNS:mx.example.com"], ["smtp.example.net"]),
    (["mx.example.com"], [], ["mx.example.com"]),
])
def test_uncovered_names(filters, hostnames, sans, uncovered):
    assert filters["tls_uncovered_names"](hostnames, sans) == uncovered


@pytest.mark.parametrize("hostnames, sans, needle", [
    ("mx.example.com", [], "list of host names"),
    (["mx.example.com"], "DNS:mx.example.com", "subject alternative names"),
    ([1], [], "host name must be a string"),
    (["mx.example.com"], [None], "must be a string"),
])
def test_uncovered_names_rejects_bad_input(filters, hostnames, sans, needle):
    with pytest.raises(AnsibleFilterError, match=needle):
        filters["tls_uncovered_names"](hostnames, sans)


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
hosts = st.lists(labels, min_size=2, max_size=5).map(".".join)


@given(st.lists(hosts, max_size=6))
def test_every_name_covers_itself(names):
    assert filters_under_test()(names, [f"DNS:{n}" for n in names]) == []


@given(labels, st.lists(labels, min_size=2, max_size=4).map(".".join))
def test_wildcard_covers_exactly_one_label(first, parent):
    uncovered = filters_under_test()
    assert uncovered([f"{first}.{parent}"], [f"DNS:*.{parent}"]) == []
    assert uncovered([parent], [f"DNS:*.{parent}"]) == [parent]
    assert uncovered([f"x.{first}.{parent}"], [f"DNS:*.{parent}"]) == [f"x.{first}.{parent}"]


def filters_under_test():
    return filter_module("tls_names").FilterModule().filters()["tls_uncovered_names"]
