"""SubmitOrder is idempotent by order id, and only by order id: the same order again answers its
state; another order under a known id is ALREADY_EXISTS (ORDER_ID_REUSED) naming what differs;
and a resubmission is never answered from a batch whose journal write then fails."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from services.matching.store import MatchingStore

BUY, SELL = 1, 2
OPEN, FILLED = 1, 3


async def reused(matching: Any, order: str, side: int, price: str, quantity: str, **fields: Any) -> Any:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await matching.submit(order, side, price, quantity, **fields)
    return caught.value


async def test_a_resting_order_id_reused_with_another_price_is_already_exists(matching: Any) -> None:
    await matching.submit("o1", BUY, "100.00", "1")

    error = await reused(matching, "o1", BUY, "101.00", "1")

    info = matching.error_info(error)
    assert (error.code(), info.reason, dict(info.metadata)) == (
        grpc.StatusCode.ALREADY_EXISTS, "ORDER_ID_REUSED", {"order": "o1", "fields": "price"})
    assert [(level.price, level.order_count) for level in (await matching.book()).bids] == [("100.00", 1)]


async def test_a_filled_order_id_reused_names_every_differing_field(matching: Any) -> None:
    await matching.submit("maker", SELL, "100.00", "1", account="accounts/bob")
    await matching.submit("taker", BUY, "100.00", "0.4")

    error = await reused(matching, "taker", SELL, "100.00", "0.5", account="accounts/carol")

    info = matching.error_info(error)
    assert (error.code(), info.reason) == (grpc.StatusCode.ALREADY_EXISTS, "ORDER_ID_REUSED")
    assert info.metadata["fields"] == "account,side,quantity"
    assert await matching.store.journal_length("BTC-USDC") == 2


async def test_the_same_order_again_with_the_default_time_in_force_spelled_out_is_a_resubmission(matching: Any) -> None:
    await matching.submit("o1", BUY, "100.00", "1")

    again = await matching.submit("o1", BUY, "100.00", "1", time_in_force=1)  # GTC, the limit order default

    assert again.state == OPEN
    assert await matching.store.journal_length("BTC-USDC") == 1


async def test_an_order_id_reused_in_the_same_batch_is_refused_and_the_first_kept(matching: Any) -> None:
    both: list[Any] = list(await asyncio.gather(
        matching.submit("o1", BUY, "100.00", "1"),
        matching.submit("o1", BUY, "99.00", "1"), return_exceptions=True))

    answers = sorted(both, key=lambda answer: isinstance(answer, Exception))
    assert answers[0].state == OPEN
    assert matching.reason(answers[1]) == "ORDER_ID_REUSED"
    assert len((await matching.book()).bids) == 1


async def test_a_resubmission_during_a_failing_journal_write_is_not_answered_from_it(
        matching: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first submission's batch is being written when the resubmission arrives; the write
    fails. The resubmission must not be told the order exists (it was never journaled): it is
    applied afresh once the book is rebuilt, so the order ends up in the book exactly once."""
    writing, release = asyncio.Event(), asyncio.Event()
    append = MatchingStore.append
    calls = 0

    async def first_write_fails(store: MatchingStore, batch: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            writing.set()
            await release.wait()
            raise OSError("disk full")
        await append(store, batch)

    monkeypatch.setattr(MatchingStore, "append", first_write_fails)
    first = asyncio.ensure_future(matching.submit("o1", BUY, "100.00", "1"))
    await writing.wait()
    again = asyncio.ensure_future(matching.submit("o1", BUY, "100.00", "1"))
    await asyncio.sleep(0.2)  # the resubmission reaches the writer while the first write hangs
    release.set()

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await first
    answer = await again

    assert matching.reason(caught.value) == "JOURNAL_UNAVAILABLE"
    assert answer.state == OPEN
    assert await matching.store.journal_length("BTC-USDC") == 1
    assert [(level.price, level.order_count) for level in (await matching.book()).bids] == [("100.00", 1)]
