# SPDX-License-Identifier: GPL-3.0-or-later
# LAB ONLY: containers.podman's podman connection, with pipelining.
#
# Lab hosts are podman containers. containers.podman.podman runs every module
# in four `podman exec` calls (make a temporary directory, chmod, run, remove)
# because it never forwards standard input, and it runs `podman mount` on
# every connection, that is every task. Here:
# - the module goes through stdin: one exec per module, as Ansible's SSH
#   connection does with pipelining = True (ansible.cfg) on real hosts;
# - the exec is `runc exec` into the container when it runs under runc (all
#   lab hosts do, lab/podman.env): the same process podman exec would start
#   (namespaces, cgroups, capabilities, environment) without podman's and
#   conmon's start-up, ~0.2 s of each call. Otherwise `podman exec -i`;
# - the container is mounted only when a file has to be copied into it.
# Everything else is inherited.
#
# The name is the one molecule's podman driver writes into its inventory
# ("ansible_connection: podman"); ansible.cfg puts this directory on
# connection_plugins, which Ansible searches before the collections.
from __future__ import annotations

DOCUMENTATION = """
    name: podman
    short_description: Run tasks in a podman container, with pipelining (mailfort lab)
    description:
      - containers.podman.podman with pipelining (`podman exec --interactive`). LAB ONLY.
    extends_documentation_fragment: []
    options:
      remote_addr:
        description: The name or ID of the container.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: User inside the container.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments for the podman command line.
        default: ''
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description: The podman executable.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
      pipelining:
        description: Send modules through standard input instead of a temporary file.
        type: boolean
        default: true
        vars:
          - name: ansible_pipelining
"""

import os
import shlex
import shutil
import subprocess

from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.connection import ConnectionBase
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection

# Where podman (as root) keeps runc's container state, and where this plugin
# remembers container ids (looked up once with podman inspect).
RUNC_ROOT = "/run/runc"
ID_CACHE = "/run/mailfort-lab-containers"


class Connection(PodmanConnection):
    """containers.podman.podman, forwarding standard input so that Ansible can pipeline."""

    transport = "podman"
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._runc = None

    def _connect(self):
        # Mount lazily (put_file): most tasks copy no file.
        self._connected = True
        return self

    def _runc_target(self):
        """(runc, container id) when the container runs under runc on this machine, else None."""
        if self._runc is None:
            self._runc = self._find_runc_target() or False
        return self._runc or None

    def _find_runc_target(self):
        runc = shutil.which("runc")
        if not runc or self.user or os.geteuid() != 0 or not os.path.isdir(RUNC_ROOT):
            return None
        cache = os.path.join(ID_CACHE, os.path.basename(self._container_id))
        try:
            with open(cache, encoding="ascii") as handle:
                container = handle.read().strip()
        except OSError:
            container = ""
        # A cached id is good while runc still has that container (a new one of the same name has a new id).
        if not container or not os.path.exists(os.path.join(RUNC_ROOT, container, "state.json")):
            rc, out, _ = self._podman(["inspect", "--format", "{{.Id}} {{.OCIRuntime}}"])
            parts = to_native(out).split()
            if rc != 0 or len(parts) != 2 or parts[1] != "runc":
                return None
            container = parts[0]
            if not os.path.exists(os.path.join(RUNC_ROOT, container, "state.json")):
                return None
            os.makedirs(ID_CACHE, mode=0o700, exist_ok=True)
            with open(cache + ".tmp", "w", encoding="ascii") as handle:
                handle.write(container)
            os.replace(cache + ".tmp", cache)
        return runc, container

    def put_file(self, in_path, out_path):
        if self._mount_point is None:
            super()._connect()
        return super().put_file(in_path, out_path)

    def exec_command(self, cmd, in_data=None, sudoable=False):
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        argv = shlex.split(to_native(cmd, errors="surrogate_or_strict"))
        target = self._runc_target()
        if target is None:
            args = ["exec", "--interactive"] + (["--user", self.user] if self.user else [])
            return self._podman(args, argv, in_data)
        runc, container = target
        command = [runc, "--root", RUNC_ROOT, "exec", container, *argv]
        process = subprocess.Popen(
            [to_bytes(arg, errors="surrogate_or_strict") for arg in command],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = process.communicate(input=in_data)
        return process.returncode, stdout, stderr
