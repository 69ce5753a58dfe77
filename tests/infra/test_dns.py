# SPDX-License-Identifier: MIT
"""DNS as published is DNS as computed.

External: the MX, SPF, DMARC, MTA-STS and TLS-RPT records of the host's domains,
asked of the resolver, are the ones mailfort computes from the inventory
(`mailfort_audit_dns`, written by playbooks/audit-inventory.yml with the
dns_records role's own filters). Values other people own beside ours (a backup
MX) may stay; for SPF, DMARC, MTA-STS and TLS-RPT the one record of its kind
must be ours, value for value.

On the host: every DKIM key in OpenDKIM's key table has its public half
published at <selector>._domainkey.<domain>.

The resolver: `mailfort_audit_resolver` (addresses) in the inventory, else the
lab's nameserver (group nameservers), else, outside the lab, the system's.
"""
from __future__ import annotations

import re

import pytest
from lab_hosts import container_addresses, tlsa_data, tlsa_matches

# kind -> (record type, the prefix that makes a TXT value one of this kind; None for MX)
KINDS = {"MX": ("MX", None), "SPF": ("TXT", "v=spf1"), "DMARC": ("TXT", "v=DMARC1"),
         "MTA-STS": ("TXT", "v=STSv1"), "TLS-RPT": ("TXT", "v=TLSRPTv1")}


@pytest.fixture(scope="module")
def resolver(request, host_vars):
    import dns.resolver

    addresses = host_vars.get("mailfort_audit_resolver") or []
    if isinstance(addresses, str):
        addresses = [addresses]
    if not addresses:
        from testinfra.utils.ansible_runner import AnsibleRunner

        inventory = request.config.option.ansible_inventory
        names = AnsibleRunner.get_runner(inventory).get_hosts("nameservers") if inventory else []
        addresses = [container_addresses(names[0]).get(4)] if names else []
        addresses = [a for a in addresses if a]
    if not addresses and host_vars.get("mailfort_lab"):
        pytest.skip("a lab without a nameserver: its names are in no DNS (and the system resolver is not asked)")
    lookup = dns.resolver.Resolver(configure=not addresses)
    if addresses:
        lookup.nameservers = list(addresses)
    lookup.lifetime = 5.0
    return lookup


def _txt(value: str) -> str:
    """A TXT value as the zone writes it ('"part" "part"') as one string."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', value)
    return "".join(parts) if parts else value


def _published(resolver, name: str, rtype: str) -> set[str]:
    import dns.resolver

    try:
        answer = resolver.resolve(name, rtype)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return set()
    if rtype == "TXT":
        return {b"".join(rdata.strings).decode() for rdata in answer}
    return {rdata.to_text().lower() for rdata in answer}


@pytest.mark.parametrize("kind", list(KINDS))
def test_published_record_is_the_computed_one(kind, host_vars, resolver):
    computed = host_vars.get("mailfort_audit_dns")
    if not isinstance(computed, list):
        pytest.skip("no computed records in the inventory (mailfort_audit_dns: make audit-inventory)")
    rtype, prefix = KINDS[kind]
    records = [r for r in computed if r.get("type") == rtype and r.get("exclusive") == prefix]
    if not records:
        pytest.skip(f"mailfort computes no {kind} record for this host's domains")
    wrong = []
    for record in records:
        published = _published(resolver, record["name"], rtype)
        if prefix is None:
            wanted = {value.lower() for value in record["values"]}
            if not wanted <= published:
                wrong.append(f"{record['name']} MX: published {sorted(published) or 'nothing'}, "
                             f"computed {sorted(wanted)}")
        else:
            wanted = {_txt(value) for value in record["values"]}
            ours = {value for value in published if value.startswith(prefix)}
            if ours != wanted:
                wrong.append(f"{record['name']} TXT {prefix}: published {sorted(ours) or 'nothing'}, "
                             f"computed {sorted(wanted)}")
    assert not wrong, "; ".join(wrong)


def test_published_dkim_key_is_the_hosts_key(host, resolver):
    """Each key OpenDKIM signs with (its key table) is the key DNS publishes for its selector."""
    table = host.run("cat /etc/opendkim/key_table")
    if table.rc != 0:
        pytest.skip("no OpenDKIM key table on the host (/etc/opendkim/key_table)")
    entries = [line.split() for line in table.stdout.splitlines() if line.strip() and not line.startswith("#")]
    assert entries, "OpenDKIM's key table lists no key"
    wrong = []
    for name, spec in entries:
        path = spec.split(":", 2)[2]
        key = host.check_output(f"openssl pkey -in {path} -pubout -outform DER | base64 -w0")
        records = [value for value in _published(resolver, name + ".", "TXT") if "p=" in value]
        published = [re.sub(r"\s+", "", value.split("p=", 1)[1].split(";")[0]) for value in records]
        if published != [key]:
            # RSA keys of one size share their first bytes: show where they differ, the end.
            shown = [f"p=...{p[-24:]}" for p in published] or ["nothing"]
            wrong.append(f"{name}: published {', '.join(shown)}; the host signs with p=...{key[-24:]} ({path})")
    assert not wrong, "; ".join(wrong)


def test_served_certificate_matches_a_published_tlsa(host_vars, resolver, probe_address, server_name):
    """DANE (RFC 7672): the certificate the server presents on port 25 after STARTTLS matches a
    DANE-EE record (usage 3) published at _25._tcp.<host name>; a sender that validates DANE defers
    every message otherwise. With TLSA on for the host (`mailfort_audit_tlsa`, from dns_records_tlsa
    in the audit inventory) a missing record fails too; a host with none published and TLSA off is
    skipped."""
    import ssl

    from smtp_probe import connect

    name = f"_25._tcp.{server_name}."
    published = _published(resolver, name, "TLSA")
    if not published:
        assert not host_vars.get("mailfort_audit_tlsa"), (
            f"no TLSA record at {name}, although the host publishes one (dns_records_tlsa): DANE senders "
            "that saw the old record defer mail until it is back")
        pytest.skip(f"no TLSA record published at {name} (dns_records_tlsa is off)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # DANE-EE (usage 3) authenticates the key itself: no chain or name check (RFC 7672 3.1.1).
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    smtp = connect(probe_address, 25, "starttls", context, server_name)
    try:
        served = smtp.sock.getpeercert(binary_form=True)
    finally:
        smtp.close()
    matching = []
    for record in published:
        usage, selector, kind, data = record.split(None, 3)
        if usage == "3" and tlsa_matches((3, int(selector), int(kind), data.replace(" ", "")), served):
            matching.append(record)
    assert matching, (f"the certificate served on port 25 (3 1 1 {tlsa_data(served, 1, 1)}) matches no published "
                      f"TLSA record at {name} ({sorted(published)}): DANE senders defer the mail")
