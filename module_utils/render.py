# SPDX-License-Identifier: MIT
"""The one scalar renderer of mailfort's configuration filters (main.cf, master.cf, dovecot.conf)."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError


def conf_scalar(what: str, value: object) -> str:
    """Render one configuration value: booleans as yes/no, numbers as written, strings stripped.

    ``what`` names the setting in the error ("postfix parameter 'x'"). A newline would
    start a new setting, so it is refused; so is any other type.
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise AnsibleFilterError(f"{what}: value must not contain a newline: {value!r}")
        return value.strip()
    raise AnsibleFilterError(f"{what}: unsupported value type {type(value).__name__}: {value!r}")
