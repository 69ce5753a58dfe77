# SPDX-License-Identifier: MIT
"""Every filter has a doc beside it that ansible-doc renders and that says when it was added."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FILTER_DIR = ROOT / "filter_plugins"
DOC_FILES = sorted(FILTER_DIR.glob("*.yml"))
# A release version as ansible-doc and antsibull-changelog expect it: a string, not a YAML float.
VERSION = re.compile(r"\d+\.\d+\.\d+")


def test_every_filter_has_a_doc(filters):
    assert sorted(filters) == sorted(path.stem for path in DOC_FILES)


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda path: path.stem)
def test_doc_names_its_filter_and_version_added(path):
    doc = yaml.safe_load(path.read_text())["DOCUMENTATION"]
    assert doc["name"] == path.stem
    assert isinstance(doc.get("version_added"), str), f"{path.name}: version_added missing or not a quoted string"
    assert VERSION.fullmatch(doc["version_added"]), f"{path.name}: version_added {doc['version_added']!r}"


def test_ansible_doc_renders_every_filter():
    ansible_doc = Path(sys.executable).with_name("ansible-doc")
    command = str(ansible_doc) if ansible_doc.exists() else shutil.which("ansible-doc")
    assert command, "ansible-doc not found"
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    names = [path.stem for path in DOC_FILES]
    result = subprocess.run([command, "-t", "filter", "--json", *names], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)
    assert sorted(rendered) == sorted(names)
    for name, entry in rendered.items():
        assert VERSION.fullmatch(entry["doc"].get("version_added") or ""), f"{name}: ansible-doc shows no version_added"
