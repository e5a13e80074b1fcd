"""Concurrent calls to a peer sent as one batch RPC, like a group commit: the calls made while
a batch is on its way (or in the same turn of the event loop as the first) go together in the
next one. One batch call costs the client, the server, the interceptors and the tracing about
what one unary call costs, so N concurrent placements pay for one call, not N.

Each caller gets its own answer or its own error, as if its call had gone alone: the send
function answers per item (an item's status becomes the typed error the unary call would have
raised: services/runtime/status.peer_item_error), and a batch that gets no answer fails each
of its callers with the error that unary call would have raised. A caller that gives up
(cancelled) is left out of a batch not yet sent; one already sent goes on for the others.

Each batch is sent in the context of its first caller (its trace, its request id): the batch
call's span is a child of that caller's span, the others' spans do not see it (never of a
caller long answered, as one sending task kept busy by a steady load would have it). The
server's side: services/runtime/batches.py."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Answer = TypeVar("Answer")
# One batch's answers, in the order of its items: each a result, or the error to raise.
Send = Callable[[list[Item]], Awaitable[list[Answer | BaseException]]]
MAX_BATCH = 256


class Waiting(Generic[Item, Answer]):
    """A call in a batch: its item, its caller's future and context."""

    __slots__ = ("context", "future", "item")

    def __init__(self, item: Item, future: asyncio.Future[Answer], context: contextvars.Context) -> None:
        self.item = item
        self.future = future
        self.context = context


class Coalescer(Generic[Item, Answer]):
    def __init__(self, send: Send[Item, Answer], max_batch: int = MAX_BATCH) -> None:
        self._send = send
        self._max_batch = max_batch
        self._queue: list[Waiting[Item, Answer]] = []
        self._sender: asyncio.Task[None] | None = None

    async def call(self, item: Item) -> Answer:
        """`item`'s own answer from the batch it went in; or its own error, raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._queue.append(Waiting(item, future, contextvars.copy_context()))
        if self._sender is None:
            self._sender = loop.create_task(self._drain(), name="coalesce")
        return await future

    async def _drain(self) -> None:
        batch: list[Waiting[Item, Answer]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[:self._max_batch], self._queue[self._max_batch:]
                live = [call for call in batch if not call.future.done()]
                if live:
                    # Cancelling this task (the process stops) cancels the send it awaits.
                    await asyncio.get_running_loop().create_task(self._settle(live), context=live[0].context)
        except BaseException:
            # Cancelled (the process is stopping): nobody will send what waits, nor answer it.
            for call in batch + self._queue:
                call.future.cancel()
            self._queue = []
            raise
        finally:
            self._sender = None

    async def _settle(self, batch: list[Waiting[Item, Answer]]) -> None:
        try:
            answers = await self._send([call.item for call in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(answers)} answers")
        except Exception as error:  # noqa: BLE001 - each caller raises it, as its own call would have
            answers = [error] * len(batch)
        for call, answer in zip(batch, answers, strict=True):
            if call.future.done():  # the caller gave up while the batch was on its way
                continue
            if isinstance(answer, BaseException):
                call.future.set_exception(answer)
            else:
                call.future.set_result(answer)
