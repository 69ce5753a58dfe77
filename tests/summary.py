# SPDX-License-Identifier: MIT
"""Add up the JUnit reports of one `make test` run and print one closing line.

`make test` runs pytest several times (unit tests, then testinfra once per
molecule scenario and distro); this prints the total as 'N passed, N failed'
and exits non-zero when anything failed or nothing ran.
"""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(directory: str) -> int:
    passed = failed = skipped = 0
    reports = sorted(Path(directory).glob("*.xml"))
    for report in reports:
        for suite in ET.parse(report).getroot().iter("testsuite"):
            tests = int(suite.get("tests", 0))
            bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skip = int(suite.get("skipped", 0))
            passed += tests - bad - skip
            failed += bad
            skipped += skip
        print(f"  {report.name}")
    print(f"summary: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".cache/junit"))
