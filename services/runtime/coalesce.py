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
server's side: services/runtime/batches.py.

A coalescer may linger, like a group commit with a timer: once a batch has gone out carrying
more than one call (callers are concurrent), the next goes no sooner than `linger` after it, or
as soon as it is full. A lone call (the last batch carried one) or the first after a quiet while
is sent at once, so one client's latency does not grow. Why: without it, a batch held what
happened to arrive while the one before was on its way. Order's placements reach KYC one by
one, spread by the steps before (the read, the account's lock), and the 32 placements in flight
of bench/order.py were spread over every step: KYC.CheckEligibilities carried ~2–2.4 orders a
call, Wallet.PlaceHolds and Matching.SubmitOrders ~2.7–3.5, each call a whole RPC on both sides
(and a transaction in the Wallet). Lingering at the pipeline's first call (KYC, in
services/order/peers.py) gathers a convoy that the later steps keep, each free again by the time
the next convoy comes: the group commit, the holds and the submissions then carry the same
orders, one call each (~6.2–6.5 orders at 20 ms; as many batches at every step), and the CPU per
order over the mesh fell by about a third (figures in services/order/README.md). Order lingers
10 ms (peers.py: the lower p99 once its own CPU per order had fallen). The later
steps do not linger: their convoys arrive together already."""

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
    """`linger` (seconds, none by default): under load, a batch goes no sooner than this after
    the one before it went (see the module)."""

    def __init__(self, send: Send[Item, Answer], max_batch: int = MAX_BATCH, linger: float = 0.0) -> None:
        self._send = send
        self._max_batch = max_batch
        self._linger = linger
        self._queue: list[Waiting[Item, Answer]] = []
        self._sender: asyncio.Task[None] | None = None
        # When the last batch went out (the loop's clock; none yet: long ago), and whether it
        # carried more than one call: concurrent callers, the load worth lingering for.
        self._last_sent = float("-inf")
        self._last_shared = False
        # Woken when the batch being gathered is full (set while the sender lingers).
        self._full: asyncio.Future[None] | None = None

    async def call(self, item: Item) -> Answer:
        """`item`'s own answer from the batch it went in; or its own error, raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._queue.append(Waiting(item, future, contextvars.copy_context()))
        if self._full is not None and len(self._queue) >= self._max_batch and not self._full.done():
            self._full.set_result(None)
        if self._sender is None:
            self._sender = loop.create_task(self._drain(), name="coalesce")
        return await future

    async def _drain(self) -> None:
        batch: list[Waiting[Item, Answer]] = []
        try:
            while self._queue:
                await self._gather()
                batch, self._queue = self._queue[:self._max_batch], self._queue[self._max_batch:]
                live = [call for call in batch if not call.future.done()]
                if live:
                    self._last_sent = asyncio.get_running_loop().time()
                    self._last_shared = len(live) > 1
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

    async def _gather(self) -> None:
        """Let more calls join the next batch: until `linger` after the last batch went out, or
        until the batch is full. None if the last batch went alone or long enough ago."""
        loop = asyncio.get_running_loop()
        delay = self._last_sent + self._linger - loop.time()
        if not self._last_shared or delay <= 0 or len(self._queue) >= self._max_batch:
            return
        self._full = loop.create_future()
        timer = loop.call_later(delay, _wake, self._full)
        try:
            await self._full
        finally:
            timer.cancel()
            self._full = None

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


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
