# SPDX-License-Identifier: MIT
"""SPF (RFC 7208): build a sender policy record and check it against the protocol's limits.

spf_record writes the record; spf_lookup_count and spf_limits count what a receiver pays to
evaluate it, following include: and redirect= through DNS only when given a resolver (or, for
spf_limits, unless told offline). Both walk the chain with the one walker below.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.module_utils.validate import (
    domain_or_fail,
    excerpt,
    int_or_fail,
    list_or_fail,
    network_or_fail,
)

_SPF_KEYS = ("a", "mx", "ip4", "ip6", "include", "exists", "ptr", "all", "redirect", "exp")
_MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
_LOOKUP_MECHANISMS = ("include", "a", "mx", "ptr", "exists")
_FOLLOWED = (("include", ":"), ("redirect", "="))
# The names an a:, mx: or exists: term makes the receiver query; none answering is a void lookup.
_VOID_QTYPES = {"a": ("A", "AAAA"), "mx": ("MX",), "exists": ("A",)}
_MAX_LOOKUPS = 10
_MAX_VOID = 2
_MAX_OCTETS = 450
_TERM = re.compile(r"([+?~-]?)([A-Za-z][A-Za-z0-9_.-]*)([:=/]?)(.*)")
_QUALIFIERS = {"-": "-", "fail": "-", "~": "~", "softfail": "~", "?": "?", "neutral": "?", "+": "+", "pass": "+"}


def _target(value: object, where: str) -> str:
    """An SPF domain-spec without macros: an owner name, so service labels such as _spf are allowed."""
    return domain_or_fail(value, where, underscore=True)


# --- spf_record ------------------------------------------------------------------------------------------------

def _hosts(spec: Mapping, key: str) -> list[str]:
    value = spec.get(key)
    if value is True:
        return [key]
    if value is None or value is False:
        return []
    return [f"{key}:{_target(item, f'spf_record: {key}')}" for item in list_or_fail(value, f"spf_record: {key}")]


def _networks(spec: Mapping, key: str) -> list[str]:
    terms = []
    for item in list_or_fail(spec.get(key), f"spf_record: {key}"):
        net = network_or_fail(item, f"spf_record: {key}")
        if f"ip{net.version}" != key:
            raise AnsibleFilterError(
                f"spf_record: {key}: {item!r} is an IPv{net.version} network; list it under ip{net.version}")
        terms.append(f"{key}:{net.network_address if net.prefixlen == net.max_prefixlen else net}")
    return terms


def _all_term(spec: Mapping, allow_pass_all: object) -> str:
    qualifier = "-" if spec.get("all") is None else spec["all"]
    qualifier = _QUALIFIERS.get(qualifier.strip().lower()) if isinstance(qualifier, str) else None
    if qualifier is None:
        raise AnsibleFilterError(
            f"spf_record: all must be one of -, ~, ?, +, fail, softfail, neutral, pass, got {spec['all']!r}")
    if qualifier == "+" and allow_pass_all is not True:
        raise AnsibleFilterError(
            f"spf_record: all={spec['all']!r} lets every host on the internet pass SPF;"
            " set allow_pass_all=true if you really mean it")
    return f"{qualifier}all"


def spf_record(spec: Mapping, allow_pass_all: bool = False) -> str:
    """Build an SPF TXT record from a mapping of mechanisms; refuse more than 10 DNS lookups."""
    if not isinstance(spec, Mapping):
        raise AnsibleFilterError(f"spf_record expects a mapping, got {spec!r}")
    unknown = sorted(str(key) for key in spec if key not in _SPF_KEYS)
    if unknown:
        raise AnsibleFilterError(f"spf_record: unknown keys {unknown}; known keys are {', '.join(_SPF_KEYS)}")
    terms = _hosts(spec, "a") + _hosts(spec, "mx") + _networks(spec, "ip4") + _networks(spec, "ip6")
    for key in ("include", "exists"):
        terms += [f"{key}:{_target(item, f'spf_record: {key}')}"
                  for item in list_or_fail(spec.get(key), f"spf_record: {key}")]
    terms += _hosts(spec, "ptr")
    if spec.get("redirect") is None:
        terms.append(_all_term(spec, allow_pass_all))
    elif spec.get("all") is not None:
        raise AnsibleFilterError(
            f"spf_record: all={spec['all']!r} and redirect={spec['redirect']!r} exclude each other"
            " (a record with an all term never follows its redirect)")
    else:
        terms.append(f"redirect={_target(spec['redirect'], 'spf_record: redirect')}")
    if spec.get("exp") is not None:
        terms.append(f"exp={_target(spec['exp'], 'spf_record: exp')}")
    record = " ".join(["v=spf1", *dict.fromkeys(terms)])
    lookups = _lookups(_parse(record, "spf_record"))
    if lookups > _MAX_LOOKUPS:
        raise AnsibleFilterError(
            f"SPF record needs {lookups} DNS lookups; RFC 7208 §4.6.4 allows at most {_MAX_LOOKUPS}")
    return record


# --- reading a record and walking its include:/redirect= chain --------------------------------------------------

def _parse(record: object, where: str) -> list[tuple[str, str, str]]:
    """The record's terms as (name, separator, value); AnsibleFilterError for anything that is not SPF."""
    words = record.split() if isinstance(record, str) else []
    if not words or words[0].lower() != "v=spf1":
        raise AnsibleFilterError(f"{where}: {excerpt(record)} is not an SPF record (it must start with v=spf1)")
    terms = []
    for word in words[1:]:
        match = _TERM.fullmatch(word)
        if not match:
            raise AnsibleFilterError(f"{where}: invalid SPF term {word!r} in {record!r}")
        qualifier, name, separator, value = match.groups()
        name = name.lower()
        if (separator == "=" and qualifier) or (separator != "=" and name not in _MECHANISMS):
            raise AnsibleFilterError(f"{where}: invalid SPF term {word!r} in {record!r}")
        terms.append((name, separator, value))
    return terms


