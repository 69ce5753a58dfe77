# SPDX-License-Identifier: MIT
"""Judged by a real receiver: the lab's receiver.test (role lab_receiver) runs
Postfix with OpenDKIM (verify), OpenDMARC and the SPF policy daemon, resolving
through its own validating resolver. These tests read its verdicts, never our
own: the Authentication-Results headers it stamps (authserv-id
mx.receiver.test), its SMTP replies, and its Postfix's DANE decisions when it
sends to the mail server.

- Genuine mail submitted on 587 and 465 reaches it over IPv4 (receiver.test)
  and IPv6 (v6.receiver.test) with spf=pass dkim=pass dmarc=pass.
- A forged From from a host in no SPF record, a signed message whose body was
  changed after signing, and a published DKIM key that does not match get the
  receiver's own fail verdicts; with dns_records_dmarc_phase reject the forgery
  is refused at its SMTP stage (5xx) and genuine mail still arrives.
- DANE: the lab zone is DNSSEC-signed; the receiver delivers to the mail server
  only while the published TLSA record matches its key, and defers otherwise.
- MTA-STS: the receiver fetches the policy from https://mta-sts.DOMAIN through
  lab DNS and checks it against RFC 8461 and the DNS it sees; a changed policy
  is served before its new id is published.

Every record a test changes is restored. Without a receiver (make lab, real
hosts) these tests are skipped.
"""
from __future__ import annotations

import base64
import email
import email.policy
import re
import time
import uuid

import pytest
from lab_hosts import group_host, run_site_playbook
from test_auth import _send

pytestmark = [pytest.mark.usefixtures("lab_only"), pytest.mark.distro_independent]

AUTHSERV_ID = "mx.receiver.test"
MAILDIR = "/home/inbox/Maildir/new"
# What the receiver's domains are routed over (lab_dns_foreign_zones): the MX
# of receiver.test has only an IPv4 address, that of v6.receiver.test only IPv6.
DOMAIN_OF_FAMILY = {4: "receiver.test", 6: "v6.receiver.test"}

# Runs on a lab host: one SMTP transaction to the receiver's port 25, message
# from stdin (base64); prints the reply to the end of DATA as "code text".
INJECT = r"""
import base64, smtplib, sys
sender, recipient, address = sys.argv[1:4]
message = base64.b64decode(sys.stdin.read())
smtp = smtplib.SMTP(address, 25, timeout=30)
smtp.ehlo("forger.example.net")
smtp.mail(sender)
smtp.rcpt(recipient)
code, text = smtp.data(message)
print(code, text.decode())
smtp.quit()
"""


@pytest.fixture(scope="module")
def receiver(request):
    return group_host(request, "receivers", "no lab receiver (molecule/topology) to judge the mail")


@pytest.fixture(scope="module")
def receiver_address(receiver):
    return receiver.check_output("dig +short mx.receiver.test A @127.0.0.1").strip()


@pytest.fixture(scope="module")
def zone(request):
    """TSIG-signed reads and updates of the lab zone, straight to the lab BIND."""
    from test_dns_publish import lab_zone

    return lab_zone(request)


def flush_resolver(receiver):
    """Make the receiver see a changed record now: its resolver forgets the lab zone, and its Postfix
    starts new smtp processes (each keeps the TLSA records it looked up for their TTL)."""
    receiver.check_output("unbound-control flush_zone lab.test && unbound-control flush_bogus && "
                          "unbound-control flush_negative && postfix reload 2>/dev/null")


def stored(receiver, token: str, seconds: int = 60) -> email.message.Message:
    """The message carrying `token` as the receiver stored it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = receiver.run(f"grep -rl -- {token} {MAILDIR}")
        if found.rc == 0 and found.stdout.strip():
            raw = receiver.file(found.stdout.split()[0]).content
            return email.message_from_bytes(raw, policy=email.policy.compat32)
        time.sleep(1)
    pytest.fail(f"message {token} did not arrive at the receiver within {seconds}s")


def verdicts(message) -> dict[str, str]:
    """{method: result} from the receiver's own Authentication-Results headers (its authserv-id only)."""
    found = {}
    for header in message.get_all("Authentication-Results", []):
        text = " ".join(str(header).split())
        if text.split(";", 1)[0].strip() != AUTHSERV_ID:
            continue  # a header anyone else wrote proves nothing
        for method, result in re.findall(r"\b(spf|dkim|dmarc)=(\w+)", text):
            found.setdefault(method, result)
    return found


