# SPDX-License-Identifier: MIT
"""Argument specs never template secrets into their defaults.

A failed argument check prints the whole spec with its defaults filled in, at
normal verbosity: a default such as "{{ mailfort_accounts }}" would print every
password (tests/roles/test_secrets.py proves the live side)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
SECRET_WORDS = re.compile(r"account|password|secret|credential|token|private", re.IGNORECASE)


def _options():
    for spec_file in sorted(ROLES.glob("*/meta/argument_specs.yml")):
        specs = yaml.safe_load(spec_file.read_text())["argument_specs"]
        for entry, spec in specs.items():
            for name, option in (spec.get("options") or {}).items():
                yield f"{spec_file.parts[-3]}:{entry}:{name}", name, option


OPTIONS = list(_options())


def _problem(where, name, option):
    default = option.get("default")
    if not (isinstance(default, str) and "{{" in default):
        return None
    if option.get("no_log"):
        return f"{where}: a no_log option must not have a templated default"
    if SECRET_WORDS.search(name + default):
        return f"{where}: templated default {default!r} may carry secrets; document it in the description instead"
    return None


def test_no_secret_is_templated_into_a_default():
    problems = [p for p in (_problem(*option) for option in OPTIONS) if p]
    assert not problems, "\n".join(problems)


def test_the_scan_sees_the_specs():
    assert len(OPTIONS) > 100
    assert any(name == "postfix_accounts" for _, name, _ in OPTIONS)
    assert _problem("x", "postfix_accounts", {"default": "{{ mailfort_accounts }}"})
    assert _problem("x", "dns_records_nsupdate_key_secret", {"default": "{{ vault_tsig }}", "no_log": True})
    assert not _problem("x", "postfix_domains", {"default": "{{ mailfort_domains | default([]) }}"})


@pytest.mark.parametrize("role", sorted(p.parents[1].name for p in ROLES.glob("*/meta/argument_specs.yml")
                                        if (p.parents[1] / "defaults" / "main.yml").exists()))
def test_the_main_spec_lists_every_default_with_the_same_value(role):
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
    options = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    options = options.get("options") or {}
    assert set(defaults) == set(options), (f"{role}: only in defaults {sorted(set(defaults) - set(options))}, "
                                           f"only in the spec {sorted(set(options) - set(defaults))}")
    differ = sorted(name for name in defaults
                    if "default" in options[name] and options[name]["default"] != defaults[name])
    assert not differ, f"{role}: the spec's default differs from defaults/main.yml for {differ}"
