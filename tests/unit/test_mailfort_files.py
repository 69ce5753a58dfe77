# SPDX-License-Identifier: MIT
"""modules/mailfort_files.py: several files in one module run, each written only when it differs."""
from __future__ import annotations

import grp
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

MODULE = Path(__file__).resolve().parents[2] / "modules" / "mailfort_files.py"
OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def run(tmp_path: Path, check: bool = False, diff: bool = False, **args) -> dict:
    args = {"owner": OWNER, "group": GROUP, **args,
            "_ansible_check_mode": check, "_ansible_diff": diff}
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    result = subprocess.run([sys.executable, str(MODULE), str(args_file)], capture_output=True, text=True, check=False)
    return json.loads(result.stdout)


@pytest.fixture
def dest(tmp_path):
    path = tmp_path / "etc"
    path.mkdir()
    return path


def test_writes_new_files_with_mode_and_subdirectories_then_changes_nothing(tmp_path, dest):
    files = {"main.cf": "a = 1\n", "mailfort/map": "x OK\n"}
    first = run(tmp_path, dest=str(dest), files=files, mode="0640")
    assert first["changed"] and first["changed_files"] == ["mailfort/map", "main.cf"]
    assert (dest / "main.cf").read_text() == "a = 1\n"
    assert (dest / "mailfort" / "map").stat().st_mode & 0o777 == 0o640
    second = run(tmp_path, dest=str(dest), files=files, mode="0640")
    assert not second["changed"] and second["changed_files"] == []


def test_only_the_file_that_differs_is_rewritten_and_a_mode_change_counts(tmp_path, dest):
    run(tmp_path, dest=str(dest), files={"a": "1\n", "b": "2\n"})
    untouched = (dest / "b").stat().st_ino
    result = run(tmp_path, dest=str(dest), files={"a": "changed\n", "b": "2\n"})
    assert result["changed_files"] == ["a"]
    assert (dest / "b").stat().st_ino == untouched
    (dest / "b").chmod(0o600)
    assert run(tmp_path, dest=str(dest), files={"a": "changed\n", "b": "2\n"})["changed_files"] == ["b"]
    assert (dest / "b").stat().st_mode & 0o777 == 0o644


def test_check_mode_reports_and_writes_nothing_and_diff_shows_both_sides(tmp_path, dest):
    (dest / "main.cf").write_text("a = 1\n")
    result = run(tmp_path, check=True, diff=True, dest=str(dest), files={"main.cf": "a = 2\n", "new": "n\n"})
    assert result["changed"] and result["changed_files"] == ["main.cf", "new"]
    assert (dest / "main.cf").read_text() == "a = 1\n" and not (dest / "new").exists()
    assert {"before_header": str(dest / "main.cf"), "after_header": str(dest / "main.cf"),
            "before": "a = 1\n", "after": "a = 2\n"} in result["diff"]


def test_copies_named_files_from_a_directory_on_the_host(tmp_path, dest):
    staging = tmp_path / "staging"
    (staging / "sub").mkdir(parents=True)
    (staging / "main.cf").write_text("checked\n")
    (staging / "sub" / "map").write_text("m\n")
    result = run(tmp_path, src_dir=str(staging), names=["main.cf", "sub/map"], dest=str(dest))
    assert result["changed_files"] == ["main.cf", "sub/map"]
    assert (dest / "sub" / "map").read_text() == "m\n"


def test_a_missing_source_fails_but_check_mode_on_a_new_host_reports_a_change(tmp_path, dest):
    staging = tmp_path / "staging"
    staging.mkdir()
    failed = run(tmp_path, src_dir=str(staging), names=["main.cf"], dest=str(dest))
    assert failed.get("failed") and "not in " + str(staging) + ": main.cf" in failed["msg"]
    checked = run(tmp_path, check=True, src_dir=str(staging), names=["main.cf"], dest=str(dest))
    assert checked["changed"] and not checked.get("failed")


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape", "a/../../b", ""])
def test_paths_outside_dest_are_refused(tmp_path, dest, name):
    result = run(tmp_path, dest=str(dest), files={name: "x"})
    assert result.get("failed") and "must be relative" in result["msg"], result
    assert not (tmp_path / "escape").exists()
