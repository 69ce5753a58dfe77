#!/usr/bin/python
# SPDX-License-Identifier: MIT
"""Publish the values mailfort owns in a zone, and only those, by one RFC 2136 update."""
from __future__ import annotations

DOCUMENTATION = r"""
module: mailfort_dns_rrsets
short_description: add and delete single DNS record values mailfort owns (RFC 2136, TSIG)
description:
  - >-
    Reads the current record sets of every name and type it is given, and of every name and type its ownership
    registry lists, from the primary nameserver (TCP, TSIG-signed queries).
  - >-
    Sends one signed UPDATE that adds the wanted values that are missing and deletes, value by value, the values
    mailfort owns and no longer wants. A value mailfort does not own (another TXT at the apex, a foreign MX) is never
    deleted, and no record set is ever deleted as a whole.
  - >-
    Ownership lives in DNS, so a fresh controller knows it: a TXT record set O(registry) (default
    C(_mailfort.<domain>)) holds one value per owned record value, C(mailfort name=<name> type=<type> value=<hash>),
    where the hash is the first 16 hex digits of SHA-256 of the value's canonical text. The registry is updated in the
    same UPDATE message.
  - >-
    A wanted value that already exists is adopted (owned from then on). Values of the names in O(retired) are deleted
    whether or not the registry lists them (retired DKIM selectors published before the registry existed).
  - >-
    Owned values whose name ends with one of O(preserve) are kept even when not wanted (the contributions of hosts
    outside a limited play, which cannot be computed without them).
  - >-
    Supports check mode and diff mode (the values added and deleted).
options:
  server: {description: Address of the primary nameserver., type: str, required: true}
  port: {description: Its port., type: int, default: 53}
  key_name: {description: TSIG key name (empty for unsigned updates)., type: str, default: ""}
  key_secret: {description: TSIG secret (base64)., type: str, default: "", no_log: true}
  key_algorithm: {description: TSIG algorithm., type: str, default: hmac-sha256}
  zone: {description: The zone to update., type: str, required: true}
  registry: {description: Absolute name of the ownership TXT record set., type: str, required: true}
  ttl: {description: TTL of added values., type: int, default: 3600}
  records:
    description: >-
      The wanted record sets, each C({name, type, values}) with absolute names and zone-file RDATA values, and
      optionally C(exclusive), a version tag such as C(v=spf1) of which the name may hold only one value (see O(adopt)).
    type: list
    elements: dict
    default: []
  retired:
    description: C({name, type}) whose current values are all deleted.
    type: list
    elements: dict
    default: []
  preserve:
    description: Name suffixes whose owned values are never deleted.
    type: list
    elements: str
    default: []
  adopt:
    description:
      - >-
        A record given with C(exclusive) (a prefix such as C(v=spf1)) allows one such value; a foreign value with that
        prefix fails the task (two SPF records make SPF fail), unless O(adopt) lets mailfort delete it (records
        published before the registry existed).
    type: bool
    default: false
"""

RETURN = r"""
added: {description: "Values added, C(name type value).", type: list, returned: always}
deleted: {description: "Values deleted, C(name type value).", type: list, returned: always}
"""

import hashlib

from ansible.module_utils.basic import AnsibleModule

REGISTRY_PREFIX = "mailfort "


def value_hash(name: str, rtype: str, value: str) -> str:
    """A short stable hash of one canonical value at name/type (what the registry stores)."""
    return hashlib.sha256(f"{name.lower()} {rtype.upper()} {value}".encode()).hexdigest()[:16]


def registry_text(name: str, rtype: str, digest: str) -> str:
    """One registry value: the owned value's name, type and hash."""
    return f"{REGISTRY_PREFIX}name={name.lower()} type={rtype.upper()} value={digest}"


def parse_registry(texts) -> set[tuple[str, str, str]]:
    """The (name, type, hash) triples of the registry's TXT values; other values are ignored."""
    owned = set()
    for text in texts:
        if not text.startswith(REGISTRY_PREFIX):
            continue
        fields = dict(part.partition("=")[::2] for part in text[len(REGISTRY_PREFIX):].split())
        if {"name", "type", "value"} <= fields.keys():
            owned.add((fields["name"].lower(), fields["type"].upper(), fields["value"]))
    return owned


