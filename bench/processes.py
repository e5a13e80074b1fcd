"""What the benchmarks that start services as processes share: the JWT secret they sign with,
the PYTHONPATH a child needs to import the services and their generated protos, free ports,
and stopping the children.

A bench runs as a script with the repository on sys.path (see each bench's first lines), so it
imports this as `bench.processes`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from tests.testkit.net import free_port as free_port  # one picker of ports for tests and benches: never the same twice

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-" + "x" * 32
PYTHONPATH = f"{ROOT}{os.pathsep}{ROOT / 'protos' / 'gen' / 'python'}"


def stop_all(processes: Iterable[subprocess.Popen[bytes]], wait_secs: float = 30) -> None:
    """SIGTERM to every child at once (they shut down side by side), then each waited for;
    one still running after `wait_secs` is killed."""
    children = list(processes)
    for process in children:
        process.terminate()
    for process in children:
        try:
            process.wait(timeout=wait_secs)
        except subprocess.TimeoutExpired:
            process.kill()
