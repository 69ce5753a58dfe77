# SPDX-License-Identifier: MIT
"""The audit tiers of tests/infra (audit_tiers.py) and the per-promise lines (audit_report.py)."""
from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[1] / "infra"
sys.path.insert(0, str(INFRA))

import audit_report  # noqa: E402
from audit_tiers import tier_for  # noqa: E402


@pytest.mark.parametrize("fixtures, tier", [
    (["probe_address", "server_name", "tls_context"], "external"),
    (["probe_address", "person"], "credentialed"),
    (["host", "person"], "onhost"),
    (["host", "sink", "person"], "lab"),
    (["probe_address", "lab_only"], "lab"),
])
def test_the_most_demanding_fixture_decides_the_tier(fixtures, tier):
    assert tier_for(fixtures) == tier


def _collected(marker: str, ids: bool = False) -> set[str]:
    """The tests a marker expression selects: function names, or (ids=True) whole test ids."""
    found = _collected_ids(marker)
    return set(found) if ids else {line.split("::")[1].split("[")[0] for line in found}


@functools.cache
def _collected_ids(marker: str) -> frozenset[str]:
    """pytest --collect-only for one marker expression (once per expression and run)."""
    result = subprocess.run([sys.executable, "-m", "pytest", str(INFRA), "-m", marker, "--collect-only", "-q",
                             "-p", "no:cacheprovider"], capture_output=True, text=True, check=False,
                            cwd=INFRA.parents[1])
    # 5: no test selected (pytest's own code), which is an answer here, not an error.
    assert result.returncode in (0, 5), result.stdout[-2000:] + result.stderr[-2000:]
    return frozenset(line for line in result.stdout.splitlines() if "::" in line)


@pytest.fixture(scope="module")
def tiers():
    return {tier: _collected(tier) for tier in ("external", "credentialed", "onhost", "lab")}


def test_every_test_has_exactly_one_tier():
    """One marker per test (a parametrized test may spread over tiers: test_wrong_password_is_refused)."""
    everything = _collected("not (external or credentialed or onhost or lab)", ids=True)
    assert everything == set(), f"tests without a tier: {sorted(everything)[:5]}"
    by_tier = {tier: _collected(tier, ids=True) for tier in ("external", "credentialed", "onhost", "lab")}
    for tier, ids in by_tier.items():
        for other, other_ids in by_tier.items():
            if other != tier:
                assert not ids & other_ids, (tier, other, sorted(ids & other_ids)[:5])


def test_the_external_tier_holds_the_promises_an_outsider_can_check(tiers):
    assert {"test_relay_variant_is_refused_by_the_relay_policy", "test_port_25_never_offers_auth",
            "test_old_protocols_are_refused", "test_certificate_verifies_and_matches_the_host_name",
            "test_port_answers_the_auditor_as_the_allow_list_declares",
            "test_published_record_is_the_computed_one"} <= tiers["external"]
    assert "test_mynetworks_is_loopback_only" in tiers["onhost"]
    assert "test_published_dkim_key_is_the_hosts_key" in tiers["onhost"]


def test_no_test_that_sends_mail_is_in_an_audit_tier(tiers):
    """An audit of a real host must send nothing a mailbox would receive or that would bounce."""
    senders = {"test_right_password_sends_and_mail_arrives_at_the_sink",
               "test_application_account_sends_only_as_its_own_addresses",
               "test_application_uses_each_of_its_addresses_but_not_its_logins_siblings",
               "test_own_from_header_is_accepted_and_delivered", "test_port_25_mail_is_not_held_to_a_login",
               "test_forgery_over_ipv6_is_refused_and_own_address_accepted",
               "test_mail_for_a_mailbox_is_delivered_into_maildir", "test_role_and_report_addresses_are_delivered"}
    assert senders <= tiers["lab"]
    assert "test_right_password_authenticates" in tiers["credentialed"]


def test_one_line_per_promise_with_the_servers_answer_under_a_failure(monkeypatch):
    promises = {}
    broken = audit_report.Promise("mx1", "tls: old protocols are refused", "external", checks=4,
                                  failed=["TLSv1.0-587: 587: TLSv1 offered, the server completed the handshake"])
    kept = audit_report.Promise("mx1", "relay: relay variant is refused", "external", checks=96)
    skipped = audit_report.Promise("mx1", "dns: published record", "external", checks=5, skipped=["no records"] * 5)
    for promise in (kept, skipped, broken):
        promises[(promise.host, promise.name)] = promise
    monkeypatch.setattr(audit_report, "_PROMISES", promises)
    assert audit_report.summary_lines() == [
        "FAIL  mx1  tls: old protocols are refused (1 of 4 checks failed)",
        "        TLSv1.0-587: 587: TLSv1 offered, the server completed the handshake",
        "SKIP  mx1  dns: published record (no records)",
        "PASS  mx1  relay: relay variant is refused (96 checks)",
    ]
