"""The server's side of a batch RPC that answers each item on its own (Matching.SubmitOrders,
Wallet.PlaceHolds): the items run concurrently, as many unary calls would, so whatever the
service already groups (Matching's journal batch, the Wallet's hold group commit) takes them
together; each item's answer is its result, or the google.rpc.Status its own unary call would
have ended with (the interceptor's mapping). The caller's side: services/runtime/coalesce.py.

`settle_each` answers a batch whose items are already under way as futures (each handed to the
service's grouping by a plain function), or refused: no task per item. `answer_each` wraps every
item in a task of its own (`asyncio.gather` of coroutines), and at the Order service's batch
sizes the tasks, their coroutines and their wake-ups cost more CPU than the items' own work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Sequence, Sized
from typing import TypeVar

from google.rpc import status_pb2

from services.runtime.errors import DomainError, InvalidArgument
from services.runtime.status import internal_status, outage, to_status_proto

log = logging.getLogger("clearmesh.rpc")

T = TypeVar("T")
# Bounds one call's message and the work it starts at once; callers send far fewer.
MAX_ITEMS = 1000
BATCH_TOO_LARGE = "BATCH_TOO_LARGE"


def check_batch(field: str, items: Sized) -> None:
    """INVALID_ARGUMENT for a batch with no items, or more than MAX_ITEMS (the whole call is
    refused: nothing runs)."""
    if not len(items):
        raise InvalidArgument("INVALID_ARGUMENT", f"{field} is required", violations=[(field, "is required")])
    if len(items) > MAX_ITEMS:
        raise InvalidArgument(BATCH_TOO_LARGE, f"at most {MAX_ITEMS} {field}",
                              violations=[(field, f"must hold at most {MAX_ITEMS} items")])


def item_status(error: Exception) -> status_pb2.Status:
    """An item's error as the status its unary call would have ended with: a DomainError's own,
    UNAVAILABLE for a store that cannot be reached, INTERNAL (logged, nothing leaked) otherwise."""
    if not isinstance(error, DomainError):
        unreachable = outage(error)
        if unreachable is None:
            log.error("unhandled error in a batch item", exc_info=error)
            return internal_status()
        log.warning("a store is unreachable", exc_info=error)
        error = unreachable
    return to_status_proto(error)


async def answer_each(calls: Iterable[Awaitable[T]]) -> list[T | status_pb2.Status]:
    """Every call's result or status, in order; started together, so each reaches the service's
    own grouping in the same turn of the event loop."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    answers: list[T | status_pb2.Status] = []
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            answers.append(item_status(outcome))
        elif isinstance(outcome, BaseException):  # one item cancelled: not an answer to give
            raise outcome
        else:
            answers.append(outcome)
    return answers


async def settle_each(items: Sequence[asyncio.Future[T] | Exception]) -> list[T | status_pb2.Status]:
    """Every item's answer, in order, as `answer_each` gives it: a future's result once it is
    settled, or the status of its error; an exception (the item refused before it was under
    way) as its status. Cancelled (the call ended), the futures not yet settled are cancelled,
    as `answer_each` cancels its tasks."""
    futures = [item for item in items if isinstance(item, asyncio.Future)]
    if futures:
        await asyncio.gather(*futures, return_exceptions=True)
    answers: list[T | status_pb2.Status] = []
    for item in items:
        error: BaseException | None = item if isinstance(item, Exception) else None
        if isinstance(item, asyncio.Future):
            if item.cancelled():  # not an answer to give
                raise asyncio.CancelledError()
            error = item.exception()
            if error is None:
                answers.append(item.result())
                continue
        if not isinstance(error, Exception):  # the process stopping, say: not an item's answer
            raise error if error is not None else AssertionError("neither a future nor an error")
        answers.append(item_status(error))
    return answers
