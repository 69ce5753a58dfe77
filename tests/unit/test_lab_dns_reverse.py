# SPDX-License-Identifier: MIT
"""LAB ONLY filter: the reverse zones of the lab hosts (roles/lab_dns/filter_plugins)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

PATH = Path(__file__).resolve().parents[2] / "roles" / "lab_dns" / "filter_plugins" / "lab_dns_reverse.py"
_spec = importlib.util.spec_from_file_location("lab_dns_reverse", PATH)
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
reverse_zones = _module.FilterModule().filters()["lab_dns_reverse_zones"]


def test_each_address_gets_a_ptr_in_the_zone_of_its_network():
    zones = reverse_zones({"mx.lab.test": ["10.89.62.10", "fd00:6d66:62::10"], "mx2.lab.test": ["10.89.62.11"]})
    assert zones["62.89.10.in-addr.arpa"] == {"10.62.89.10.in-addr.arpa.": "mx.lab.test.",
                                              "11.62.89.10.in-addr.arpa.": "mx2.lab.test."}
    v6 = "0.0.0.0.2.6.0.0.6.6.d.6.0.0.d.f.ip6.arpa"
    assert zones[v6] == {"0.1.0.0" + ".0" * 12 + "." + v6 + ".": "mx.lab.test."}
    assert len(zones) == 2


@pytest.mark.parametrize("hosts, options", [
    ({"mx.lab.test": ["not-an-address"]}, {}),
    (["mx.lab.test"], {}),
    ({"mx.lab.test": ["10.0.0.1"]}, {"ipv4_prefix": 20}),
])
def test_bad_input_is_refused(hosts, options):
    with pytest.raises(AnsibleFilterError):
        reverse_zones(hosts, **options)
