# SPDX-License-Identifier: MIT
"""Client access lists: validation, normalisation and the contradictions refused."""
from __future__ import annotations

import ipaddress

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st


def test_submission_lists_are_required(filters):
    with pytest.raises(AnsibleFilterError, match=r"mailfort_client_access\.submission \(port 587\) is empty"):
        filters["mailfort_client_access"]({"submissions": "any"})
    with pytest.raises(AnsibleFilterError, match=r"mailfort_client_access\.submissions \(port 465\) is empty"):
        filters["mailfort_client_access"]({"submission": ["192.0.2.0/24"], "submissions": []})


def test_normalised_output_and_smtp_default(filters):
    got = filters["mailfort_client_access"]({"submission": ["192.0.2.0/24", "[2001:db8::]/32"], "submissions": "ANY"})
    assert got == {"smtp": "any", "submission": ["192.0.2.0/24", "2001:db8::/32"], "submissions": "any"}


def test_port_25_can_be_restricted(filters):
    got = filters["mailfort_client_access"]({"smtp": ["10.0.0.0/8"], "submission": "any", "submissions": "any"})
    assert got["smtp"] == ["10.0.0.0/8"]


@pytest.mark.parametrize("bad, message", [
    ({"submission": ["192.0.2.300/32"], "submissions": "any"}, r"submission: '192\.0\.2\.300/32' is not a valid"),
    ({"submission": ["192.0.2.1/24"], "submissions": "any"}, r"has host bits set"),
    ({"submission": ["2001:db8::/129"], "submissions": "any"}, r"not a valid network in CIDR"),
    ({"submission": "10.0.0.0/8", "submissions": "any"}, r"neither a list of networks nor 'any'"),
    ({"submission": ["any", "10.0.0.0/8"], "submissions": "any"}, r"mixes 'any' with networks"),
    ({"submission": ["10.0.0.0/8", "10.1.0.0/16"], "submissions": "any"}, r"10\.0\.0\.0/8 and 10\.1\.0\.0/16 overlap"),
    ({"submission": ["2001:db8::/32", "2001:db8:1::/48"], "submissions": "any"}, r"overlap"),
    ({"submision": ["10.0.0.0/8"], "submission": "any", "submissions": "any"}, r"unknown service\(s\) \['submision'\]"),
    ({"submission": [None], "submissions": "any"}, r"None is not a valid network"),
    (["10.0.0.0/8"], r"expected a mapping"),
])
def test_bad_access_lists_are_refused_naming_the_value(filters, bad, message):
    with pytest.raises(AnsibleFilterError, match=message):
        filters["mailfort_client_access"](bad, "mailfort_client_access")


def test_trusted_networks_must_be_allowed_somewhere(filters):
    access = filters["mailfort_client_access"]({"smtp": ["10.0.0.0/8"], "submission": ["192.0.2.0/24"],
                                                "submissions": ["192.0.2.0/24"]})
    assert filters["mailfort_trusted_networks"](["192.0.2.128/25"], access) == ["192.0.2.128/25"]
    with pytest.raises(AnsibleFilterError, match=r"198\.51\.100\.0/24 is trusted but may not connect"):
        filters["mailfort_trusted_networks"](["198.51.100.0/24"], access)
    with pytest.raises(AnsibleFilterError, match=r"mailfort_trusted_networks: '10\.0\.0\.1/8'"):
        filters["mailfort_trusted_networks"](["10.0.0.1/8"], access)


def test_networks_by_family_and_address_in(filters):
    nets = ["192.0.2.0/24", "2001:db8::/32"]
    assert filters["mailfort_networks_by_family"](nets, 4) == ["192.0.2.0/24"]
    assert filters["mailfort_networks_by_family"](nets, 6) == ["2001:db8::/32"]
    assert filters["mailfort_networks_by_family"]("any", 6) == ["::/0"]
    assert filters["mailfort_address_in"]("192.0.2.9", nets) is True
    assert filters["mailfort_address_in"]("192.0.3.9", nets) is False
    assert filters["mailfort_address_in"]("2001:db8::1", nets) is True
    assert filters["mailfort_address_in"]("203.0.113.1", "any") is True
    with pytest.raises(AnsibleFilterError, match="not an IP address"):
        filters["mailfort_address_in"]("mx.example.com", nets)


@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(8, 32)), min_size=1, max_size=8))
def test_any_list_of_disjoint_ipv4_networks_round_trips(filters, items):
    networks = []
    for value, prefix in items:
        net = ipaddress.ip_network((value, prefix), strict=False)
        if not any(net.overlaps(other) for other in networks):
            networks.append(net)
    texts = [str(net) for net in networks]
    got = filters["mailfort_client_access"]({"submission": texts, "submissions": "any"})
    assert got["submission"] == texts
    for net in networks:
        assert filters["mailfort_address_in"](str(net.network_address), texts)
