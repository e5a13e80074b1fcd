"""A live platform in one process: the five real services (the runtime's own `start`, on free
ports) and Python edges in front of them over real HTTP, all on one event loop in a
background thread so plain synchronous clients (httpx, grpc, schemathesis, a browser) can call
them. The edge tests and the hostile-input tests each start one per session."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from gateway.app import create_app, server_config
from gateway.edge.asgi import EdgeApp
from services.registry import SERVICE_NAMES, load_spec
from services.runtime.auth import token_issuer
from services.runtime.server import RunningService, ServiceSpec, start
from services.runtime.settings import Settings

SECRET = "edge-test-secret-" + "y" * 32
T = TypeVar("T")


class Stack:
    """Services and edges living on a private event loop."""

    def __init__(self, data_dir: Path) -> None:
        self.settings = Settings(CLEARMESH_DATA_DIR=data_dir, jwt_secret=SECRET,
                                 CLEARMESH_SHUTDOWN_GRACE_SECS=0, rate_limit_per_minute=1_000_000,
                                 rate_limit_burst=1_000_000, cors_allowed_origins="https://app.example")
        self.issuer = token_issuer(self.settings)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="edge-stack", daemon=True)
        self._thread.start()
        self.services: dict[str, RunningService] = {}
        self._servers: list[uvicorn.Server] = []

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def start_service(self, spec: ServiceSpec) -> RunningService:
        # Pointed at the services already running, so a service's calls to its peers reach them.
        running = self.run(start(spec, self.upstream_settings(), port=0))
        self.services[spec.name] = running
        return running

    def upstream_settings(self, **overrides: Any) -> Settings:
        """Settings of an edge pointing at this stack's services."""
        addresses = {f"{name}_addr": f"127.0.0.1:{running.port}" for name, running in self.services.items()}
        return self.settings.model_copy(update={**addresses, **overrides})

    def start_edge(self, settings: Settings | None = None) -> tuple[str, EdgeApp]:
        """A running edge; returns its base URL and the app."""
        app = create_app(settings or self.upstream_settings())
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        server = uvicorn.Server(server_config(app, self.settings, port=port))
        server.config.timeout_graceful_shutdown = 1

        async def launch() -> None:
            self.loop.create_task(server.serve(sockets=[listener]))
            while not server.started:
                await asyncio.sleep(0.01)

        self.run(launch())
        self._servers.append(server)
        return f"http://127.0.0.1:{port}", app

    def token(self, account: str = "alice", roles: tuple[str, ...] = ("trader",)) -> str:
        return self.issuer.mint(account=account, roles=roles)

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.should_exit = True
            await asyncio.sleep(0.2)
            for running in self.services.values():
                await running.stop(grace=0)

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def start_stack(data_dir: Path) -> Stack:
    """Every service started, peers first (KYC, Wallet, Matching before Order and Settlement)."""
    live = Stack(data_dir)
    for name in SERVICE_NAMES:
        live.start_service(load_spec(name))
    return live


def session_stack(name: str) -> tuple[Any, Any]:
    """The `stack` and `edge` fixtures of one directory's tests: a live stack a session (its data
    in a temporary directory named `name`) and an edge in front of it. A conftest binds both,
    `stack, edge = session_stack("edge-stack")`; each binding directory gets a stack of its own."""

    @pytest.fixture(scope="session", name="stack")
    def stack_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
        live = start_stack(tmp_path_factory.mktemp(name))
        yield live
        live.close()

    @pytest.fixture(scope="session", name="edge")
    def edge_fixture(stack: Stack) -> str:
        """Base URL of the edge the tests call."""
        return stack.start_edge()[0]

    return stack_fixture, edge_fixture
