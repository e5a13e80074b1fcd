"""Migration matching_0003: a database whose energy market was created with base asset KWH
(earlier versions) names GRID, the Wallet's asset, in its definition and its snapshots, and
still loads; its tick and lot sizes, in which the journal is written, stay as they were."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.matching.blocks import encode_snapshot
from services.matching.domain import MatchingEngine, OrderType, Side, default_markets
from services.matching.service import SPEC
from services.matching.store import MatchingStore
from services.runtime import migrate

# GRID-USDC as earlier versions created it.
OLD_GRID = replace(next(m for m in default_markets() if m.name == "GRID-USDC"),
                   base_asset="KWH", tick_size=Decimal("0.0001"))


async def write_old_snapshot(connection: AsyncConnection) -> None:
    engine = MatchingEngine(OLD_GRID)
    engine.submit("s1", "accounts/bob", Side.SELL, OrderType.LIMIT, 10, price=1000, now=1)
    await connection.execute(text(
        "INSERT INTO matching_snapshots (market, sequence, snapshot) VALUES (:market, 1, :snapshot)"),
        {"market": OLD_GRID.name, "snapshot": encode_snapshot(engine.snapshot())})


@pytest.fixture
async def upgraded(upgraded_from: Any) -> MatchingStore:
    return await upgraded_from("matching_0002", OLD_GRID, write_old_snapshot)


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
