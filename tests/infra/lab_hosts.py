# SPDX-License-Identifier: MIT
"""Helpers shared by the testinfra suite (imported by name: test modules must not
import "conftest", which is ambiguous once tests/infra/topology has its own)."""
from __future__ import annotations

import importlib.util
import ipaddress
import json
from pathlib import Path

from smtp_probe import PORT_MODES as PORT_MODES  # re-exported for the tests

PROJECT_DIR = Path(__file__).resolve().parents[2]



def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The service ports from their one home, module_utils/shared.py (standard library only).
_shared = _load("mailfort_shared", PROJECT_DIR / "module_utils" / "shared.py")
# TLSA association data and matching, shared with `make diagnose` (tools/diagnose_records.py).
_records = _load("mailfort_diagnose_records", PROJECT_DIR / "tools" / "diagnose_records.py")
tlsa_data = _records.tlsa_data
tlsa_matches = _records.tlsa_matches
PORT_SERVICES = {port: service for service, port in _shared.SERVICE_PORTS.items()}
SUBMISSION_PORTS = [_shared.SERVICE_PORTS[service] for service in _shared.SUBMISSION_SERVICES]
assert set(PORT_MODES) == set(PORT_SERVICES), "smtp_probe.PORT_MODES and module_utils/shared.py disagree"


def is_loopback_network(text: str) -> bool:
    bare = text.strip().strip(",")
    if bare.startswith("["):
        bare = bare[1:].replace("]", "", 1)
    return ipaddress.ip_network(bare, strict=False).is_loopback


def global_addresses(host) -> dict:
    """A host's first global address per IP version, as the host itself reports them: {4: ..., 6: ...}."""
    found = {}
    for iface in json.loads(host.check_output("ip -json address show scope global")):
        for addr in iface.get("addr_info", []):
            family = {"inet": 4, "inet6": 6}.get(addr.get("family"))
            if family and family not in found:
                found[family] = addr["local"]
    return found


def recap_changed(output: str, host_name: str) -> int:
    """The changed= count of one host in an ansible-playbook run's PLAY RECAP."""
    import re

    match = re.search(rf"^{re.escape(host_name)}\s*:.*changed=(\d+)", output, re.MULTILINE)
    assert match, f"no play recap for {host_name}:\n{output[-3000:]}"
    return int(match.group(1))


def run_site_playbook(request, host_name, tmp_path, extra_vars, tags=()):
    """Run playbooks/site.yml against one host with extra vars; return (rc, output). Lab only.

    `tags` limits the run to some roles (e.g. ["postfix"]); the input checks of
    every role (the first play, tagged always) run in any case.
    """
    import os
    import subprocess

    inventory = request.config.option.ansible_inventory
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(extra_vars))
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT_DIR / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_ROLES_PATH=str(PROJECT_DIR / "roles"),
               ANSIBLE_FILTER_PLUGINS=str(PROJECT_DIR / "filter_plugins"))
    command = ["ansible-playbook", "-i", inventory, "--limit", host_name, "-e", f"@{vars_file}"]
    if tags:
        command += ["--tags", ",".join(tags)]
    result = subprocess.run([*command, str(PROJECT_DIR / "playbooks" / "site.yml")],
                            env=env, capture_output=True, text=True, timeout=600, check=False)
    return result.returncode, result.stdout + result.stderr


PODMAN_CONNECTIONS = ("containers.podman.podman", "podman")


def inventory_vars(inventory_host) -> dict:
    """A testinfra host's inventory variables (not templated), without connecting to it."""
    backend = inventory_host.backend
    variables = backend.get_variables() if backend.NAME == "ansible" else {}
    variables.setdefault("inventory_hostname", getattr(backend, "host", None) or backend.get_hostname())
    return variables


def container_addresses(container: str) -> dict:
    """A lab container's global addresses by IP version, as podman on the controller reports them
    (no command runs inside the container): {4: ..., 6: ...}; empty when podman does not know it."""
    import shutil
    import subprocess

    if not shutil.which("podman"):
        return {}
    result = subprocess.run(["podman", "inspect", "--format", "{{json .NetworkSettings.Networks}}", container],
                            capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        return {}
    found = {}
    for network in (json.loads(result.stdout) or {}).values():
        for family, key in ((4, "IPAddress"), (6, "GlobalIPv6Address")):
            if network.get(key) and family not in found:
                found[family] = network[key]
    return found


def direct(inventory_host):
    """The same host, reached without Ansible where that is possible.

    testinfra's Ansible backend runs a whole ansible-playbook per command. For
    lab containers (podman connection) `podman exec` does the same job in a
    fraction of the time. The inventory variables stay available as
    ``.inventory_vars`` and the inventory name as ``.inventory_name``.
    """
    import shutil

    import testinfra

    backend = inventory_host.backend
    variables = inventory_vars(inventory_host)
    chosen = inventory_host
    if variables.get("ansible_connection") in PODMAN_CONNECTIONS and shutil.which("podman"):
        container = variables.get("ansible_podman_container") or variables.get("ansible_host") or backend.host
        chosen = testinfra.get_host(f"podman://{container}")
    chosen.inventory_vars = variables
    chosen.inventory_name = getattr(backend, "host", None) or backend.get_hostname()
    return chosen


def group_host(request, group: str, missing: str):
    """The first host of an inventory group, reached directly; skip (saying `missing`) without one."""
    import pytest
    import testinfra
    from testinfra.utils.ansible_runner import AnsibleRunner

    inventory = request.config.option.ansible_inventory
    if not inventory:
        pytest.skip(f"no Ansible inventory: {missing}")
    # get_runner() parses the inventory once per process (ansible-inventory is slow).
    names = AnsibleRunner.get_runner(inventory).get_hosts(group)
    if not names:
        pytest.skip(f"no host in group {group}: {missing}")
    return direct(testinfra.get_host(f"ansible://{names[0]}", ansible_inventory=inventory))


def put_file(host, path: str, data: bytes) -> None:
    """Write `data` to `path` on a testinfra host (through base64: any bytes, any shell)."""
    import base64

    host.check_output(f"echo {base64.b64encode(data).decode()} | base64 -d > {path}")
