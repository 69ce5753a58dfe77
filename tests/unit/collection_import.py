# SPDX-License-Identifier: MIT
"""Import the filters and module_utils as Ansible does: as the collection mailfort.mail's plugins
(collections/ansible_collections/mailfort/mail/plugins/{filter,module_utils} link to
filter_plugins/ and module_utils/)."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILTER_DIR = ROOT / "filter_plugins"
PACKAGE = "ansible_collections.mailfort.mail.plugins"
if str(ROOT / "collections") not in sys.path:
    sys.path.insert(0, str(ROOT / "collections"))


def filter_module(name: str):
    """A filter plugin file (filter_plugins/NAME.py) imported as the collection's plugin."""
    return importlib.import_module(f"{PACKAGE}.filter.{name}")


def shared_module(name: str):
    """A module_utils file (module_utils/NAME.py) imported as the collection's."""
    return importlib.import_module(f"{PACKAGE}.module_utils.{name}")
