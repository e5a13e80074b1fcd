"""`clearmesh up` as a user runs it: every service SERVING, reflection on each, a clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.registry import SERVICE_NAMES, load_spec
from services.runtime.settings import DEFAULT_PORTS

READY_WITHIN_SECS = 30


def _start(data_dir: Path) -> tuple[subprocess.Popen[str], dict[str, int]]:
    env = {**os.environ, "CLEARMESH_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("JWT_SECRET", None)
    up = subprocess.Popen([sys.executable, "-m", "services.cli", "up"], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pids: dict[str, int] = {}
    deadline = time.monotonic() + READY_WITHIN_SECS
    assert up.stdout is not None
    for line in up.stdout:
        if match := re.match(r"^(\w+)\s+\S+\s+pid (\d+)", line):
            pids[match.group(1)] = int(match.group(2))
        if "clearmesh is up" in line or time.monotonic() > deadline:
            break
    return up, pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_up_serves_every_service_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    started = time.monotonic()
    up, pids = _start(tmp_path)
    assert up.stderr is not None
    try:
        assert set(pids) == {*SERVICE_NAMES, "edge"}, up.stderr.read() if up.poll() is not None else pids
        assert time.monotonic() - started < READY_WITHIN_SECS
        for name in SERVICE_NAMES:
            with grpc.insecure_channel(f"127.0.0.1:{DEFAULT_PORTS[name]}") as channel:
                health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
                replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
                listed = {s.name for r in replies for s in r.list_services_response.service}
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            assert load_spec(name).descriptor.full_name in listed
        with urllib.request.urlopen("http://127.0.0.1:9091/metrics", timeout=5) as reply:
            assert b"grpc_server_handled_total" in reply.read()  # order's metrics port
        with urllib.request.urlopen("http://127.0.0.1:8080/healthz", timeout=5) as reply:
            assert reply.status == 200
        token = subprocess.run([sys.executable, "-m", "services.cli", "token", "--account", "alice"],
                               env={**os.environ, "CLEARMESH_DATA_DIR": str(tmp_path)},
                               capture_output=True, text=True, check=True).stdout.strip()
        request = urllib.request.Request("http://127.0.0.1:8080/v1/accounts/alice/balances",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert reply.status == 200 and b"balances" in reply.read()
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(timeout=30)
    assert code == 0
    assert [name for name, pid in pids.items() if _alive(pid)] == []
    assert up.stdout is not None
    assert up.stdout.read().splitlines()[-1] == (
        "clearmesh up stopped: SIGTERM drained 6 processes (order, matching, wallet, kyc, settlement, edge).")


def test_up_says_ctrl_c_stopped_it(tmp_path: Path) -> None:
    up, pids = _start(tmp_path)
    try:
        assert set(pids) == {*SERVICE_NAMES, "edge"}
    finally:
        up.send_signal(signal.SIGINT)  # what the terminal sends `up` on Ctrl-C
        code = up.wait(timeout=30)
    assert code == 0
    assert up.stdout is not None
    assert up.stdout.read().splitlines()[-1] == (
        "clearmesh up stopped: Ctrl-C (SIGINT) drained 6 processes (order, matching, wallet, kyc, settlement, edge).")


def test_up_reports_a_child_that_dies_and_exits_non_zero(tmp_path: Path) -> None:
    up, pids = _start(tmp_path)
    try:
        assert "wallet" in pids
        os.kill(pids["wallet"], signal.SIGKILL)
        code = up.wait(timeout=30)
    finally:
        if up.poll() is None:
            up.kill()
    assert code != 0
    assert up.stderr is not None
    stderr = up.stderr.read()
    assert "wallet exited with code -9" in stderr
    assert stderr.splitlines()[-1] == ("clearmesh up stopped: wallet exited with code -9; drained the other"
                                       " 5 processes (order, matching, kyc, settlement, edge).")
    assert [name for name, pid in pids.items() if _alive(pid)] == []
