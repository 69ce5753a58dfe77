# SPDX-License-Identifier: MIT
"""DKIM, SPF and DMARC end to end, checked against the lab's authoritative DNS.

A message submitted on 587 by the trusted client must reach the sink signed by
OpenDKIM, and the signature must verify with the key the DNS records role
published into the lab BIND (group nameservers). SPF for the server's own
addresses must pass, and the DMARC record must align with the signature and
the sender. Every lookup goes to the lab BIND, never to the system resolver.
Without a nameservers group (make lab, real hosts) these tests are skipped.
"""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
import uuid

import pytest
from lab_hosts import PROJECT_DIR, group_host

pytestmark = pytest.mark.network



@pytest.fixture(scope="module")
def nameserver(request):
    """The lab BIND (first host of group nameservers) as a testinfra host."""
    return group_host(request, "nameservers", "DNS-based checks need the lab nameserver of the topology lab")


@pytest.fixture(scope="module")
def resolver(nameserver):
    """A dnspython resolver that asks the lab BIND only."""
    import dns.resolver

    addresses = [a["local"] for iface in json.loads(nameserver.check_output("ip -json address show scope global"))
                 for a in iface.get("addr_info", []) if a.get("family") == "inet"]
    assert addresses, "the lab nameserver has no IPv4 address"
    lookup = dns.resolver.Resolver(configure=False)
    lookup.nameservers = addresses[:1]
    lookup.lifetime = 5.0
    return lookup


def txt_records(resolver, name: str) -> list[str]:
    import dns.resolver

    try:
        return [b"".join(r.strings).decode() for r in resolver.resolve(name, "TXT")]
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []


def bind_dnsfunc(resolver):
    """dkimpy's dnsfunc: the TXT record of a name, from the lab BIND."""
    def _txt(name, timeout=5):
        text = name.decode() if isinstance(name, bytes) else name
        records = txt_records(resolver, text)
        return records[0].encode() if records else None
    return _txt


def _tags(text: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (part.partition("=") for part in text.split(";")) if k.strip()}


@pytest.fixture(scope="module")
def signed(resolver, trusted, person, sink, address_of):
    """Submit one message on 587 from the trusted client; return (raw bytes at the sink, sender, token)."""
    token = uuid.uuid4().hex
    sender = (person.get("senders") or [person["name"]])[0]
    out = trusted.probe("auth", address_of(4), port=587, user=person["name"], password=person["password"],
                        sender=sender, recipient=f"dkim-{token}@example.net", timeout=20)
    assert out.get("data", [0])[0] == 250, f"submission on 587 from {trusted.name} failed: {out}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = sink.run(f"grep -rl -- {token} /var/mail/sink/new")
        if found.rc == 0 and found.stdout.strip():
            raw = base64.b64decode(sink.check_output(f"base64 -w0 {found.stdout.split()[0]}"))
            break
        time.sleep(2)
    else:
        pytest.fail(f"message {token} did not reach the sink within 60 s")
    # The sink prepends the SMTP envelope as X-Sink-* headers; DKIM saw the message without them.
    lines = re.split(rb"\r?\n", raw)
    while lines and lines[0].startswith(b"X-Sink-"):
        lines.pop(0)
    return b"\r\n".join(lines), sender, token


def test_submitted_mail_carries_a_dkim_signature_that_verifies_against_bind(signed, resolver):
    import dkim

    message, sender, _ = signed
    domain = sender.rpartition("@")[2]
    headers = re.findall(rb"(?ims)^DKIM-Signature:(.*?)(?=^\S)", message)
    assert len(headers) == 1, f"expected one DKIM-Signature header, got {len(headers)}"
    signature = _tags(re.sub(r"\s+", "", headers[0].decode()))
    assert signature["d"] == domain and signature["a"] == "rsa-sha256", signature
    assert "from" in signature["h"].lower().split(":"), signature
    record = txt_records(resolver, f"{signature['s']}._domainkey.{domain}")
    assert len(record) == 1 and record[0].startswith("v=DKIM1; k=rsa; p="), record
    assert dkim.verify(message, dnsfunc=bind_dnsfunc(resolver)), "DKIM signature does not verify with the key in DNS"