def inject(client, sender: str, recipient: str, address: str, message: bytes) -> str:
    """Send `message` from a lab client host straight to the receiver; returns its reply to DATA."""
    result = client.run(f"echo {base64.b64encode(message).decode()} | python3 -c '{INJECT}' "
                        f"{sender} {recipient} {address}")
    if result.rc != 0:
        return result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"rc={result.rc}"
    return result.stdout.strip()


def forged(token: str, domain: str) -> bytes:
    return (f"From: <ceo@{domain}>\r\nTo: <judge@receiver.test>\r\nSubject: forged {token}\r\n"
            f"Message-ID: <{token}@forger.example.net>\r\n\r\nforged message {token}\r\n").encode()


@pytest.fixture(scope="module")
def genuine(person, probe_address, tls_context, server_name, receiver):
    """One genuine message submitted on 587, as the receiver stored it."""
    token = uuid.uuid4().hex
    assert _send(probe_address, 587, tls_context, server_name, person, person["senders"][0],
                 f"judge-{token}@receiver.test", token) == {}
    return stored(receiver, token)


def test_the_receiver_validates_the_signed_lab_zone(receiver):
    signed = receiver.check_output("dig +dnssec mx.lab.test A @127.0.0.1")
    assert re.search(r"flags:[^;]*\bad\b", signed), f"the lab zone did not validate:\n{signed}"
    unsigned = receiver.check_output("dig +dnssec mx.receiver.test A @127.0.0.1")
    assert not re.search(r"flags:[^;]*\bad\b", unsigned), f"an unsigned zone validated:\n{unsigned}"


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("port", [587, 465])
def test_genuine_mail_passes_spf_dkim_and_dmarc_at_the_receiver(port, family, person, probe_address, tls_context,
                                                               server_name, receiver, server_addresses):
    token = uuid.uuid4().hex
    assert _send(probe_address, port, tls_context, server_name, person, person["senders"][0],
                 f"judge-{token}@{DOMAIN_OF_FAMILY[family]}", token) == {}
    message = stored(receiver, token)
    # The receiver's own Received header names the address the mail server came from.
    received = " ".join(str(message.get_all("Received")[0]).split())
    assert f"[{'IPv6:' if family == 6 else ''}{server_addresses[family]}]" in received, received
    assert verdicts(message) == {"spf": "pass", "dkim": "pass", "dmarc": "pass"}, \
        message.get_all("Authentication-Results")


def test_a_forged_from_fails_dmarc_at_the_receiver(outsider, receiver, receiver_address, person):
    domain = person["senders"][0].split("@")[1]
    token = uuid.uuid4().hex
    reply = inject(outsider.host, f"ceo@{domain}", "judge@receiver.test", receiver_address, forged(token, domain))
    assert reply.startswith("250"), reply  # the lab's DMARC phase is none: judged, not refused
    assert verdicts(stored(receiver, token)) == {"spf": "fail", "dkim": "none", "dmarc": "fail"}


def _resent(message, token: str, footer: str = "") -> bytes:
    """A stored message as it left the mail server: without what the receiver added, body + footer."""
    copy = email.message_from_bytes(message.as_bytes(), policy=email.policy.compat32)
    for name in ("Return-Path", "Delivered-To", "Authentication-Results", "Received-SPF", "X-Original-To"):
        del copy[name]
    head, _, body = copy.as_bytes().replace(b"\r\n", b"\n").partition(b"\n\n")
    return (head + b"\n\n" + body + footer.encode() + f"\n{token}\n".encode() * bool(footer)).replace(b"\n", b"\r\n")


