"""What the benchmarks that start services as processes share: the JWT secret they sign with,
the PYTHONPATH a child needs to import the services and their generated protos, free ports,
and stopping the children.

A bench runs as a script with the repository on sys.path (see each bench's first lines), so it
imports this as `bench.processes`.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-" + "x" * 32
PYTHONPATH = f"{ROOT}{os.pathsep}{ROOT / 'protos' / 'gen' / 'python'}"


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now: the kernel's pick, released for the child to bind. Never
    the same one twice in a process: until its child binds it, a released port may be picked again."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


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
