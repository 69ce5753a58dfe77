# SPDX-License-Identifier: MIT
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILTER_DIR = ROOT / "filter_plugins"
# The filters import their shared helpers as the collection's module_utils
# (ansible_collections.mailfort.mail.plugins.module_utils.*), as Ansible loads them.
sys.path.insert(0, str(ROOT / "collections"))
PACKAGE = "ansible_collections.mailfort.mail.plugins"


def filter_module(name: str):
    """A filter plugin file (filter_plugins/NAME.py) imported as the collection's plugin."""
    return importlib.import_module(f"{PACKAGE}.filter.{name}")


def shared_module(name: str):
    """A module_utils file (module_utils/NAME.py) imported as the collection's."""
    return importlib.import_module(f"{PACKAGE}.module_utils.{name}")


@pytest.fixture(scope="session")
def filters():
    """All project filters by name, as Ansible sees them."""
    found = {}
    for path in sorted(FILTER_DIR.glob("*.py")):
        found.update(filter_module(path.stem).FilterModule().filters())
    return found
