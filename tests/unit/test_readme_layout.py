# SPDX-License-Identifier: MIT
"""The README's layout table matches the tree: every path it names exists, and every tracked
entry at the top level and one level below roles/, playbooks/, inventories/, molecule/ and
tests/ is covered by a row (the row's path is the entry itself or a folder holding it)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LISTED_FOLDERS = ("roles", "playbooks", "inventories", "molecule", "tests")


def _table_paths() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    paths = []
    for line in section.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            paths += [path.rstrip("/") for path in re.findall(r"`([^`]+)`", first)]
    return paths


def _tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.fail("git ls-files failed: the layout test needs the git checkout")
    return out.splitlines()


def _entries(files: list[str]) -> set[str]:
    entries = set()
    for name in files:
        parts = name.split("/")
        entries.add(parts[0])
        if parts[0] in LISTED_FOLDERS and len(parts) > 1:
            entries.add("/".join(parts[:2]))
    return entries


def _uncovered(entries: set[str], paths: list[str]) -> list[str]:
    return sorted(e for e in entries if not any(e == p or e.startswith(p + "/") for p in paths)
                  and not any(p.startswith(e + "/") and e in LISTED_FOLDERS for p in paths))


def test_every_path_in_the_table_exists():
    paths = _table_paths()
    assert len(paths) > 20, "the Layout table was not found in README.md"
    assert [p for p in paths if not (ROOT / p).exists()] == []
    assert sorted({p for p in paths if paths.count(p) > 1}) == [], "a path is listed twice"


def test_every_tracked_entry_is_in_the_table():
    assert _uncovered(_entries(_tracked()), _table_paths()) == []


def test_the_check_catches_a_missing_row():
    """The checker itself: an entry no row covers is reported, a folder's row covers its files."""
    entries = _entries(["roles/new_role/tasks/main.yml", "filter_plugins/x.py", "bench/run.py", "README.md"])
    assert _uncovered(entries, ["filter_plugins", "README.md"]) == ["bench", "roles", "roles/new_role"]
    assert _uncovered(entries, ["filter_plugins", "README.md", "roles/new_role", "bench"]) == []
