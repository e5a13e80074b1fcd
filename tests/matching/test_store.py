"""The journal store on both databases: snapshots are pruned to the newest two, and a load
starts from the newest one and replays only what came after it; the finished-orders index
answers for orders once they are added to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.matching import tables
from services.matching.blocks import encode_snapshot
from services.matching.domain import (
    CancelOrder, Command, MarketMode, MatchingEngine, OrderType, Side, SubmitOrder, SubmitResult, apply,
    default_markets,
)
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
        await store.append(Batch(MARKET.name, sequence, [command], [], book.drain_events(), []))
        if sequence <= 4:
            await store.save_snapshot(MARKET.name, sequence, encode_snapshot(book.snapshot()))

    loaded = await store.load(MARKET)
    async with engine.connect() as connection:
        kept = (await connection.execute(select(tables.snapshots.c.sequence)
                                         .order_by(tables.snapshots.c.sequence))).scalars().all()
    await store.close()
    await engine.dispose()

    assert kept == [3, 4]
    (replayed,) = loaded.commands
    assert loaded.snapshot_sequence == 4 and isinstance(replayed, SubmitOrder) and replayed.order_id == "o5"
    assert loaded.last_sequence == 5


async def _store_with_a_finished_order(database_url: str) -> tuple[MatchingStore, Any, Any]:
    """A migrated store whose journal holds one batch in which order "gone" was cancelled."""
    await migrate.upgrade(database_url, SPEC.migrations)
    engine = create_engine(database_url)
    store = MatchingStore(engine)
    await store.add_market(MARKET, 0)
    book = MatchingEngine(MARKET)
    commands: list[Command] = [SubmitOrder("gone", "a", Side.BUY, OrderType.LIMIT, 1, 1, price=100),
                               CancelOrder("gone", 2)]
    for command in commands:
        apply(book, command)
    events = book.drain_events()
    await store.append(Batch(MARKET.name, 1, commands, [], events, []))
    return store, engine, events[-1]


async def test_a_finished_order_is_found_once_it_is_indexed(database_url: str) -> None:
    store, engine, cancelled = await _store_with_a_finished_order(database_url)

    before = await store.last_event_of(MARKET.name, "gone")
    await store.index_finished(MARKET.name, [("gone", cancelled.sequence)])
    after = await store.last_event_of(MARKET.name, "gone")
    await store.close()
    await engine.dispose()

    assert before is None
    assert after == cancelled


async def test_indexing_an_order_again_changes_nothing(database_url: str) -> None:
    store, engine, cancelled = await _store_with_a_finished_order(database_url)

    await store.index_finished(MARKET.name, [("gone", cancelled.sequence)])
    await store.index_finished(MARKET.name, [("gone", cancelled.sequence)])
    found = await store.last_event_of(MARKET.name, "gone")
    await store.close()
    await engine.dispose()

    assert found == cancelled


async def test_an_order_never_finished_is_not_in_the_index(database_url: str) -> None:
    store, engine, cancelled = await _store_with_a_finished_order(database_url)

    await store.index_finished(MARKET.name, [("gone", cancelled.sequence)])
    found = await store.last_event_of(MARKET.name, "never-seen")
    await store.close()
    await engine.dispose()

    assert found is None


async def test_on_sqlite_the_index_lives_in_its_own_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    store, engine, cancelled = await _store_with_a_finished_order(url)

    await store.index_finished(MARKET.name, [("gone", cancelled.sequence)])
    async with engine.connect() as connection:
        in_journal_file = (await connection.execute(select(tables.finished_orders.c.order_id))).scalars().all()
    await store.close()
    await engine.dispose()

    assert (tmp_path / "store.db-index").exists()
    assert in_journal_file == []


async def test_orders_indexed_in_the_journal_file_move_to_the_index_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    store, engine, cancelled = await _store_with_a_finished_order(url)
    async with engine.begin() as connection:  # as migration 0002 and earlier versions left it
        await connection.execute(tables.finished_orders.insert().values(
            market=MARKET.name, order_id="gone", sequence=cancelled.sequence))

    found = await store.last_event_of(MARKET.name, "gone")
    async with engine.connect() as connection:
        left_behind = (await connection.execute(select(tables.finished_orders.c.order_id))).scalars().all()
    await store.close()
    await engine.dispose()

    assert found == cancelled
    assert left_behind == []


def _crossing_batch() -> tuple[Batch, list[Any]]:
    """A batch of a resting buy and a sell that fills it: commands, a trade and events."""
    book = MatchingEngine(MARKET)
    commands: list[Command] = [SubmitOrder("maker", "a", Side.BUY, OrderType.LIMIT, 1, 1, price=100),
                               SubmitOrder("taker", "b", Side.SELL, OrderType.LIMIT, 1, 2, price=100)]
    trades: list[Any] = []
    for command in commands:
        outcome = apply(book, command)
        assert isinstance(outcome, SubmitResult)
        trades += outcome.trades
    return Batch(MARKET.name, 1, commands, trades, book.drain_events(), []), trades


@asynccontextmanager
async def _market_store(url: str, **engine_options: Any) -> AsyncIterator[tuple[AsyncEngine, MatchingStore]]:
    """A migrated database with MARKET added, its engine and store closed afterwards."""
    await migrate.upgrade(url, SPEC.migrations)
    engine = create_engine(url, **engine_options)
    store = MatchingStore(engine)
    try:
        await store.add_market(MARKET, 0)
        yield engine, store
    finally:
        await store.close()
        await engine.dispose()


async def test_a_batchs_commands_trades_and_events_are_all_journaled(database_url: str) -> None:
    batch, trades = _crossing_batch()
    async with _market_store(database_url) as (_, store):
        await store.append(batch)

        loaded = await store.load(MARKET)
        assert loaded.commands == batch.commands
        assert await store.trades_after(MARKET.name, 0, 100) == trades
        assert await store.events_after(MARKET.name, 0, 100) == batch.events


async def test_on_postgresql_a_batch_is_journaled_in_one_statement(
        postgres_url: str, recorded_spans: InMemorySpanExporter) -> None:
    # One round trip: no BEGIN, no statement per block, no COMMIT. Counted by their spans: with
    # no minimum duration every statement gets one, whichever way it is run.
    batch, _ = _crossing_batch()
    async with _market_store(postgres_url, sql_span_min_ms=0) as (_, store):
        recorded_spans.clear()
        with trace.get_tracer("test").start_as_current_span("caller"):
            await store.append(batch)

    statements = [span.name for span in recorded_spans.get_finished_spans() if span.name != "caller"]
    assert len(statements) == 1, statements


async def test_on_postgresql_the_journal_and_the_finished_orders_look_up_run_beneath_sqlalchemy(
        postgres_url: str) -> None:
    # On the driver (asyncpg): SQLAlchemy's execution and a pool checkout per statement cost
    # Matching as much CPU as the statements (bench/order.py).
    batch, _ = _crossing_batch()
    statements: list[str] = []
    async with _market_store(postgres_url) as (engine, store):
        await store.index_finished(MARKET.name, [("o1", 3)])
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        await store.append(batch)
        found = await store.finished_index.sequences_of(MARKET.name, ["o1", "o2"])

    assert found == {"o1": 3}
    assert statements == []


async def test_on_postgresql_a_batch_whose_last_block_fails_journals_none_of_it(postgres_url: str) -> None:
    batch, _ = _crossing_batch()
    last = batch.events[-1].sequence
    async with _market_store(postgres_url) as (engine, store):
        async with engine.begin() as connection:  # the events block's key taken
            await connection.execute(tables.event_blocks.insert().values(
                market=MARKET.name, last_sequence=last, first_sequence=last, events="[]"))

        with pytest.raises(IntegrityError):
            await store.append(batch)

        assert await store.journal_length(MARKET.name) == 0
        assert await store.trades_after(MARKET.name, 0, 100) == []