def _starts(value: str, prefix: str) -> bool:
    return value.lstrip('"').lower().startswith(prefix.lower())


def plan(current: dict, wanted: dict, owned: set, retired=(), preserve=(), exclusive=None, adopt=False) -> dict:
    """What to add and delete; pure, no DNS.

    current, wanted: {(name, type): set of canonical values}; owned: {(name, type, hash)} from the registry;
    retired: (name, type) whose values all go; preserve: name suffixes whose owned values stay;
    exclusive: {(name, type): prefix} where only one value with that prefix may exist (one SPF record).
    Returns {"add": {(n, t): set}, "delete": {(n, t): set}, "owned": set of (n, t, hash) after the update,
    "conflicts": {(n, t): set}}: foreign values with an exclusive prefix, deleted only with adopt.
    A value is deleted only if it is owned (or retired, or an adopted conflict) and not wanted: other foreign
    values are never touched.
    """
    retired = {(n.lower(), t.upper()) for n, t in retired}
    exclusive = exclusive or {}
    add, delete, conflicts = {}, {}, {}
    for key in set(current) | set(wanted):
        name, rtype = key
        have, want = set(current.get(key, ())), set(wanted.get(key, ()))
        missing = want - have
        kept = any(name.endswith(suffix.lower()) for suffix in preserve) and key not in retired
        gone = {v for v in have - want
                if key in retired or (not kept and (name, rtype, value_hash(name, rtype, v)) in owned)}
        if key in exclusive and want:
            clash = {v for v in have - want - gone
                     if _starts(v, exclusive[key]) and (name, rtype, value_hash(name, rtype, v)) not in owned}
            if clash:
                conflicts[key] = clash
                if adopt:
                    gone |= clash
        if missing:
            add[key] = missing
        if gone:
            delete[key] = gone
    after = {key: (set(current.get(key, ())) - delete.get(key, set())) | add.get(key, set())
             for key in set(current) | set(wanted)}
    new_owned = {(n, t, h) for n, t, h in owned
                 if any(value_hash(n, t, v) == h for v in after.get((n, t), ()))}
    new_owned |= {(n, t, value_hash(n, t, v)) for (n, t), values in wanted.items() for v in values}
    return {"add": add, "delete": delete, "owned": new_owned, "conflicts": conflicts}


def _canonical(rtype: str, text: str) -> str:
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text, origin=dns.name.root)
    return rdata.to_text(origin=dns.name.root, relativize=False)


def _absolute(name: str) -> str:
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


class Zone:
    """TCP, TSIG-signed queries and updates to one primary."""

    def __init__(self, params):
        import dns.name
        import dns.tsigkeyring

        self.server, self.port = params["server"], params["port"]
        self.zone = dns.name.from_text(_absolute(params["zone"]))
        self.keyring, self.keyname, self.algorithm = None, None, None
        if params["key_name"]:
            self.keyname = dns.name.from_text(params["key_name"])
            self.keyring = dns.tsigkeyring.from_text({params["key_name"]: params["key_secret"]})
            self.algorithm = dns.name.from_text(params["key_algorithm"])

    def read(self, name: str, rtype: str) -> set[str]:
        import dns.message
        import dns.query
        import dns.rcode
        import dns.rdatatype

        query = dns.message.make_query(name, dns.rdatatype.from_text(rtype))
        if self.keyring:
            query.use_tsig(self.keyring, keyname=self.keyname, algorithm=self.algorithm)
        response = dns.query.tcp(query, self.server, port=self.port, timeout=10)
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise RuntimeError(f"query {name} {rtype} to {self.server}: {dns.rcode.to_text(response.rcode())}")
        values = set()
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.from_text(rtype) and rrset.name.to_text().lower() == name:
                values |= {rdata.to_text(origin=None, relativize=False) for rdata in rrset}
        return values

    def update(self, ttl: int, add: dict, delete: dict) -> None:
        import dns.query
        import dns.rcode
        import dns.rdata
        import dns.rdataclass
        import dns.rdatatype
        import dns.update

        message = dns.update.UpdateMessage(self.zone, keyring=self.keyring, keyname=self.keyname,
                                           keyalgorithm=self.algorithm)
        for (name, rtype), values in sorted(delete.items()):
            for value in sorted(values):
                message.delete(name, dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), value))
        for (name, rtype), values in sorted(add.items()):
            for value in sorted(values):
                message.add(name, ttl, dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), value))
        response = dns.query.tcp(message, self.server, port=self.port, timeout=10)
        if response.rcode() != dns.rcode.NOERROR:
            raise RuntimeError(f"update of zone {self.zone} at {self.server}: {dns.rcode.to_text(response.rcode())}")