def test_a_body_changed_after_signing_fails_dkim_at_the_receiver(genuine, outsider, receiver, receiver_address,
                                                                 person):
    sender = person["senders"][0]
    # Control: the signed message re-sent unchanged from a host outside SPF keeps a valid signature...
    token = genuine["Message-ID"].strip("<>").split("@")[0]
    inject(outsider.host, sender, "judge@receiver.test", receiver_address, _resent(genuine, token))
    time.sleep(1)
    found = receiver.check_output(f"grep -rl -- 'Message-ID: <{token}@' {MAILDIR}").split()
    assert len(found) == 2, found
    resent = [receiver.file(path).content for path in found]
    resent_verdicts = [verdicts(email.message_from_bytes(raw, policy=email.policy.compat32)) for raw in resent]
    assert {"spf": "fail", "dkim": "pass", "dmarc": "pass"} in resent_verdicts, resent_verdicts
    # ...and the same message with a footer appended (as a mailing list would) does not.
    footer_token = uuid.uuid4().hex
    reply = inject(outsider.host, sender, "judge@receiver.test", receiver_address,
                   _resent(genuine, footer_token, footer="-- \nappended by a relay"))
    assert reply.startswith("250"), reply
    assert verdicts(stored(receiver, footer_token)) == {"spf": "fail", "dkim": "fail", "dmarc": "fail"}


def test_a_published_dkim_key_that_does_not_match_fails_dkim_at_the_receiver(genuine, zone, receiver, person,
                                                                             probe_address, tls_context, server_name):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    signature = " ".join(str(genuine["DKIM-Signature"]).split())
    selector = re.search(r"\bs=([^;\s]+)", signature).group(1)
    domain = re.search(r"\bd=([^;\s]+)", signature).group(1)
    name = f"{selector}._domainkey.{domain}."
    ttl, published = zone.rrset(name, "TXT")
    assert published, f"no DKIM record at {name}"
    other = base64.b64encode(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    text = f"v=DKIM1; k=rsa; p={other}"
    zone.replace(name, "TXT", ttl, [" ".join(f'"{text[i:i + 250]}"' for i in range(0, len(text), 250))])
    try:
        flush_resolver(receiver)
        token = uuid.uuid4().hex
        assert _send(probe_address, 587, tls_context, server_name, person, person["senders"][0],
                     f"judge-{token}@receiver.test", token) == {}
        # SPF still passes, aligned, so DMARC passes: the DKIM verdict alone names the fault.
        assert verdicts(stored(receiver, token)) == {"spf": "pass", "dkim": "fail", "dmarc": "pass"}
    finally:
        zone.replace(name, "TXT", ttl, published)
        flush_resolver(receiver)
    assert zone.rrset(name, "TXT") == (ttl, published)


@pytest.fixture(scope="module")
def mailbox(test_accounts):
    """An address of ours with a mailbox: where the receiver, as a sender, delivers."""
    for account in test_accounts:
        if account.get("mailbox", True):
            local, domain = account["name"].split("@")
            return account["name"], f"/var/vmail/{domain}/{local}/Maildir/new"
    pytest.skip("no account with a mailbox in the inventory")


def send_from_receiver(receiver, recipient: str, token: str) -> str:
    """Hand a message to the receiver's Postfix (its smtp client uses DANE); returns its queue id."""
    receiver.check_output(f"printf 'Subject: dane {token}\\nMessage-ID: <{token}@receiver.test>\\n\\n{token}\\n' "
                          f"| /usr/sbin/sendmail -f dane-probe@receiver.test {recipient}")
    for _ in range(20):
        line = receiver.run(f"journalctl -q -o cat SYSLOG_IDENTIFIER=postfix/cleanup | grep -F '<{token}@'")
        if line.stdout.strip():
            return line.stdout.split(":")[0].strip()
        time.sleep(0.5)
    pytest.fail(f"the receiver's Postfix did not queue message {token}")


def delivery(receiver, queue_id: str, seconds: int = 30) -> str:
    """The receiver's smtp client's first verdict (status=...) on one queued message."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lines = receiver.run(f"journalctl -q -o cat SYSLOG_IDENTIFIER=postfix/smtp | grep -F '{queue_id}: to='")
        if "status=" in lines.stdout:
            return lines.stdout.strip().splitlines()[-1]
        time.sleep(1)
    pytest.fail(f"the receiver's Postfix reported no delivery attempt of {queue_id} within {seconds}s")


def in_maildir(host, maildir: str, token: str, seconds: int) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if host.run(f"grep -rlq -- {token} {maildir}").rc == 0:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(1)


@pytest.fixture(scope="module")
def tlsa_name(host_vars):
    return f"_25._tcp.{host_vars.get('postfix_hostname', 'mx.lab.test')}."


def test_dane_the_receiver_delivers_to_us_only_over_a_verified_connection(receiver, host, mailbox, zone, tlsa_name):
    _, published = zone.rrset(tlsa_name, "TLSA")
    assert published, f"no TLSA record at {tlsa_name} (dns_records_tlsa)"
    finger = receiver.run("posttls-finger -c -l dane -L summary lab.test")
    assert "Verified TLS connection established to mx.lab.test" in finger.stdout + finger.stderr, \
        finger.stdout + finger.stderr
    token = uuid.uuid4().hex
    verdict = delivery(receiver, send_from_receiver(receiver, mailbox[0], token))
    assert "status=sent" in verdict, verdict
    assert in_maildir(host, mailbox[1], token, 30), f"message {token} was not delivered into {mailbox[1]}"


def test_dane_a_wrong_tlsa_record_makes_the_receiver_defer(receiver, host, mailbox, zone, tlsa_name):
    ttl, published = zone.rrset(tlsa_name, "TLSA")
    assert published, f"no TLSA record at {tlsa_name} (dns_records_tlsa)"
    zone.replace(tlsa_name, "TLSA", ttl, ["3 1 1 " + "00" * 32])
    token = uuid.uuid4().hex
    try:
        flush_resolver(receiver)
        queue_id = send_from_receiver(receiver, mailbox[0], token)
        verdict = delivery(receiver, queue_id)
        assert "status=deferred" in verdict and "Server certificate not verified" in verdict, verdict
        assert not in_maildir(host, mailbox[1], token, 3), "delivered although the TLSA record is wrong"
    finally:
        zone.replace(tlsa_name, "TLSA", ttl, published)
        flush_resolver(receiver)
    # With the right record back, the deferred message goes out on the next attempt.
    receiver.check_output(f"postqueue -i {queue_id}")
    assert in_maildir(host, mailbox[1], token, 30), f"message {token} stayed deferred with the right TLSA record"


# Runs on the receiver: fetch a domain's MTA-STS policy as a sending MTA does
# (RFC 8461 3.3: HTTPS, certificate valid for mta-sts.DOMAIN, no redirects).
FETCH_POLICY = r"""
import json, ssl, sys, urllib.request
domain, ca_file = sys.argv[1:3]
context = ssl.create_default_context(cafile=ca_file)
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None
opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context))
with opener.open(f"https://mta-sts.{domain}/.well-known/mta-sts.txt", timeout=10) as response:
    print(json.dumps({"status": response.status, "type": response.headers.get("Content-Type", ""),
                      "body": response.read().decode()}))
