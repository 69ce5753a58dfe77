# SPDX-License-Identifier: MIT
"""The negative tests can fail: break the server one fault at a time, run the
tests that guard against that fault and require them to FAIL, then restore the
configuration and require the same tests to pass again.

Each mutation edits the live Postfix configuration with postconf and restarts
Postfix; the original main.cf/master.cf go back afterwards, whatever happens.
Lab hosts only (mailfort_lab: true).
"""
from __future__ import annotations

import os
import subprocess
import time

import pytest
from lab_hosts import PROJECT_DIR

pytestmark = [
    pytest.mark.usefixtures("lab_only"),
    # The proofs are about the tests, not the distribution: `make test` runs them
    # on the first distro only (MAILFORT_MUTATIONS=0 on the others) to save CI time.
    pytest.mark.skipif(os.environ.get("MAILFORT_MUTATIONS", "1") == "0",
                       reason="MAILFORT_MUTATIONS=0: mutation proofs run on another distro of this run"),
]

INFRA = PROJECT_DIR / "tests" / "infra"

# fault -> (postconf arguments, [(test file, -k expression), ...])
MUTATIONS = {
    "mynetworks opened to the world": (
        ["-e", "mynetworks=0.0.0.0/0"],
        [("test_relay.py", "v01 and 25"), ("test_postfix_service.py", "mynetworks")]),
    # A bare "permit" makes smtpd refuse to start (Postfix's own safety net), which
    # fails the tests for the wrong reason; this really opens the relay.
    "relay open to every client on 25": (
        ["-e", "smtpd_relay_restrictions=permit_mynetworks, check_client_access static:OK, reject_unauth_destination"],
        [("test_relay.py", "25")]),
    # A temporary answer from a DNS check before the relay decision is not a refusal.
    "4xx from a DNS check hides the relay decision": (
        ["-e", "smtpd_helo_restrictions=reject_unknown_helo_hostname"],
        [("test_relay.py", "v02 and 25")]),
    "unauthenticated relay on 587/465": (
        ["-e", "mailfort_submission_relay_restrictions=permit"],
        [("test_relay.py", "587 or 465")]),
    "unknown recipients in our domains accepted": (
        ["-e", "virtual_mailbox_maps=static:OK"],
        [("test_inbound.py", "unknown_user or without_mailbox")]),
    "local delivery broken": (
        ["-e", "virtual_transport=error:mailbox delivery disabled"],
        [("test_inbound.py", "delivered_into_maildir")]),
    "AUTH offered on port 25": (
        ["-e", "smtpd_sasl_auth_enable=yes"],
        [("test_auth.py", "port_25")]),
    # With smtpd_tls_security_level=encrypt, smtpd_tls_auth_only=no alone changes
    # nothing observable on 587 (both keep AUTH behind STARTTLS): break each layer.
    "587 accepts MAIL before STARTTLS": (
        ["-P", "submission/inet/smtpd_tls_security_level=may"],
        [("test_auth.py", "587_offers_auth_only_after_starttls")]),
    "587 offers AUTH without TLS": (
        ["-P", "submission/inet/smtpd_tls_security_level=may", "submission/inet/smtpd_tls_auth_only=no"],
        [("test_auth.py", "587_offers_auth_only_after_starttls")]),
    "465 without implicit TLS": (
        ["-P", "submissions/inet/smtpd_tls_wrappermode=no"],
        [("test_auth.py", "465_refuses_a_plaintext_session")]),
    "sender ownership not enforced": (
        ["-e", "mailfort_submission_recipient_restrictions=permit_sasl_authenticated, reject"],
        [("test_auth.py", "does_not_own or only_as_its_own")]),
    "TLS 1.0/1.1 allowed": (
        ["-e", "smtpd_tls_protocols=>=TLSv1", "smtpd_tls_mandatory_protocols=>=TLSv1",
         "tls_high_cipherlist=ALL:@SECLEVEL=0"],
        [("test_tls.py", "old_protocols")]),
    "weak TLS 1.2 suites allowed": (
        ["-e", "tls_high_cipherlist=ALL:aNULL:@SECLEVEL=0"],
        [("test_tls.py", "weak")]),
    # Needs client hosts (molecule/topology): the outsider must then get a greeting.
    "Postfix access lists opened on 587/465": (
        ["-e", "mailfort_submission_client_restrictions=permit_mynetworks",
         "mailfort_submissions_client_restrictions=permit_mynetworks"],
        [("topology/test_access.py", "refused_by_postfix")]),
    "untrusted clients exempt from the per-client limits": (
        ["-e", "smtpd_client_event_limit_exceptions=0.0.0.0/0, [::]/0"],
        [("topology/test_limits.py", "capped")]),
}

