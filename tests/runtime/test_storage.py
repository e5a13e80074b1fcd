"""Migrations and the request log, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, DateTime, MetaData, Table, inspect, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from clearmesh.wallet.v1 import wallet_service_pb2 as pb
from services.registry import SERVICE_NAMES, load_spec
from services.runtime import idempotency, migrate
from services.runtime.database import create_engine, stored_utc
from services.runtime.errors import AlreadyExists

NOW = datetime(2026, 11, 21, tzinfo=UTC)


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_migrations_bring_a_new_database_to_every_head(database_url: str, service: str) -> None:
    await migrate.upgrade(database_url, load_spec(service).migrations)
    assert {"alembic_version", "request_log"} <= await _tables(database_url)


async def test_migrating_twice_changes_nothing(database_url: str) -> None:
    await migrate.upgrade(database_url, None)
    before = await _tables(database_url)
    await migrate.upgrade(database_url, None)
    assert await _tables(database_url) == before


async def _sessions(url: str):
    await migrate.upgrade(url, None)
    return async_sessionmaker(create_engine(url), expire_on_commit=False)


async def test_a_retried_request_recalls_the_first_response(database_url: str) -> None:
    sessions = await _sessions(database_url)
    request = pb.DepositRequest(account="accounts/a", asset="USDC", amount="5", request_id="r1")
    async with sessions.begin() as session:
        assert await idempotency.recall(session, "Deposit", "r1", request) is None
        await idempotency.remember(session, "Deposit", "r1", request,
                                   pb.DepositResponse(balance={"asset": "USDC", "available": "5"}), NOW)
    async with sessions.begin() as session:
        remembered = await idempotency.recall(session, "Deposit", "r1", request)
    assert pb.DepositResponse.FromString(remembered or b"").balance.available == "5"


async def test_a_reused_request_id_with_another_request_is_refused(database_url: str) -> None:
    sessions = await _sessions(database_url)
    first = pb.DepositRequest(account="accounts/a", asset="USDC", amount="5", request_id="r1")
    async with sessions.begin() as session:
        await idempotency.remember(session, "Deposit", "r1", first, pb.DepositResponse(), NOW)
    changed = pb.DepositRequest(account="accounts/a", asset="USDC", amount="6", request_id="r1")
    async with sessions.begin() as session:
        with pytest.raises(AlreadyExists) as raised:
            await idempotency.recall(session, "Deposit", "r1", changed)
    assert raised.value.reason == "REQUEST_ID_REUSED"


async def test_nothing_is_remembered_when_the_transaction_fails(database_url: str) -> None:
    sessions = await _sessions(database_url)
    request = pb.DepositRequest(account="accounts/a", asset="USDC", amount="5", request_id="r2")
    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            await idempotency.remember(session, "Deposit", "r2", request, pb.DepositResponse(), NOW)
            raise RuntimeError("the write failed after the request was logged")
    async with sessions.begin() as session:
        assert await idempotency.recall(session, "Deposit", "r2", request) is None


async def test_a_stored_time_reads_back_as_the_same_instant_in_utc(database_url: str) -> None:
    moments = Table("moments", MetaData(), Column("at", DateTime(timezone=True)))
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(moments.metadata.create_all)
        await connection.execute(moments.insert().values(at=NOW))
        read = stored_utc((await connection.execute(select(moments.c.at))).scalar_one())
    await engine.dispose()
    assert (read, read.utcoffset()) == (NOW, timedelta(0))
