"""On PostgreSQL every service keeps its tables in its own schema, so the five can share one
database (DATABASE_URL) or each have their own (<SERVICE>_DATABASE_URL): both migrate and serve."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import text

from services.registry import SERVICE_NAMES, load_spec
from services.runtime import loop, migrate
from services.runtime.database import (
    create_engine,
    create_scratch_database,
    drop_scratch_database,
)
from services.runtime.settings import Settings


async def _migrate_all(settings: Settings) -> None:
    for name in SERVICE_NAMES:
        await migrate.upgrade(settings.database_url_for(name), load_spec(name).migrations)


async def _serving(serve: Any, settings: Settings, name: str) -> health_pb2.HealthCheckResponse.ServingStatus.ValueType:
    async with (serve(load_spec(name), settings) as running,
                grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel):
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        return answer.status


async def _schemas_with_a_version(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'alembic_version'"))
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


@pytest.fixture
def per_service_urls(postgres_url: str) -> Iterator[dict[str, str]]:
    """A database per service, created and dropped through the test's own scratch database."""
    admin = postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    urls = {name: loop.run(create_scratch_database(admin, f"clearmesh_{name}")) for name in SERVICE_NAMES}
    yield urls
    for url in urls.values():
        loop.run(drop_scratch_database(admin, url))


async def test_five_services_migrate_into_one_shared_database(settings: Settings, postgres_url: str) -> None:
    shared = settings.model_copy(update={"database_url": postgres_url})
    await _migrate_all(shared)
    assert await _schemas_with_a_version(postgres_url) == set(SERVICE_NAMES)


async def test_migrating_a_shared_database_twice_changes_nothing(settings: Settings, postgres_url: str) -> None:
    shared = settings.model_copy(update={"database_url": postgres_url})
    await _migrate_all(shared)
    await _migrate_all(shared)
    assert await _schemas_with_a_version(postgres_url) == set(SERVICE_NAMES)


@pytest.mark.parametrize("name", SERVICE_NAMES)
async def test_each_service_serves_from_the_shared_database(serve: Any, settings: Settings, postgres_url: str,
                                                             name: str) -> None:
    shared = settings.model_copy(update={"database_url": postgres_url, "migrate_on_start": False})
    await _migrate_all(shared)
    assert await _serving(serve, shared, name) == health_pb2.HealthCheckResponse.SERVING


async def test_five_services_migrate_and_serve_from_their_own_databases(
        serve: Any, settings: Settings, per_service_urls: dict[str, str]) -> None:
    own = settings.model_copy(update={"migrate_on_start": False, **{
        f"{name}_database_url": url for name, url in per_service_urls.items()}})
    await _migrate_all(own)
    for name, url in per_service_urls.items():
        assert await _schemas_with_a_version(url) == {name}
        assert await _serving(serve, own, name) == health_pb2.HealthCheckResponse.SERVING
