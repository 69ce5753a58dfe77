# SPDX-License-Identifier: MIT
"""The DNS records of each mail domain, assembled from every host that serves it.

MX (RFC 5321 5.1) and the SPF, DKIM, DMARC, MTA-STS, TLS-RPT and TLSA records, each built
by the filter of its own RFC family (dns_spf, dns_dkim, dns_dmarc, dns_mta_sts, dns_tlsrpt,
dns_txt for zone-file text); this module only decides which records a domain gets.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.filter.dns_dkim import dkim_record
from ansible_collections.mailfort.mail.plugins.filter.dns_dmarc import dmarc_record, dmarc_rollout
from ansible_collections.mailfort.mail.plugins.filter.dns_mta_sts import mta_sts_id, mta_sts_policy, mta_sts_record
from ansible_collections.mailfort.mail.plugins.filter.dns_spf import spf_record
from ansible_collections.mailfort.mail.plugins.filter.dns_tlsrpt import tlsrpt_record
from ansible_collections.mailfort.mail.plugins.filter.dns_txt import txt_zone
from ansible_collections.mailfort.mail.plugins.module_utils.validate import (
    domain_or_fail,
    excerpt,
    int_or_fail,
    list_or_fail,
)

_WHERE = "dns_records_domain_records"


def _host_entry(host: object, index: int) -> dict:
    if not isinstance(host, Mapping) or not isinstance(host.get("host"), str):
        raise AnsibleFilterError(f"{_WHERE}: host entry {index} {excerpt(host)} needs a 'host' name")
    where = f"{_WHERE}: host {host['host']}"
    domains = [domain_or_fail(d, f"{where}: domains") for d in list_or_fail(host.get("domains"), f"{where}: domains")]
    return {
        "host": host["host"],
        "domains": list(dict.fromkeys(domains)),
        "mx_host": domain_or_fail(host.get("mx_host"), f"{where}: mx_host"),
        "mx_preference": int_or_fail(host.get("mx_preference", 10), f"{where}: mx_preference", 0, 65535),
        "addresses": host.get("addresses"),
        "dkim_keys": host.get("dkim_keys"),
        "dkim_retired": list_or_fail(host.get("dkim_retired"), f"{where}: dkim_retired"),
        "tlsa": _tlsa_values(host.get("tlsa"), f"{where}: tlsa"),
    }


def _tlsa_values(value: object, where: str) -> list[str] | None:
    """The host's TLSA values: one (its key) or, during a key rollover, two (its key and the next).

    None (a host outside the play) stays None; '' or [] is no TLSA record."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list_or_fail(value, where)
    for item in values:
        if not isinstance(item, str):
            raise AnsibleFilterError(f"{where}: {excerpt(item)} is not TLSA record data")
    return list(dict.fromkeys(item for item in values if item))


