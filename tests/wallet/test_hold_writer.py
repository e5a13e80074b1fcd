"""The hold writer gathers concurrent calls into one transaction and answers each on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from services.runtime.errors import FailedPrecondition, Unavailable
from services.wallet.domain import Hold, HoldStatus, WalletReason
from services.wallet.domain.hold_groups import HoldCommand, Outcome, PlaceHold
from services.wallet.hold_writer import HoldWriter

AT = datetime(2026, 1, 1, tzinfo=UTC)


class FakeTransactions:
    """Runs the work at once, after the test lets it; counts the transactions."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.count = 0
        self.failure = failure
        self.release = asyncio.Event()

    async def write(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        self.count += 1
        await self.release.wait()
        if self.failure is not None:
            raise self.failure
        return await work(None)


class FakeStore:
    """Refuses holds of more than 10 units; records the groups it was given."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.tx = FakeTransactions(failure)
        self.groups: list[int] = []

    async def apply_hold_group(self, _session: Any, commands: Sequence[HoldCommand]) -> list[Outcome]:
        self.groups.append(len(commands))
        return [HoldStatus(c.hold, 0, 0) if isinstance(c, PlaceHold) and c.hold.units <= 10
                else FailedPrecondition(WalletReason.INSUFFICIENT_FUNDS, "short") for c in commands]


def place(units: int, hold_id: str) -> PlaceHold:
    return PlaceHold(Hold(hold_id, "accounts/alice", "USDC", units, AT))


async def started(store: FakeStore) -> tuple[HoldWriter, asyncio.Task[None]]:
    writer = HoldWriter(store)  # type: ignore[arg-type]
    return writer, asyncio.create_task(writer.run())


async def test_calls_arriving_during_a_commit_share_the_next_transaction() -> None:
    store = FakeStore()
    writer, task = await started(store)
    first = asyncio.create_task(writer.apply(place(1, "o0")))
    await asyncio.sleep(0)  # the first call's group is now committing
    rest = [asyncio.create_task(writer.apply(place(1, f"o{i}"))) for i in range(1, 21)]
    await asyncio.sleep(0)
    store.tx.release.set()
    await asyncio.gather(first, *rest)

    assert store.groups == [1, 20]
    assert store.tx.count == 2
    task.cancel()


async def test_each_caller_gets_its_own_outcome() -> None:
    store = FakeStore()
    writer, task = await started(store)
    store.tx.release.set()
    results = await asyncio.gather(writer.apply(place(5, "a")), writer.apply(place(50, "b")),
                                   writer.apply(place(10, "c")), return_exceptions=True)

    assert [type(r) for r in results] == [HoldStatus, FailedPrecondition, HoldStatus]
    assert store.groups == [3]
    task.cancel()


async def test_a_group_whose_transaction_fails_fails_each_of_its_callers() -> None:
    store = FakeStore(failure=ConnectionError("database unreachable"))
    writer, task = await started(store)
    store.tx.release.set()
    results = await asyncio.gather(*(writer.apply(place(1, f"o{i}")) for i in range(3)), return_exceptions=True)

    assert [type(r) for r in results] == [ConnectionError] * 3
    task.cancel()


async def test_callers_still_waiting_at_shutdown_are_told_to_retry() -> None:
    store = FakeStore()
    writer, task = await started(store)
    waiting = asyncio.create_task(writer.apply(place(1, "o1")))
    await asyncio.sleep(0)
    task.cancel()

    with pytest.raises(Unavailable) as caught:
        await waiting
    assert caught.value.reason == "WALLET_STOPPING"
