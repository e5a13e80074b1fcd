"""A pooled PostgreSQL connection is pinged before use only after a while unused
(services/runtime/pool_ping.py): one the server dropped meanwhile is replaced, and one in
steady use costs no round trip."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime import pool_ping
from services.runtime.database import create_engine
from services.runtime.transactions import Transactions

IDLE_SECS = 0.2


@pytest.fixture
async def engine(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncEngine]:
    monkeypatch.setattr(pool_ping, "IDLE_SECS", IDLE_SECS)
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)  # one connection, always the same
    yield engine
    await engine.dispose()


async def _backend(tx: Transactions) -> int:
    return int(await tx.read_alone(lambda connection: connection.scalar(text("SELECT pg_backend_pid()"))))


def _count_pings(engine: AsyncEngine) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return pings


async def test_a_connection_in_steady_use_is_not_pinged(engine: AsyncEngine) -> None:
    tx = Transactions(engine)
    pings = _count_pings(engine)
    for _ in range(3):
        await _backend(tx)
        await tx.write(lambda session: session.execute(text("SELECT 1")))
    assert pings == []


async def test_a_connection_the_server_dropped_while_it_idled_is_replaced_not_used(
        engine: AsyncEngine, postgres_url: str) -> None:
    tx = Transactions(engine)
    pings = _count_pings(engine)
    dropped = await _backend(tx)
    admin = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", dropped)
    finally:
        await admin.close()
    await asyncio.sleep(IDLE_SECS * 2)
    assert await _backend(tx) != dropped  # answered, on a new connection
    assert pings == [1]
