# SPDX-License-Identifier: MIT
from __future__ import annotations

import sys
from pathlib import Path

import pytest

FILTER_DIR = Path(__file__).resolve().parents[2] / "filter_plugins"
sys.path.insert(0, str(FILTER_DIR))


@pytest.fixture(scope="session")
def filters():
    """All project filters by name, as Ansible sees them."""
    found = {}
    for path in sorted(FILTER_DIR.glob("*.py")):
        module = __import__(path.stem)
        found.update(module.FilterModule().filters())
    return found
