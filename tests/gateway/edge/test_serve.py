"""`python -m gateway.app` (what `clearmesh serve edge` runs): serves on CLEARMESH_EDGE_PORT,
exports its metrics on METRICS_PORT too, and stops on SIGTERM, draining through uvicorn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.runtime.settings import ensure_jwt_secret
from tests.testkit.net import free_port

ROOT = Path(__file__).resolve().parents[3]


def test_the_edge_process_serves_and_stops_on_sigterm(stack) -> None:
    port, metrics_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'protos' / 'gen' / 'python'}",
           "JWT_SECRET": ensure_jwt_secret(stack.settings), "CLEARMESH_EDGE_PORT": str(port),
           "METRICS_PORT": str(metrics_port),
           **{f"CLEARMESH_{name.upper()}_ADDR": f"127.0.0.1:{running.port}" for name, running in stack.services.items()}}
    edge = subprocess.Popen([sys.executable, "-m", "gateway.app"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the edge did not start"
                time.sleep(0.1)
        assert health.status_code == 200
        assert 'route="/healthz"' in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        edge.send_signal(signal.SIGTERM)
        edge.wait(15)
        # uvicorn re-raises the signal after its graceful shutdown, so the exit is by SIGTERM.
        assert edge.returncode in (0, -signal.SIGTERM)
        assert "Traceback" not in (edge.stderr.read() if edge.stderr else "")
    finally:
        if edge.poll() is None:
            edge.kill()
