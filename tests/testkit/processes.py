"""Services as real processes (`clearmesh serve <service>`, the REST edge as `edge`), each on a
free port with its own environment, for the end-to-end tests that need what one process cannot
show: separate databases and event loops, `kill -9`, the CLI against a running service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from functools import partial
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


def run_cli(args: Iterable[str], env: Mapping[str, str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """`clearmesh ARGS` run to its end in a child process, its output captured.

    Started with subprocess, which spawns with vfork() (or posix_spawn), never fork(): a test
    process whose gRPC runs threads (a server, a channel) must not fork, since gRPC's fork
    handlers restart those threads in the child, and there, between fork and exec, they crash
    it now and then (SIGSEGV, or `Check failed` in ev_epoll1_linux.cc) before the CLI's first
    line runs. An async test calls this through asyncio.to_thread, never
    asyncio.create_subprocess_exec: on uvloop (tests/conftest.py) that is libuv's uv_spawn,
    a plain fork() whatever close_fds says."""
    return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=dict(env),
                          capture_output=True, text=True, timeout=timeout, check=False)


class Processes:
    """Services started as processes sharing one data directory, each knowing the others' ports.

    A name is a service, or a service's instance `service-N` (a Matching shard), whose port
    the others learn from the environment the test gives (CLEARMESH_MATCHING_SHARDS)."""

    def __init__(self, data_dir: Path, services: Iterable[str], env: dict[str, str] | None = None, *,
                 metrics: bool = False) -> None:
        self.data_dir = data_dir
        self.ports = {name: free_port() for name in services}
        # With `metrics`, each process started serves /metrics (METRICS_PORT) on a port of its own.
        self._metrics = metrics
        self.metrics_ports: dict[str, int] = {}
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.issuer = TokenIssuer(SECRET, issuer="clearmesh", audience="clearmesh", ttl_seconds=3600)
        self.env = {
            **os.environ, "JWT_SECRET": SECRET, "CLEARMESH_DATA_DIR": str(data_dir),
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'protos' / 'gen' / 'python'}",
            **{f"CLEARMESH_{name.upper()}_ADDR": f"127.0.0.1:{port}" for name, port in self.ports.items()
               if name != "edge" and "-" not in name},
            **({"CLEARMESH_EDGE_PORT": str(self.ports["edge"])} if "edge" in self.ports else {}),
            **(env or {}),
        }
        self._channels: dict[str, grpc.Channel] = {}
        # What one process adds to the shared environment (a Matching shard's number), kept for
        # its restarts.
        self.own_env: dict[str, dict[str, str]] = {}

    def start(self, name: str, env: dict[str, str] | None = None) -> None:
        """Start `name` (`service`, `service-N`, or `edge`; with `env` added) and wait until its
        health check answers SERVING (the edge: until its /healthz answers 200, which it does
        once every service it reaches is SERVING)."""
        if env is not None:
            self.own_env[name] = env
        self.start_all((name,))

    def start_all(self, names: Iterable[str]) -> None:
        """Start these processes at once (their imports overlap), then wait for each to serve:
        as long as one start may take for each (on PostgreSQL their migrations queue)."""
        names = list(names)
        for name in names:
            self._launch(name)
        for name in names:
            self._wait_serving(name, WAIT_SECS * len(names))

    def start_edge(self) -> str:
        """Start the REST edge in front of the services (on a port of its own if it was not
        named at the start); its base URL once it serves."""
        if "edge" not in self.ports:
            self.ports["edge"] = free_port()
            self.env["CLEARMESH_EDGE_PORT"] = str(self.ports["edge"])
        self.start("edge")
        return self.edge_url

    @property
    def edge_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['edge']}"

    def _wait_serving(self, name: str, wait_secs: float) -> None:
        if name == "edge":
            eventually(self._edge_healthy, bool, "the edge to serve", wait_secs)
            return
        health = health_pb2_grpc.HealthStub(self.channel(name))
        eventually(partial(self._serving, health, name), bool, f"{name} to serve", wait_secs)

    def _launch(self, name: str) -> None:
        env = {**self.own_env.get(name, {}),
               **({} if name == "edge" else {"CLEARMESH_GRPC_PORT": str(self.ports[name])})}
        if (stale := self._channels.pop(name, None)) is not None:
            stale.close()  # a channel to a killed process may sit in its reconnect backoff
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        if self._metrics:
            self.metrics_ports[name] = free_port()
            env = {**env, "METRICS_PORT": str(self.metrics_ports[name])}
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", name.split("-")[0]], cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT, env={**self.env, **env})

    def _edge_healthy(self) -> bool:
        self._check_alive("edge")
        try:
            with urllib.request.urlopen(f"{self.edge_url}/healthz", timeout=1) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def scrape(self, name: str) -> str:
        """The text `name` serves on its metrics port (started with `metrics`)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_ports[name]}/metrics", timeout=5) as reply:
            return str(reply.read().decode())

    def log_tail(self, name: str, chars: int = 3000) -> str:
        """The end of what `name` wrote (stdout and stderr), for a failing test's message."""
        return (self.data_dir / f"{name}.log").read_text(errors="replace")[-chars:]

    def _check_alive(self, name: str) -> None:
        if self.running[name].poll() is not None:
            raise AssertionError(f"{name} exited with {self.running[name].returncode}:\n{self.log_tail(name)}")

    def _serving(self, health: health_pb2_grpc.HealthStub, name: str) -> bool:
        self._check_alive(name)
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
            # Reconnect soon after a refused connection: a process that is starting (or was
            # restarted) listens within a second, and gRPC's default backoff grows to minutes.
            self._channels[name] = grpc.insecure_channel(f"127.0.0.1:{self.ports[name]}", options=[
                ("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 1000)])
        return self._channels[name]

    def bearer(self, account: str, *roles: str) -> Metadata:
        token = self.issuer.mint(account=account, roles=roles or ("trader",))
        return (("authorization", f"Bearer {token}"),)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`clearmesh ARGS` with the services' environment (their addresses, the JWT secret)."""
        return run_cli(args, self.env)

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
