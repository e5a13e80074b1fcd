"""The server's side of a batch RPC that answers each item on its own (Matching.SubmitOrders,
Wallet.PlaceHolds): the items run concurrently, as many unary calls would, so whatever the
service already groups (Matching's journal batch, the Wallet's hold group commit) takes them
together; each item's answer is its result, or the google.rpc.Status its own unary call would
have ended with (the interceptor's mapping). The caller's side: services/runtime/coalesce.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Sized
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
