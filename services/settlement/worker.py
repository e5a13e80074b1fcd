"""The loop the poster and the anchorer share: step forever, sleep until woken or a timeout,
and outlast a database that is briefly gone (nothing was recorded, so the next step redoes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

from sqlalchemy.exc import SQLAlchemyError

from services.runtime.status import is_outage

STORE_RETRY_SECS = 1.0


class Worker(ABC):
    """A background loop over the settlement store that `wake()` hurries."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """There is new work: settlements PENDING (intake, an operator's retry) for the poster,
        POSTED for the anchorer. Stop sleeping."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self._step()
            except Exception as error:  # the database is briefly gone: nothing changed, go on
                if not isinstance(error, SQLAlchemyError) and not is_outage(error):
                    raise
                self._log.warning("the settlement store failed; trying again",
                                  extra={"fields": {"error": type(error).__name__, "retryIn": STORE_RETRY_SECS}})
                await asyncio.sleep(STORE_RETRY_SECS)

    @abstractmethod
    async def _step(self) -> None:
        """Do one batch of work if it is ready; otherwise wait for it (`_sleep`)."""

    async def _sleep(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation that
        # arrives in the turn the wake-up does, and a stopping service then waits forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()
