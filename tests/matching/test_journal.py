"""The journal reproduces the market: random commands through a writer, then a fresh writer
built from the store alone has the identical book, the stored trades are the live ones, and it
knows every order the live one knew (from memory or the finished-orders index)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from services.matching import tables
from services.matching.domain import (
    CancelOrder,
    ClearAuction,
    Expire,
    MarketMode,
    OrderType,
    Side,
    SubmitOrder,
    TimeInForce,
    default_markets,
)
from services.matching.store import MatchingStore
from services.matching.writer import MarketWriter
from services.runtime import loop
from services.runtime.database import create_engine
from tests.matching.conftest import continuous_writer
from services.runtime.errors import DomainError, Unavailable

ORDER_IDS = [f"o{index}" for index in range(12)]
LIFETIME_NS = 40  # short, so orders expire inside a run


@st.composite
def commands(draw: Any, auction: bool) -> list[Any]:
    now = 0
    made: list[Any] = []
    for _ in range(draw(st.integers(1, 40))):
        now += draw(st.integers(0, 5))
        kind = draw(st.sampled_from(["submit", "submit", "submit", "cancel", "expire", "clear"]))
        if kind == "submit":
            market_order = not auction and draw(st.booleans()) and draw(st.booleans())
            made.append(SubmitOrder(
                draw(st.sampled_from(ORDER_IDS)), draw(st.sampled_from(["a", "b", "c"])),
                draw(st.sampled_from([Side.BUY, Side.SELL])),
                OrderType.MARKET if market_order else OrderType.LIMIT, draw(st.integers(1, 20)), now,
                price=None if market_order else draw(st.integers(95, 105)),
                time_in_force=TimeInForce.IOC if market_order else draw(st.sampled_from(
                    [TimeInForce.GTC] if auction else [TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]))))
        elif kind == "cancel":
            made.append(CancelOrder(draw(st.sampled_from(ORDER_IDS)), now))
        elif kind == "expire":
            made.append(Expire(now))
        elif auction:
            made.append(ClearAuction(now))
    return made


async def replay_matches_live(mode: MarketMode, script: list[Any], snapshot_every: int, directory: Path) -> None:
    market = next(m for m in default_markets() if m.mode == mode)
    engine = create_engine(f"sqlite+aiosqlite:///{directory / 'journal.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(tables.metadata.create_all)
    store = MatchingStore(engine)
    await store.add_market(market, 0)
    live = MarketWriter(store, await store.load(market), lifetime_ns=LIFETIME_NS, max_book_size=8,
                        snapshot_every=snapshot_every)
    live.start()
    produced = []
    for command in script:
        try:
            outcome = await live.execute(command)
        except DomainError:
            continue
        if isinstance(command, SubmitOrder):
            produced += outcome.trades
        elif isinstance(command, ClearAuction):
            produced += outcome[1]
    await live.close()

    rebuilt = MarketWriter(store, await store.load(market), lifetime_ns=LIFETIME_NS, max_book_size=8,
                           snapshot_every=snapshot_every)
    stored_trades = await store.trades_after(market.name, 0, 10_000)
    known_live = {order_id: known_state(live.order_status(order_id)) for order_id in ORDER_IDS}
    known_rebuilt = {order_id: known_state(rebuilt.order_status(order_id)
                                           or await store.last_event_of(market.name, order_id))
                     for order_id in ORDER_IDS}
    await store.close()
    await engine.dispose()
    assert rebuilt.engine.snapshot() == live.engine.snapshot()
    assert rebuilt.sequence == live.sequence
    assert stored_trades == produced
    assert known_rebuilt == known_live  # from memory or the finished-orders index


def known_state(status: Any) -> tuple[Any, int] | None:
    """What a resubmit would be answered: the order's state and filled quantity, if it is known."""
    return None if status is None else (status.state, status.filled)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), auction=st.booleans(), snapshot_every=st.sampled_from([3, 10_000]))
def test_a_writer_rebuilt_from_the_journal_equals_the_live_one(data: Any, auction: bool, snapshot_every: int) -> None:
    script = data.draw(commands(auction))
    mode = MarketMode.PERIODIC_AUCTION if auction else MarketMode.CONTINUOUS
    with tempfile.TemporaryDirectory() as directory:
        loop.run(replay_matches_live(mode, script, snapshot_every, Path(directory)))


class FailingWrites(MatchingStore):
    """A store whose next journal write fails (a lost database connection, a full disk), and,
    if asked, the next read of the journal after it too."""

    fail_next = False
    fail_read = False

    async def append(self, batch: Any) -> None:
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        await super().append(batch)

    async def load(self, market: Any) -> Any:
        if self.fail_read:
            self.fail_read = False
            raise OSError("connection lost")
        return await super().load(market)


@pytest.fixture
async def failing(tmp_path: Path) -> AsyncIterator[tuple[FailingWrites, MarketWriter]]:
    """A writer of the continuous market on a FailingWrites store (nothing fails until told)."""
    async with continuous_writer(FailingWrites, tmp_path) as running:
        yield running


async def test_a_failed_journal_write_answers_unavailable_and_forgets_the_command(
        failing: tuple[FailingWrites, MarketWriter]) -> None:
    store, writer = failing
    await writer.execute(SubmitOrder("kept", "a", Side.BUY, OrderType.LIMIT, 1, 1, price=100))
    store.fail_next = True

    with pytest.raises(Unavailable):
        await writer.execute(SubmitOrder("lost", "a", Side.BUY, OrderType.LIMIT, 1, 2, price=101))

    assert [level.price for level in writer.engine.book().bids] == [100]
    assert writer.sequence == 1


async def test_a_writer_whose_rebuild_cannot_read_the_journal_at_first_retries_and_goes_on(
        failing: tuple[FailingWrites, MarketWriter]) -> None:
    store, writer = failing
    store.fail_next = store.fail_read = True

    with pytest.raises(Unavailable):
        await writer.execute(SubmitOrder("lost", "a", Side.BUY, OrderType.LIMIT, 1, 1, price=101))
    # Bounded so that a writer that died (as it did) fails the test instead of hanging it.
    kept = await asyncio.wait_for(writer.execute(SubmitOrder("kept", "a", Side.BUY, OrderType.LIMIT, 1, 2, price=100)),
                                  30)

    assert kept.state.name == "OPEN"
    assert [level.price for level in writer.engine.book().bids] == [100]
    assert await store.journal_length(writer.name) == 1
