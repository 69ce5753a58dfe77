# SPDX-License-Identifier: MIT
"""Publishing touches only the values mailfort owns, checked against the lab BIND.

Foreign values put into the zone by "someone else" (a site verification TXT at
the apex, another provider's backup MX; RFC 2606 names) must survive two
publishes. A second mail host for the same domain (an extra inventory host,
outside the play through --limit) adds its MX and its SPF addresses; without it
they are deleted again. A value mailfort published and no longer wants (another
DMARC phase) is deleted. An SPF record over RFC 7208's limits fails the play
before anything is published, naming the chain. Every record the test adds is
removed at the end, and the last publish restores the lab's own records.
Without a nameservers group (make lab, real hosts) these tests are skipped.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import uuid

import pytest
from lab_hosts import PROJECT_DIR, global_addresses, group_host

TOKEN = uuid.uuid4().hex[:12]
FOREIGN_TXT = f"google-site-verification=mailfort-test-{TOKEN}"
FOREIGN_MX = "50 backup-mx.example.net."
SECOND_MX = "mx2.lab.test"
SECOND_ADDRESSES = ["192.0.2.25", "2001:db8::25"]
# SPF include targets the limits test puts into the zone: 10 lookups in one
# record, and names that do not exist (void lookups).
MANY_LOOKUPS = "v=spf1 a mx a mx a mx a mx a mx -all"


class Zone:
    """TSIG-signed reads and updates of the lab zone, straight to the lab BIND."""

    def __init__(self, address: str, zone: str, key_name: str, secret: str, algorithm: str):
        import dns.name
        import dns.tsigkeyring

        self.address, self.zone = address, zone
        self.keyring = dns.tsigkeyring.from_text({key_name: secret})
        self.key_name, self.algorithm = dns.name.from_text(key_name), dns.name.from_text(algorithm)

    def values(self, name: str, rtype: str) -> set[str]:
        return set(self.rrset(name, rtype)[1])

    def txt(self, name: str) -> set[str]:
        import dns.message
        import dns.query

        response = dns.query.tcp(dns.message.make_query(name, "TXT"), self.address, timeout=10)
        return {b"".join(rdata.strings).decode() for rrset in response.answer if rrset.rdtype.name == "TXT"
                for rdata in rrset}

    def rrset(self, name: str, rtype: str) -> tuple[int, list[str]]:
        """(TTL, values in presentation form) of one record set."""
        import dns.message
        import dns.query

        response = dns.query.tcp(dns.message.make_query(name, rtype), self.address, timeout=10)
        for rrset in response.answer:
            if rrset.rdtype.name == rtype:
                return rrset.ttl, [rdata.to_text() for rdata in rrset]
        return 0, []

    def replace(self, name: str, rtype: str, ttl: int, values: list[str]) -> None:
        """Put `values` (presentation form) in place of the whole record set."""
        import dns.query
        import dns.rcode
        import dns.update

        update = dns.update.UpdateMessage(self.zone, keyring=self.keyring, keyname=self.key_name,
                                          keyalgorithm=self.algorithm)
        update.replace(name, ttl, rtype, *values)
        response = dns.query.tcp(update, self.address, timeout=10)
        assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())

    def change(self, add=(), delete=()):
        import dns.query
        import dns.rcode
        import dns.update

        update = dns.update.UpdateMessage(self.zone, keyring=self.keyring, keyname=self.key_name,
                                          keyalgorithm=self.algorithm)
        for name, rtype, value in delete:
            update.delete(name, rtype, value)
        for name, rtype, value in add:
            update.add(name, 300, rtype, value)
        response = dns.query.tcp(update, self.address, timeout=10)
        assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())


def lab_zone(request) -> Zone:
    """The lab zone on the lab nameserver, or skip without one."""
    nameserver = group_host(request, "nameservers", "no lab nameserver to check against")
    variables = nameserver.inventory_vars
    return Zone(global_addresses(nameserver)[4], variables.get("lab_dns_zone", "lab.test"),
                variables["lab_dns_update_key_name"], variables["lab_dns_update_key_secret"],
                variables["lab_dns_update_key_algorithm"])


@pytest.fixture(scope="module")
def zone(request, lab_only):
    return lab_zone(request)


@pytest.fixture(scope="module")
def domain(host_vars, zone):
    domains = host_vars.get("mailfort_domains") or []
    assert zone.zone in domains, f"the lab's mail domains {domains} should include the lab zone {zone.zone}"
    return zone.zone + "."


@pytest.fixture(scope="module")
def publish(request, tmp_path_factory):
    """Run playbooks/dns-records.yml with extra arguments; return (rc, output)."""
    inventory = request.config.option.ansible_inventory
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT_DIR / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_ROLES_PATH=str(PROJECT_DIR / "roles"),
               ANSIBLE_FILTER_PLUGINS=str(PROJECT_DIR / "filter_plugins"))

    def _run(*args, extra_inventory=None):
        command = ["ansible-playbook", "-i", inventory]
        if extra_inventory:
            path = tmp_path_factory.mktemp("inventory") / "second-mx.json"
            path.write_text(json.dumps(extra_inventory))
            command += ["-i", str(path), "--limit", f"all:!{SECOND_MX}"]
        result = subprocess.run([*command, *args, str(PROJECT_DIR / "playbooks" / "dns-records.yml")], env=env,
                                capture_output=True, text=True, timeout=600, check=False)
        return result.returncode, result.stdout + result.stderr
    return _run


def _mine(zone, domain):
    return {"mx": zone.values(domain, "MX"), "apex": zone.txt(domain), "dmarc": zone.txt("_dmarc." + domain)}


@pytest.fixture(scope="module")
def foreign(zone, domain):
    """Someone else's values at the apex: they must outlive every publish. Removed at the end."""
    values = [(domain, "TXT", f'"{FOREIGN_TXT}"'), (domain, "MX", FOREIGN_MX)]
    zone.change(add=values)
    yield
    zone.change(delete=values)