# Faults that are not Postfix settings: (break command, restore command, guards).
COMMAND_MUTATIONS = {
    "firewall table removed": (
        "nft delete table inet mailfort", "systemctl reload mailfort-firewall",
        [("topology/test_access.py", "no_answer_from_the_firewall or management_port")]),
}

# Guards that need the client hosts of the topology lab.
def _needs_clients(guards):
    return any(path.startswith("topology/") for path, _ in guards)


def _restart(host):
    """Restart (not reload): a smtpd that failed to start leaves master throttling for a minute."""
    host.run("systemctl restart postfix")
    for _ in range(30):
        if host.run("postfix status").rc == 0:
            break
        time.sleep(1)
    time.sleep(1)


def _run_guards(request, host, guards):
    """Run the guarding tests against this host; return (all passed, summaries)."""
    summaries, ok = [], True
    for path, expression in guards:
        result = subprocess.run(
            ["pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-o", "junit_family=xunit2",
             f"--hosts=ansible://{host.inventory_name}",
             f"--ansible-inventory={request.config.option.ansible_inventory}",
             str(INFRA / path), "-k", expression],
            capture_output=True, text=True, check=False, timeout=600, env=dict(os.environ))
        summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
        summaries.append(f"{path} -k '{expression}': {summary}")
        ok = ok and result.returncode == 0
        assert result.returncode in (0, 1), f"{path}: pytest could not run:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    return ok, summaries


@pytest.fixture
def saved_postfix_config(host):
    host.run("cp -p /etc/postfix/main.cf /etc/postfix/master.cf /root/")
    yield
    host.run("cp -p /root/main.cf /root/master.cf /etc/postfix/")
    _restart(host)


@pytest.fixture(scope="module")
def has_clients(request):
    from testinfra.utils.ansible_runner import AnsibleRunner

    return bool(AnsibleRunner(request.config.option.ansible_inventory).get_hosts("outside_clients"))


@pytest.mark.parametrize("fault", list(MUTATIONS))
def test_guarding_tests_catch_the_fault(fault, request, host, saved_postfix_config, has_clients):
    postconf_args, guards = MUTATIONS[fault]
    if _needs_clients(guards) and not has_clients:
        pytest.skip("the guarding tests need the client hosts of the topology lab")
    result = host.run("postconf " + " ".join(f"'{arg}'" for arg in postconf_args))
    assert result.rc == 0, result.stderr
    _restart(host)
    passed_broken, broken = _run_guards(request, host, guards)
    host.run("cp -p /root/main.cf /root/master.cf /etc/postfix/")
    _restart(host)
    passed_restored, restored = _run_guards(request, host, guards)
    print(f"\n{fault}\n  broken:   {'; '.join(broken)}\n  restored: {'; '.join(restored)}")
    assert not passed_broken, f"{fault}: the guarding tests PASSED against the broken server: {broken}"
    assert passed_restored, f"{fault}: the guarding tests fail on the restored server: {restored}"


@pytest.mark.parametrize("fault", list(COMMAND_MUTATIONS))
def test_guarding_tests_catch_the_command_fault(fault, request, host, has_clients):
    breaks, restores, guards = COMMAND_MUTATIONS[fault]
    if _needs_clients(guards) and not has_clients:
        pytest.skip("the guarding tests need the client hosts of the topology lab")
    try:
        host.check_output(breaks)
        passed_broken, broken = _run_guards(request, host, guards)
    finally:
        host.check_output(restores)
    passed_restored, restored = _run_guards(request, host, guards)
    print(f"\n{fault}\n  broken:   {'; '.join(broken)}\n  restored: {'; '.join(restored)}")
    assert not passed_broken, f"{fault}: the guarding tests PASSED against the broken server: {broken}"
    assert passed_restored, f"{fault}: the guarding tests fail on the restored server: {restored}"
