"""The wait between attempts at something that fails for a while (a peer restarting, a store
gone, the chain unreachable): `first` after the first failure, twice as long after each next
one, at most `most`; back to `first` once an attempt works. The one doubling rule of every
loop that follows a peer or retries (Order's event follower, Settlement's intake and anchorer).
"""

from __future__ import annotations

import asyncio


class Backoff:
    def __init__(self, first: float, most: float) -> None:
        self.first = first
        self.most = most
        self.delay = first  # what the next wait will be

    def reset(self) -> None:
        """An attempt worked: the next failure waits `first` again."""
        self.delay = self.first

    def next_delay(self) -> float:
        """The wait due now; the one after it doubles (up to `most`)."""
        delay = self.delay
        self.delay = min(delay * 2, self.most)
        return delay

    async def wait(self) -> None:
        await asyncio.sleep(self.next_delay())
