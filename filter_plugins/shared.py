# SPDX-License-Identifier: MIT
"""The facts every mailfort role shares (module_utils/shared.py), for role defaults and templates."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.mailfort.mail.plugins.module_utils.shared import SHARED, default_controller_dir


def mailfort_shared(name: object) -> object:
    """One shared fact by name: service_ports, service_tls, submission_services, tls_certificate_path, ..."""
    if name not in SHARED:
        raise AnsibleFilterError(f"mailfort_shared: unknown fact {name!r}; known: {', '.join(SHARED)}")
    value = SHARED[name]
    return dict(value) if isinstance(value, dict) else value


def mailfort_default_controller_dir(config_file: object, playbook_dir: object) -> str:
    """mailfort_controller_dir's default: .cache/ beside the ansible.cfg in use, else beside the playbook."""
    if not isinstance(playbook_dir, str) or not playbook_dir:
        raise AnsibleFilterError(f"mailfort_default_controller_dir: playbook_dir must be a path, got {playbook_dir!r}")
    return default_controller_dir(config_file if isinstance(config_file, str) else None, playbook_dir)


class FilterModule:
    """Shared facts."""

    def filters(self):
        return {
            "mailfort_shared": mailfort_shared,
            "mailfort_default_controller_dir": mailfort_default_controller_dir,
        }
