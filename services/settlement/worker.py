"""The loop the poster and the anchorer share: step forever, sleep until woken or a timeout,
and outlast a database that is briefly gone (nothing was recorded, so the next step redoes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

from sqlalchemy.exc import SQLAlchemyError

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
            except SQLAlchemyError as error:  # the database is briefly gone: nothing changed, go on
                self._log.warning("the settlement store failed; trying again",
                                  extra={"fields": {"error": type(error).__name__, "retryIn": STORE_RETRY_SECS}})
                await asyncio.sleep(STORE_RETRY_SECS)

    @abstractmethod
    async def _step(self) -> None:
        """Do one batch of work if it is ready; otherwise wait for it (`_sleep`)."""

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()
