# SPDX-License-Identifier: MIT
"""Judge one `make test` run from what it left behind, and print one closing line.

`make test` runs pytest several times (unit tests; per distro the molecule
verify step, and the mutation proofs on the first distro), each leaving a JUnit
report, and times every step (.cache/timings/*.tsv). This prints the timing
table and the total as 'summary: N passed, N failed, N skipped', and fails when:

- a test failed or errored;
- an expected report is missing, or a report ran no test at all (a renamed
  inventory group or an empty test folder must not pass as green);
- the skipped tests differ from tests/expected-skips.txt (a test that starts
  to skip, or stops, is a change someone has to look at);
- the whole run took longer than the budget.
"""
from __future__ import annotations

import argparse
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

EXPECTED_SKIPS = Path(__file__).with_name("expected-skips.txt")


def read_report(path: Path) -> list[dict]:
    """Every test case of a JUnit report: id, outcome, seconds, file."""
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        classname = case.get("classname", "")
        cases.append({
            "id": f"{classname}::{case.get('name')}",
            "outcome": kinds[0] if kinds else "passed",
            "seconds": float(case.get("time", 0) or 0),
            "file": classname.rsplit(".", 1)[-1] if "." in classname else classname,
            "message": next((child.get("message", "") for child in case if child.tag in kinds[:1]), ""),
        })
    return cases


def expected_skips(path: Path) -> dict[tuple[str, str], str]:
    """(report name, test id) -> reason, from lines 'report | test id | reason' (# comments)."""
    expected = {}
    for number, line in enumerate(path.read_text().splitlines(), 1) if path.exists() else []:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) != 3 or not all(parts):
            raise SystemExit(f"{path}:{number}: want 'report | test id | reason', got {line!r}")
        expected[(parts[0], parts[1])] = parts[2]
    return expected


def expected_reports(scenario: str, distros: list[str], mutations_on: str, rolling_on: str = "") -> list[str]:
    names = ["unit.xml"] + [f"{scenario}-{distro}.xml" for distro in distros]
    # The rolling deploy writes its checks as a report of their own (tests/rolling_deploy.py --junit).
    if rolling_on and rolling_on in distros:
        names.append(f"rolling-{rolling_on}.xml")
        # ...and then the benchmarks' smoke run on its servers (bench/run.py --smoke --lab-up --junit),
        # and that of the converge and fleet benches on new hosts from their images.
        names += [f"bench-smoke-{rolling_on}.xml", f"bench-smoke-converge-{rolling_on}.xml"]
    # The external audit tier runs in its own step on every lab (tests/lab-run.sh: audit).
    names += [f"audit-{distro}.xml" for distro in distros]
    if mutations_on and mutations_on in distros:
        names.append(f"mutations-{mutations_on}.xml")
    return names


def read_timings(directory: Path) -> list[tuple[str, str, str, str]]:
    rows = []
    for path in sorted(directory.glob("*.tsv")):
        for line in path.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 4:
                rows.append(tuple(parts))
    return rows


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def timing_table(rows, reports: dict[str, list[dict]]) -> list[str]:
    """Step times per group (all, then each lab), and each lab's verify by test file."""
    lines = ["", "timing (wall clock, m:ss; the labs and lint/unit run side by side):",
             f"  {'group':<22} {'step':<34} {'time':>7}  status"]
    for group, step, seconds, status in rows:
        shown = _minutes(float(seconds)) if seconds else "-"
        lines.append(f"  {group:<22} {step:<34} {shown:>7}  {status}")
        if step in ("verify", "mutations"):
            name = f"{group}.xml" if step == "verify" else f"mutations-{group.rsplit('-', 1)[-1]}.xml"
            by_file = defaultdict(float)
            for case in reports.get(name, []):
                by_file[case["file"]] += case["seconds"]
            for file, total in sorted(by_file.items(), key=lambda item: -item[1]):
                lines.append(f"  {'':<22}   {file:<32} {_minutes(total):>7}")
    return lines


