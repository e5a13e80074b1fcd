"""What the writer answers from memory is journaled first: a state read while a batch is still
being written (CancelOrder of an order that left the book, a resubmission answered behind a
backlog) is given only once that batch commits, and UNAVAILABLE if its write fails — never a
state, or a sequence, that the journal and so a restarted Matching would not show."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.matching import writer as writer_module
from services.matching.domain import OrderState, OrderType, Side, SubmitOrder
from services.matching.store import MatchingStore
from services.matching.writer import MarketWriter
from tests.matching.conftest import continuous_writer
from services.runtime.errors import Unavailable


class GatedWrites(MatchingStore):
    """A store whose journal writes can be held at the gate; the held one, or the one after
    it, can be made to fail."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = asyncio.Event()  # a write is held at the gate
        self.fail_held = self.fail_next = False

    async def append(self, batch: Any) -> None:
        if not self.gate.is_set():
            self.waiting.set()
            await self.gate.wait()
            if self.fail_held:
                raise OSError("disk full")
        elif self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        await super().append(batch)


@pytest.fixture
async def gated(tmp_path: Path) -> AsyncIterator[tuple[GatedWrites, MarketWriter]]:
    async with continuous_writer(GatedWrites, tmp_path) as running:
        yield running


def sell(order_id: str, now: int) -> SubmitOrder:
    return SubmitOrder(order_id, "seller", Side.SELL, OrderType.LIMIT, 1, now, price=100)


def buy(order_id: str, now: int) -> SubmitOrder:
    return SubmitOrder(order_id, "buyer", Side.BUY, OrderType.LIMIT, 1, now, price=100)


async def test_the_state_of_an_order_filled_by_a_batch_still_being_written_waits_for_that_write(
        gated: tuple[GatedWrites, MarketWriter]) -> None:
    store, writer = gated
    await writer.execute(sell("s", 1))
    store.gate.clear()
    taker = writer.execute(buy("b", 2))  # fills "s": applied, its write held
    await store.waiting.wait()

    status = asyncio.ensure_future(writer.status("s"))
    await asyncio.sleep(0.05)
    assert not status.done()  # FILLED is not told before it is journaled

    store.gate.set()
    await taker
    answered = await status
    assert answered is not None and (answered.state, answered.filled) == (OrderState.FILLED, 1)


async def test_the_state_of_an_order_filled_by_a_batch_whose_write_fails_is_unavailable(
        gated: tuple[GatedWrites, MarketWriter]) -> None:
    store, writer = gated
    await writer.execute(sell("s", 1))
    store.gate.clear()
    taker = writer.execute(buy("b", 2))
    await store.waiting.wait()
    status = asyncio.ensure_future(writer.status("s"))
    await asyncio.sleep(0.05)

    store.fail_held = True
    store.gate.set()
    with pytest.raises(Unavailable):
        await taker
    # The held write went through; it failed, so neither the fill nor its state is real.
    with pytest.raises(Unavailable):
        await status
    rested = await writer.status("s")
    assert rested is not None and rested.state is OrderState.OPEN


async def test_a_resubmission_is_answered_as_its_own_batch_left_the_order_not_as_a_later_one(
        gated: tuple[GatedWrites, MarketWriter], monkeypatch: pytest.MonkeyPatch) -> None:
    """With a backlog, the next batch is applied while this one is written: the resubmission's
    answer must not show that batch's fill (whose write then fails) nor its sequence."""
    store, writer = gated
    await writer.execute(sell("s", 1))
    monkeypatch.setattr(writer_module, "MAX_BATCH", 2)
    store.gate.clear()
    # A batch of another order and the resubmission (its write held), then the buyer's batch,
    # applied while that write is held; the buyer's own write then fails.
    other = writer.execute(SubmitOrder("x", "other", Side.BUY, OrderType.LIMIT, 1, 2, price=90))
    again = writer.execute(sell("s", 3))
    taker = writer.execute(buy("b", 4))
    await store.waiting.wait()
    await asyncio.sleep(0.05)

    store.fail_next = True
    store.gate.set()
    await other
    answer = await again
    with pytest.raises(Unavailable):
        await taker

    assert (answer.state, answer.filled) == (OrderState.OPEN, 0)
    assert answer.sequence == writer.engine.sequence  # rebuilt from the journal: "x" accepted, no fill
