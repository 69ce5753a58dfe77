# SPDX-License-Identifier: MIT
"""`make diagnose` against the lab BIND: the lab's mail domain is clean, a broken record set is not.

The script is run as the Makefile runs it (tools/diagnose.py DOMAIN --resolver
--cafile --dkim-key --selector), with the lab BIND as resolver, the lab CA and
the public half of the DKIM key OpenDKIM signs with on the mail host.

Then a separate domain under the lab zone, broken.<domain>, is published by
TSIG-signed update (the lab key from the inventory): its MX, mx-broken.<domain>,
has the mail server's addresses (so the server's certificate does not cover it),
SPF does not cover them, the DKIM record holds another key, DMARC is invalid and
the TLSA record of mx-broken matches nothing. Diagnose must exit non-zero and
report exactly those faults by check id, each with what receivers do and the fix.
The broken names are removed afterwards; the lab domain's own records are never
touched.

MAILFORT_DIAGNOSE_HEAL=spf.mx,dkim.match,... leaves those faults out of the
broken set (a proof that the assertions can fail: the test must then fail).
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pytest
from lab_hosts import PROJECT_DIR, container_addresses

pytestmark = pytest.mark.network

SCRIPT = PROJECT_DIR / "tools" / "diagnose.py"
# Each fault of the broken set -> its FAIL check id: (words of what was observed, of what receivers do, of the fix).
FAULTS = {
    "spf.mx": ("ip4:192.0.2.1", "reject", "dns_records_spf"),
    "dkim.match": ("DKIM_KEY's public key", "fails DKIM", "opendkim_public_keys"),
    "dmarc.record": ("p=bogus", "no usable DMARC policy", "dns_records_dmarc_phase"),
    "tlsa": ("none matches the certificate", "DANE senders", "dns_records_tlsa"),
    "cert.name": ("not mx-broken.", "refuse", "tls_hostnames"),
}
HEAL = {item for item in os.environ.get("MAILFORT_DIAGNOSE_HEAL", "").split(",") if item}


@pytest.fixture(scope="module")
def nameserver(request):
    """The lab BIND's IPv4 address (from podman on the controller)."""
    from testinfra.utils.ansible_runner import AnsibleRunner

    names = AnsibleRunner.get_runner(request.config.option.ansible_inventory).get_hosts("nameservers")
    if not names:
        pytest.skip("no nameservers group: diagnose needs the lab BIND")
    address = container_addresses(names[0]).get(4)
    assert address, f"no IPv4 address for the nameserver {names[0]}"
    return address


@pytest.fixture(scope="module")
def domain(host_vars):
    domains = host_vars.get("mailfort_domains")
    assert isinstance(domains, list) and domains, f"mailfort_domains is not a literal list: {domains!r}"
    return domains[0]


@pytest.fixture(scope="module")
def dkim_key(host, domain, tmp_path_factory):
    """(selector, path of the public half of the key OpenDKIM signs the domain's mail with)."""
    for line in host.check_output("cat /etc/opendkim/key_table").splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].startswith(f"{domain}:"):
            _, selector, path = fields[1].split(":", 2)
            target = tmp_path_factory.mktemp("dkim") / f"{selector}.pub"
            target.write_text(host.check_output(f"openssl pkey -in {path} -pubout"))
            return selector, target
    pytest.fail(f"no key for {domain} in /etc/opendkim/key_table")


def diagnose(domain, nameserver, dkim_key):
    ca = PROJECT_DIR / ".cache" / "lab-ca" / "ca.crt"
    command = [sys.executable, str(SCRIPT), domain, "--resolver", nameserver, "--cafile", str(ca),
               "--dkim-key", str(dkim_key[1]), "--selector", dkim_key[0], "--json"]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    report = json.loads(result.stdout)
    print(f"\ndiagnose {domain}: exit {result.returncode} in {time.monotonic() - started:.1f} s")
    for finding in report["findings"]:
        line = f"{finding['status']:<4}  {finding['check']:<16} {finding['subject']}: {finding['observed']}"
        if finding["status"] != "ok":
            line += f" -- receivers: {finding['impact']} -- fix: {finding['fix']}"
        print("  " + line)
    return result.returncode, report["findings"]


def test_the_lab_domain_has_no_fail(lab_only, domain, nameserver, dkim_key):
    code, findings = diagnose(domain, nameserver, dkim_key)
    failed = [f for f in findings if f["status"] == "FAIL"]
    assert not failed, "\n".join(f"{f['check']} {f['subject']}: {f['observed']}" for f in failed)
    assert code == 0
    seen = {f["check"] for f in findings if f["status"] == "ok"}
    # The comparisons that need the lab's data really ran (and passed).
    assert {"mx", "ptr", "ptr.helo", "port.25", "cert.chain", "cert.name", "spf.mx", "dkim.match",
            "dmarc.record"} <= seen, sorted(seen)


