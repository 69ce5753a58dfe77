# SPDX-License-Identifier: MIT
"""tests/summary.py: the run is red when reports are missing or empty, when the
skips differ from the committed list, when a test failed, or over budget."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

SUMMARY = Path(__file__).resolve().parents[1] / "summary.py"
spec = importlib.util.spec_from_file_location("mailfort_summary", SUMMARY)
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)

DISTROS = ["debian12", "debian13"]


def _report(path: Path, outcomes: dict[str, str]) -> None:
    cases = []
    for name, outcome in outcomes.items():
        inner = {"passed": "", "failure": '<failure message="boom"/>', "error": '<error message="boom"/>',
                 "skipped": '<skipped message="why"/>'}[outcome]
        cases.append(f'<testcase classname="test_relay" name="{name}" time="1.5">{inner}</testcase>')
    path.write_text(f'<?xml version="1.0"?><testsuites><testsuite name="pytest">{"".join(cases)}'
                    "</testsuite></testsuites>")


@pytest.fixture
def run(tmp_path, monkeypatch):
    junit, timings = tmp_path / "junit", tmp_path / "timings"
    junit.mkdir()
    timings.mkdir()
    skips = tmp_path / "expected-skips.txt"
    skips.write_text("# none\n")
    monkeypatch.setattr(summary, "EXPECTED_SKIPS", skips)
    for name in summary.expected_reports("topology", DISTROS, "debian12"):
        _report(junit / name, {"test_a": "passed", "test_b": "passed"})
    (timings / "started").write_text("1000")
    (timings / "topology-debian12.tsv").write_text("topology-debian12\tverify\t75.0\tok\n")

    def _judge(now=1000 + 600):
        return summary.judge(junit, timings, "topology", DISTROS, "debian12", 30, now=now)
    _judge.junit, _judge.skips = junit, skips
    return _judge


def test_a_complete_green_run_passes(run):
    out, problems, counts = run()
    assert problems == []
    assert counts == {"passed": 12, "failed": 0, "skipped": 0}
    assert any("verify" in line and "1:15" in line for line in out)
    assert any("test_relay" in line and "0:03" in line for line in out), "verify time by test file"


def test_a_missing_report_is_red(run):
    (run.junit / "topology-debian13.xml").unlink()
    _, problems, _ = run()
    assert any("topology-debian13.xml is missing" in p for p in problems), problems


def test_a_missing_mutation_report_is_red(run):
    (run.junit / "mutations-debian12.xml").unlink()
    _, problems, _ = run()
    assert any("mutations-debian12.xml is missing" in p for p in problems), problems


def test_a_missing_audit_report_is_red(run):
    (run.junit / "audit-debian13.xml").unlink()
    _, problems, _ = run()
    assert any("audit-debian13.xml is missing" in p for p in problems), problems


def test_a_report_without_tests_is_red(run):
    _report(run.junit / "topology-debian12.xml", {})
    _, problems, _ = run()
    assert any("topology-debian12.xml ran no test" in p for p in problems), problems


def test_an_unexpected_skip_is_red(run):
    _report(run.junit / "topology-debian13.xml", {"test_a": "passed", "test_b": "skipped"})
    _, problems, counts = run()
    assert counts["skipped"] == 1
    assert any("unexpected skip in topology-debian13.xml: test_relay::test_b" in p for p in problems), problems


def test_an_expected_skip_is_green_and_one_that_stops_skipping_is_red(run):
    _report(run.junit / "topology-debian13.xml", {"test_a": "passed", "test_b": "skipped"})
    run.skips.write_text("topology-debian13.xml | test_relay::test_b | needs X\n"
                         "topology-debian12.xml | test_relay::test_a | needs Y\n")
    _, problems, _ = run()
    assert problems == [
        "expected skip did not happen in topology-debian12.xml: test_relay::test_a; remove it from expected-skips.txt"]


def test_a_failure_or_error_is_red(run):
    _report(run.junit / "unit.xml", {"test_a": "failure", "test_b": "error"})
    _, problems, counts = run()
    assert counts["failed"] == 2
    assert "2 test(s) failed" in problems
    # Each failed test is named with its message, at the end where a cut CI log still shows it.
    assert "  failed in unit.xml: test_relay::test_a: boom" in problems
    assert "  failed in unit.xml: test_relay::test_b: boom" in problems


def test_over_budget_is_red(run):
    _, problems, _ = run(now=1000 + 31 * 60)
    assert any("over the 30-minute budget" in p for p in problems), problems


def test_malformed_expected_skips_line_is_refused(run):
    run.skips.write_text("topology-debian12.xml test_relay::test_a\n")
    with pytest.raises(SystemExit, match=re.escape("want 'report | test id | reason'")):
        run()


def test_the_committed_skip_list_parses():
    summary.expected_skips(SUMMARY.with_name("expected-skips.txt"))


@pytest.mark.parametrize("step, option", [("check-new", "check_new_on"), ("collection", "collection_on")])
def test_a_step_on_the_last_distro_must_have_run_and_passed(run, tmp_path, step, option):
    """check mode on new hosts and the collection consumer run on one distro only: missing or failed is a problem."""
    timings = tmp_path / "timings"

    def problems():
        return summary.judge(run.junit, timings, "topology", DISTROS, "debian12", 30, now=1600,
                             **{option: "debian13"})[1]

    assert any(f"step {step}" in p for p in problems()), problems()
    (timings / "topology-debian13.tsv").write_text(f"topology-debian13\t{step}\t60.0\tfailed\n")
    assert any(f"step {step}" in p for p in problems()), problems()
    (timings / "topology-debian13.tsv").write_text(f"topology-debian13\t{step}\t60.0\tok\n")
    assert problems() == []


def test_a_missing_rolling_report_is_red(run):
    """The rolling deploy's checks are a report of their own, expected on the distro that runs it."""
    problems = summary.judge(run.junit, run.junit.parent / "timings", "topology", DISTROS, "debian12", 30,
                             now=1600, rolling_on="debian13")[1]
    assert any("rolling-debian13.xml is missing" in p for p in problems), problems
    _report(run.junit / "rolling-debian13.xml", {"three lab mail servers converged": "passed"})
    # The benchmarks' smoke run on the rolling deploy's servers reports too.
    problems = summary.judge(run.junit, run.junit.parent / "timings", "topology", DISTROS, "debian12", 30,
                             now=1600, rolling_on="debian13")[1]
    assert any("bench-smoke-debian13.xml is missing" in p for p in problems), problems
    _report(run.junit / "bench-smoke-debian13.xml", {"a_port25_plain: every message accepted": "passed"})
    problems = summary.judge(run.junit, run.junit.parent / "timings", "topology", DISTROS, "debian12", 30,
                             now=1600, rolling_on="debian13")[1]
    assert any("bench-smoke-converge-debian13.xml is missing" in p for p in problems), problems
    _report(run.junit / "bench-smoke-converge-debian13.xml", {"converge: the re-run changed nothing": "passed"})
    assert summary.judge(run.junit, run.junit.parent / "timings", "topology", DISTROS, "debian12", 30, now=1600,
                         rolling_on="debian13")[1] == []
