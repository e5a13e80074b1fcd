"""The suite's own rule (tests/conftest.py): a test that skips for want of something it needs
(PostgreSQL, Redis, Chromium, Envoy) is a failure under CI, and only a skip elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NEEDS_SOMETHING = '''
import pytest

def test_needs_a_server():
    pytest.skip("the server is not reachable")
'''


def _run(tmp_path: Path, *, ci: bool) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_needs.py"
    test.write_text(NEEDS_SOMETHING)
    env = {key: value for key, value in os.environ.items() if key != "CI"} | ({"CI": "true"} if ci else {})
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "protos" / "gen" / "python")])
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-p", "no:cloudcoil",
         "--rootdir", str(tmp_path), "-c", os.devnull, "-rA", str(test)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_skip_fails_the_run_under_ci(tmp_path: Path) -> None:
    run = _run(tmp_path, ci=True)

    assert run.returncode == 1, run.stdout + run.stderr
    assert "skipped in CI, where every test must run" in run.stdout and "the server is not reachable" in run.stdout


def test_a_skip_is_only_a_skip_outside_ci(tmp_path: Path) -> None:
    run = _run(tmp_path, ci=False)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout
