"""The coalescer: concurrent calls go as one batch; each caller gets its own answer or error."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from services.runtime.coalesce import Coalescer
from services.runtime.errors import FailedPrecondition, Unavailable


class Peer:
    """A batch RPC stand-in: records each batch; negative items are refused, each on its own."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def send(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(items)
        await self.release.wait()
        return [FailedPrecondition("NEGATIVE", f"{item} < 0") if item < 0 else item * 10 for item in items]


async def on_its_way(peer: Peer, coalescer: Coalescer[int, int], item: int) -> asyncio.Future[int]:
    """A call whose batch has been sent and is held at the peer (until `peer.release`)."""
    peer.release.clear()
    call = asyncio.ensure_future(coalescer.call(item))
    await asyncio.sleep(0)  # the call joins a batch
    await asyncio.sleep(0)  # the batch goes out
    return call


async def test_calls_made_in_the_same_turn_go_as_one_batch_each_answered_its_own() -> None:
    peer = Peer()
    coalescer = Coalescer(peer.send)

    answers = await asyncio.gather(*(coalescer.call(item) for item in (1, 2, 3)))

    assert answers == [10, 20, 30]
    assert peer.batches == [[1, 2, 3]]


async def test_an_items_error_is_raised_by_its_caller_alone() -> None:
    coalescer = Coalescer(Peer().send)

    answers = await asyncio.gather(coalescer.call(1), coalescer.call(-2), coalescer.call(3), return_exceptions=True)

    assert answers[0] == 10 and answers[2] == 30
    assert isinstance(answers[1], FailedPrecondition) and answers[1].reason == "NEGATIVE"


async def test_calls_made_while_a_batch_is_on_its_way_go_together_in_the_next() -> None:
    peer = Peer()
    coalescer = Coalescer(peer.send)
    first = await on_its_way(peer, coalescer, 1)
    later = [asyncio.ensure_future(coalescer.call(item)) for item in (2, 3)]
    await asyncio.sleep(0)
    peer.release.set()

    assert await first == 10
    assert [await call for call in later] == [20, 30]
    assert peer.batches == [[1], [2, 3]]


async def test_a_batch_holds_at_most_max_batch_calls() -> None:
    peer = Peer()
    coalescer = Coalescer(peer.send, max_batch=2)

    assert await asyncio.gather(*(coalescer.call(item) for item in (1, 2, 3))) == [10, 20, 30]
    assert peer.batches == [[1, 2], [3]]


async def test_a_batch_that_gets_no_answer_fails_each_caller_with_the_error() -> None:
    async def silent(items: list[int]) -> list[int | BaseException]:
        raise Unavailable("PEER_UNAVAILABLE", "no answer")

    coalescer = Coalescer(silent)
    answers = await asyncio.gather(coalescer.call(1), coalescer.call(2), return_exceptions=True)

    assert [type(answer) for answer in answers] == [Unavailable, Unavailable]


async def test_a_caller_that_gave_up_is_left_out_of_the_next_batch() -> None:
    peer = Peer()
    coalescer = Coalescer(peer.send)
    first = await on_its_way(peer, coalescer, 1)
    gave_up = asyncio.ensure_future(coalescer.call(2))
    stays = asyncio.ensure_future(coalescer.call(3))
    await asyncio.sleep(0)
    gave_up.cancel()
    peer.release.set()

    assert (await first, await stays) == (10, 30)
    with pytest.raises(asyncio.CancelledError):
        await gave_up
    assert peer.batches == [[1], [3]]


