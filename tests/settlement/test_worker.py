"""The poster's and anchorer's loop outlasts a store that is briefly gone, however the driver
says so (a SQLAlchemy error, or a reset or timed-out connection straight from asyncpg), and
still ends on a bug."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.settlement import worker
from services.settlement.worker import Worker


class Steps(Worker):
    """A worker whose steps fail as given, then count the steps that succeeded."""

    def __init__(self, failures: list[BaseException]) -> None:
        super().__init__(logging.getLogger("test"))
        self.failures = failures
        self.succeeded = asyncio.Event()

    async def _step(self) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.succeeded.set()
        await asyncio.sleep(3600)


@pytest.mark.parametrize("failure", [ConnectionResetError(104, "reset by peer"), TimeoutError(),
                                     ConnectionRefusedError(111, "refused")])
async def test_a_store_outage_is_waited_out(failure: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "STORE_RETRY_SECS", 0.01)
    steps = Steps([failure, failure])
    running = asyncio.ensure_future(steps.run())

    await asyncio.wait_for(steps.succeeded.wait(), 5)
    running.cancel()

    assert steps.failures == []


async def test_a_bug_still_ends_the_loop() -> None:
    steps = Steps([KeyError("a bug")])

    with pytest.raises(KeyError):
        await asyncio.wait_for(steps.run(), 5)


class Sleeper(Worker):
    """A worker that only sleeps until woken, counting its naps."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("test"))
        self.naps = 0
        self.asleep = asyncio.Event()

    async def _step(self) -> None:
        self.naps += 1
        self.asleep.set()
        await self._sleep(3600)


async def test_a_worker_woken_as_it_is_stopped_still_stops() -> None:
    # Shutdown cancels the worker while a finishing batch wakes it: the same loop turn. An
    # asyncio.wait_for (Python 3.11) hands back the wake-up and drops the cancellation, and
    # the loop slept again: the service's stop then waited for it forever.
    sleeper = Sleeper()
    running = asyncio.ensure_future(sleeper.run())
    await asyncio.wait_for(sleeper.asleep.wait(), 5)

    sleeper.wake()
    running.cancel()

    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, 5)