"""
RECEIVER_CA = "/tmp/mailfort-lab-ca.crt"


@pytest.fixture(scope="module")
def mta_sts_domain(host_vars, person):
    if not host_vars.get("dns_records_mta_sts_mode") or host_vars.get("dns_records_mta_sts_serve") is False:
        pytest.skip("the mail server serves no MTA-STS policy (dns_records_mta_sts_mode)")
    return person["senders"][0].split("@")[1]


def mta_sts_seen(receiver, ca_file, domain: str) -> tuple[dict, str]:
    """(policy as fetched by the receiver through lab DNS, the _mta-sts TXT it resolves)."""
    import json
    from pathlib import Path

    from lab_hosts import put_file

    put_file(receiver, RECEIVER_CA, Path(ca_file).read_bytes())
    fetched = json.loads(receiver.check_output(f"python3 -c '{FETCH_POLICY}' {domain} {RECEIVER_CA}"))
    flush_resolver(receiver)
    txt = receiver.check_output(f"dig +short TXT _mta-sts.{domain} @127.0.0.1").strip()
    return fetched, txt.strip('"')


def _policy_fields(body: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for line in body.replace("\r\n", "\n").splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), []).append(value.strip())
    return fields


def _mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 4.1: an exact name, or "*." matching exactly one leftmost label."""
    host = host.rstrip(".").lower()
    if pattern.startswith("*."):
        return host.partition(".")[2] == pattern[2:].lower()
    return host == pattern.lower()