def _addresses(entry: dict, domain: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """A serving host's addresses (dns_records_host_addresses), checked; unknown ones fail naming the host."""
    if entry["addresses"] is None:
        raise AnsibleFilterError(
            f"{_WHERE}: {entry['host']} serves {domain} but its addresses are unknown "
            "(not in the play and no facts): set dns_records_host_addresses for it in the inventory, "
            "or include it in the play")
    found = []
    for address in list_or_fail(entry["addresses"], f"{entry['host']}: dns_records_host_addresses"):
        try:
            found.append(ipaddress.ip_address(str(address)))
        except ValueError as exc:
            raise AnsibleFilterError(
                f"{_WHERE}: {entry['host']}: dns_records_host_addresses: {address!r} is not an IP address") from exc
    return found


def _spf_spec(settings: Mapping, domain: str, servers: list[dict]) -> dict:
    """The SPF spec from the settings, with every serving host's addresses if spf_host_addresses is on."""
    spec = dict(settings.get("spf") or {})
    if settings.get("spf_host_addresses") is not True:
        return spec
    for entry in servers:
        for address in _addresses(entry, domain):
            key = f"ip{address.version}"
            spec[key] = list(dict.fromkeys([*list_or_fail(spec.get(key), f"spf {key}"), str(address)]))
    return spec


def _mta_sts_host_records(apex: str, domain: str, servers: list[dict]) -> list[dict]:
    """A/AAAA of mta-sts.DOMAIN: every host serving the domain serves its policy (role mta_sts)."""
    addresses = [address for entry in servers for address in _addresses(entry, domain)]
    return [{"name": f"mta-sts.{apex}", "type": rtype, "values": values}
            for rtype, values in (("A", [str(a) for a in addresses if a.version == 4]),
                                  ("AAAA", [str(a) for a in addresses if a.version == 6])) if values]


def _dkim_values(domain: str, servers: list[dict], preserve: list[str]) -> dict[str, str]:
    """Each published selector's record (zone-file text); a host whose keys are unknown preserves them all."""
    found: dict[str, tuple[str, str]] = {}
    for entry in servers:
        if entry["dkim_keys"] is None:
            preserve.append(f"._domainkey.{domain}.")
            continue
        keys = (entry["dkim_keys"].get(domain) or {}) if isinstance(entry["dkim_keys"], Mapping) else None
        if not isinstance(keys, Mapping):  # dkim_keys itself, or its entry for the domain, is no mapping
            raise AnsibleFilterError(f"{_WHERE}: {entry['host']}: dkim_keys must be {{domain: {{selector: PEM}}}}")
        for selector, pem in keys.items():
            value = txt_zone(dkim_record(pem))
            if selector in found and found[selector][1] != value:
                raise AnsibleFilterError(
                    f"{_WHERE}: {found[selector][0]} and {entry['host']} publish different "
                    f"keys for the DKIM selector {selector} of {domain}; give each host its own selector")
            found.setdefault(selector, (entry["host"], value))
    return {selector: value for selector, (_, value) in sorted(found.items())}


def _tlsa_domain(mx: str, domains: list[str]) -> str:
    """The domain whose zone holds the MX name (the longest match), else the host's first domain."""
    holders = [d for d in domains if mx == d or mx.endswith("." + d)]
    return max(holders, key=len) if holders else domains[0]


def _merged(domain: str, records: list[dict]) -> list[dict]:
    """One record set per (name, type), its values in first-seen order, without repeats."""
    merged: dict[tuple[str, str], dict] = {}
    for record in records:
        entry = merged.setdefault((record["name"], record["type"]),
                                  {"domain": domain, "name": record["name"], "type": record["type"], "values": []})
        entry["values"] = list(dict.fromkeys(entry["values"] + record["values"]))
        if record.get("exclusive"):
            entry["exclusive"] = record["exclusive"]
    return list(merged.values())


def _txt(name: str, text: str, exclusive: str) -> dict:
    return {"name": name, "type": "TXT", "values": [txt_zone(text)], "exclusive": exclusive}


def _domain_records(domain: str, servers: list[dict], settings: Mapping) -> dict:
    apex = domain + "."
    preserve: list[str] = []
    records = [{"name": apex, "type": "MX",
                "values": sorted({f"{e['mx_preference']} {e['mx_host']}." for e in servers})}]
    spf = spf_record(_spf_spec(settings, domain, servers))
    records.append(_txt(apex, spf, "v=spf1"))
    dkim = _dkim_values(domain, servers, preserve)
    records += [{"name": f"{selector}._domainkey.{apex}", "type": "TXT", "values": [value], "exclusive": "v=DKIM1"}
                for selector, value in dkim.items()]
    retired = [{"name": f"{selector}._domainkey.{apex}", "type": "TXT", "domain": domain}
               for entry in servers for selector in entry["dkim_retired"] if selector not in dkim]
    dmarc = settings.get("dmarc") or {}
    records.append(_txt(f"_dmarc.{apex}", dmarc_record(dmarc_rollout(dmarc.get("phase", "none"),
                                                                     dmarc.get("tags") or {})), "v=DMARC1"))
    policy = ""
    if settings.get("mta_sts_mode"):
        policy = mta_sts_policy(settings["mta_sts_mode"], sorted({e["mx_host"] for e in servers}),
                                settings.get("mta_sts_max_age", 604800))
        records.append(_txt(f"_mta-sts.{apex}", mta_sts_record(mta_sts_id(policy)), "v=STSv1"))
        if settings.get("mta_sts_serve"):
            records += _mta_sts_host_records(apex, domain, servers)
    if settings.get("tlsrpt_rua"):
        records.append(_txt(f"_smtp._tls.{apex}", tlsrpt_record(settings["tlsrpt_rua"]), "v=TLSRPTv1"))
    for entry in servers:
        if _tlsa_domain(entry["mx_host"], entry["domains"]) != domain:
            continue
        name = f"_25._tcp.{entry['mx_host']}."
        if entry["tlsa"] is None:
            preserve.append(name)
        elif entry["tlsa"]:
            records.append({"name": name, "type": "TLSA", "values": entry["tlsa"]})
    return {
        "records": _merged(domain, records),
        "retired": retired,
        "preserve": sorted(set(preserve)),
        "mta_sts_policy": policy,
        "spf": spf,
        "hosts": [e["host"] for e in servers],
    }


def dns_records_domain_records(hosts: object, settings: Mapping) -> dict:
    """Every record of each mail domain, computed from all hosts that serve it (not only the hosts in the play)."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"{_WHERE}: settings must be a mapping, got {excerpt(settings)}")
    entries = [_host_entry(host, i) for i, host in enumerate(list_or_fail(hosts, f"{_WHERE}: hosts"))]
    serving: dict[str, list[dict]] = {}
    for entry in entries:
        for domain in entry["domains"]:
            serving.setdefault(domain, []).append(entry)
    return {domain: _domain_records(domain, servers, settings) for domain, servers in serving.items()}


class FilterModule:
    """The per-domain DNS record assembly."""

    def filters(self):
        return {
            "dns_records_domain_records": dns_records_domain_records,
        }