def _lookups(terms: list[tuple[str, str, str]]) -> int:
    """Count the terms that cost a DNS lookup (RFC 7208 4.6.4): the mechanisms, plus the redirect modifier."""
    return sum(name == "redirect" if separator == "=" else name in _LOOKUP_MECHANISMS
               for name, separator, _ in terms)


def _is_spf(text: str) -> bool:
    return text.lower() == "v=spf1" or text.lower().startswith("v=spf1 ")


def _nameservers(resolver: object, where: str) -> list[str]:
    servers = [resolver] if isinstance(resolver, str) else list_or_fail(resolver, f"{where}: resolver")
    if not servers:
        raise AnsibleFilterError(f"{where}: resolver must name at least one DNS server address")
    result = []
    for server in servers:
        try:
            result.append(str(ipaddress.ip_address(server.strip() if isinstance(server, str) else None)))
        except (ValueError, TypeError) as exc:
            raise AnsibleFilterError(f"{where}: resolver {server!r} is not an IP address") from exc
    return result


def _dns_resolver(nameservers: list[str] | None):
    """A resolver asking only these servers, or the system's resolver when there are none."""
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers = nameservers
    resolver.lifetime = 5.0
    return resolver


class _SpfWalk:
    """One evaluation's worth of DNS work for an SPF record: the record, then every record its include:
    and redirect= terms name, depth first, as a receiver would fetch them.

    It counts lookups, void lookups and the chain of records. Loops and nesting beyond max_depth
    are always errors. With ``strict`` (spf_lookup_count), a target without exactly one SPF
    record, or one named by a macro, is an error too, and a:/mx:/exists: names are not queried;
    otherwise (spf_limits) such targets are findings in ``errors`` and void lookups are counted.
    Without a resolver only the record's own terms are counted.
    """

    def __init__(self, caller: str, resolver, max_depth: int, strict: bool, origin: str = "") -> None:
        self.caller, self.resolver, self.max_depth, self.strict = caller, resolver, max_depth, strict
        self.origin = [origin] if origin else []
        self.lookups = self.void_lookups = 0
        self.chain: list[str] = []
        self.errors: list[str] = []

    def visit(self, record: str, path: tuple[str, ...] = ()) -> None:
        terms = _parse(record, self.caller)
        where = " -> ".join([*self.origin, *path])
        own = _lookups(terms)
        self.lookups += own
        self.chain.append(f"{where}: {record!r} ({own} lookups, {len(record)} octets)")
        if self.resolver is None:
            return
        for name, separator, value in terms:
            if not self.strict and (not value or "%" in value):
                continue  # a term on the domain itself, or a macro (expanded only at evaluation)
            if (name, separator) in _FOLLOWED:
                self._follow(name, value, path, where)
            elif not self.strict and separator == ":" and name in _VOID_QTYPES:
                self._probe(name, value.partition("/")[0], where)

    def _follow(self, name: str, value: str, path: tuple[str, ...], where: str) -> None:
        hint = " (macros cannot be expanded)" if self.strict else ""
        domain = _target(value, f"{self.caller}: {name} target in {where or 'the record'}{hint}")
        seen = [*self.origin, *path]
        if domain in seen:
            raise AnsibleFilterError(f"{self.caller}: SPF include loop: {' -> '.join([*seen, domain])}")
        if len(path) >= self.max_depth:
            raise AnsibleFilterError(f"{self.caller}: includes nest deeper than max_depth={self.max_depth}:"
                                     f" {' -> '.join([*seen, domain])}")
        answers = self._answers(domain, "TXT")
        step = f"{where} -> {domain}" if where else domain
        if answers is None and not self.strict:
            self.void_lookups += 1
            self.chain.append(f"{step}: no TXT record (void lookup)")
            return
        records = [text for text in (b"".join(r.strings).decode("ascii", "replace") for r in answers or ())
                   if _is_spf(text)]
        if len(records) != 1:
            if self.strict:
                raise AnsibleFilterError(f"{self.caller}: {domain!r} publishes {len(records)} SPF records;"
                                         " an include or redirect target needs exactly one")
            self.errors.append(f"{step}: {len(records)} SPF records (needs exactly one)")
            self.chain.append(f"{step}: {len(records)} SPF records")
            return
        self.visit(records[0], (*path, domain))

    def _probe(self, name: str, target: str, where: str) -> None:
        qtypes = _VOID_QTYPES[name]
        domain = _target(target, f"{self.caller}: {name} target in {where}")
        if all(self._answers(domain, qtype) is None for qtype in qtypes):
            self.void_lookups += 1
            self.chain.append(f"{where}: {name}:{target} has no {'/'.join(qtypes)} record (void lookup)")

    def _answers(self, name: str, qtype: str):
        """The answer to one query; None if the name or the type does not exist (a void lookup)."""
        import dns.exception
        import dns.resolver

        try:
            return self.resolver.resolve(name, qtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except dns.exception.DNSException as exc:
            raise AnsibleFilterError(f"{self.caller}: {qtype} lookup of {name!r} failed: {exc}") from exc


def spf_lookup_count(record: str, resolver: object = None, max_depth: int = 10) -> int:
    """Count the DNS-querying terms of an SPF record, following include/redirect through one resolver if given."""
    max_depth = int_or_fail(max_depth, "spf_lookup_count: max_depth", 0, 100)
    dns_resolver = None if resolver is None else _dns_resolver(_nameservers(resolver, "spf_lookup_count"))
    walk = _SpfWalk("spf_lookup_count", dns_resolver, max_depth, strict=True)
    walk.visit(record)
    return walk.lookups


def spf_limits(record: str, resolver: object = None, domain: str = "", offline: bool = False,
               max_depth: int = 10) -> dict:
    """The DNS lookups, void lookups and octets an SPF record costs, with the chain of records that caused them."""
    if not isinstance(record, str):
        raise AnsibleFilterError(f"spf_limits expects an SPF record string, got {excerpt(record)}")
    max_depth = int_or_fail(max_depth, "spf_limits: max_depth", 0, 100)
    dns_resolver = None
    if offline is not True:
        dns_resolver = _dns_resolver(_nameservers(resolver, "spf_limits") if resolver else None)
    start = domain_or_fail(domain, "spf_limits: domain") if domain else "(record)"
    walk = _SpfWalk("spf_limits", dns_resolver, max_depth, strict=False, origin=start)
    walk.visit(record)
    octets = len(record.encode())
    problems = list(walk.errors)
    if walk.lookups > _MAX_LOOKUPS:
        problems.append(f"{walk.lookups} DNS lookups (RFC 7208 4.6.4 allows {_MAX_LOOKUPS})")
    if walk.void_lookups > _MAX_VOID:
        problems.append(f"{walk.void_lookups} void lookups (RFC 7208 4.6.4 allows {_MAX_VOID})")
    if octets > _MAX_OCTETS:
        problems.append(f"{octets} octets (RFC 7208 3.4: keep it under {_MAX_OCTETS})")
    return {"lookups": walk.lookups, "void_lookups": walk.void_lookups, "octets": octets, "chain": walk.chain,
            "errors": walk.errors, "offline": offline is True, "problems": problems}


class FilterModule:
    """SPF filters (RFC 7208)."""

    def filters(self):
        return {
            "spf_record": spf_record,
            "spf_lookup_count": spf_lookup_count,
            "spf_limits": spf_limits,
        }
