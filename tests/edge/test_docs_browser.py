"""/docs renders in a real (headless) Chromium from packaged assets and lists every operation.

Needs Debian's chromium (`apt-get install -y chromium`); skipped with that reason when absent.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install -y chromium)")
def test_the_docs_page_renders_every_operation_in_a_browser(edge: str) -> None:
    dom = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-dev-shm-usage", "--virtual-time-budget=15000", "--dump-dom", f"{edge}/docs"],
        capture_output=True, text=True, timeout=120, check=True).stdout
    document = httpx.get(f"{edge}/openapi.json").json()
    expected = {op["operationId"] for path in document["paths"].values() for op in path.values()
                if isinstance(op, dict) and "operationId" in op}
    rendered = set(re.findall(r'id="operations-[^"]*?-([A-Za-z]+_[A-Za-z0-9_]+)"', dom))
    assert 'class="title">clearmesh' in dom
    assert rendered == expected
