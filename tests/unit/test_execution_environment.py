# SPDX-License-Identifier: MIT
"""The execution environment installs what the test suite runs with: the same ansible-core and
Python library pins as requirements.txt, the community collections at the versions the pinned
`ansible` package bundles, and the collection tarball of galaxy.yml's version."""
from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EE = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
GALAXY = yaml.safe_load((ROOT / "collections/ansible_collections/mailfort/mail/galaxy.yml").read_text())


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            pins[name.lower()] = version
    return pins


def test_ansible_core_and_python_libraries_are_the_pinned_ones():
    pins = _pins()
    assert EE["dependencies"]["ansible_core"]["package_pip"] == f"ansible-core=={pins['ansible-core']}"
    for requirement in EE["dependencies"]["python"]:
        name, sep, version = requirement.partition("==")
        if sep:
            assert pins.get(name.lower()) == version, f"{requirement} differs from requirements.txt"


def test_the_collection_tarball_is_the_one_make_collection_builds():
    name = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    files = [c["name"] for c in EE["dependencies"]["galaxy"]["collections"] if c.get("type") == "file"]
    assert files == [f"mailfort/{name}"]
    assert EE["additional_build_files"] == [{"src": f".cache/collection/{name}", "dest": "mailfort"}]


@pytest.mark.parametrize("collection", sorted(GALAXY["dependencies"]))
def test_each_dependency_is_pinned_to_the_bundled_version(collection):
    namespace, name = collection.split(".")
    manifest = Path(sysconfig.get_paths()["purelib"]) / "ansible_collections" / namespace / name / "MANIFEST.json"
    bundled = json.loads(manifest.read_text())["collection_info"]["version"]
    wanted = {c["name"]: c.get("version") for c in EE["dependencies"]["galaxy"]["collections"]}
    assert wanted.get(collection) == bundled
