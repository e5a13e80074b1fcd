"""settle_each: a batch's items already under way as futures (or refused before) answered in
order, each with its result or the status its own unary call would have ended with."""

from __future__ import annotations

import asyncio

import pytest
from google.rpc import code_pb2, status_pb2

from services.runtime.batches import settle_each
from services.runtime.errors import FailedPrecondition


async def test_each_item_is_answered_in_order_with_its_result_or_its_status() -> None:
    loop = asyncio.get_running_loop()
    first: asyncio.Future[str] = loop.create_future()
    failed: asyncio.Future[str] = loop.create_future()
    last: asyncio.Future[str] = loop.create_future()
    loop.call_soon(last.set_result, "c")
    loop.call_soon(failed.set_exception, FailedPrecondition("SHORT", "not enough"))
    loop.call_soon(first.set_result, "a")

    items: list[asyncio.Future[str] | Exception] = [first, failed, FailedPrecondition("REFUSED", "refused at once"), last]
    answers = await settle_each(items)

    assert answers[0] == "a" and answers[3] == "c"
    assert isinstance(answers[1], status_pb2.Status) and answers[1].code == code_pb2.FAILED_PRECONDITION
    assert isinstance(answers[2], status_pb2.Status) and answers[2].code == code_pb2.FAILED_PRECONDITION


async def test_an_unexpected_error_is_internal_and_says_nothing_of_itself() -> None:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    future.set_exception(RuntimeError("secret detail"))

    [answer] = await settle_each([future])

    assert isinstance(answer, status_pb2.Status) and answer.code == code_pb2.INTERNAL
    assert "secret" not in answer.message


async def test_cancelling_the_call_cancels_the_futures_still_pending() -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str] = loop.create_future()
    pending: asyncio.Future[str] = loop.create_future()
    done.set_result("a")
    items: list[asyncio.Future[str] | Exception] = [done, pending]
    waiting = asyncio.ensure_future(settle_each(items))
    await asyncio.sleep(0)

    waiting.cancel()

    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert pending.cancelled()
