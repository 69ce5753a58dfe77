# SPDX-License-Identifier: MIT
"""Filters that turn mailfort's Postfix data into main.cf / master.cf text."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.module_utils.render import conf_scalar
from ansible_collections.mailfort.mail.plugins.module_utils.validate import (
    address_or_fail,
    domain_or_fail,
    mailto_or_fail,
    network_or_fail,
)

_PARAM_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9_.:\[\]-]+$")
_SERVICE_TYPES = ("inet", "unix", "unix-dgram", "fifo", "pass")
_MASTER_FIELDS = ("private", "unpriv", "chroot", "wakeup", "maxproc")
_MASTER_KEYS = frozenset(("service", "type", "command", "args", "options", "state", *_MASTER_FIELDS))


def _scalar(name: str, value: object) -> str:
    return conf_scalar(f"postfix parameter {name!r}", value)


def postfix_main_cf(params: Mapping) -> str:
    """Render a mapping of main.cf parameters as main.cf text."""
    if not isinstance(params, Mapping):
        raise AnsibleFilterError(f"postfix_main_cf expects a mapping, got {type(params).__name__}")
    lines = []
    for name, value in params.items():
        if not isinstance(name, str) or not _PARAM_NAME.match(name):
            raise AnsibleFilterError(f"invalid postfix parameter name: {name!r}")
        if value is None:
            continue
        if isinstance(value, Sequence) and not isinstance(value, str):
            items = [_scalar(name, item) for item in value]
            if len(items) > 1:
                lines.append(f"{name} =\n    " + ",\n    ".join(items))
            else:
                lines.append(f"{name} = {''.join(items)}")
        else:
            lines.append(f"{name} = {_scalar(name, value)}")
    return "".join(line + "\n" for line in lines)


def _service_key(entry: Mapping) -> tuple[str, str]:
    if not isinstance(entry, Mapping):
        raise AnsibleFilterError(f"master.cf entry must be a mapping, got {entry!r}")
    unknown = set(entry) - _MASTER_KEYS
    if unknown:
        raise AnsibleFilterError(f"master.cf entry {entry.get('service')!r}: unknown keys {sorted(unknown)}")
    service, stype = entry.get("service"), entry.get("type")
    if not isinstance(service, str) or not _SERVICE_NAME.match(service):
        raise AnsibleFilterError(f"master.cf entry has an invalid service name: {service!r}")
    if stype not in _SERVICE_TYPES:
        raise AnsibleFilterError(
            f"master.cf service {service!r}: type must be one of {', '.join(_SERVICE_TYPES)}, got {stype!r}"
        )
    if entry.get("state", "present") not in ("present", "absent"):
        raise AnsibleFilterError(f"master.cf service {service!r}: state must be present or absent")
    return service, stype


def postfix_merge_services(base: Sequence, overrides: Sequence) -> list:
    """Merge master.cf service lists; later entries update earlier ones with the same service/type."""
    merged: dict[tuple[str, str], dict] = {}
    for entry in list(base or []) + list(overrides or []):
        key = _service_key(entry)
        if entry.get("state", "present") == "absent":
            merged.pop(key, None)
            continue
        current = merged.get(key, {})
        options = dict(current.get("options") or {})
        options.update(entry.get("options") or {})
        current = {**current, **entry, "options": options}
        current.pop("state", None)
        merged[key] = current
    return list(merged.values())


def postfix_master_cf(services: Sequence) -> str:
    """Render a list of master.cf services as master.cf text."""
    lines = []
    for entry in services:
        service, stype = _service_key(entry)
        if not entry.get("command"):
            raise AnsibleFilterError(f"master.cf service {service!r}: command is required")
        fields = [_scalar(service, entry.get(field, "-")) for field in _MASTER_FIELDS]
        lines.append(
            f"{service:<10} {stype:<5} " + " ".join(f"{field:<7}" for field in fields) + f" {entry['command']}"
        )
        for name, value in (entry.get("options") or {}).items():
            if not _PARAM_NAME.match(str(name)):
                raise AnsibleFilterError(f"master.cf service {service!r}: invalid option name {name!r}")
            rendered = _scalar(name, value if not isinstance(value, list) else ",".join(map(str, value)))
            if " " in rendered:
                raise AnsibleFilterError(
                    f"master.cf service {service!r}: option {name}={rendered!r} contains a space;"
                    " define it in main.cf and reference it as $name"
                )
            lines.append(f"  -o {name}={rendered}")
        for arg in entry.get("args") or []:
            lines.append(f"  {_scalar(service, arg)}")
    return "".join(line + "\n" for line in lines)


def postfix_networks(networks: Sequence, variable: str = "networks") -> list:
    """Validate a list of CIDRs/addresses and return them in Postfix syntax ([v6]/len)."""
    if isinstance(networks, str) or not isinstance(networks, Sequence):
        raise AnsibleFilterError(f"{variable} must be a list of networks, got {networks!r}")
    result = []
    for item in networks:
        net = network_or_fail(item, variable)
        if net.version == 6:
            result.append(f"[{net.network_address}]/{net.prefixlen}")
        else:
            result.append(str(net))
    return result


def postfix_domain_names(domains: Sequence, variable: str = "domains") -> list:
    """Validate a list of DNS domain names; return them lower-cased."""
    if isinstance(domains, str) or not isinstance(domains, Sequence):
        raise AnsibleFilterError(f"{variable} must be a list of domain names, got {domains!r}")
    return [domain_or_fail(item, variable) for item in domains]


def postfix_sender_logins(accounts: Sequence, variable: str = "accounts") -> dict:
    """Map each envelope sender to the logins that own it (smtpd_sender_login_maps)."""
    if isinstance(accounts, str) or not isinstance(accounts, Sequence):
        raise AnsibleFilterError(f"{variable} must be a list of accounts, got {type(accounts).__name__}")
    owners: dict[str, list] = {}
    seen = set()
    for index, account in enumerate(accounts):
        if not isinstance(account, Mapping) or "name" not in account:
            raise AnsibleFilterError(f"{variable}[{index}] must be a mapping with a name")
        login = address_or_fail(account["name"], f"{variable}[{index}].name")
        if login in seen:
            raise AnsibleFilterError(f"{variable}: account {login!r} is listed twice")
        seen.add(login)
        senders = account.get("senders", [login])
        if isinstance(senders, str) or not isinstance(senders, Sequence) or not senders:
            raise AnsibleFilterError(f"{variable}: account {login!r}: senders must be a non-empty list of addresses")
        for sender in senders:
            address = address_or_fail(sender, f"{variable}: account {login!r}: senders")
            owners.setdefault(address, [])
            if login not in owners[address]:
                owners[address].append(login)
    return dict(sorted(owners.items()))


def _report_address(value: object, where: str) -> str:
    """The mail address of a report URI (mailto:a@b, with DMARC's optional !size suffix), or ''."""
    if not str(value).strip().lower().startswith("mailto:"):
        return ""
    return mailto_or_fail(value, where, size_suffix=True)[1]


def postfix_virtual_aliases(accounts: Sequence, domains: Sequence, postmaster: str, role_localparts: Sequence = (),
                            report_addresses: Sequence = (), aliases: Mapping | None = None) -> dict:
    """The virtual alias table: the operator's aliases, the role addresses of every domain
    (postmaster@, abuse@) and the report mailboxes the DNS records advertise, the last two
    delivered to the postmaster address unless an account mailbox or an alias already has them."""
    domains = postfix_domain_names(domains, "postfix_domains")
    postfix_sender_logins(accounts, "postfix_accounts")  # checks the accounts
    mailboxes = {address_or_fail(a["name"], "postfix_accounts") for a in accounts if a.get("mailbox", True)}

    def ours(address: str) -> bool:
        return address.rpartition("@")[2] in domains

    if aliases is None:
        aliases = {}
    if not isinstance(aliases, Mapping):
        raise AnsibleFilterError(f"postfix_virtual_aliases must be a mapping of address to addresses, got {aliases!r}")
    table: dict[str, list] = {}
    for name, targets in aliases.items():
        address = address_or_fail(name, "postfix_virtual_aliases")
        if not ours(address):
            raise AnsibleFilterError(f"postfix_virtual_aliases: {address!r} is not in postfix_domains {domains}")
        if address in mailboxes:
            raise AnsibleFilterError(f"postfix_virtual_aliases: {address!r} is an account mailbox already")
        targets = [targets] if isinstance(targets, str) else targets
        if not isinstance(targets, Sequence) or not targets:
            raise AnsibleFilterError(f"postfix_virtual_aliases: {address!r} needs a non-empty list of addresses")
        table[address] = [address_or_fail(t, f"postfix_virtual_aliases: {address!r}") for t in targets]

    wanted = [f"{local}@{domain}" for domain in domains for local in role_localparts]
    wanted += [a for a in (_report_address(r, "postfix_report_addresses") for r in report_addresses) if a and ours(a)]
    if not domains:
        return dict(sorted(table.items()))
    if not postmaster:
        raise AnsibleFilterError(
            "postfix_postmaster (mailfort_postmaster) is required: the address that receives mail to "
            f"{', '.join(sorted(set(wanted)))} (RFC 5321/2142 role addresses and the DMARC/TLS-RPT report "
            "mailboxes), e.g. an account with a mailbox or an address outside postfix_domains")
    target = address_or_fail(postmaster, "postfix_postmaster")
    if ours(target) and target not in mailboxes and target not in table:
        raise AnsibleFilterError(
            f"postfix_postmaster: {target!r} is in postfix_domains but is no account mailbox and no alias "
            "(postfix_virtual_aliases): mail to it would be refused")
    for address in wanted:
        if address not in mailboxes and address not in table and address != target:
            table[address] = [target]
    return dict(sorted(table.items()))


_MILTER_INET = re.compile(r"inet(6?):([0-9]{1,5})@(\S+)\Z")


def postfix_milter(socket: object, variable: str = "the milter socket",
                   queue_directory: str = "/var/spool/postfix") -> str:
    """The address Postfix's (chrooted) smtpd uses to reach a milter's socket, given as OpenDKIM's Socket
    setting is: local:/path (inside the queue directory) or inet:PORT@ADDRESS; errors name `variable`."""
    text = socket.strip() if isinstance(socket, str) else ""
    queue = queue_directory.rstrip("/") + "/"
    if text.startswith("local:"):
        path = text[len("local:"):]
        if not path.startswith(queue) or len(path) <= len(queue):
            raise AnsibleFilterError(
                f"{variable} {path!r}: Postfix's chrooted smtpd reaches a Unix socket only inside its "
                f"queue directory {queue_directory}; put the socket there (or use TCP on loopback)")
        return "unix:" + path[len(queue):]
    match = _MILTER_INET.match(text)
    if match:
        family, port, address = match.groups()
        if not 0 < int(port) < 65536:
            raise AnsibleFilterError(f"{variable} {socket!r}: port {port} is out of range")
        address = "localhost" if address in ("localhost", "") else address
        return f"inet:[{address}]:{port}" if family == "6" or ":" in address else f"inet:{address}:{port}"
    raise AnsibleFilterError(f"{variable} must be local:/path or inet:PORT@ADDRESS, got {socket!r}")


class FilterModule:
    """Postfix configuration filters."""

    def filters(self):
        return {
            "postfix_main_cf": postfix_main_cf,
            "postfix_master_cf": postfix_master_cf,
            "postfix_merge_services": postfix_merge_services,
            "postfix_networks": postfix_networks,
            "postfix_domain_names": postfix_domain_names,
            "postfix_sender_logins": postfix_sender_logins,
            "postfix_virtual_aliases": postfix_virtual_aliases,
            "postfix_milter": postfix_milter,
        }
