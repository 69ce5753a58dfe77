# SPDX-License-Identifier: MIT
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError


@pytest.fixture
def plan(filters):
    return filters["opendkim_key_plan"]


def test_signing_and_published_selectors_get_keys_per_domain(plan):
    result = plan(["Example.COM.", "example.org"], "mail2025", ["mail2026"], ["mail2024"])
    assert result["keys"] == [
        {"domain": "example.com", "selector": "mail2025", "signing": True},
        {"domain": "example.com", "selector": "mail2026", "signing": False},
        {"domain": "example.org", "selector": "mail2025", "signing": True},
        {"domain": "example.org", "selector": "mail2026", "signing": False},
    ]
    assert result["retired"] == [
        {"domain": "example.com", "selector": "mail2024"},
        {"domain": "example.org", "selector": "mail2024"},
    ]


def test_defaults_and_duplicates(plan):
    result = plan(["example.com", "example.com"], "mail", ["mail", "MAIL"])
    assert result == {"keys": [{"domain": "example.com", "selector": "mail", "signing": True}], "retired": []}


def test_no_domains_means_no_keys(plan):
    assert plan([], "mail") == {"keys": [], "retired": []}


def test_dotted_sub_selectors_are_allowed(plan):
    assert plan(["example.com"], "2025.eu")["keys"][0]["selector"] == "2025.eu"


@pytest.mark.parametrize("domains", ["example.com", None, {"example.com": 1}])
def test_domains_must_be_a_list(plan, domains):
    with pytest.raises(AnsibleFilterError, match="opendkim_domains must be a list"):
        plan(domains, "mail")


@pytest.mark.parametrize("domain", ["localhost", "exa mple.com", "-x.example.com", 42, ""])
def test_bad_domains_are_named(plan, domain):
    with pytest.raises(AnsibleFilterError, match=r"opendkim_domains: .* is not a valid domain name"):
        plan([domain], "mail")


@pytest.mark.parametrize("args, variable", [
    (("bad_selector",), "opendkim_selector"),
    (("",), "opendkim_selector"),
    (("-mail",), "opendkim_selector"),
    (("mail", ["ok", "not ok"]), "opendkim_selectors_published"),
    (("mail", [], ["x" * 64]), "opendkim_selectors_retired"),
])
def test_bad_selectors_are_named(plan, args, variable):
    with pytest.raises(AnsibleFilterError, match=f"^{variable}: .* is not a valid DKIM selector"):
        plan(["example.com"], *args)


def test_selector_lists_must_be_lists(plan):
    with pytest.raises(AnsibleFilterError, match="opendkim_selectors_published must be a list"):
        plan(["example.com"], "mail", "next")


@pytest.mark.parametrize("published, retired", [([], ["mail"]), (["next"], ["next"])])
def test_a_selector_cannot_be_live_and_retired(plan, published, retired):
    with pytest.raises(AnsibleFilterError, match=r"opendkim_selectors_retired: .* live or retired, not both"):
        plan(["example.com"], "mail", published, retired)
