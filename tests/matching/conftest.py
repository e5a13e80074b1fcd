"""Fixtures of the Matching service tests: the real service over a real socket, on SQLite and
PostgreSQL, with callers of each kind (the Order service, a trader, an operator)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import orjson
import pytest
from google.rpc import error_details_pb2
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from clearmesh.matching.v1 import matching_service_pb2 as pb, matching_service_pb2_grpc as pb_grpc
from services.matching import tables
from services.matching.domain import Market, MarketMode, default_markets
from services.matching.service import SPEC
from services.matching.store import MatchingStore
from services.matching.writer import MarketWriter
from services.runtime import migrate
from services.runtime.database import create_engine
from services.runtime.server import RunningService
from services.runtime.settings import Settings
from tests.testkit.rpc import error_info, field_violations, reason as error_reason

Metadata = tuple[tuple[str, str], ...]
# Rows a migration test writes as an earlier version of the store did, on one connection.
OldRows = Callable[[AsyncConnection], Awaitable[None]]


@dataclass
class Matching:
    running: RunningService
    stub: pb_grpc.MatchingServiceStub
    order_service: Metadata
    trader: Metadata
    operator: Metadata

    @staticmethod
    def violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
        return {violation.field: violation.description for violation in field_violations(error)}

    @staticmethod
    def reason(error: grpc.aio.AioRpcError) -> str:
        return error_reason(error)

    @staticmethod
    def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
        return error_info(error)

    @property
    def store(self) -> MatchingStore:
        return MatchingStore(self.running.runtime.engine)

    async def submit(self, order: str, side: int, price: str, quantity: str, *, market: str = "BTC-USDC",
                     account: str = "accounts/alice", **fields: Any) -> pb.SubmitOrderResponse:
        """A limit order (unless `fields` say otherwise) as the Order service sends it."""
        request = pb.SubmitOrderRequest(order=order, account=account, market=f"markets/{market}",
                                        side=side,  # type: ignore[arg-type]  # a wire number; the .pyi wants the enum type
                                        type=fields.pop("type", 1), price=price, quantity=quantity, **fields)
        return await self.stub.SubmitOrder(request, metadata=self.order_service)

    async def book(self, market: str = "BTC-USDC", depth: int = 0) -> Any:
        return await self.stub.GetOrderBook(pb.GetOrderBookRequest(market=f"markets/{market}", depth=depth),
                                            metadata=self.trader)


@pytest.fixture
def matching_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url, "migrate_on_start": True})


@pytest.fixture
def open_matching(serve: Any, bearer: Callable[..., Metadata]) -> Callable[[Settings], Any]:
    """`async with open_matching(settings) as matching:` the service started on those settings."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def run(service_settings: Settings) -> AsyncIterator[Matching]:
        async with serve(SPEC, service_settings) as running:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                yield Matching(running, pb_grpc.MatchingServiceStub(channel), bearer(service="order"),
                               bearer(account="alice", roles=("trader",)),
                               bearer(account="root", roles=("operator",)))

    return run


@pytest.fixture
async def matching(open_matching: Callable[[Settings], Any], matching_settings: Settings) -> AsyncIterator[Matching]:
    async with open_matching(matching_settings) as running:
        yield running


@pytest.fixture
async def upgraded_from(database_url: str) -> AsyncIterator[Callable[[str, Market, OldRows], Awaitable[MatchingStore]]]:
    """`await upgraded_from(revision, market, write)`: the database migrated to `revision`, holding
    `market`'s definition and what `write` adds, as that version stored them, then migrated to
    the head; a store on the result (its engine disposed after the test)."""
    engines: list[AsyncEngine] = []

    async def upgrade(revision: str, market: Market, write: OldRows) -> MatchingStore:
        await migrate.upgrade(database_url, SPEC.migrations, revision)
        old = create_engine(database_url)
        async with old.begin() as connection:
            await connection.execute(text(
                "INSERT INTO matching_markets (name, definition, create_time) VALUES (:name, :definition, 0)"),
                {"name": market.name, "definition": orjson.dumps(market.to_dict()).decode()})
            await write(connection)
        await old.dispose()
        await migrate.upgrade(database_url, SPEC.migrations)
        engines.append(create_engine(database_url))
        return MatchingStore(engines[-1])

    yield upgrade
    for engine in engines:
        await engine.dispose()


S = TypeVar("S", bound=MatchingStore)


@asynccontextmanager
async def continuous_writer(store_class: type[S], directory: Path) -> AsyncIterator[tuple[S, MarketWriter]]:
    """A running writer of the continuous market on a fresh SQLite journal, through a store of
    `store_class` (a MatchingStore a test makes fail or wait on purpose)."""
    market = next(m for m in default_markets() if m.mode == MarketMode.CONTINUOUS)
    engine = create_engine(f"sqlite+aiosqlite:///{directory / 'journal.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(tables.metadata.create_all)
    store = store_class(engine)
    await store.add_market(market, 0)
    writer = MarketWriter(store, await store.load(market), lifetime_ns=None, max_book_size=None, snapshot_every=100)
    writer.start()
    try:
        yield store, writer
    finally:
        await writer.close()
        await engine.dispose()
