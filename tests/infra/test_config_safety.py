# SPDX-License-Identifier: MIT
"""Bad input is refused before any host change, naming the variable; a Postfix
parameter that fails the check never reaches the running daemon.

These tests run the real playbook against the host with bad extra vars, so they
only run against lab hosts (mailfort_lab: true).
"""
from __future__ import annotations

import smtplib

import pytest
from lab_hosts import recap_changed
from lab_hosts import run_site_playbook as _play

# The input checks run on the controller, the same for every distribution, and
# the Postfix gate is tested on each distribution by test_postfix_check.py:
# `make test` runs this file on the first distribution's lab only.
pytestmark = [pytest.mark.usefixtures("lab_only"), pytest.mark.distro_independent]


BAD_INPUTS = {
    "bad domain": ({"mailfort_domains": ["lab.test", "not a domain"]}, "postfix_domains"),
    "bad CIDR": ({"postfix_mynetworks": ["127.0.0.0/8", "10.0.0.0/33"]}, "postfix_mynetworks"),
    "unknown TLS source": ({"tls_source": "self-made"}, "tls_source"),
    "TLS source not chosen": ({"tls_source": ""}, "tls_source is not set"),
    "nobody receives postmaster@": ({"mailfort_postmaster": ""}, "mailfort_postmaster) is required"),
    "missing cert file": ({"tls_source": "files", "tls_cert_file": "/nonexistent/server.crt",
                           "tls_key_file": "/nonexistent/server.key"}, "tls_cert_file"),
    "weak password": ({"mailfort_accounts": [{"name": "weak@lab.test", "password": "password",
                                              "senders": ["weak@lab.test"]}],
                       "mailfort_postmaster": "weak@lab.test"}, "weak@lab.test"),
    "malformed CIDR in an access list": (
        {"mailfort_client_access": {"submission": ["10.89.60.0/33"], "submissions": "any"}},
        "mailfort_client_access.submission"),
    "overlapping access list": (
        {"mailfort_client_access": {"submission": "any", "submissions": ["10.89.60.0/24", "10.89.60.40/32"]}},
        "mailfort_client_access.submissions"),
    "empty access list without the explicit choice": (
        {"mailfort_client_access": {"submission": [], "submissions": "any"}},
        "mailfort_client_access.submission (port 587) is empty"),
    "any mixed with networks": (
        {"mailfort_client_access": {"submission": ["any", "10.89.60.0/24"], "submissions": "any"}},
        "mixes 'any' with networks"),
    "firewall without a management port": ({"firewall_management_ports": []}, "firewall_management_ports"),
    "debug logging with token logins": ({"dovecot_config": {"auth_debug": True}},
                                        "dovecot_oauth2_debug_logging_accepted"),
    "token accounts without an endpoint": ({"dovecot_oauth2_introspection_url": ""},
                                           "need dovecot_oauth2_introspection_url"),
    "plain http endpoint off loopback": ({"dovecot_oauth2_introspection_url": "http://idp.example.com/introspect"},
                                         "dovecot_oauth2_introspection_url must be an https URL"),
    "ECDSA certificate without its key": ({"postfix_tls_ecdsa_cert_file": "/etc/mailfort/tls/server-ecdsa.crt"},
                                          "postfix_tls_ecdsa_key_file"),
}


@pytest.fixture(scope="module")
def main_cf_before(host):
    return host.file("/etc/postfix/main.cf").sha256sum


@pytest.fixture(scope="module")
def bad_input_runs(request, lab_only, host_name, tmp_path_factory, main_cf_before):
    """Run the real playbook once per bad input, a few at a time: each must stop in the
    input checks, so the runs cannot disturb each other (the tests prove that too)."""
    from concurrent.futures import ThreadPoolExecutor

    work = {case: tmp_path_factory.mktemp("bad-input") for case in BAD_INPUTS}  # not thread-safe: made here

    def run(case):
        return case, _play(request, host_name, work[case], BAD_INPUTS[case][0])

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, sorted(BAD_INPUTS)))


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_refused_before_any_host_change(case, host, host_name, bad_input_runs, main_cf_before):
    named = BAD_INPUTS[case][1]
    rc, output = bad_input_runs[case]
    assert rc != 0, f"{case}: the play succeeded:\n{output[-3000:]}"
    assert named in output, f"{case}: the failure does not name {named!r}:\n{output[-3000:]}"
    assert recap_changed(output, host_name) == 0, f"{case}: the host was changed:\n{output[-3000:]}"
    assert host.file("/etc/postfix/main.cf").sha256sum == main_cf_before


def test_invalid_postfix_parameter_never_reaches_the_daemon(request, host, host_name, tmp_path, probe_address):
    before = host.file("/etc/postfix/main.cf").sha256sum
    # A Postfix parameter is the postfix role's alone: that role's run suffices.
    rc, output = _play(request, host_name, tmp_path,
                       {"postfix_main_cf_host": {"smtpd_tls_securty_level": "encrypt", "message_size_limit": "lots"}},
                       ["postfix"])
    assert rc != 0, f"the play accepted an invalid parameter:\n{output[-3000:]}"
    assert "Check the candidate configuration" in output, output[-3000:]
    assert host.file("/etc/postfix/main.cf").sha256sum == before
    assert "smtpd_tls_securty_level" not in host.file("/etc/postfix/main.cf").content_string
    with smtplib.SMTP(probe_address, 25, timeout=20) as smtp:
        assert smtp.ehlo("probe.example.com")[0] == 250
    # Put the staging copy back in step with the live configuration.
    rc, output = _play(request, host_name, tmp_path, {}, ["postfix"])
    assert rc == 0, output[-3000:]