@pytest.fixture(scope="module")
def second_host_names(zone):
    """The second mail host's A/AAAA (BIND refuses an MX whose in-zone target has no address). Removed at the end."""
    values = [(SECOND_MX + ".", "A", SECOND_ADDRESSES[0]), (SECOND_MX + ".", "AAAA", SECOND_ADDRESSES[1])]
    zone.change(add=values)
    yield
    zone.change(delete=values)


@pytest.fixture(scope="module")
def with_second_host(foreign, second_host_names, zone, domain, publish, host_vars):
    """Publish 1: a second mail host (outside the play) serves the domain, and DMARC is at another phase."""
    before = _mine(zone, domain)
    phase = "quarantine:50" if host_vars.get("dns_records_dmarc_phase", "none") != "quarantine:50" else "none"
    second = {"all": {"children": {"mailservers": {"hosts": {SECOND_MX: {
        "ansible_connection": "local", "dns_records_mx_host": SECOND_MX, "dns_records_host_addresses": SECOND_ADDRESSES,
    }}}}}}
    rc, output = publish("-e", f"dns_records_dmarc_phase={phase}", extra_inventory=second)
    assert rc == 0, output[-4000:]
    return before, _mine(zone, domain), output


@pytest.fixture(scope="module")
def published_again(with_second_host, zone, domain, publish):
    """Publish 2: the lab as it is (one mail host, its own DMARC phase)."""
    rc, output = publish()
    assert rc == 0, output[-4000:]
    return _mine(zone, domain), output


def _spf(values):
    found = [v for v in values if v.startswith("v=spf1")]
    assert len(found) == 1, f"expected one SPF record, got {found}"
    return found[0]


