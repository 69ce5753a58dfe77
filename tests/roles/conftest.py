# SPDX-License-Identifier: MIT
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"


@pytest.fixture
def run_playbook():
    """Run a playbook from tests/roles/playbooks on localhost with extra vars; return (rc, output)."""

    def run(name: str, extra_vars: dict) -> tuple[int, str]:
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0", ANSIBLE_LOCALHOST_WARNING="false",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
        proc = subprocess.run(
            ["ansible-playbook", "-i", "localhost,", str(PLAYBOOKS / name), "-e", json.dumps(extra_vars)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
        )
        return proc.returncode, proc.stdout + proc.stderr

    return run
