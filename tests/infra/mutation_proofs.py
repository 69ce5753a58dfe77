# SPDX-License-Identifier: MIT
"""The negative tests can fail: break the server one fault at a time, run the
tests that guard against that fault and require EVERY one of them to fail,
then restore the configuration; at the end, the guarding tests of the faults
put right by a command run once against the restored server and must all pass
(the Postfix settings and key files come back byte for byte, checked, and
their guards passed in the verify step against that same configuration).

Each mutation edits the live Postfix configuration with postconf and reloads
Postfix; the original main.cf/master.cf go back afterwards, whatever happens,
and must be byte for byte the saved ones. Postfix must be running, with no
daemon crashing, for the whole broken run: a guard that fails because smtpd
died proves nothing. Results are read per test from JUnit reports.
Lab hosts only (mailfort_lab: true). Not named test_*: verify and audit runs
leave it out; `make test` runs it in its own step after verify
(tests/lab-run.sh), on the first distro, and `make mutate` against `make lab`.
"""
from __future__ import annotations

import os
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest
from lab_hosts import PROJECT_DIR, put_file

pytestmark = pytest.mark.usefixtures("lab_only")

INFRA = PROJECT_DIR / "tests" / "infra"

# fault -> (postconf arguments, [(test file, -k expression), ...])
# (mynetworks opened, AUTH on 25 and TLS 1.0/1.1 are proven together below, by the audit
# of a misconfigured host.)
MUTATIONS = {
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
    "unknown recipients of our domains accepted on 587/465": (
        ["-e", ("mailfort_submission_recipient_restrictions="
                "reject_sender_login_mismatch, permit_sasl_authenticated, reject")],
        [("test_auth.py", "unknown_recipient")]),
    "null sender allowed from a login on 587/465": (
        ["-e", ("mailfort_submission_recipient_restrictions="
                "reject_sender_login_mismatch, reject_unlisted_recipient, permit_sasl_authenticated, reject")],
        [("test_auth.py", "null_sender")]),
    "postmaster@, abuse@ and report mailboxes not delivered": (
        ["-e", "virtual_alias_maps="],
        [("test_inbound.py", "role_and_report")]),
    "local delivery broken": (
        ["-e", "virtual_transport=error:mailbox delivery disabled"],
        [("test_inbound.py", "delivered_into_maildir")]),
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
    # The From header check is rspamd's milter; without it on the submission services
    # (OpenDKIM alone) any login signs any From: again.
    "From header check not wired to 587/465": (
        ["-e", "mailfort_submission_milters=unix:opendkim/opendkim.sock"],
        [("test_sender_ownership.py", "forged or forgery or siblings")]),
    "submission accepted while a milter is down": (
        ["-P", "submission/inet/milter_default_action=accept", "submissions/inet/milter_default_action=accept"],
        [("test_sender_ownership.py", "fails_closed")]),
    "key exchange groups beyond Mozilla intermediate": (
        ["-e", "tls_eecdh_auto_curves=X25519 X448 prime256v1 secp384r1 secp521r1"],
        [("test_tls.py", "off_list_key_exchange")]),
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

# rspamd's milter is back (listening) before the guards run.
_RSPAMD_UP = ("for i in $(seq 60); do (ss -Hlx; ss -Hltn 'sport = :11332') | grep -qE 'rspamd/milter[.]sock|:11332' "
               "&& break; sleep 1; done")

# Faults that are not Postfix settings: (break command, restore command, guards).
COMMAND_MUTATIONS = {
    # The rule file moved aside (mv keeps it byte for byte) and rspamd restarted without it.
    "From header rule removed from rspamd": (
        f"mv /etc/rspamd/rspamd.local.lua /root/mailfort-rspamd.local.lua && systemctl restart rspamd && {_RSPAMD_UP}",
        f"mv /root/mailfort-rspamd.local.lua /etc/rspamd/rspamd.local.lua && systemctl restart rspamd && {_RSPAMD_UP}",
        [("test_sender_ownership.py", "forged or forgery or siblings")]),
    "TLS private key readable by every user": (
        "chmod 0644 /etc/mailfort/tls/server.key", "chmod 0600 /etc/mailfort/tls/server.key",
        [("test_file_modes.py", "secret")]),
    "firewall table removed": (
        "nft delete table inet mailfort", "systemctl reload mailfort-firewall",
        [("topology/test_access.py", "no_answer_from_the_firewall or management_port")]),
}

# Guards that need the client hosts of the topology lab.
def _needs_clients(guards):
    return any(path.startswith("topology/") for path, _ in guards)


CONFIG_FILES = ("/etc/postfix/main.cf", "/etc/postfix/master.cf")
# What Postfix logs when one of its daemons dies or the master gives up on it.
DAEMON_TROUBLE = r"postfix/.*(fatal:|panic:|exit status|throttling)"


def _reload(host):
    """Put the current configuration into effect and wait until Postfix is up."""
    host.run("postfix reload")
    for _ in range(30):
        if host.run("postfix status").rc == 0:
            return
        time.sleep(1)


def _restart(host):
    """Restart (not reload): a smtpd that failed to start leaves master throttling for a minute."""
    host.run("systemctl restart postfix")
    for _ in range(30):
        if host.run("postfix status").rc == 0:
            break
        time.sleep(1)
    time.sleep(1)


def _selection(guards):
    """Guards as pytest arguments: the files, and one -k expression that selects, in
    each file, exactly what its own expression selects there."""
    files = sorted({path for path, _ in guards})
    by_file = {}
    for path, expression in guards:
        by_file.setdefault(path, []).append(f"({expression})")
    module = lambda path: path.rsplit("/", 1)[-1][:-3]  # noqa: E731 - test_access.py -> test_access
    expression = " or ".join(f"({module(path)} and ({' or '.join(exprs)}))" for path, exprs in by_file.items())
    return [str(INFRA / path) for path in files], expression


def _run_guards(request, host, guards, report):
    """Run the guarding tests against this host; return {test id: outcome} from the JUnit report."""
    files, expression = _selection(guards)
    result = subprocess.run(
        ["pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-o", "junit_family=xunit2",
         f"--junitxml={report}", f"--hosts=ansible://{host.inventory_name}",
         f"--ansible-inventory={request.config.option.ansible_inventory}", *files, "-k", expression],
        capture_output=True, text=True, check=False, timeout=900, env=dict(os.environ))
    assert result.returncode in (0, 1) and report.exists(), (
        f"pytest could not run the guards:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[test_id] = kinds[0] if kinds else "passed"
    assert outcomes, f"no guarding test was selected by {expression!r}:\n{result.stdout[-2000:]}"
    return outcomes


def _check_all_failed(fault, outcomes):
    not_failed = {test: outcome for test, outcome in outcomes.items() if outcome != "failure"}
    assert not not_failed, f"{fault}: these guarding tests did not fail against the broken server: {not_failed}"


def _host_clock(host):
    return host.check_output("date +%s")


def _daemon_trouble(host, since):
    return host.run(f"journalctl --no-pager --since @{since} | grep -E '{DAEMON_TROUBLE}'").stdout.strip()


def _check_postfix_ran_throughout(fault, host, since):
    assert host.run("postfix status").rc == 0, f"{fault}: Postfix is not running after the broken run"
    trouble = _daemon_trouble(host, since)
    assert not trouble, f"{fault}: a Postfix daemon died during the broken run, which proves nothing:\n{trouble}"


@pytest.fixture(scope="module")
def original_config(host):
    """Checksums of the live configuration; it is saved and put back after the proofs, whatever happens."""
    host.run("cp -p /etc/postfix/main.cf /etc/postfix/master.cf /root/")
    sums = {path: host.file(path).sha256sum for path in CONFIG_FILES}
    yield sums
    host.run("cp -p /root/main.cf /root/master.cf /etc/postfix/")
    _restart(host)


def _restore(fault, host, original_config, since):
    host.run("cp -p /root/main.cf /root/master.cf /etc/postfix/")
    # A reload suffices unless a daemon died (then master throttles it: restart).
    if _daemon_trouble(host, since):
        _restart(host)
    else:
        _reload(host)
    for path, checksum in original_config.items():
        assert host.file(path).sha256sum == checksum, f"{fault}: {path} was not restored"
    assert host.run("postfix status").rc == 0, f"{fault}: Postfix did not come back after the restore"


@pytest.fixture(scope="module")
def has_clients(request):
    from testinfra.utils.ansible_runner import AnsibleRunner

    return bool(AnsibleRunner.get_runner(request.config.option.ansible_inventory).get_hosts("outside_clients"))


# fault -> the guarding tests that failed under it (the restored run checks them all).
CAUGHT: dict = {}


@pytest.mark.parametrize("fault", list(MUTATIONS))
def test_guarding_tests_catch_the_fault(fault, request, host, original_config, has_clients, tmp_path):
    postconf_args, guards = MUTATIONS[fault]
    if _needs_clients(guards) and not has_clients:
        pytest.skip("the guarding tests need the client hosts of the topology lab")
    try:
        result = host.run("postconf " + " ".join(f"'{arg}'" for arg in postconf_args))
        assert result.rc == 0, result.stderr
        since = _host_clock(host)
        _reload(host)
        assert host.run("postfix status").rc == 0, f"{fault}: Postfix does not run with the fault"
        outcomes = _run_guards(request, host, guards, tmp_path / "broken.xml")
        _check_postfix_ran_throughout(fault, host, since)
    finally:
        _restore(fault, host, original_config, since)
    print(f"\n{fault}\n  broken: {len(outcomes)} guarding tests, "
          f"{sum(o == 'failure' for o in outcomes.values())} failed")
    _check_all_failed(fault, outcomes)
    CAUGHT[fault] = (guards, set(outcomes))


@pytest.mark.parametrize("fault", list(COMMAND_MUTATIONS))
def test_guarding_tests_catch_the_command_fault(fault, request, host, original_config, has_clients, tmp_path):
    breaks, restores, guards = COMMAND_MUTATIONS[fault]
    if _needs_clients(guards) and not has_clients:
        pytest.skip("the guarding tests need the client hosts of the topology lab")
    since = _host_clock(host)
    try:
        host.check_output(breaks)
        outcomes = _run_guards(request, host, guards, tmp_path / "broken.xml")
        _check_postfix_ran_throughout(fault, host, since)
    finally:
        host.check_output(restores)
    print(f"\n{fault}\n  broken: {len(outcomes)} guarding tests, "
          f"{sum(o == 'failure' for o in outcomes.values())} failed")
    _check_all_failed(fault, outcomes)
    CAUGHT[fault] = (guards, set(outcomes))


# The audit (external and on-host tiers) against a deliberately misconfigured host:
# several faults at once, each with the promises the audit must name as broken
# and its guarding tests, which must all fail in that run (as for the single faults
# above; these faults are proven here instead of one at a time).
# fault -> (postconf arguments, [promise], [(test module, -k expression, [substrings of the test id])])
MISCONFIGURED = {
    "mynetworks opened to the world": (
        ["mynetworks=0.0.0.0/0, [::]/0"],
        ["relay: relay variant is refused by the relay policy", "postfix_service: mynetworks is loopback only"],
        [("test_relay", "v01 and 25", ["-v01-25-"]), ("test_postfix_service", "mynetworks", ["mynetworks"])]),
    "AUTH offered on port 25": (
        ["smtpd_sasl_auth_enable=yes"], ["auth: port 25 never offers auth"],
        [("test_auth", "port_25", ["port_25"])]),
    # TLS 1.0's signatures need SECLEVEL=0, which lets the weak TLS 1.2 suites in as well.
    "TLS 1.0/1.1 allowed": (
        ["smtpd_tls_protocols=>=TLSv1", "smtpd_tls_mandatory_protocols=>=TLSv1", "tls_high_cipherlist=ALL:@SECLEVEL=0"],
        ["tls: old protocols are refused", "tls: weak tls12 suites are refused"],
        [("test_tls", "old_protocols", ["old_protocols"])]),
}
# The first key of OpenDKIM's key table, replaced by a new one (the published record stays).
_DKIM_KEY = "$(awk '!/^#/ && NF {split($2, a, \":\"); print a[3]; exit}' /etc/opendkim/key_table)"
DKIM_FAULT = ("DKIM key not matching the published record",
              (f"cp -p {_DKIM_KEY} /root/mailfort-dkim.private && openssl genpkey -algorithm RSA "
               f"-pkeyopt rsa_keygen_bits:2048 -out {_DKIM_KEY} 2>/dev/null"),
              f"cp -p /root/mailfort-dkim.private {_DKIM_KEY}",
              ["dns: published dkim key is the hosts key"],
              [("test_dns", "dkim", ["dkim"])])
# The served certificate replaced by one from the same (lab) CA for the same name, with a new
# key, expiring tomorrow: it still verifies, so the expiry check must be what fails, and the
# published TLSA (of the old key) no longer matches what port 25 presents.
CERT_FAULT = ("certificate expiring tomorrow, with a key no TLSA record names",
              ["tls: certificate verifies and matches the host name",
               "dns: served certificate matches a published tlsa"],
              [("test_tls", "certificate", ["certificate"]), ("test_dns", "tlsa", ["tlsa"])],
              # What each promise's failure lines must say (the reason, not only the promise).
              {"tls: certificate verifies and matches the host name": "less than 14 days away",
               "dns: served certificate matches a published tlsa": "matches no published TLSA record"})
SERVED_FILES = ("/etc/mailfort/tls/server.crt", "/etc/mailfort/tls/server.key")


def _short_lived_certificate(server_name: str) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for server_name from the lab CA, with a new key, valid until tomorrow."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    lab_ca = PROJECT_DIR / ".cache" / "lab-ca"
    ca_cert = x509.load_pem_x509_certificate((lab_ca / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((lab_ca / "ca.key").read_bytes(), password=None)
    # RSA like the tls role's own key: the cipher suites the other faults open stay the same.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(hours=20))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(server_name)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256()))
    return (certificate.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


# The external tier on one host stays within this many seconds, broken or not.
AUDIT_SECONDS = 60


def _audit(request, host, tmp_path, name):
    """The external and on-host audit tiers against this host, from the audit inventory with the connection
    variables when there is one (tests/lab-run.sh: audit); returns (exit code, {promise: status} from the
    per-promise lines, the lines, {test id: outcome} from JUnit, seconds)."""
    inventory = os.environ.get("MAILFORT_AUDIT_ACCESS_INVENTORY") or request.config.option.ansible_inventory
    report, junit = tmp_path / f"{name}.txt", tmp_path / f"{name}.xml"
    started = time.monotonic()
    result = subprocess.run(
        ["pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "-o", "junit_family=xunit2",
         "-W", "ignore::DeprecationWarning", "-m", "external or onhost", f"--junitxml={junit}",
         f"--hosts=ansible://{host.inventory_name}", f"--ansible-inventory={inventory}", str(INFRA)],
        capture_output=True, text=True, check=False, timeout=300,
        env=dict(os.environ, MAILFORT_AUDIT_REPORT=str(report)))
    seconds = time.monotonic() - started
    assert report.exists() and junit.exists(), (
        f"the audit wrote no report:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    lines = report.read_text().splitlines()
    statuses = {line.split("  ", 2)[2].rsplit(" (", 1)[0]: line[:4] for line in lines
                if line[:4] in ("PASS", "FAIL", "SKIP")}
    outcomes = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = kinds[0] if kinds else "passed"
    return result.returncode, statuses, lines, outcomes, seconds


def _failure_details(lines, promise):
    """The lines under a promise's FAIL line (the first line of each failure message)."""
    details, inside = [], False
    for line in lines:
        if line.startswith(("FAIL", "PASS", "SKIP")):
            inside = line.startswith("FAIL") and f"  {promise} (" in line
        elif inside:
            details.append(line.strip())
    return details


def _guard_ids(outcomes, guards):
    """The test ids of a run that the guards name: (module, -k expression, [substrings, all in the id])."""
    return {test for test in outcomes for module, _, parts in guards
            if test.split("::")[0].endswith(module) and all(part in test for part in parts)}


def test_audit_names_each_broken_promise_of_a_misconfigured_host(request, host, original_config, tmp_path):
    """The same host misconfigured several ways at once: the audit exits 1 with a FAIL line for
    exactly the promises those faults break, and every guarding test of each fault fails. (The
    audit step of tests/lab-run.sh passes on the good host before; the restored run below checks
    every guard again.)"""
    fault_name, dkim_break, dkim_restore, dkim_promises, dkim_guards = DKIM_FAULT
    cert_fault, cert_promises, cert_guards, cert_reasons = CERT_FAULT
    settings = [setting for postconf_args, _, _ in MISCONFIGURED.values() for setting in postconf_args]
    expected = ({promise for _, promises, _ in MISCONFIGURED.values() for promise in promises}
                | set(dkim_promises) | set(cert_promises))
    saved = {path: host.check_output(f"sha256sum {path}") for path in (_DKIM_KEY, *SERVED_FILES)}
    certificate, key = _short_lived_certificate(host.check_output("postconf -h myhostname"))
    since = _host_clock(host)
    try:
        host.check_output("postconf -e " + " ".join(f"'{setting}'" for setting in settings))
        host.check_output(dkim_break)
        host.check_output(" && ".join(f"cp -p {path} /root/mailfort-{path.rsplit('/', 1)[1]}" for path in SERVED_FILES))
        put_file(host, SERVED_FILES[0], certificate)
        put_file(host, SERVED_FILES[1], key)
        _reload(host)
        rc, broken, lines, outcomes, seconds = _audit(request, host, tmp_path, "broken")
        _check_postfix_ran_throughout("misconfigured host", host, since)
    finally:
        host.run(dkim_restore)
        host.run(" ; ".join(f"cp -p /root/mailfort-{path.rsplit('/', 1)[1]} {path}" for path in SERVED_FILES))
        _restore("misconfigured host", host, original_config, since)
    for path, checksum in saved.items():
        assert host.check_output(f"sha256sum {path}") == checksum, f"{path} was not restored"
    faults = [*MISCONFIGURED, fault_name, cert_fault]
    print("\n".join(["", f"misconfigured host: {', '.join(faults)} ({seconds:.0f} s):", *lines]))
    assert rc == 1, f"the audit of the misconfigured host exited {rc}, not 1 (promises broken)"
    named = {promise for promise, status in broken.items() if status == "FAIL"}
    assert named == expected, f"broken promises named: {sorted(named)}, expected: {sorted(expected)}"
    assert seconds <= AUDIT_SECONDS, f"the audit took {seconds:.0f} s (target {AUDIT_SECONDS})"
    for promise, reason in cert_reasons.items():
        details = _failure_details(lines, promise)
        assert any(reason in line for line in details), f"{cert_fault}: {promise} failed without '{reason}': {details}"
    for fault, guards in [*((name, value[2]) for name, value in MISCONFIGURED.items()), (fault_name, dkim_guards),
                          (cert_fault, cert_guards)]:
        tests = _guard_ids(outcomes, guards)
        assert tests, f"{fault}: no guarding test in the audit run"
        _check_all_failed(fault, {test: outcomes[test] for test in tests})
        CAUGHT[fault] = ([(f"{module}.py", expression) for module, expression, _ in guards], tests)
        print(f"{fault}\n  broken: {len(tests)} guarding tests, {len(tests)} failed")


def test_guarding_tests_pass_on_the_restored_server(request, host, original_config, tmp_path):
    """The guarding tests of the faults put right by a command (a file moved back, a table reloaded,
    a mode set back), run once against the restored server: they must all pass. The other faults are
    Postfix settings and key files, which come back byte for byte (main.cf/master.cf checksums after
    each restore, here again, and the keys' sha256): their guards passed against that very
    configuration in the verify step before the proofs, so they are not run a second time."""
    if not CAUGHT:
        pytest.skip("no fault was proven in this run (run the whole file)")
    for path, checksum in original_config.items():
        assert host.file(path).sha256sum == checksum, f"{path} differs from the saved configuration"
    restored_by_command = {fault: caught for fault, caught in CAUGHT.items() if fault in COMMAND_MUTATIONS}
    if not restored_by_command:
        pytest.skip("no fault restored by a command was proven in this run")
    guards = [guard for fault_guards, _ in restored_by_command.values() for guard in fault_guards]
    outcomes = _run_guards(request, host, guards, tmp_path / "restored.xml")
    for fault, (_, tests) in restored_by_command.items():
        missing = tests - set(outcomes)
        assert not missing, f"{fault}: guarding tests not selected by the restored run: {missing}"
        bad = {test: outcomes[test] for test in tests if outcomes[test] != "passed"}
        assert not bad, f"{fault}: guarding tests do not pass on the restored server: {bad}"
        print(f"{fault}\n  restored: {len(tests)} guarding tests passed")
    others = {test: outcome for test, outcome in outcomes.items() if outcome != "passed"}
    assert not others, f"tests selected by the restored run do not pass: {others}"
