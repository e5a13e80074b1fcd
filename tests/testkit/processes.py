"""Services as real processes (`clearmesh serve <service>`), each on a free port with its own
environment, for the end-to-end tests that need what one process cannot show: separate
databases and event loops, `kill -9`, the CLI against a running service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tests.testkit.net import free_port

from services.runtime.auth import TokenIssuer

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-secret-" + "z" * 32
WAIT_SECS = 30.0
Metadata = tuple[tuple[str, str], ...]
T = TypeVar("T")


def eventually(read: Callable[[], T], done: Callable[[T], bool], what: str, wait_secs: float = WAIT_SECS) -> T:
    """`read()` once `done` holds of it, polled; an AssertionError naming `what` (and the last
    value seen) after `wait_secs`: the outcome is waited for, never timed."""
    deadline = time.monotonic() + wait_secs
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {wait_secs} s for {what}; last seen {value!r}")
        time.sleep(0.05)


class Processes:
    """Services started as processes sharing one data directory, each knowing the others' ports."""

    def __init__(self, data_dir: Path, services: Iterable[str], env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.ports = {name: free_port() for name in services}
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.issuer = TokenIssuer(SECRET, issuer="clearmesh", audience="clearmesh", ttl_seconds=3600)
        self.env = {
            **os.environ, "JWT_SECRET": SECRET, "CLEARMESH_DATA_DIR": str(data_dir),
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'protos' / 'gen' / 'python'}",
            **{f"CLEARMESH_{name.upper()}_ADDR": f"127.0.0.1:{port}" for name, port in self.ports.items()},
            **(env or {}),
        }
        self._channels: dict[str, grpc.Channel] = {}

    def start(self, name: str) -> None:
        """Start `name` and wait until its health check answers SERVING."""
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        if (stale := self._channels.pop(name, None)) is not None:
            stale.close()  # a channel to a killed process may sit in its reconnect backoff
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", name], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**self.env, "CLEARMESH_GRPC_PORT": str(self.ports[name])})
        health = health_pb2_grpc.HealthStub(self.channel(name))
        eventually(lambda: self._serving(health, name), bool, f"{name} to serve")

    def _serving(self, health: health_pb2_grpc.HealthStub, name: str) -> bool:
        if self.running[name].poll() is not None:
            log = (self.data_dir / f"{name}.log").read_text(errors="replace")
            raise AssertionError(f"{name} exited with {self.running[name].returncode}:\n{log[-3000:]}")
        try:
            answer = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return False
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

    def kill(self, name: str) -> None:
        """`kill -9`: no shutdown hook, no flush, whatever was in flight is cut."""
        process = self.running.pop(name)
        process.kill()
        process.wait(timeout=10)

    def channel(self, name: str) -> grpc.Channel:
        if name not in self._channels:
            self._channels[name] = grpc.insecure_channel(f"127.0.0.1:{self.ports[name]}")
        return self._channels[name]

    def bearer(self, account: str, *roles: str) -> Metadata:
        token = self.issuer.mint(account=account, roles=roles or ("trader",))
        return (("authorization", f"Bearer {token}"),)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`clearmesh ARGS` with the services' environment (their addresses, the JWT secret)."""
        return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120, check=False)

    def stop_all(self) -> None:
        for channel in self._channels.values():
            channel.close()
        for process in self.running.values():
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