def _lines(changes: dict) -> list[str]:
    return [f"{name} {rtype} {value}" for (name, rtype), values in sorted(changes.items()) for value in sorted(values)]


def main():
    module = AnsibleModule(
        argument_spec={
            "server": {"type": "str", "required": True},
            "port": {"type": "int", "default": 53},
            "key_name": {"type": "str", "default": ""},
            "key_secret": {"type": "str", "default": "", "no_log": True},
            "key_algorithm": {"type": "str", "default": "hmac-sha256"},
            "zone": {"type": "str", "required": True},
            "registry": {"type": "str", "required": True},
            "ttl": {"type": "int", "default": 3600},
            "records": {"type": "list", "elements": "dict", "default": []},
            "retired": {"type": "list", "elements": "dict", "default": []},
            "preserve": {"type": "list", "elements": "str", "default": []},
            "adopt": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    registry = _absolute(params["registry"])
    try:
        wanted, exclusive = {}, {}
        for record in params["records"]:
            key = (_absolute(record["name"]), str(record["type"]).upper())
            if record.get("exclusive"):
                exclusive[key] = str(record["exclusive"])
            if key[1] == "TXT" and key[0] == registry:
                module.fail_json(msg=f"{registry} TXT is mailfort's ownership registry; no record may use it")
            wanted.setdefault(key, set()).update(_canonical(key[1], str(v)) for v in record["values"])
        retired = [(_absolute(r["name"]), str(r["type"]).upper()) for r in params["retired"]]
        zone = Zone(params)
        registry_values = zone.read(registry, "TXT")
        owned = parse_registry(_txt_text(v) for v in registry_values)
        keys = set(wanted) | set(retired) | {(n, t) for n, t, _ in owned}
        current = {key: zone.read(*key) for key in sorted(keys)}
        result = plan(current, wanted, owned, retired, params["preserve"], exclusive, params["adopt"])
        if result["conflicts"] and not params["adopt"]:
            module.fail_json(msg="values mailfort does not own compete with its own (one such record allowed): "
                             + "; ".join(_lines(result["conflicts"]))
                             + ". Delete them, or set dns_records_adopt_conflicting: true once to let mailfort delete"
                             " them (values published by mailfort before it kept its ownership registry)",
                             conflicts=_lines(result["conflicts"]))
        want_registry = {_canonical("TXT", _quote(registry_text(*entry))) for entry in result["owned"]}
        add, delete = dict(result["add"]), dict(result["delete"])
        if want_registry - registry_values:
            add[(registry, "TXT")] = want_registry - registry_values
        if registry_values - want_registry:
            # The registry's own values are all mailfort's.
            delete[(registry, "TXT")] = registry_values - want_registry
        changed = bool(add or delete)
        if changed and not module.check_mode:
            zone.update(params["ttl"], add, delete)
    except Exception as exc:  # noqa: BLE001 - any DNS failure ends the task with its reason
        module.fail_json(msg=f"mailfort_dns_rrsets: {type(exc).__name__}: {exc}")
    added, deleted = _lines(result["add"]), _lines(result["delete"])
    diff = {"before": "\n".join(deleted) + ("\n" if deleted else ""),
            "after": "\n".join(added) + ("\n" if added else ""),
            "before_header": f"{params['zone']}: values deleted", "after_header": f"{params['zone']}: values added"}
    module.exit_json(changed=changed, added=added, deleted=deleted, diff=diff)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _txt_text(zone_value: str) -> str:
    """The concatenated strings of a TXT value in zone-file syntax."""
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, zone_value)
    return b"".join(rdata.strings).decode("ascii", "replace")


if __name__ == "__main__":
    main()
