"""Group commit: the Order service's small per-order writes (store a new order, record
Matching's answer, reject) that arrive while a commit is in flight are joined into the next
transaction, so 32 concurrent placements cost a few commits instead of 64 queued ones (on
SQLite every write transaction waits for the one writer). The answers a group's units
remember (`idempotency.remember_at_commit`) are one INSERT at the group's end.

On PostgreSQL, where writers of different rows do not wait for each other, up to LANES groups
commit at once: one group's statements are round trips to the server, and a single lane left
32 placements queued behind one group's round trips (bench/order.py, PostgreSQL, 32 clients).
Each unit touches only its own order's row, so concurrent groups do not conflict. The event
follower's transaction, though, locks many orders at once (`OrderStore.many`, in order id
order), and a group that locked its orders in arrival order deadlocked with it: each held an
order the other wanted next. PostgreSQL only looks for a deadlock after `deadlock_timeout`
(1 s by default), so each one held a whole group (and the follower) for a second before one
side was rolled back and retried: the ~1 s p99 of bench/order.py on PostgreSQL, 10 to 12
times a run (issue #12). A group therefore runs its units in order id order, the lock order
of every writer of orders, and a cycle cannot form.

Each unit runs in its caller's context (OpenTelemetry's): a group's statements run in the
flusher's task, whose context is that of the placement that started it, so a unit's SQL span
(a slow or failed statement, runtime/sql_spans.py) would otherwise join that placement's
trace, or none once its call had ended."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from opentelemetry import context as context_api
from opentelemetry.context import Context
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.transactions import Transactions

T = TypeVar("T")
Work = Callable[[AsyncSession], Awaitable[Any]]
# The order id whose row it locks, the work, its caller's future and context.
Unit = tuple[str, Work, "asyncio.Future[Any]", Context]
MAX_BATCH = 256
# Tried against 2 and 1 on PostgreSQL (2026-12-07): in a throwaway replay of the placement's
# statements in one process, paced at 500 placements a second, 4 and 2 lanes cost the same CPU
# per order (0.69 ms), the groups holding few units whatever the lanes (1.46 and 1.39 write
# transactions per order). 1 lane, tried only with the new orders' INSERTs outside the groups,
# cost no less CPU than 4 at 500/s and fell behind 2 and 4 with 32 at once. bench/order.py on a
# busy host showed 2 lanes no better than 4 (Order's CPU per order 1.19 and 1.18 ms, medians of
# 6). A lane does not wait for a second unit: at 500/s the answers come ~2 ms apart, which a
# wait would add to a placement to save at most one BEGIN and COMMIT.
LANES = 4


class GroupWriter:
    def __init__(self, tx: Transactions, max_batch: int = MAX_BATCH, lanes: int | None = None) -> None:
        self._tx = tx
        self._max_batch = max_batch
        self._lanes = lanes if lanes is not None else (1 if tx.is_sqlite else LANES)
        self._queue: list[Unit] = []
        self._flushers: set[asyncio.Task[None]] = set()

    async def write(self, work: Callable[[AsyncSession], Awaitable[T]], *, order_id: str) -> T:
        """`work` in a write transaction it may share with others; its own answer or error.
        `work` writes (and so locks) the row of the order `order_id` and no other existing row."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((order_id, work, future, context_api.get_current()))
        if len(self._flushers) < self._lanes:
            flusher = asyncio.create_task(self._flush(), name="order-group-commit")
            self._flushers.add(flusher)
        return await future

    async def write_alongside(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`work`, which may lock many orders (the event follower's batch), in the group being
        formed when groups commit one at a time (SQLite: one writer, so no lock order to keep,
        and the batch shares the group's commit and fsync); in a transaction of its own when
        they commit side by side (PostgreSQL), where it would break the groups' lock order."""
        if self._lanes == 1:
            return await self.write(work, order_id="")
        return await self._tx.write(work)

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:self._max_batch], self._queue[self._max_batch:]
                # Locked in the one order every writer of orders takes them in (see the module).
                # Python's order of ids is the database's: they are lower-case UUIDs, hyphens in
                # the same places, so byte order and a locale's collation sort them alike.
                batch.sort(key=lambda unit: unit[0])
                await self._commit(batch)
        finally:
            # Off the books in the same turn as it finds the queue empty. A done callback runs a
            # turn later, after the callers this flusher just answered: one of them writing again
            # at once would find the lanes still full and wait for some later write to flush it:
            # the repair sweep, releasing one order after another, could stall until then.
            self._flushers.discard(asyncio.current_task())

    async def _commit(self, batch: list[Unit]) -> None:
        async def together(session: AsyncSession) -> list[Any]:
            return [await _in_context(caller, work, session) for _, work, _, caller in batch]

        try:
            answers = await self._tx.write(together)
        except Exception as error:  # noqa: BLE001 - whatever it was, each unit is tried alone below
            if len(batch) == 1:  # alone already: running it again would only repeat the error
                _settle(batch[0][2], error=error)
                return
            # One unit's error rolled the whole batch back: each runs alone, so each caller gets
            # its own answer or its own error.
            for _, work, future, caller in batch:
                try:
                    answer = await self._tx.write(functools.partial(_in_context, caller, work))
                except Exception as error:  # noqa: BLE001 - handed to its caller, who raises it
                    _settle(future, error=error)
                else:
                    _settle(future, answer=answer)
            return
        for (_, _, future, _), answer in zip(batch, answers):
            _settle(future, answer=answer)


async def _in_context(caller: Context, work: Work, session: AsyncSession) -> Any:
    token = context_api.attach(caller)
    try:
        return await work(session)
    finally:
        context_api.detach(token)


def _settle(future: asyncio.Future[Any], *, answer: Any = None, error: BaseException | None = None) -> None:
    if future.done():  # the caller gave up (its call was cancelled)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(answer)
