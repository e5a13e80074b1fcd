"""Migration matching_0003: a database whose energy market was created with base asset KWH
(earlier versions) names GRID, the Wallet's asset, in its definition and its snapshots, and
still loads; its tick and lot sizes, in which the journal is written, stay as they were."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from services.matching.blocks import encode_snapshot
from services.matching.domain import MatchingEngine, OrderType, Side, default_markets
from services.matching.service import SPEC
from services.matching.store import MatchingStore
from services.runtime import migrate
from services.runtime.database import create_engine

# GRID-USDC as earlier versions created it.
OLD_GRID = replace(next(m for m in default_markets() if m.name == "GRID-USDC"),
                   base_asset="KWH", tick_size=Decimal("0.0001"))


async def write_old_market(url: str) -> None:
    engine = MatchingEngine(OLD_GRID)
    engine.submit("s1", "accounts/bob", Side.SELL, OrderType.LIMIT, 10, price=1000, now=1)
    database = create_engine(url)
    async with database.begin() as connection:
        await connection.execute(text(
            "INSERT INTO matching_markets (name, definition, create_time) VALUES (:name, :definition, 0)"),
            {"name": OLD_GRID.name, "definition": orjson.dumps(OLD_GRID.to_dict()).decode()})
        await connection.execute(text(
            "INSERT INTO matching_snapshots (market, sequence, snapshot) VALUES (:market, 1, :snapshot)"),
            {"market": OLD_GRID.name, "snapshot": encode_snapshot(engine.snapshot())})
    await database.dispose()


@pytest.fixture
async def upgraded(database_url: str) -> Any:
    await migrate.upgrade(database_url, SPEC.migrations, "matching_0002")
    await write_old_market(database_url)
    await migrate.upgrade(database_url, SPEC.migrations)
    engine = create_engine(database_url)
    yield MatchingStore(engine)
    await engine.dispose()


async def test_a_stored_kwh_market_names_grid_after_the_upgrade(upgraded: MatchingStore) -> None:
    [market] = await upgraded.market_definitions()

    assert (market.base_asset, market.quote_asset, market.tick_size) == ("GRID", "USDC", Decimal("0.0001"))


async def test_its_snapshot_names_grid_and_restores_the_same_book(upgraded: MatchingStore) -> None:
    [market] = await upgraded.market_definitions()
    stored = await upgraded.load(market)
    restored = MatchingEngine.restore(stored.snapshot or {})

    assert restored.market == market
    assert [(level.price, level.quantity) for level in restored.book().asks] == [(1000, 10)]


async def test_downgrading_names_kwh_again(upgraded: MatchingStore, database_url: str) -> None:
    await migrate.downgrade(database_url, SPEC.migrations, "matching_0002")

    [market] = await upgraded.market_definitions()
    stored = await upgraded.load(market)

    assert market.base_asset == "KWH"
    assert (stored.snapshot or {})["market"]["base_asset"] == "KWH"
