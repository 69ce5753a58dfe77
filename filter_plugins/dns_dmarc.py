# SPDX-License-Identifier: MIT
"""DMARC (RFC 7489): build the _dmarc TXT record and stage its rollout from p=none to p=reject."""
from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.module_utils.validate import (
    choice_or_fail,
    int_or_fail,
    list_or_fail,
    mailto_or_fail,
)

_TAGS = ("p", "sp", "pct", "rua", "ruf", "adkim", "aspf", "fo", "ri")
_POLICIES = ("none", "quarantine", "reject")
DMARC_PHASES = ("none", "quarantine:10", "quarantine:50", "quarantine:100", "reject")


def _fo(value: object) -> str:
    if isinstance(value, str):
        parts = value.split(":")
    elif isinstance(value, int) and not isinstance(value, bool):
        parts = [value]  # YAML reads fo: 1 as a number
    else:
        parts = list_or_fail(value, "dmarc_record: fo")
    options = [str(part).strip().lower() for part in parts]
    if not options or any(option not in ("0", "1", "d", "s") for option in options):
        raise AnsibleFilterError(f"dmarc_record: fo must be a colon-separated list of 0, 1, d, s; got {value!r}")
    return ":".join(dict.fromkeys(options))


def _tag_value(key: str, value: object) -> str:
    where = f"dmarc_record: {key}"
    if key in ("p", "sp"):
        return choice_or_fail(value, _POLICIES, where)
    if key == "pct":
        return str(int_or_fail(value, where, 0, 100))
    if key == "ri":
        return str(int_or_fail(value, where, 1, 2**32 - 1))
    if key in ("adkim", "aspf"):
        return choice_or_fail(value, ("r", "s"), where)
    if key == "fo":
        return _fo(value)
    return ",".join(mailto_or_fail(uri, where, size_suffix=True)[0] for uri in list_or_fail(value, where))


def dmarc_record(spec: Mapping) -> str:
    """Build a DMARC TXT record (for _dmarc.DOMAIN) from a mapping of tags."""
    if not isinstance(spec, Mapping):
        raise AnsibleFilterError(f"dmarc_record expects a mapping, got {spec!r}")
    unknown = sorted(str(key) for key in spec if key not in _TAGS)
    if unknown:
        raise AnsibleFilterError(f"dmarc_record: unknown keys {unknown}; known keys are {', '.join(_TAGS)}")
    if spec.get("p") is None:
        raise AnsibleFilterError("dmarc_record: p (none, quarantine or reject) is required")
    tags = ["v=DMARC1"]
    for key in _TAGS:
        text = "" if spec.get(key) is None else _tag_value(key, spec[key])
        if text:  # an empty rua/ruf list leaves its tag out
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
            f" (or their index 0-{len(DMARC_PHASES) - 1})")
    if base is None:
        base = {}
    if not isinstance(base, Mapping):
        raise AnsibleFilterError(f"dmarc_rollout: base must be a mapping, got {base!r}")
    fixed = sorted(key for key in ("p", "pct") if key in base)
    if fixed:
        raise AnsibleFilterError(
            f"dmarc_rollout: base must not set {', '.join(fixed)}; the phase sets them ({dict(base)!r})")
    policy, _, pct = name.partition(":")
    spec = {**base, "p": policy}
    if pct:
        spec["pct"] = int(pct)
    dmarc_record(spec)
    return spec


class FilterModule:
    """DMARC filters (RFC 7489)."""

    def filters(self):
        return {
            "dmarc_record": dmarc_record,
            "dmarc_rollout": dmarc_rollout,
        }