def _update(nameserver, zone, host_vars, changes):
    """One TSIG-signed RFC 2136 update of `zone`: changes is a list of (verb, name, type, values)."""
    import dns.query
    import dns.rcode
    import dns.tsigkeyring
    import dns.update

    keyring = dns.tsigkeyring.from_text({host_vars["lab_dns_update_key_name"]: host_vars["lab_dns_update_key_secret"]})
    update = dns.update.Update(zone, keyring=keyring, keyalgorithm=host_vars["lab_dns_update_key_algorithm"])
    for verb, name, rtype, values in changes:
        if verb == "delete":
            update.delete(name + ".")
        else:
            for value in values:
                update.add(name + ".", 60, rtype, value)
    response = dns.query.tcp(update, nameserver, timeout=10)
    assert response.rcode() == 0, f"update of {zone} refused: {dns.rcode.to_text(response.rcode())}"


@pytest.fixture
def broken_domain(lab_only, domain, nameserver, host_vars, probe_addresses, dkim_key):
    """broken.<domain> published with the faults of FAULTS (minus MAILFORT_DIAGNOSE_HEAL); removed afterwards."""
    import dns.resolver
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    broken, mx = f"broken.{domain}", f"mx-broken.{domain}"
    good_mx = host_vars.get("postfix_hostname")
    lookup = dns.resolver.Resolver(configure=False)
    lookup.nameservers = [nameserver]
    good_tlsa = [r.to_text() for r in lookup.resolve(f"_25._tcp.{good_mx}", "TLSA")] if "tlsa" in HEAL else []
    if "dkim.match" in HEAL:
        key = serialization.load_pem_public_key(dkim_key[1].read_bytes())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    # Long TXT values as 255-octet strings, as the zone carries them.
    text = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    dkim_record = " ".join(f'"{text[i:i + 255]}"' for i in range(0, len(text), 255))
    target = good_mx if "cert.name" in HEAL else mx
    names = [broken, target] if target == mx else [broken]
    records = [
        ("add", broken, "MX", [f"10 {target}."]),
        ("add", broken, "TXT", ['"v=spf1 mx -all"' if "spf.mx" in HEAL else '"v=spf1 ip4:192.0.2.1 -all"']),
        ("add", f"{dkim_key[0]}._domainkey.{broken}", "TXT", [dkim_record]),
        ("add", f"_dmarc.{broken}", "TXT", ['"v=DMARC1; p=none"' if "dmarc.record" in HEAL else '"v=DMARC1; p=bogus"']),
    ]
    if target == mx:
        records.append(("add", mx, "A", [probe_addresses[4]]))
        if 6 in probe_addresses:
            records.append(("add", mx, "AAAA", [probe_addresses[6]]))
        records.append(("add", f"_25._tcp.{mx}", "TLSA", good_tlsa or ["3 1 1 " + "00" * 32]))
    names += [f"{dkim_key[0]}._domainkey.{broken}", f"_dmarc.{broken}", f"_25._tcp.{mx}", mx]
    cleanup = [("delete", name, None, None) for name in dict.fromkeys(names) if name != good_mx]
    _update(nameserver, domain, host_vars, cleanup)  # leftovers of an interrupted run
    _update(nameserver, domain, host_vars, records)
    yield broken
    _update(nameserver, domain, host_vars, cleanup)


def test_a_broken_record_set_is_reported_fault_by_fault(broken_domain, nameserver, dkim_key):
    code, findings = diagnose(broken_domain, nameserver, dkim_key)
    failed = [f for f in findings if f["status"] == "FAIL"]
    assert {f["check"] for f in failed} == set(FAULTS), (
        "FAIL lines: " + "; ".join(f"{f['check']} {f['subject']}: {f['observed']}" for f in failed))
    for check, (observed, impact, fix) in FAULTS.items():
        for finding in (f for f in failed if f["check"] == check):
            assert observed in finding["observed"] and impact in finding["impact"] and fix in finding["fix"], finding
    # The certificate does not cover mx-broken on any port, and SPF fails for every address of the MX.
    assert {f["subject"].split(" ")[0].rsplit(":", 1)[1] for f in failed if f["check"] == "cert.name"} == {
        "25", "587", "465"}
    assert len([f for f in failed if f["check"] == "spf.mx"]) == len(
        [f for f in findings if f["check"] == "spf.mx"]) >= 1
    assert code == 1
