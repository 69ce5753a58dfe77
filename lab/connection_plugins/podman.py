# SPDX-License-Identifier: GPL-3.0-or-later
# LAB ONLY: containers.podman's podman connection, with pipelining.
#
# Lab hosts are podman containers. containers.podman.podman runs every module
# in four `podman exec` calls (make a temporary directory, chmod, run, remove),
# each ~0.15 s of podman's own start-up, because it never forwards standard
# input; and it runs `podman mount` on every connection, that is every task.
# Here the module goes through stdin (`podman exec --interactive`): one exec
# per module, as Ansible's SSH connection does with pipelining = True
# (ansible.cfg) on real hosts; and the container is mounted only when a file
# has to be copied into it. Everything else is inherited.
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

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    """containers.podman.podman, forwarding standard input so that Ansible can pipeline."""

    transport = "podman"
    has_pipelining = True

    def _connect(self):
        # Mount lazily (put_file): most tasks copy no file.
        self._connected = True
        return self

    def put_file(self, in_path, out_path):
        if self._mount_point is None:
            super()._connect()
        return super().put_file(in_path, out_path)

    def exec_command(self, cmd, in_data=None, sudoable=False):
        if in_data is None:
            return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        # The base class's own bookkeeping, then `podman exec --interactive` with the data on stdin.
        super(PodmanConnection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec", "--interactive"] + (["--user", self.user] if self.user else [])
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
