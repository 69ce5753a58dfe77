# SPDX-License-Identifier: MIT
"""The firewall's SSH lock-out guard over a real SSH login with become (sudo).

sudo resets the environment, so facts gathered with privilege escalation carry
no SSH_CONNECTION; the guard must still see the session (it reads it as the
login user) and refuse management networks that would cut it off. The trusted
client host plays the managed host: an SSH server and a sudo user are set up on
it for the test and removed afterwards. Lab only.
"""
from __future__ import annotations

import ipaddress
import json
import os
import subprocess

import pytest
from lab_hosts import PROJECT_DIR

pytestmark = pytest.mark.usefixtures("lab_only")

USER = "mailfort-ssh-test"
PLAYBOOK = PROJECT_DIR / "tests" / "roles" / "playbooks" / "firewall_guard.yml"


@pytest.fixture(scope="module")
def ssh_host(trusted, tmp_path_factory):
    """The trusted client reachable over SSH as a sudo user; yields (address, private key path)."""
    host = trusted.host
    keydir = tmp_path_factory.mktemp("ssh")
    key = keydir / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    public = (keydir / "id_ed25519.pub").read_text().strip()
    if host.run("command -v sshd && command -v sudo").rc != 0:
        host.check_output("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
                          "openssh-server sudo >/dev/null 2>&1 || (apt-get update -qq >/dev/null && "
                          "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
                          "openssh-server sudo >/dev/null)")
    host.check_output(f"id {USER} >/dev/null 2>&1 || useradd -m -s /bin/bash {USER}")
    host.check_output(f"install -d -m 0700 -o {USER} -g {USER} /home/{USER}/.ssh && "
                      f"echo '{public}' > /home/{USER}/.ssh/authorized_keys && "
                      f"chown {USER}: /home/{USER}/.ssh/authorized_keys && "
                      f"chmod 0600 /home/{USER}/.ssh/authorized_keys")
    host.check_output(f"echo '{USER} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/{USER} && "
                      f"chmod 0440 /etc/sudoers.d/{USER}")
    host.check_output("systemctl start ssh")
    try:
        yield trusted.addresses[4], key
    finally:
        host.run(f"rm -f /etc/sudoers.d/{USER}; userdel -r {USER} >/dev/null 2>&1; systemctl stop ssh ssh.socket")


def _guard(ssh_host, tmp_path, management_networks):
    address, key = ssh_host
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"guarded": {
        "ansible_host": address, "ansible_user": USER, "ansible_connection": "ssh",
        "ansible_ssh_private_key_file": str(key),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        "ansible_python_interpreter": "/usr/bin/python3"}}}}))
    extra = {"firewall_client_access": {"smtp": "any", "submission": "any", "submissions": "any"},
             "firewall_management_networks": management_networks}
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT_DIR / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    result = subprocess.run(["ansible-playbook", "-i", str(inventory), "-e", json.dumps(extra), str(PLAYBOOK)],
                            env=env, capture_output=True, text=True, timeout=180, check=False)
    return result.returncode, result.stdout + result.stderr


def test_sudo_drops_ssh_connection_from_the_environment(ssh_host):
    """The premise: under sudo, SSH_CONNECTION is gone (else this module proves nothing)."""
    address, key = ssh_host
    out = subprocess.run(["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                          "-o", "BatchMode=yes", f"{USER}@{address}",
                          "echo user=$SSH_CONNECTION; sudo printenv SSH_CONNECTION; echo sudo=$?"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert "user=" in out.stdout and out.stdout.split("user=")[1].split()[0], out
    assert out.stdout.strip().endswith("sudo=1"), f"sudo kept SSH_CONNECTION: {out.stdout}"


def test_guard_refuses_management_networks_that_cut_off_the_session(ssh_host, tmp_path):
    rc, output = _guard(ssh_host, tmp_path, ["192.0.2.0/24"])
    assert rc != 0, output[-3000:]
    assert "would cut off this SSH session (from " in output, output[-3000:]
    assert "firewall_management_networks" in output, output[-3000:]


def test_guard_accepts_management_networks_that_keep_the_session(ssh_host, tmp_path):
    network = ipaddress.ip_network(f"{ssh_host[0]}/24", strict=False)
    rc, output = _guard(ssh_host, tmp_path, [str(network)])
    assert rc == 0, output[-3000:]
