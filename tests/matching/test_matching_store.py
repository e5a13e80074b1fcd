"""The journal store on both databases: snapshots are pruned to the newest two, and a load
starts from the newest one and replays only what came after it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.matching import tables
from services.matching.domain import MarketMode, MatchingEngine, OrderType, Side, SubmitOrder, apply, default_markets
from services.matching.service import SPEC
from services.matching.store import Batch, MatchingStore
from services.runtime import migrate
from services.runtime.database import create_engine

MARKET = next(m for m in default_markets() if m.mode == MarketMode.CONTINUOUS)


async def test_only_the_newest_snapshots_are_kept_and_a_load_starts_from_the_last(database_url: str) -> None:
    await migrate.upgrade(database_url, SPEC.migrations)
    engine = create_engine(database_url)
    store = MatchingStore(engine)
    await store.add_market(MARKET, 0)
    book = MatchingEngine(MARKET)
    for sequence in range(1, 6):
        command = SubmitOrder(f"o{sequence}", "a", Side.BUY, OrderType.LIMIT, 1, sequence, price=100 + sequence)
        apply(book, command)
        snapshot: dict[str, Any] | None = book.snapshot() if sequence <= 4 else None
        await store.append(Batch(MARKET.name, sequence, [command], [], book.drain_events(), [], snapshot))

    loaded = await store.load(MARKET)
    async with engine.connect() as connection:
        kept = (await connection.execute(select(tables.snapshots.c.sequence)
                                         .order_by(tables.snapshots.c.sequence))).scalars().all()
    await store.close()
    await engine.dispose()

    assert kept == [3, 4]
    assert loaded.snapshot_sequence == 4 and [c.order_id for c in loaded.commands] == ["o5"]
    assert loaded.last_sequence == 5
