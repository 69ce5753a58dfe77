# SPDX-License-Identifier: MIT
from __future__ import annotations

import pytest
from collection_import import FILTER_DIR, filter_module


@pytest.fixture(scope="session")
def filters():
    """All project filters by name, as Ansible sees them."""
    found = {}
    for path in sorted(FILTER_DIR.glob("*.py")):
        found.update(filter_module(path.stem).FilterModule().filters())
    return found
