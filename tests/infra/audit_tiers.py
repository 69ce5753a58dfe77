# SPDX-License-Identifier: MIT
"""The audit tiers: which tests an operator can run against a host, with what access.

A test's tier follows from the fixtures it uses (all of them, through every
fixture they depend on), so a test cannot be put in a tier that lacks what it
needs:

- lab:          lab-only changes or the lab's other hosts (sink, nameserver, client
                hosts); never part of an audit;
- onhost:       a shell on the audited host (fixture `host`), read-only;
- credentialed: a test account's password, nothing more;
- external:     only SMTP reach from the auditor's machine.

Each test gets the marker of its tier, so `pytest -m external` runs the external
tier. conftest's `host` fixture refuses a test of the external or credentialed
tier that asks for a shell anyway (through request.getfixturevalue).
"""
from __future__ import annotations

import pytest

TIERS = ("external", "credentialed", "onhost", "lab")
# Tiers whose tests may use a shell on the audited host.
SHELL_TIERS = ("onhost", "lab")

LAB_FIXTURES = frozenset({
    "lab_only", "sink", "nameserver", "zone", "trusted", "roaming", "outsider", "firewall_exception", "listeners",
})
SHELL_FIXTURES = frozenset({"host"})
CREDENTIAL_FIXTURES = frozenset({"person", "application", "test_accounts", "mailbox_account"})

DESCRIPTIONS = {
    "external": "needs only SMTP reach to the host (no shell, no credentials)",
    "credentialed": "needs a test account's password (vault or environment), no shell",
    "onhost": "needs a shell on the host; reads only",
    "lab": "changes the host or needs the lab's other hosts; never part of an audit",
}


def register_markers(config):
    for tier in TIERS:
        config.addinivalue_line("markers", f"{tier}: audit tier - {DESCRIPTIONS[tier]}")


def tier_for(fixture_names) -> str:
    names = set(fixture_names)
    if names & LAB_FIXTURES:
        return "lab"
    if names & SHELL_FIXTURES:
        return "onhost"
    if names & CREDENTIAL_FIXTURES:
        return "credentialed"
    return "external"


# The tier of the test being set up: module-scoped fixtures see the module, not the test.
_RUNNING = {"tier": "lab"}


def running_tier() -> str:
    return _RUNNING["tier"]


def item_tier(item) -> str:
    """The tier of a test: from its fixtures, or a more demanding one marked on it (pytest.mark.lab for a
    test that sends mail a real host would deliver). A marker less demanding than the fixtures is an error."""
    derived = tier_for(getattr(item, "fixturenames", ()))
    marked = [tier for tier in TIERS if item.get_closest_marker(tier)]
    if not marked:
        return derived
    chosen = max(marked, key=TIERS.index)
    if TIERS.index(chosen) < TIERS.index(derived):
        raise pytest.UsageError(f"{item.nodeid} is marked {chosen} but its fixtures need the {derived} tier")
    return chosen


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark every test with its tier before `-m` selects (tryfirst: pytest's own -m runs later)."""
    for item in items:
        tier = item_tier(item)
        if not item.get_closest_marker(tier):
            item.add_marker(tier)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _RUNNING["tier"] = item_tier(item)
