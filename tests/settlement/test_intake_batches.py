"""The intake writes trades that arrive together in one transaction: the writer lets the stream's
reader run before it takes what has arrived, instead of writing each trade or two on its own."""

from __future__ import annotations

import asyncio

from clearmesh.matching.v1 import matching_pb2
from services.settlement import intake


def trade(sequence: int) -> matching_pb2.Trade:
    return matching_pb2.Trade(sequence=sequence)


async def test_trades_arriving_just_after_the_first_are_taken_with_it() -> None:
    queue: asyncio.Queue[matching_pb2.Trade | None] = asyncio.Queue()
    queue.put_nowait(trade(1))

    async def the_rest() -> None:  # the reader, delivering the next trades on the loop's next turn
        for sequence in range(2, 6):
            queue.put_nowait(trade(sequence))
    arriving = asyncio.create_task(the_rest())

    trades, ended = await intake._drain(queue)
    await arriving

    assert [t.sequence for t in trades] == [1, 2, 3, 4, 5]
    assert not ended


async def test_a_full_batch_is_taken_at_once_and_the_rest_left_for_the_next() -> None:
    queue: asyncio.Queue[matching_pb2.Trade | None] = asyncio.Queue()
    for sequence in range(1, intake.MAX_INTAKE + 2):
        queue.put_nowait(trade(sequence))

    trades, ended = await intake._drain(queue)

    assert len(trades) == intake.MAX_INTAKE
    assert queue.qsize() == 1
    assert not ended


async def test_a_batch_already_there_is_taken_without_waiting_for_more() -> None:
    queue: asyncio.Queue[matching_pb2.Trade | None] = asyncio.Queue()
    for sequence in range(1, intake.INTAKE_ENOUGH + 1):
        queue.put_nowait(trade(sequence))

    async def later() -> None:  # a message that arrives while the writer would have lingered
        await asyncio.sleep(0)
        queue.put_nowait(trade(intake.INTAKE_ENOUGH + 1))
    arriving = asyncio.create_task(later())

    trades, ended = await intake._drain(queue)
    await arriving

    assert len(trades) == intake.INTAKE_ENOUGH
    assert not ended


async def test_the_end_of_the_stream_comes_back_with_the_trades_before_it() -> None:
    queue: asyncio.Queue[matching_pb2.Trade | None] = asyncio.Queue()
    for item in (trade(1), trade(2), None):
        queue.put_nowait(item)

    trades, ended = await intake._drain(queue)

    assert [t.sequence for t in trades] == [1, 2]
    assert ended