def test_mta_sts_policy_is_served_over_https_and_agrees_with_dns(receiver, ca_file, host_vars, mta_sts_domain):
    fetched, txt = mta_sts_seen(receiver, ca_file, mta_sts_domain)
    assert fetched["status"] == 200 and fetched["type"].startswith("text/plain"), fetched
    fields = _policy_fields(fetched["body"])
    assert fields.get("version") == ["STSv1"], fetched["body"]
    assert fields.get("mode") == [host_vars["dns_records_mta_sts_mode"]], fetched["body"]
    assert 0 <= int(fields["max_age"][0]) <= 31557600, fetched["body"]
    mx_hosts = [line.split()[1] for line in receiver.check_output(
        f"dig +short MX {mta_sts_domain} @127.0.0.1").splitlines() if line.strip()]
    assert mx_hosts, f"no MX for {mta_sts_domain}"
    for mx in mx_hosts:
        assert any(_mx_matches(pattern, mx) for pattern in fields.get("mx", [])), (mx, fetched["body"])
    assert re.fullmatch(r"v=STSv1; id=[A-Za-z0-9]{1,32}", txt), txt


# Last in the module: one converge publishes the rollout's next steps, one puts the lab's back.
@pytest.fixture(scope="module")
def rollout(request, host_name, tmp_path_factory, receiver, zone, host_vars, ca_file, person):
    """The next steps of a rollout, published by the product (site.yml --tags dns_records) in one run:
    DMARC p=reject and, when the host serves MTA-STS, the other policy mode. Undone after, and the
    MTA-STS policy and id must then be exactly what they were."""
    domain = person["senders"][0].split("@")[1]
    mode = host_vars.get("dns_records_mta_sts_mode") if host_vars.get("dns_records_mta_sts_serve", True) else ""
    other = ("enforce" if mode != "enforce" else "testing") if mode else ""
    before = mta_sts_seen(receiver, ca_file, domain) if mode else None

    def _converge(changes):
        # A run limited to the mail server has no facts of the nameserver: its address comes from here.
        rc, output = run_site_playbook(request, host_name, tmp_path_factory.mktemp("rollout"), {
            **changes, "dns_records_nsupdate_server": zone.address}, ["dns_records"])
        assert rc == 0, output[-3000:]
        flush_resolver(receiver)
        return output

    output = _converge({"dns_records_dmarc_phase": "reject", **({"dns_records_mta_sts_mode": other} if mode else {})})
    yield {"output": output, "domain": domain, "other": other, "before": before}
    _converge({})
    if mode:
        assert mta_sts_seen(receiver, ca_file, domain) == before, "the lab's MTA-STS policy or id did not come back"


def test_with_dmarc_reject_the_receiver_refuses_the_forgery_and_takes_genuine_mail(
        rollout, zone, outsider, receiver, receiver_address, person, probe_address, tls_context, server_name):
    domain = rollout["domain"]
    assert any(value.startswith("v=DMARC1; p=reject") for value in zone.txt(f"_dmarc.{domain}.")), \
        zone.txt(f"_dmarc.{domain}.")
    token = uuid.uuid4().hex
    reply = inject(outsider.host, f"ceo@{domain}", "judge@receiver.test", receiver_address, forged(token, domain))
    assert reply.startswith("550 5.7.1") and "rejected by DMARC policy" in reply, reply
    assert receiver.run(f"grep -rl -- {token} {MAILDIR}").stdout.strip() == ""
    token = uuid.uuid4().hex
    assert _send(probe_address, 465, tls_context, server_name, person, person["senders"][0],
                 f"judge-{token}@receiver.test", token) == {}
    assert verdicts(stored(receiver, token)) == {"spf": "pass", "dkim": "pass", "dmarc": "pass"}


def test_mta_sts_id_changes_with_the_policy_and_is_published_after_it_is_served(rollout, receiver, ca_file,
                                                                                 mta_sts_domain):
    # The run checked the new policy was served, then published the record that points senders at it.
    output = rollout["output"]
    served, published = output.find("Check that each policy is served"), output.find(
        "Publish the records by dynamic update")
    assert 0 <= served < published, output[-3000:]
    after, after_txt = mta_sts_seen(receiver, ca_file, mta_sts_domain)
    assert _policy_fields(after["body"])["mode"] == [rollout["other"]], after["body"]
    assert after_txt != rollout["before"][1], "the policy changed but its id did not"