def test_foreign_values_survive_two_publishes(with_second_host, published_again):
    for state in (with_second_host[1], published_again[0]):
        assert FOREIGN_TXT in state["apex"], f"the foreign apex TXT was deleted: {state['apex']}"
        assert FOREIGN_MX in state["mx"], f"the foreign MX was deleted: {state['mx']}"


def test_our_values_are_published_beside_the_foreign_ones(published_again, host_vars):
    state, _ = published_again
    mx = host_vars.get("postfix_hostname", "mx.lab.test")
    assert f"10 {mx}." in state["mx"], state["mx"]
    assert state["mx"] == {f"10 {mx}.", FOREIGN_MX}, state["mx"]
    spf = _spf(state["apex"])
    assert spf.endswith("-all") and (" mx" in spf or "ip4:" in spf), spf


def test_a_second_mail_host_adds_its_mx_and_spf(with_second_host, host_vars):
    _, state, _ = with_second_host
    mx = host_vars.get("postfix_hostname", "mx.lab.test")
    assert state["mx"] == {f"10 {mx}.", f"10 {SECOND_MX}.", FOREIGN_MX}, state["mx"]
    spf = _spf(state["apex"])
    if host_vars.get("dns_records_spf_host_addresses"):
        assert "ip4:192.0.2.25" in spf.split() and "ip6:2001:db8::25" in spf.split(), spf
    else:  # the default SPF (mx) covers every MX host
        assert "mx" in spf.split(), spf


def test_the_second_hosts_values_are_deleted_when_it_leaves(with_second_host, published_again):
    state, _ = published_again
    assert f"10 {SECOND_MX}." not in state["mx"], state["mx"]
    spf = _spf(state["apex"])
    assert "192.0.2.25" not in spf and "2001:db8::25" not in spf, spf
    assert _spf(with_second_host[0]["apex"]) == spf, "the SPF record is not back to what it was before"


def test_a_value_mailfort_no_longer_wants_is_deleted(with_second_host, published_again):
    before, during, _ = with_second_host
    after, _ = published_again
    dmarc = [v for v in during["dmarc"] if v.startswith("v=DMARC1")]
    assert len(dmarc) == 1 and dmarc != [v for v in before["dmarc"] if v.startswith("v=DMARC1")], during["dmarc"]
    assert after["dmarc"] == before["dmarc"], f"the other phase's DMARC value was not deleted: {after['dmarc']}"


def test_the_publish_shows_what_it_added_and_deleted(published_again):
    _, output = published_again
    assert re.search(r"deleted:.*10 mx2\.lab\.test\.", output, re.DOTALL), output[-4000:]
    assert "ArShm0kw7so7" not in output
    assert "lab_dns_update_key_secret" not in output


@pytest.fixture
def spf_targets(zone, domain):
    targets = [("_spf-many." + domain, "TXT", f'"{MANY_LOOKUPS}"')]
    zone.change(add=targets)
    yield
    zone.change(delete=targets)


def test_spf_over_the_limits_fails_before_publishing_and_shows_the_chain(spf_targets, zone, domain, publish,
                                                                        published_again):
    before = _mine(zone, domain)
    spec = {"mx": True, "include": ["_spf-many." + domain[:-1]]
            + [f"_void{n}-{TOKEN}.{domain[:-1]}" for n in (1, 2, 3)], "all": "-"}
    rc, output = publish("-e", json.dumps({"dns_records_spf": spec}))
    assert rc != 0, output[-4000:]
    assert "dns_records_spf: the SPF record of " + domain[:-1] in output, output[-4000:]
    assert "15 DNS lookups" in output and "3 void lookups" in output, output[-4000:]
    assert f"_spf-many.{domain[:-1]}: '{MANY_LOOKUPS}' (10 lookups" in output, output[-4000:]
    assert f"_void3-{TOKEN}.{domain[:-1]}: no TXT record (void lookup)" in output, output[-4000:]
    assert "Publish the records by dynamic update" not in output
    assert _mine(zone, domain) == before
