# SPDX-License-Identifier: MIT
"""Filters that write the DNS records of a mail domain: SPF, DMARC, DKIM, MTA-STS, TLS-RPT, TLSA.

They only build and check text; nothing here queries DNS except spf_lookup_count
when it is given a resolver. TXT helpers split long records for zone files and APIs.

Each filter is documented in a YAML file of the same name beside this one,
so ``ansible-doc -t filter NAME`` shows it.
"""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

_LABEL = re.compile(r"(?=.{1,63}\Z)_?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$&'*+/=?^_`{|}~-]+)*")
_SIZE_SUFFIX = re.compile(r"![0-9]+[kmgt]?\Z", re.IGNORECASE)

_SPF_KEYS = ("a", "mx", "ip4", "ip6", "include", "exists", "ptr", "all", "redirect", "exp")
_SPF_MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
_SPF_LOOKUP_MECHANISMS = ("include", "a", "mx", "ptr", "exists")
_SPF_MAX_LOOKUPS = 10
_SPF_TERM = re.compile(r"([+?~-]?)([A-Za-z][A-Za-z0-9_.-]*)([:=/]?)(.*)")
_SPF_QUALIFIERS = {"-": "-", "fail": "-", "~": "~", "softfail": "~", "?": "?", "neutral": "?", "+": "+", "pass": "+"}

_DMARC_TAGS = ("p", "sp", "pct", "rua", "ruf", "adkim", "aspf", "fo", "ri")
_DMARC_POLICIES = ("none", "quarantine", "reject")
DMARC_PHASES = ("none", "quarantine:10", "quarantine:50", "quarantine:100", "reject")

_MTA_STS_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_MTA_STS_MAX_AGE = 31557600


# --- shared checks -----------------------------------------------------------------------------------------

def _is_domain(text: str, underscore: bool = True) -> bool:
    labels = text.split(".")
    return (
        len(text) <= 253
        and len(labels) >= 2
        and all(_LABEL.fullmatch(label) and (underscore or not label.startswith("_")) for label in labels)
        and not labels[-1].startswith("_")
        and not labels[-1].isdigit()
    )


def _domain(value: object, where: str, underscore: bool = True) -> str:
    text = value.strip().lower().rstrip(".") if isinstance(value, str) else ""
    if not _is_domain(text, underscore):
        raise AnsibleFilterError(f"{where}: {value!r} is not a valid domain name")
    return text


def _list(value: object, where: str) -> list:
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise AnsibleFilterError(f"{where} must be a list, got {value!r}")
    return list(value)