def judge(junit: Path, timings: Path, scenario: str, distros: list[str], mutations_on: str,
          budget_minutes: float, now: float | None = None, check_new_on: str = "",
          collection_on: str = "", rolling_on: str = "") -> tuple[list[str], list[str], dict]:
    """Return (output lines, problems, counts)."""
    problems, out = [], []
    reports = {}
    for path in sorted(junit.glob("*.xml")):
        try:
            reports[path.name] = read_report(path)
        except ET.ParseError as err:
            problems.append(f"{path.name}: unreadable JUnit report ({err})")
    for name in expected_reports(scenario, distros, mutations_on, rolling_on):
        if name not in reports:
            problems.append(f"expected report {name} is missing: that step did not run its tests")
        elif not reports[name]:
            problems.append(f"{name} ran no test at all")

    counts = {"passed": 0, "failed": 0, "skipped": 0}
    skipped = {}
    for name, cases in reports.items():
        tally = defaultdict(int)
        for case in cases:
            tally[case["outcome"]] += 1
            if case["outcome"] == "skipped":
                skipped[(name, case["id"])] = case["message"]
        counts["passed"] += tally["passed"]
        counts["failed"] += tally["failure"] + tally["error"]
        counts["skipped"] += tally["skipped"]
        out.append(f"  {name:<28} {tally['passed']:>4} passed {tally['failure'] + tally['error']:>4} failed "
                   f"{tally['skipped']:>4} skipped")

    expected = expected_skips(EXPECTED_SKIPS)
    for key in sorted(set(skipped) - set(expected)):
        problems.append(f"unexpected skip in {key[0]}: {key[1]} ({skipped[key] or 'no reason given'}); "
                        f"fix it, or add it to {EXPECTED_SKIPS.name} with the reason")
    for key in sorted(set(expected) - set(skipped)):
        # Only for reports this run was meant to produce (one distro, or no mutations, is fine).
        if key[0] in reports:
            problems.append(f"expected skip did not happen in {key[0]}: {key[1]}; remove it from {EXPECTED_SKIPS.name}")

    rows = read_timings(timings)
    if check_new_on and check_new_on in distros and (f"{scenario}-{check_new_on}", "check-new") not in {
            (group, step) for group, step, _, status in rows if status == "ok"}:
        problems.append(f"check mode on the brand-new {check_new_on} hosts (step check-new) did not run to the end")
    if collection_on and collection_on in distros and (f"{scenario}-{collection_on}", "collection") not in {
            (group, step) for group, step, _, status in rows if status == "ok"}:
        problems.append(f"the collection tarball did not converge the {collection_on} lab with no change "
                        "(step collection)")
    out += timing_table(rows, reports)
    started = timings / "started"
    if started.exists():
        total = (now or time.time()) - float(started.read_text().strip())
        out.append(f"  {'total':<22} {'':<34} {_minutes(total):>7}  (budget {budget_minutes:.0f} min)")
        if total > budget_minutes * 60:
            problems.append(f"the run took {_minutes(total)}, over the {budget_minutes:.0f}-minute budget: make the "
                            "suite faster before adding to it (CI's hard limit is 90 minutes)")
    if counts["failed"]:
        problems.append(f"{counts['failed']} test(s) failed")
        # Named here, at the end of the run, where a truncated CI log still shows them.
        for name, cases in sorted(reports.items()):
            for case in cases:
                if case["outcome"] in ("failure", "error"):
                    first = (case["message"].strip().splitlines() or [""])[0][:300]
                    problems.append(f"  failed in {name}: {case['id']}: {first}")
    return out, problems, counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit", type=Path, default=Path(".cache/junit"))
    parser.add_argument("--timings", type=Path, default=Path(".cache/timings"))
    parser.add_argument("--scenario", default="topology")
    parser.add_argument("--distros", default="debian12 debian13")
    parser.add_argument("--mutations-on", default="debian12")
    parser.add_argument("--check-new-on", default="")
    parser.add_argument("--collection-on", default="")
    parser.add_argument("--rolling-on", default="")
    parser.add_argument("--budget-minutes", type=float, default=30)
    args = parser.parse_args(argv)
    out, problems, counts = judge(args.junit, args.timings, args.scenario, args.distros.split(),
                                  args.mutations_on, args.budget_minutes, check_new_on=args.check_new_on,
                                  collection_on=args.collection_on, rolling_on=args.rolling_on)
    print("\n".join(out))
    for problem in problems:
        print(f"FAIL: {problem}")
    print(f"summary: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
