"""Fixtures shared by every test: settings in a temporary data directory, real PostgreSQL and
Redis (elsewhere those tests skip and say why; in CI every skip is a failure), services started over
real sockets on free ports, and tokens."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from services.runtime.auth import TokenIssuer, token_issuer
from services.runtime import loop
from services.runtime.database import create_scratch_database, drop_scratch_database
from services.runtime.server import RunningService, ServiceSpec, start
from services.runtime.settings import Settings
from tests.testkit.spans import InMemorySpanExporter, span_recorder

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
    if not _reachable(host, port):
        pytest.skip(f"{name} is not reachable at {host}:{port}; these tests need it")


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
    """`async with serve(spec) as running:` a service on a free port (or `port=`, to start one
    again where it was), stopped afterwards."""

    @asynccontextmanager
    async def run(spec: ServiceSpec, service_settings: Settings | None = None, *, port: int = 0,
                  **kwargs: Any) -> AsyncIterator[RunningService]:
        running = await start(spec, service_settings or settings, port=port, **kwargs)
        try:
            yield running
        finally:
            await running.stop(grace=0)

    return run


@contextmanager
def _scratch_postgres() -> Iterator[str]:
    _require("PostgreSQL", "127.0.0.1", 5432)
    url = loop.run(create_scratch_database(POSTGRES_ADMIN_URL, "clearmesh_test"))
    try:
        yield url
    finally:
        loop.run(drop_scratch_database(POSTGRES_ADMIN_URL, url))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with _scratch_postgres() as url:
        yield url


@pytest.fixture(scope="module")
def module_postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database shared by one module's tests (one costly run that
    several tests read), dropped after them."""
    with _scratch_postgres() as url:
        yield url


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (`CI` set, as .ci/run sets it) a skip is a failure: CI has PostgreSQL, Redis,
    Chromium and Envoy, so a test that would skip there has lost something it needs. The one
    place that rule lives; a test elsewhere just skips and says why."""
    outcome = yield
    _fail_a_skip_in_ci(outcome.get_result())  # type: ignore[attr-defined]


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """The same for a module that skips as a whole (`pytest.skip(..., allow_module_level=True)`)."""
    outcome = yield
    _fail_a_skip_in_ci(outcome.get_result())  # type: ignore[attr-defined]


def _fail_a_skip_in_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    if IN_CI and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {reason}"


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """Tests run on the loop every clearmesh process runs on (services/runtime/loop.py)."""
    return {"runtime": loop.new_event_loop}


@pytest.fixture
def recorded_spans(settings: Settings) -> Iterator[InMemorySpanExporter]:
    """Every span this process finishes during the test (tracing as a service configures it)."""
    exporter = span_recorder(settings)
    yield exporter
    exporter.clear()