async def test_callers_waiting_when_the_sender_is_cancelled_are_cancelled_too() -> None:
    peer = Peer()
    peer.release.clear()
    coalescer = Coalescer(peer.send)
    calls = [asyncio.ensure_future(coalescer.call(item)) for item in (1, 2)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    for task in asyncio.all_tasks():
        if task.get_name() == "coalesce":
            task.cancel()

    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [type(result) for result in results] == [asyncio.CancelledError, asyncio.CancelledError]


async def test_each_batch_is_sent_in_the_context_of_its_first_caller() -> None:
    caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="")
    peer = Peer()
    peer.release.clear()
    seen: list[str] = []

    async def send(items: list[int]) -> list[int | BaseException]:
        seen.append(caller.get())
        return await peer.send(items)

    async def call_as(name: str, item: int) -> int:
        caller.set(name)
        return await coalescer.call(item)

    coalescer = Coalescer(send)
    first = asyncio.ensure_future(call_as("first", 1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(call_as(name, item)) for name, item in (("second", 2), ("third", 3))]
    await asyncio.sleep(0)
    peer.release.set()

    assert [await first, *[await call for call in later]] == [10, 20, 30]
    assert seen == ["first", "second"]


# Lingering: under load a batch waits for the calls of its while; a lone call never waits.
HOUR = 3600.0  # a linger no test waits out by the clock
SHORT = 0.01  # a linger a test waits out (the loop's clock: uvloop's, not to be patched)


async def _sent_shared(coalescer: Coalescer[int, int]) -> None:
    """A batch of two calls has gone out and been answered: callers are concurrent."""
    assert await asyncio.gather(coalescer.call(1), coalescer.call(2)) == [10, 20]


async def _turns(count: int = 5) -> None:
    """A few turns of the loop: enough for a call to be sent if it is not lingering."""
    for _ in range(count):
        await asyncio.sleep(0)


async def test_a_lingering_coalescer_sends_its_first_call_at_once() -> None:
    peer = Peer()
    coalescer = Coalescer(peer.send, linger=HOUR)

    call = asyncio.ensure_future(coalescer.call(1))
    await _turns()

    assert peer.batches == [[1]]
    assert await call == 10


async def test_after_a_lone_call_the_next_is_sent_at_once() -> None:
    peer = Peer()
    coalescer = Coalescer(peer.send, linger=HOUR)
    assert await coalescer.call(1) == 10

    call = asyncio.ensure_future(coalescer.call(2))
    await _turns()

    assert peer.batches == [[1], [2]]
    assert await call == 20


async def test_after_a_shared_batch_calls_made_in_different_turns_linger_together() -> None:
    peer = Peer()
    coalescer = Coalescer(peer.send, linger=HOUR)
    await _sent_shared(coalescer)

    third = asyncio.ensure_future(coalescer.call(3))
    await _turns()
    fourth = asyncio.ensure_future(coalescer.call(4))
    await _turns()

    assert peer.batches == [[1, 2]]
    assert not third.done() and not fourth.done()
    for call in (third, fourth):
        call.cancel()


async def test_a_lingering_batch_goes_when_the_linger_is_over() -> None:
    peer = Peer()
    coalescer = Coalescer(peer.send, linger=SHORT)
    await _sent_shared(coalescer)

    third = asyncio.ensure_future(coalescer.call(3))
    await _turns()
    fourth = asyncio.ensure_future(coalescer.call(4))

    assert (await third, await fourth) == (30, 40)


async def test_a_lingering_batch_goes_as_soon_as_it_is_full() -> None:
    peer = Peer()
    coalescer = Coalescer(peer.send, max_batch=2, linger=HOUR)
    await _sent_shared(coalescer)

    third = asyncio.ensure_future(coalescer.call(3))
    await _turns()
    assert peer.batches == [[1, 2]]
    fourth = asyncio.ensure_future(coalescer.call(4))

    assert (await third, await fourth) == (30, 40)
    assert peer.batches == [[1, 2], [3, 4]]


async def test_a_call_long_after_a_shared_batch_goes_at_once() -> None:
    peer = Peer()
    coalescer = Coalescer(peer.send, linger=SHORT)
    await _sent_shared(coalescer)
    await asyncio.sleep(3 * SHORT)

    call = asyncio.ensure_future(coalescer.call(3))
    await _turns()

    assert peer.batches == [[1, 2], [3]]
    assert await call == 30


async def test_a_caller_that_gave_up_while_lingering_is_left_out_of_the_batch() -> None:
    peer = Peer()
    coalescer = Coalescer(peer.send, max_batch=4, linger=HOUR)
    await _sent_shared(coalescer)
    gave_up = asyncio.ensure_future(coalescer.call(3))
    stays = [asyncio.ensure_future(coalescer.call(item)) for item in (4, 5)]
    await _turns()

    gave_up.cancel()
    stays.append(asyncio.ensure_future(coalescer.call(6)))  # the fourth call: the batch is full

    assert [await call for call in stays] == [40, 50, 60]
    assert peer.batches == [[1, 2], [4, 5, 6]]