def test_a_tampered_body_fails_dkim(signed, resolver):
    import dkim

    message, _, _ = signed
    tampered = message.replace(b"probe\r\n", b"probe, changed in transit\r\n")
    assert tampered != message
    assert not dkim.verify(tampered, dnsfunc=bind_dnsfunc(resolver))


def test_a_wrong_published_key_fails_dkim(signed, resolver):
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    message, _, _ = signed
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = other.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    wrong = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    assert not dkim.verify(message, dnsfunc=lambda name, timeout=5: wrong)


@pytest.fixture
def spf_through_bind(resolver, monkeypatch):
    """pyspf with every DNS lookup sent to the lab BIND."""
    import dns.resolver
    import spf

    def lookup(name, qtype, tcpfallback=True, timeout=30):
        try:
            answers = resolver.resolve(name, qtype)
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            return []
        result = []
        for rdata in answers:
            if qtype in ("A", "AAAA"):
                result.append(((name, qtype), rdata.address))
            elif qtype == "MX":
                result.append(((name, qtype), (rdata.preference, rdata.exchange)))
            elif qtype in ("TXT", "SPF"):
                result.append(((name, qtype), rdata.strings))
            elif qtype == "PTR":
                result.append(((name, qtype), rdata.target.to_text(True)))
        return result

    monkeypatch.setattr(spf, "DNSLookup", lookup)
    return spf


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
def test_spf_passes_for_the_server_and_fails_for_others(spf_through_bind, family, address_of, person, server_name,
                                                         trusted):
    sender = (person.get("senders") or [person["name"]])[0]
    result, explanation = spf_through_bind.check2(i=address_of(family), s=sender, h=server_name)
    assert result == "pass", f"SPF for {address_of(family)} sending as {sender}: {result} ({explanation})"
    stranger = trusted.addresses[family]
    result, explanation = spf_through_bind.check2(i=stranger, s=sender, h="trusted.lab.test")
    assert result == "fail", f"SPF for the client {stranger} (not a mail server): {result} ({explanation})"


def test_dmarc_record_parses_and_aligns_with_dkim_and_the_sender(signed, resolver):
    message, sender, _ = signed
    domain = sender.rpartition("@")[2]
    records = [r for r in txt_records(resolver, f"_dmarc.{domain}") if r.startswith("v=DMARC1")]
    assert len(records) == 1, f"_dmarc.{domain}: {records}"
    tags = _tags(records[0])
    assert tags["v"] == "DMARC1" and tags["p"] in ("none", "quarantine", "reject"), tags
    assert all(uri.startswith("mailto:") for uri in tags.get("rua", "mailto:").split(",")), tags
    header_from = re.search(rb"(?im)^From:.*?<?([^<>\s]+@[^<>\s]+)>?\s*$", message).group(1).decode()
    from_domain = header_from.rpartition("@")[2].lower()
    dkim_header = re.search(rb"(?ims)^DKIM-Signature:(.*?)(?=^\S)", message).group(1).decode()
    d = _tags(re.sub(r"\s+", "", dkim_header))["d"].lower()
    # Strict (adkim=s / aspf=s) means the exact domain; relaxed means the same organizational domain.
    def aligned(a, b, mode):
        return a == b if mode == "s" else a == b or a.endswith("." + b) or b.endswith("." + a)

    assert aligned(d, from_domain, tags.get("adkim", "r")), f"DKIM d={d} does not align with From {from_domain}"
    assert aligned(domain, from_domain, tags.get("aspf", "r")), (
        f"envelope {domain} does not align with From {from_domain}")


def test_publishing_again_changes_nothing(request, lab_only, nameserver):
    inventory = request.config.option.ansible_inventory
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT_DIR / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_ROLES_PATH=str(PROJECT_DIR / "roles"),
               ANSIBLE_FILTER_PLUGINS=str(PROJECT_DIR / "filter_plugins"))
    result = subprocess.run(["ansible-playbook", "-i", inventory, str(PROJECT_DIR / "playbooks" / "dns-records.yml")],
                            env=env, capture_output=True, text=True, timeout=600, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    recap = re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", output, re.MULTILINE)
    assert recap, output[-3000:]
    assert all(changed == "0" for _, changed in recap), (
        f"a second publish run changed something: {recap}\n{output[-3000:]}")
    assert re.search(r"Publish the records by dynamic update", output), "the publish run did not update DNS"
