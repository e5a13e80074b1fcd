"""Fixtures shared by every test: settings in a temporary data directory, real PostgreSQL and
Redis (CI fails without them; elsewhere those tests skip and say why), services started over
real sockets on free ports, and tokens."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from services.runtime.auth import TokenIssuer, token_issuer
from services.runtime import loop
from services.runtime.database import create_scratch_database, drop_scratch_database
from services.runtime.server import RunningService, ServiceSpec, start
from services.runtime.settings import Settings

IN_CI = bool(os.environ.get("CI"))
POSTGRES_ADMIN_URL = os.environ.get("CLEARMESH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CLEARMESH_TEST_REDIS", "redis://127.0.0.1:6379/15")
TEST_SECRET = "test-secret-" + "x" * 32


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def _require(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI runs these tests for real and fails without it", pytrace=False)
    pytest.skip(f"{message}; these tests need it (CI fails instead of skipping)")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(CLEARMESH_DATA_DIR=tmp_path, jwt_secret=TEST_SECRET,
                    CLEARMESH_SHUTDOWN_GRACE_SECS=2)


@pytest.fixture
def issuer(settings: Settings) -> TokenIssuer:
    return token_issuer(settings)


@pytest.fixture
def bearer(issuer: TokenIssuer) -> Callable[..., tuple[tuple[str, str], ...]]:
    """Metadata with a token: bearer(account="alice", roles=["trader"]) or bearer(service="order")."""

    def make(*, account: str | None = None, roles: tuple[str, ...] = ("trader",),
             service: str | None = None) -> tuple[tuple[str, str], ...]:
        token = issuer.mint(account=account, roles=roles, service=service)
        return (("authorization", f"Bearer {token}"),)

    return make


@pytest.fixture
def serve(settings: Settings) -> Callable[..., Any]:
    """`async with serve(spec) as running:` a service on a free port, stopped afterwards."""

    @asynccontextmanager
    async def run(spec: ServiceSpec, service_settings: Settings | None = None,
                  **kwargs: Any) -> AsyncIterator[RunningService]:
        running = await start(spec, service_settings or settings, port=0, **kwargs)
        try:
            yield running
        finally:
            await running.stop(grace=0)

    return run


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    _require("PostgreSQL", "127.0.0.1", 5432)
    url = loop.run(create_scratch_database(POSTGRES_ADMIN_URL, "clearmesh_test"))
    yield url
    loop.run(drop_scratch_database(POSTGRES_ADMIN_URL, url))


@pytest.fixture
def redis_url() -> str:
    _require("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Store tests run on both databases."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """Tests run on the loop every clearmesh process runs on (services/runtime/loop.py)."""
    return {"runtime": loop.new_event_loop}
