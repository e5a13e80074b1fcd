"""Orders that left the book stay known, on both databases: memory holds every one the index
does not have yet, the index is written when a snapshot is taken and before the snapshot is
stored, and a writer rebuilt from the store knows the same orders as the live one did."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.matching import writer as writer_module
from services.matching.domain import (
    CancelOrder,
    MarketMode,
    OrderType,
    Side,
    SubmitOrder,
    default_markets,
)
from services.matching.service import SPEC
from services.matching.store import MatchingStore
from services.matching.writer import MarketWriter
from services.runtime import migrate
from services.runtime.database import create_engine
from services.runtime.errors import AlreadyExists

MARKET = next(m for m in default_markets() if m.mode == MarketMode.CONTINUOUS)
SNAPSHOT_EVERY = 4


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[MatchingStore]:
    await migrate.upgrade(database_url, SPEC.migrations)
    engine = create_engine(database_url)
    store = MatchingStore(engine)
    await store.add_market(MARKET, 0)
    yield store
    await store.close()
    await engine.dispose()


async def open_writer(store: MatchingStore) -> MarketWriter:
    writer = MarketWriter(store, await store.load(MARKET), lifetime_ns=None, max_book_size=None,
                          snapshot_every=SNAPSHOT_EVERY)
    writer.start()
    return writer


async def finish(writer: MarketWriter, order_ids: list[str]) -> None:
    """Each order rests and is cancelled: two journaled commands, one finished order."""
    for index, order_id in enumerate(order_ids):
        await writer.execute(SubmitOrder(order_id, "a", Side.BUY, OrderType.LIMIT, 1, index, price=100))
        await writer.execute(CancelOrder(order_id, index))


async def settle(writer: MarketWriter) -> None:
    """Wait for the indexing (and the snapshot after it) that the last batches started."""
    if writer._indexing is not None:
        await writer._indexing


async def test_orders_finished_since_the_last_snapshot_are_in_memory_not_in_the_index(store: MatchingStore) -> None:
    writer = await open_writer(store)

    await finish(writer, ["a1"])  # two commands: no snapshot yet
    await settle(writer)
    remembered = writer.order_status("a1")
    indexed = await store.last_event_of(MARKET.name, "a1")
    await writer.close()

    assert remembered is not None and remembered.state.name == "CANCELLED"
    assert indexed is None


async def test_a_snapshot_indexes_the_orders_finished_before_it(store: MatchingStore) -> None:
    writer = await open_writer(store)

    await finish(writer, ["a1", "a2"])  # four commands: a snapshot
    await settle(writer)
    indexed = [await store.last_event_of(MARKET.name, order_id) for order_id in ("a1", "a2")]
    await writer.close()

    assert [event.order_id for event in indexed if event is not None] == ["a1", "a2"]
    assert indexed == [writer.finished["a1"], writer.finished["a2"]]


async def test_the_snapshot_is_stored_after_the_index_has_its_orders(
        store: MatchingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    index_finished, save_snapshot = store.index_finished, store.save_snapshot

    async def indexing(*args: Any) -> None:
        order.append("index")
        await index_finished(*args)

    async def saving(*args: Any) -> None:
        order.append("snapshot")
        await save_snapshot(*args)

    monkeypatch.setattr(store, "index_finished", indexing)
    monkeypatch.setattr(store, "save_snapshot", saving)
    writer = await open_writer(store)
    await finish(writer, ["a1", "a2"])
    await settle(writer)
    await writer.close()

    assert order == ["index", "snapshot"]
    assert (await store.load(MARKET)).snapshot_sequence == 4


async def test_memory_forgets_indexed_orders_beyond_its_window(store: MatchingStore,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "FINISHED_REMEMBERED", 0)
    writer = await open_writer(store)

    await finish(writer, ["a1", "a2", "a3"])  # a1, a2 indexed with the snapshot; a3 after it
    await settle(writer)
    forgotten = writer.order_status("a1")
    found = await store.last_event_of(MARKET.name, "a1")
    kept = writer.order_status("a3")
    await writer.close()

    assert forgotten is None
    assert found is not None and found.order_id == "a1"
    assert kept is not None


async def finished_three_and_closed(store: MatchingStore) -> MarketWriter:
    """A writer that finished a1, a2 (indexed with the snapshot after them) and a3 (not), closed."""
    live = await open_writer(store)
    await finish(live, ["a1", "a2", "a3"])
    await settle(live)
    await live.close()
    return live


async def test_a_rebuilt_writer_remembers_the_orders_finished_after_its_snapshot(store: MatchingStore) -> None:
    live = await finished_three_and_closed(store)

    rebuilt = await open_writer(store)
    await rebuilt.close()

    assert rebuilt.order_status("a3") == live.order_status("a3")
    assert await store.last_event_of(MARKET.name, "a3") is None


async def test_a_resubmit_after_a_rebuild_answers_the_finished_order(store: MatchingStore) -> None:
    await finished_three_and_closed(store)

    rebuilt = await open_writer(store)
    again = await rebuilt.execute(SubmitOrder("a3", "a", Side.BUY, OrderType.LIMIT, 1, 10, price=100))
    journaled = rebuilt.sequence
    await rebuilt.close()

    assert again.state.name == "CANCELLED"
    assert journaled == 6  # the resubmit was answered, not journaled


async def test_a_failed_index_write_keeps_the_orders_in_memory_and_stores_no_snapshot(
        store: MatchingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "FINISHED_REMEMBERED", 0)

    async def failing(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store, "index_finished", failing)
    writer = await open_writer(store)
    await finish(writer, ["a1", "a2"])
    await settle(writer)
    remembered = [writer.order_status(order_id) for order_id in ("a1", "a2")]
    unindexed = [event.order_id for event in writer._unindexed]
    await writer.close()

    assert all(status is not None for status in remembered)
    assert unindexed == ["a1", "a2"]
    assert (await store.load(MARKET)).snapshot is None


async def test_an_indexed_order_resubmitted_answers_its_final_state(store: MatchingStore,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "FINISHED_REMEMBERED", 0)
    writer = await open_writer(store)
    await finish(writer, ["a1", "a2", "a3"])
    await settle(writer)

    again = await writer.submit(SubmitOrder("a1", "a", Side.BUY, OrderType.LIMIT, 1, 10, price=100))
    journaled = writer.sequence
    await writer.close()

    assert (again.order_id, again.state.name) == ("a1", "CANCELLED")
    assert journaled == 6


async def test_an_indexed_order_id_reused_by_another_account_is_already_exists(
        store: MatchingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "FINISHED_REMEMBERED", 0)
    writer = await open_writer(store)
    await finish(writer, ["a1", "a2", "a3"])
    await settle(writer)

    with pytest.raises(AlreadyExists) as caught:
        await writer.submit(SubmitOrder("a1", "b", Side.BUY, OrderType.LIMIT, 1, 10, price=100))
    await writer.close()

    assert (caught.value.reason, caught.value.metadata) == ("ORDER_ID_REUSED", {"order": "a1", "fields": "account"})
