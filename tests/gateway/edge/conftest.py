"""A live stack for the edge tests: the five real services (the runtime's own `start`, on free
ports) and Python edges in front of them over real HTTP, all on one event loop in a
background thread so plain synchronous HTTP clients (httpx, schemathesis, a browser) can
call them. Started once per session; each edge variant is a separate uvicorn server."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    live = Stack(tmp_path_factory.mktemp("edge-stack"))
    for name in SERVICE_NAMES:  # peers first: KYC, Wallet, Matching before Order
        live.start_service(load_spec(name))
    yield live
    live.close()


@pytest.fixture(scope="session")
def edge(stack: Stack) -> str:
    """Base URL of the edge every contract case runs against."""
    return stack.start_edge()[0]


@pytest.fixture(scope="session")
def auth(stack: Stack) -> Callable[..., dict[str, str]]:
    def header(account: str = "alice", roles: tuple[str, ...] = ("trader",)) -> dict[str, str]:
        return {"authorization": f"Bearer {stack.token(account, roles)}"}

    return header