def _int(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise AnsibleFilterError(f"{where} must be an integer from {low} to {high}, got {value!r}")
    if not low <= number <= high:
        raise AnsibleFilterError(f"{where} must be an integer from {low} to {high}, got {value!r}")
    return number


def _choice(value: object, choices: Sequence[str], where: str) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in choices:
        raise AnsibleFilterError(f"{where} must be one of {', '.join(choices)}, got {value!r}")
    return text


def _mailto(value: object, where: str, size_suffix: bool = False) -> str:
    text = value.strip() if isinstance(value, str) else ""
    scheme, _, rest = text.partition(":")
    suffix = _SIZE_SUFFIX.search(rest) if size_suffix else None
    address = rest[: suffix.start()] if suffix else rest
    local, _, domain = address.rpartition("@")
    if scheme.lower() != "mailto" or not _LOCAL_PART.fullmatch(local) or not _is_domain(domain.lower(), False):
        hint = " (optionally followed by a size limit such as !10m)" if size_suffix else ""
        raise AnsibleFilterError(f"{where}: {value!r} is not a mailto: URI with a valid mail address{hint}")
    return f"mailto:{rest}"


def _pem_text(value: object, where: str) -> str:
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    if not isinstance(text, str) or "-----BEGIN " not in text:
        raise AnsibleFilterError(f"{where}: expected PEM text, got {_excerpt(value)}")
    return text


def _excerpt(value: object) -> str:
    """Name a PEM input in an error message without ever copying private key material."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str) and "PRIVATE KEY" in value:
        return "a PEM private key"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- SPF -----------------------------------------------------------------------------------------------------

def _spf_hosts(spec: Mapping, key: str) -> list[str]:
    value = spec.get(key)
    if value is True:
        return [key]
    if value is None or value is False:
        return []
    return [f"{key}:{_domain(item, f'spf_record: {key}')}" for item in _list(value, f"spf_record: {key}")]


def _spf_networks(spec: Mapping, key: str) -> list[str]:
    terms = []
    for item in _list(spec.get(key), f"spf_record: {key}"):
        try:
            net = ipaddress.ip_network(item.strip() if isinstance(item, str) else None, strict=True)
        except (ValueError, TypeError) as exc:
            raise AnsibleFilterError(f"spf_record: {key}: {item!r} is not a valid address or network") from exc
        if f"ip{net.version}" != key:
            raise AnsibleFilterError(
                f"spf_record: {key}: {item!r} is an IPv{net.version} network; list it under ip{net.version}"
            )
        terms.append(f"{key}:{net.network_address if net.prefixlen == net.max_prefixlen else net}")
    return terms


def _spf_lookups(terms: list[tuple[str, str, str]]) -> int:
    """Count the terms that cost a DNS lookup (RFC 7208 4.6.4): the mechanisms, plus the redirect modifier."""
    return sum(name == "redirect" if separator == "=" else name in _SPF_LOOKUP_MECHANISMS
               for name, separator, _ in terms)


def _spf_parse(record: object, where: str) -> list[tuple[str, str, str]]:
    words = record.split() if isinstance(record, str) else []
    if not words or words[0].lower() != "v=spf1":
        raise AnsibleFilterError(f"{where}: {_excerpt(record)} is not an SPF record (it must start with v=spf1)")
    terms = []
    for word in words[1:]:
        match = _SPF_TERM.fullmatch(word)
        if not match:
            raise AnsibleFilterError(f"{where}: invalid SPF term {word!r} in {record!r}")
        qualifier, name, separator, value = match.groups()
        name = name.lower()
        if (separator == "=" and qualifier) or (separator != "=" and name not in _SPF_MECHANISMS):
            raise AnsibleFilterError(f"{where}: invalid SPF term {word!r} in {record!r}")
        terms.append((name, separator, value))
    return terms


def spf_record(spec: Mapping, allow_pass_all: bool = False) -> str:
    """Build an SPF TXT record from a mapping of mechanisms; refuse more than 10 DNS lookups."""
    if not isinstance(spec, Mapping):
        raise AnsibleFilterError(f"spf_record expects a mapping, got {spec!r}")
    unknown = sorted(str(key) for key in spec if key not in _SPF_KEYS)
    if unknown:
        raise AnsibleFilterError(f"spf_record: unknown keys {unknown}; known keys are {', '.join(_SPF_KEYS)}")
    terms = _spf_hosts(spec, "a") + _spf_hosts(spec, "mx") + _spf_networks(spec, "ip4") + _spf_networks(spec, "ip6")
    for key in ("include", "exists"):
        terms += [f"{key}:{_domain(item, f'spf_record: {key}')}" for item in _list(spec.get(key), f"spf_record: {key}")]
    terms += _spf_hosts(spec, "ptr")
    if spec.get("redirect") is not None:
        if spec.get("all") is not None:
            raise AnsibleFilterError(
                f"spf_record: all={spec['all']!r} and redirect={spec['redirect']!r} exclude each other"
                " (a record with an all term never follows its redirect)"
            )
        terms.append(f"redirect={_domain(spec['redirect'], 'spf_record: redirect')}")
    else:
        qualifier = "-" if spec.get("all") is None else spec["all"]
        qualifier = _SPF_QUALIFIERS.get(qualifier.strip().lower()) if isinstance(qualifier, str) else None
        if qualifier is None:
            raise AnsibleFilterError(
                f"spf_record: all must be one of -, ~, ?, +, fail, softfail, neutral, pass, got {spec['all']!r}"
            )
        if qualifier == "+" and allow_pass_all is not True:
            raise AnsibleFilterError(
                f"spf_record: all={spec['all']!r} lets every host on the internet pass SPF;"
                " set allow_pass_all=true if you really mean it"
            )
        terms.append(f"{qualifier}all")
    if spec.get("exp") is not None:
        terms.append(f"exp={_domain(spec['exp'], 'spf_record: exp')}")
    record = " ".join(["v=spf1", *dict.fromkeys(terms)])
    lookups = _spf_lookups(_spf_parse(record, "spf_record"))
    if lookups > _SPF_MAX_LOOKUPS:
        raise AnsibleFilterError(
            f"SPF record needs {lookups} DNS lookups; RFC 7208 §4.6.4 allows at most {_SPF_MAX_LOOKUPS}"
        )
    return record


def _nameservers(resolver: object) -> list[str]:
    servers = [resolver] if isinstance(resolver, str) else _list(resolver, "spf_lookup_count: resolver")
    if not servers:
        raise AnsibleFilterError("spf_lookup_count: resolver must name at least one DNS server address")
    result = []
    for server in servers:
        try:
            result.append(str(ipaddress.ip_address(server.strip() if isinstance(server, str) else None)))
        except (ValueError, TypeError) as exc:
            raise AnsibleFilterError(f"spf_lookup_count: resolver {server!r} is not an IP address") from exc
    return result


def _spf_fetch(resolver, domain: str) -> str:
    import dns.exception
    import dns.resolver

    try:
        answer = resolver.resolve(domain, "TXT")
        texts = [b"".join(rdata.strings).decode("ascii", "replace") for rdata in answer]
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        texts = []
    except dns.exception.DNSException as exc:
        raise AnsibleFilterError(f"spf_lookup_count: TXT lookup of {domain!r} failed: {exc}") from exc
    records = [text for text in texts if text.lower() == "v=spf1" or text.lower().startswith("v=spf1 ")]
    if len(records) != 1:
        raise AnsibleFilterError(
            f"spf_lookup_count: {domain!r} publishes {len(records)} SPF records;"
            " an include or redirect target needs exactly one"
        )
    return records[0]


def _spf_expand(record: str, resolver, chain: list[str], max_depth: int) -> int:
    terms = _spf_parse(record, "spf_lookup_count")
    total = _spf_lookups(terms)
    for name, separator, value in terms:
        if (name, separator) not in (("include", ":"), ("redirect", "=")):
            continue
        domain = _domain(value, f"spf_lookup_count: {name} target (macros cannot be expanded)")
        if domain in chain:
            raise AnsibleFilterError(f"spf_lookup_count: SPF include loop: {' -> '.join([*chain, domain])}")
        if len(chain) >= max_depth:
            raise AnsibleFilterError(
                f"spf_lookup_count: includes nest deeper than max_depth={max_depth}: {' -> '.join([*chain, domain])}"
            )
        total += _spf_expand(_spf_fetch(resolver, domain), resolver, [*chain, domain], max_depth)
    return total


def spf_lookup_count(record: str, resolver: object = None, max_depth: int = 10) -> int:
    """Count the DNS-querying terms of an SPF record, following include/redirect through one resolver if given."""
    terms = _spf_parse(record, "spf_lookup_count")
    max_depth = _int(max_depth, "spf_lookup_count: max_depth", 0, 100)
    if resolver is None:
        return _spf_lookups(terms)
    import dns.resolver

    dns_resolver = dns.resolver.Resolver(configure=False)
    dns_resolver.nameservers = _nameservers(resolver)
    dns_resolver.lifetime = 5.0
    return _spf_expand(record, dns_resolver, [], max_depth)


_SPF_MAX_VOID = 2
_SPF_MAX_OCTETS = 450


def _spf_void(resolver, name: str, qtypes: Sequence[str]) -> bool:
    """True if none of qtypes has an answer at name (a void lookup, RFC 7208 4.6.4)."""
    import dns.exception
    import dns.resolver

    for qtype in qtypes:
        try:
            resolver.resolve(name, qtype)
            return False
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.DNSException as exc:
            raise AnsibleFilterError(f"spf_limits: {qtype} lookup of {name!r} failed: {exc}") from exc
    return True


def _spf_walk(record: str, resolver, chain: list[str], result: dict, max_depth: int) -> None:
    terms = _spf_parse(record, "spf_limits")
    where = " -> ".join(chain)
    own = _spf_lookups(terms)
    result["lookups"] += own
    result["chain"].append(f"{where}: {record!r} ({own} lookups, {len(record)} octets)")
    for name, separator, value in terms:
        if resolver is None or not value or "%" in value:
            continue  # offline, a term on the domain itself, or a macro (expanded only at evaluation)
        target = value.partition("/")[0] if name in ("a", "mx") else value
        if (name, separator) in (("include", ":"), ("redirect", "=")):
            domain = _domain(target, f"spf_limits: {name} target in {where}")
            if domain in chain:
                raise AnsibleFilterError(f"spf_limits: SPF include loop: {' -> '.join([*chain, domain])}")
            if len(chain) > max_depth:
                raise AnsibleFilterError(f"spf_limits: includes nest deeper than {max_depth}: {where} -> {domain}")
            import dns.exception
            import dns.resolver

            try:
                texts = [b"".join(r.strings).decode("ascii", "replace") for r in resolver.resolve(domain, "TXT")]
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                texts = None
            except dns.exception.DNSException as exc:
                raise AnsibleFilterError(f"spf_limits: TXT lookup of {domain!r} failed: {exc}") from exc
            if texts is None:
                result["void_lookups"] += 1
                result["chain"].append(f"{where} -> {domain}: no TXT record (void lookup)")
                continue
            records = [t for t in texts if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]
            if len(records) != 1:
                result["errors"].append(f"{where} -> {domain}: {len(records)} SPF records (needs exactly one)")
                result["chain"].append(f"{where} -> {domain}: {len(records)} SPF records")
                continue
            _spf_walk(records[0], resolver, [*chain, domain], result, max_depth)
        elif name in ("a", "mx", "exists") and separator == ":":
            qtypes = {"a": ("A", "AAAA"), "mx": ("MX",), "exists": ("A",)}[name]
            if _spf_void(resolver, _domain(target, f"spf_limits: {name} target in {where}"), qtypes):
                result["void_lookups"] += 1
                result["chain"].append(f"{where}: {name}:{target} has no {'/'.join(qtypes)} record (void lookup)")


def spf_limits(record: str, resolver: object = None, domain: str = "", offline: bool = False,
               max_depth: int = 10) -> dict:
    """The DNS lookups, void lookups and octets an SPF record costs, with the chain of records that caused them."""
    if not isinstance(record, str):
        raise AnsibleFilterError(f"spf_limits expects an SPF record string, got {_excerpt(record)}")
    max_depth = _int(max_depth, "spf_limits: max_depth", 0, 100)
    dns_resolver = None
    if offline is not True:
        import dns.resolver

        if resolver:
            dns_resolver = dns.resolver.Resolver(configure=False)
            dns_resolver.nameservers = _nameservers(resolver)
        else:
            dns_resolver = dns.resolver.Resolver()
        dns_resolver.lifetime = 5.0
    start = _domain(domain, "spf_limits: domain") if domain else "(record)"
    result = {"lookups": 0, "void_lookups": 0, "octets": len(record.encode()), "chain": [], "errors": [],
              "offline": offline is True}
    _spf_walk(record, dns_resolver, [start], result, max_depth)
    problems = list(result["errors"])
    if result["lookups"] > _SPF_MAX_LOOKUPS:
        problems.append(f"{result['lookups']} DNS lookups (RFC 7208 4.6.4 allows {_SPF_MAX_LOOKUPS})")
    if result["void_lookups"] > _SPF_MAX_VOID:
        problems.append(f"{result['void_lookups']} void lookups (RFC 7208 4.6.4 allows {_SPF_MAX_VOID})")
    if result["octets"] > _SPF_MAX_OCTETS:
        problems.append(f"{result['octets']} octets (RFC 7208 3.4: keep it under {_SPF_MAX_OCTETS})")
    result["problems"] = problems
    return result


# --- DMARC ---------------------------------------------------------------------------------------------------

def _dmarc_fo(value: object) -> str:
    if isinstance(value, str):
        parts = value.split(":")
    elif isinstance(value, int) and not isinstance(value, bool):
        parts = [value]  # YAML reads fo: 1 as a number
    else:
        parts = _list(value, "dmarc_record: fo")
    options = [str(part).strip().lower() for part in parts]
    if not options or any(option not in ("0", "1", "d", "s") for option in options):
        raise AnsibleFilterError(f"dmarc_record: fo must be a colon-separated list of 0, 1, d, s; got {value!r}")
    return ":".join(dict.fromkeys(options))


def dmarc_record(spec: Mapping) -> str:
    """Build a DMARC TXT record (for _dmarc.DOMAIN) from a mapping of tags."""
    if not isinstance(spec, Mapping):
        raise AnsibleFilterError(f"dmarc_record expects a mapping, got {spec!r}")
    unknown = sorted(str(key) for key in spec if key not in _DMARC_TAGS)
    if unknown:
        raise AnsibleFilterError(f"dmarc_record: unknown keys {unknown}; known keys are {', '.join(_DMARC_TAGS)}")
    if spec.get("p") is None:
        raise AnsibleFilterError("dmarc_record: p (none, quarantine or reject) is required")
    tags = ["v=DMARC1"]
    for key in _DMARC_TAGS:
        value, where = spec.get(key), f"dmarc_record: {key}"
        if value is None:
            continue
        if key in ("p", "sp"):
            text = _choice(value, _DMARC_POLICIES, where)
        elif key == "pct":
            text = str(_int(value, where, 0, 100))
        elif key == "ri":
            text = str(_int(value, where, 1, 2**32 - 1))
        elif key in ("adkim", "aspf"):
            text = _choice(value, ("r", "s"), where)
        elif key == "fo":
            text = _dmarc_fo(value)
        else:
            text = ",".join(_mailto(uri, where, size_suffix=True) for uri in _list(value, where))
            if not text:
                continue
        tags.append(f"{key}={text}")
    return "; ".join(tags)


def dmarc_rollout(phase: object, base: Mapping | None = None) -> dict:
    """Return the dmarc_record spec for one phase of a staged rollout from p=none to p=reject."""
    if isinstance(phase, int) and not isinstance(phase, bool) and 0 <= phase < len(DMARC_PHASES):
        name = DMARC_PHASES[phase]
    elif isinstance(phase, str) and phase.strip().lower() in DMARC_PHASES:
        name = phase.strip().lower()
    else:
        raise AnsibleFilterError(
            f"dmarc_rollout: unknown phase {phase!r}; the phases, in order, are {', '.join(DMARC_PHASES)}"
            f" (or their index 0-{len(DMARC_PHASES) - 1})"
        )
    if base is None:
        base = {}
    if not isinstance(base, Mapping):
        raise AnsibleFilterError(f"dmarc_rollout: base must be a mapping, got {base!r}")
    fixed = sorted(key for key in ("p", "pct") if key in base)
    if fixed:
        raise AnsibleFilterError(
            f"dmarc_rollout: base must not set {', '.join(fixed)}; the phase sets them ({dict(base)!r})"
        )
    policy, _, pct = name.partition(":")
    spec = {**base, "p": policy}
    if pct:
        spec["pct"] = int(pct)
    dmarc_record(spec)
    return spec


# --- DKIM ----------------------------------------------------------------------------------------------------

def _dkim_tag_list(value: object, allowed: Sequence[str], where: str) -> str:
    items = [value] if isinstance(value, str) else _list(value, where)
    choices = [_choice(item, allowed, where) for item in items]
    if not choices:
        raise AnsibleFilterError(f"{where} must not be empty")
    return ":".join(dict.fromkeys(choices))


def dkim_record(public_key_pem: str, key_type: str = "auto", hash: object = None,  # noqa: A002 - the DKIM tag's name
                testing: bool = False, service: object = None) -> str:
    """Build a DKIM key TXT record (for SELECTOR._domainkey.DOMAIN) from a PEM public key."""
    key_type = _choice(key_type, ("auto", "rsa", "ed25519"), "dkim_record: key_type")
    text = _pem_text(public_key_pem, "dkim_record")
    if "PRIVATE KEY" in text:
        raise AnsibleFilterError("dkim_record: got a PEM private key; pass the public key (BEGIN PUBLIC KEY) instead")
    try:
        key = serialization.load_pem_public_key(text.encode("ascii", "replace"))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise AnsibleFilterError(f"dkim_record: {_excerpt(public_key_pem)} is not a readable PEM public key") from exc
    if isinstance(key, rsa.RSAPublicKey):
        kind = "rsa"
        if key.key_size < 1024:
            raise AnsibleFilterError(
                f"dkim_record: the RSA key has {key.key_size} bits; RFC 8301 requires at least 1024 (use 2048)"
            )
        data = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    elif isinstance(key, ed25519.Ed25519PublicKey):
        kind = "ed25519"
        data = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raise AnsibleFilterError(
            f"dkim_record: unsupported key type {type(key).__name__}; DKIM keys are RSA or Ed25519"
        )
    if key_type not in ("auto", kind):
        raise AnsibleFilterError(f"dkim_record: key_type is {key_type!r} but the key is {kind}")
    if not isinstance(testing, bool):
        raise AnsibleFilterError(f"dkim_record: testing must be a boolean, got {testing!r}")
    tags = ["v=DKIM1"]
    if hash is not None:
        tags.append("h=" + _dkim_tag_list(hash, ("sha256",), "dkim_record: hash"))
    tags.append(f"k={kind}")
    if service is not None:
        tags.append("s=" + _dkim_tag_list(service, ("email", "*"), "dkim_record: service"))
    if testing:
        tags.append("t=y")
    tags.append("p=" + base64.b64encode(data).decode("ascii"))
    return "; ".join(tags)


# --- TXT strings ---------------------------------------------------------------------------------------------

def _ascii(record: object, where: str) -> str:
    if not isinstance(record, str):
        raise AnsibleFilterError(f"{where}: expected a string, got {type(record).__name__}: {record!r}")
    for index, char in enumerate(record):
        if not " " <= char <= "~":
            raise AnsibleFilterError(
                f"{where}: character {char!r} at position {index} of {_excerpt(record)} is not printable ASCII"
            )
    return record


def txt_strings(record: str, limit: int = 255) -> list[str]:
    """Split a TXT record into character-strings of at most limit octets."""
    _ascii(record, "txt_strings")
    limit = _int(limit, "txt_strings: limit", 1, 255)
    if not record:
        return [""]
    return [record[start:start + limit] for start in range(0, len(record), limit)]


def txt_zone(record: str) -> str:
    """Render a TXT record as zone-file RDATA: quoted, escaped 255-octet strings on one line."""
    chunks = txt_strings(record)
    return " ".join('"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks)


def txt_single(record: object) -> str:
    """Return a TXT record as one string (for DNS provider APIs); a list of strings is joined."""
    if isinstance(record, str):
        return _ascii(record, "txt_single")
    if record is None:
        raise AnsibleFilterError("txt_single expects a string or a list of strings, got None")
    return "".join(_ascii(chunk, "txt_single") for chunk in _list(record, "txt_single"))


# --- MTA-STS and TLS-RPT -------------------------------------------------------------------------------------

def mta_sts_record(policy_id: object) -> str:
    """Build the _mta-sts TXT record for a policy id."""
    if isinstance(policy_id, int) and not isinstance(policy_id, bool) and policy_id >= 0:
        text = str(policy_id)
    else:
        text = policy_id.strip() if isinstance(policy_id, str) else ""
    if not _MTA_STS_ID.fullmatch(text):
        raise AnsibleFilterError(
            f"mta_sts_record: policy id {policy_id!r} must be 1 to 32 letters and digits (RFC 8461)"
        )
    return f"v=STSv1; id={text}"


def mta_sts_policy(mode: str, mx: Sequence, max_age: int = 604800) -> str:
    """Render the MTA-STS policy file served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt."""
    mode = _choice(mode, ("enforce", "testing", "none"), "mta_sts_policy: mode")
    hosts = []
    for item in _list(mx, "mta_sts_policy: mx"):
        text = item.strip().lower().rstrip(".") if isinstance(item, str) else ""
        wildcard = text.startswith("*.")
        if not _is_domain(text[2:] if wildcard else text, underscore=False):
            raise AnsibleFilterError(f"mta_sts_policy: mx {item!r} is not a host name or a *.domain wildcard")
        hosts.append(text)
    if not hosts and mode != "none":
        raise AnsibleFilterError(f"mta_sts_policy: mode {mode} needs at least one mx pattern, got {mx!r}")
    max_age = _int(max_age, "mta_sts_policy: max_age", 0, _MTA_STS_MAX_AGE)
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {host}" for host in dict.fromkeys(hosts))]
    lines.append(f"max_age: {max_age}")
    return "".join(line + "\n" for line in lines)


def mta_sts_id(policy_text: str) -> str:
    """Derive an MTA-STS policy id from the policy text: the first 20 hex digits of its SHA-256."""
    if not isinstance(policy_text, str) or not policy_text:
        raise AnsibleFilterError(f"mta_sts_id expects the policy text, got {policy_text!r}")
    return hashlib.sha256(policy_text.encode("utf-8")).hexdigest()[:20]


def _https_uri(value: str, where: str) -> str:
    text = value.strip()
    try:
        parts = urlsplit(text)
        scheme, host, _ = parts.scheme.lower(), (parts.hostname or ""), parts.port  # port: ValueError if bad
    except ValueError:
        scheme = host = ""
    if scheme != "https" or not _is_domain(host, False) or re.search(r"[\s,;!\"]", text):
        raise AnsibleFilterError(
            f"{where}: {value!r} is not an https:// URI on a valid host name (without , ; ! or spaces)"
        )
    return text


def tlsrpt_record(rua: object) -> str:
    """Build the _smtp._tls TXT record (RFC 8460) from one or more mailto:/https: report URIs."""
    uris = [rua] if isinstance(rua, str) else _list(rua, "tlsrpt_record: rua")
    if not uris:
        raise AnsibleFilterError("tlsrpt_record: rua needs at least one mailto: or https: URI")
    result = []
    for uri in uris:
        scheme = uri.strip().partition(":")[0].lower() if isinstance(uri, str) else ""
        if scheme == "mailto":
            result.append(_mailto(uri, "tlsrpt_record: rua"))
        elif scheme == "https":
            result.append(_https_uri(uri, "tlsrpt_record: rua"))
        else:
            raise AnsibleFilterError(f"tlsrpt_record: rua {uri!r} must be a mailto: or https: URI")
    return "v=TLSRPTv1; rua=" + ",".join(result)


# --- TLSA ----------------------------------------------------------------------------------------------------

def tlsa_record(cert_pem: str, usage: int = 3, selector: int = 1, matching: int = 1) -> str:
    """Build TLSA RDATA (usage selector matching data) from the first certificate of a PEM bundle."""
    usage = _int(usage, "tlsa_record: usage", 0, 3)
    selector = _int(selector, "tlsa_record: selector", 0, 1)
    matching = _int(matching, "tlsa_record: matching", 0, 2)
    text = _pem_text(cert_pem, "tlsa_record")
    block = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.DOTALL)
    public_key = re.search(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", text, re.DOTALL)
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        if block:
            cert = x509.load_pem_x509_certificate(block.group(0).encode())
            data = cert.public_bytes(der) if selector == 0 else cert.public_key().public_bytes(der, spki)
        elif public_key and selector == 1:
            data = serialization.load_pem_public_key(public_key.group(0).encode()).public_bytes(der, spki)
        else:
            raise ValueError("no certificate found (a public key alone needs selector 1)")
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise AnsibleFilterError(f"tlsa_record: {_excerpt(cert_pem)} is not a usable PEM certificate") from exc
    if matching == 1:
        data = hashlib.sha256(data).digest()
    elif matching == 2:
        data = hashlib.sha512(data).digest()
    return f"{usage} {selector} {matching} {data.hex()}"


# --- the records of each domain, from every host that serves it --------------------------------------------

def _host_entry(host: object, index: int) -> dict:
    if not isinstance(host, Mapping) or not isinstance(host.get("host"), str):
        raise AnsibleFilterError(f"dns_records_domain_records: host entry {index} {_excerpt(host)} needs a 'host' name")
    where = f"dns_records_domain_records: host {host['host']}"
    domains = [_domain(d, f"{where}: domains") for d in _list(host.get("domains"), f"{where}: domains")]
    return {
        "host": host["host"],
        "domains": list(dict.fromkeys(d.lower().rstrip(".") for d in domains)),
        "mx_host": _domain(host.get("mx_host"), f"{where}: mx_host").lower().rstrip("."),
        "mx_preference": _int(host.get("mx_preference", 10), f"{where}: mx_preference", 0, 65535),
        "addresses": host.get("addresses"),
        "dkim_keys": host.get("dkim_keys"),
        "dkim_retired": _list(host.get("dkim_retired"), f"{where}: dkim_retired"),
        "tlsa": host.get("tlsa"),
    }


def _tlsa_domain(mx: str, domains: list[str]) -> str:
    """The domain whose zone holds the MX name (the longest match), else the host's first domain."""
    holders = [d for d in domains if mx == d or mx.endswith("." + d)]
    return max(holders, key=len) if holders else domains[0]


def dns_records_domain_records(hosts: object, settings: Mapping) -> dict:
    """Every record of each mail domain, computed from all hosts that serve it (not only the hosts in the play)."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(f"dns_records_domain_records: settings must be a mapping, got {_excerpt(settings)}")
    entries = [_host_entry(host, i) for i, host in enumerate(_list(hosts, "dns_records_domain_records: hosts"))]
    serving: dict[str, list[dict]] = {}
    for entry in entries:
        for domain in entry["domains"]:
            serving.setdefault(domain, []).append(entry)
    result = {}
    for domain, servers in serving.items():
        apex = domain + "."
        records, preserve, retired = [], [], []
        mx_values = sorted({f"{e['mx_preference']} {e['mx_host']}." for e in servers})
        records.append({"name": apex, "type": "MX", "values": mx_values})
        spec = dict(settings.get("spf") or {})
        if settings.get("spf_host_addresses") is True:
            for entry in servers:
                if entry["addresses"] is None:
                    raise AnsibleFilterError(
                        f"dns_records_domain_records: {entry['host']} serves {domain} but its addresses are unknown "
                        "(not in the play and no facts): set dns_records_host_addresses for it in the inventory, "
                        "or include it in the play")
                for address in _list(entry["addresses"], f"{entry['host']}: dns_records_host_addresses"):
                    try:
                        version = ipaddress.ip_address(str(address)).version
                    except ValueError as exc:
                        raise AnsibleFilterError(
                            f"dns_records_domain_records: {entry['host']}: dns_records_host_addresses: {address!r} "
                            "is not an IP address") from exc
                    key = f"ip{version}"
                    spec[key] = list(dict.fromkeys([*_list(spec.get(key), f"spf {key}"), str(address)]))
        spf = spf_record(spec)
        records.append({"name": apex, "type": "TXT", "values": [txt_zone(spf)], "exclusive": "v=spf1"})
        dkim: dict[str, tuple[str, str]] = {}
        for entry in servers:
            if entry["dkim_keys"] is None:
                preserve.append(f"._domainkey.{apex}")
                continue
            keys = (entry["dkim_keys"].get(domain) or {}) if isinstance(entry["dkim_keys"], Mapping) else None
            if not isinstance(keys, Mapping):  # dkim_keys itself, or its entry for the domain, is no mapping
                raise AnsibleFilterError(
                    f"dns_records_domain_records: {entry['host']}: dkim_keys must be {{domain: {{selector: PEM}}}}")
            for selector, pem in keys.items():
                value = txt_zone(dkim_record(pem))
                if selector in dkim and dkim[selector][1] != value:
                    raise AnsibleFilterError(
                        f"dns_records_domain_records: {dkim[selector][0]} and {entry['host']} publish different "
                        f"keys for the DKIM selector {selector} of {domain}; give each host its own selector")
                dkim.setdefault(selector, (entry["host"], value))
        for selector, (_, value) in sorted(dkim.items()):
            records.append({"name": f"{selector}._domainkey.{apex}", "type": "TXT", "values": [value],
                            "exclusive": "v=DKIM1"})
        for entry in servers:
            for selector in entry["dkim_retired"]:
                if selector not in dkim:
                    retired.append({"name": f"{selector}._domainkey.{apex}", "type": "TXT"})
        dmarc = settings.get("dmarc") or {}
        records.append({"name": f"_dmarc.{apex}", "type": "TXT", "values": [
            txt_zone(dmarc_record(dmarc_rollout(dmarc.get("phase", "none"), dmarc.get("tags") or {})))],
            "exclusive": "v=DMARC1"})
        policy = ""
        if settings.get("mta_sts_mode"):
            policy = mta_sts_policy(settings["mta_sts_mode"], sorted({e["mx_host"] for e in servers}),
                                    settings.get("mta_sts_max_age", 604800))
            records.append({"name": f"_mta-sts.{apex}", "type": "TXT",
                            "values": [txt_zone(mta_sts_record(mta_sts_id(policy)))], "exclusive": "v=STSv1"})
        if settings.get("tlsrpt_rua"):
            records.append({"name": f"_smtp._tls.{apex}", "type": "TXT",
                            "values": [txt_zone(tlsrpt_record(settings["tlsrpt_rua"]))], "exclusive": "v=TLSRPTv1"})
        for entry in servers:
            if _tlsa_domain(entry["mx_host"], entry["domains"]) != domain:
                continue
            name = f"_25._tcp.{entry['mx_host']}."
            if entry["tlsa"] is None:
                preserve.append(name)
            elif entry["tlsa"]:
                records.append({"name": name, "type": "TLSA", "values": [entry["tlsa"]]})
        merged: dict[tuple[str, str], dict] = {}
        for record in records:
            entry = merged.setdefault((record["name"], record["type"]),
                                      {"domain": domain, "name": record["name"], "type": record["type"], "values": []})
            entry["values"] = list(dict.fromkeys(entry["values"] + record["values"]))
            if record.get("exclusive"):
                entry["exclusive"] = record["exclusive"]
        result[domain] = {
            "records": list(merged.values()),
            "retired": [dict(r, domain=domain) for r in retired],
            "preserve": sorted(set(preserve)),
            "mta_sts_policy": policy,
            "spf": spf,
            "hosts": [e["host"] for e in servers],
        }
    return result


class FilterModule:
    """DNS record filters for mail domains."""

    def filters(self):
        return {
            "spf_record": spf_record,
            "spf_lookup_count": spf_lookup_count,
            "spf_limits": spf_limits,
            "dns_records_domain_records": dns_records_domain_records,
            "dmarc_record": dmarc_record,
            "dmarc_rollout": dmarc_rollout,
            "dkim_record": dkim_record,
            "txt_strings": txt_strings,
            "txt_zone": txt_zone,
            "txt_single": txt_single,
            "mta_sts_record": mta_sts_record,
            "mta_sts_policy": mta_sts_policy,
            "mta_sts_id": mta_sts_id,
            "tlsrpt_record": tlsrpt_record,
            "tlsa_record": tlsa_record,
        }
