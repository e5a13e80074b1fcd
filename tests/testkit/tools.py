"""The command-line tools the deploy tests run (kubectl, hadolint): installed as PyPI packages
by the dev extra, so found beside this Python first, on PATH otherwise."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


def dev_tool(name: str, package: str) -> str:
    """The tool's path; fails the test (never skips it) when the dev extra did not install it."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: `pip install -e .[dev]` installs {package}")
    return found
