# SPDX-License-Identifier: MIT
"""The production example's lab host (inventories/lab-production) takes from the lab
only addresses, certificate files and test secrets: everything else it runs with
is the production example's and the role defaults'. CI converges it, so what the
example deploys is what CI proves."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAY = ROOT / "inventories" / "lab-production" / "group_vars"
EXAMPLE = ROOT / "inventories" / "production" / "group_vars" / "mailservers.yml"

# Addresses and names of the lab, its certificate files, and test secrets.
ALLOWED = {
    # addresses and names
    "postfix_hostname", "mailfort_domains", "mailfort_postmaster", "mailfort_client_access",
    "mailfort_trusted_networks", "firewall_management_networks", "dns_records_nsupdate_server",
    "lab_resolver_nameservers", "lab_controller_networks", "lab_client_networks", "lab_trusted_client_networks",
    "lab_roaming_client_networks", "dns_records_spf_resolver",
    # the lab's token introspection endpoint (lab_oauth2, on the server's loopback)
    "dovecot_oauth2_introspection_url",
    # test secrets (accounts: lab logins with published passwords; the lab TSIG key; the lab
    # introspection endpoint's client)
    "mailfort_accounts", "dns_records_nsupdate_key_name", "dns_records_nsupdate_key_secret",
    "dns_records_nsupdate_key_algorithm", "dovecot_oauth2_client_id", "dovecot_oauth2_client_secret",
    # certificate files
    "tls_cert_file", "tls_key_file",
}


def _keys(path: Path) -> set[str]:
    return set(yaml.safe_load(path.read_text()) or {})


def test_the_example_comes_first_and_is_the_production_file():
    files = sorted((OVERLAY / "mailservers").iterdir())
    assert files[0].name == "00-production-example.yml"
    assert files[0].resolve() == EXAMPLE.resolve()


def test_the_overlay_sets_only_addresses_certificates_and_test_secrets():
    for path in sorted((OVERLAY / "mailservers").iterdir())[1:]:
        extra = _keys(path) - ALLOWED
        assert not extra, (f"{path.name} ({path.resolve().relative_to(ROOT)}) sets {sorted(extra)}: not an address, "
                           "certificate file or test secret; put product settings in the production example")


def test_the_lab_only_settings_are_not_linked():
    linked = {p.resolve().name for p in (OVERLAY / "mailservers").iterdir()}
    assert "settings.yml" not in linked


def test_the_example_needs_no_lab_value_for_what_a_real_host_needs():
    example = yaml.safe_load(EXAMPLE.read_text())
    assert example["tls_source"] == "files"
    assert "mailfort_milters" not in example and "postfix_milters" not in example, "DKIM signing must need no wiring"
    assert example["mailfort_postmaster"]
