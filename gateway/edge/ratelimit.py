"""Per-subject rate limits (the token's subject, or the client address when anonymous).

RATE_LIMIT_PER_MINUTE bounds any sliding minute; RATE_LIMIT_BURST bounds any sliding second,
so a client may spend a burst at once but not its whole minute in one spike. Both are
sliding-window counters (the current fixed window plus the previous one weighted by how much
of it still overlaps the sliding window; O(1) per subject and window).

* Several replicas (REDIS_URL): the ``limits`` library's sliding-window counter on its async
  RedisStorage, so every replica draws on the same budget. Redis accelerates, never decides:
  if it fails, this replica falls back to its own memory for a while rather than refusing or
  waving everything through.
* One edge, or Redis down: the same counter in this process's memory (``LocalWindow``, the
  same formula as ``limits``, minus its rounding down). Not ``limits``' own memory storages: measured in
  bench/edge.py, the async one hops to a worker thread on every moving-window hit and the
  sync one starts (and waits for) a timer thread every 10 ms under load.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from gateway.edge.errors import RateLimited

log = logging.getLogger("clearmesh.edge")
NAMESPACE = "clearmesh-edge"
REDIS_TIMEOUT_SECS = 0.25
# After a Redis failure, this long on the local budget before Redis is tried again, so an
# outage costs one timeout per period rather than one per request.
REDIS_RETRY_AFTER_SECS = 5.0


def _redis_storage(redis_url: str) -> RedisStorage:
    return RedisStorage(f"async+{redis_url}", implementation="redispy", key_prefix=NAMESPACE,
                        socket_connect_timeout=REDIS_TIMEOUT_SECS, socket_timeout=REDIS_TIMEOUT_SECS)


def _retry_after(seconds: float) -> RateLimited:
    return RateLimited(max(1, math.ceil(seconds)))


class LocalWindow:
    """A sliding-window counter of ``amount`` hits per ``seconds``, per subject, in memory."""

    def __init__(self, amount: int, seconds: int) -> None:
        self._amount = amount
        self._seconds = seconds
        # subject → (index of its current fixed window, hits in it, hits in the one before)
        self._windows: dict[str, tuple[int, int, int]] = {}
        self._pruned_at = 0

    def _counts(self, subject: str, index: int) -> tuple[int, int]:
        known = self._windows.get(subject)
        if known is None or known[0] < index - 1:
            return 0, 0
        if known[0] == index - 1:
            return 0, known[1]
        return known[1], known[2]

    def hit(self, subject: str, now: float) -> float | None:
        """Counts a hit and answers None, or refuses it and answers the seconds to wait."""
        index, offset = divmod(now, self._seconds)
        index = int(index)
        current, previous = self._counts(subject, index)
        overlap = 1 - offset / self._seconds  # share of the previous window still inside
        # No floor() here, unlike limits' counter: near a window boundary floor() lets one
        # extra hit through, and a budget should hold at every instant.
        if previous * overlap + current + 1 > self._amount:
            if current + 1 > self._amount or previous == 0:
                return self._seconds - offset  # only the next window frees room
            # The previous window's weight must fall until one more hit fits.
            needed_overlap = (self._amount - 1 - current) / previous
            return max(0.0, (1 - needed_overlap) * self._seconds - offset)
        self._windows[subject] = (index, current + 1, previous)
        self._prune(index)
        return None

    def _prune(self, index: int) -> None:
        """Forget subjects idle for two windows, at most once per window."""
        if index > self._pruned_at:
            self._pruned_at = index
            self._windows = {key: value for key, value in self._windows.items() if value[0] >= index - 1}


class RateLimiter:
    def __init__(self, per_minute: int, burst: int, redis_url: str = "") -> None:
        self._items: tuple[RateLimitItem, ...] = (
            RateLimitItemPerSecond(burst, namespace=NAMESPACE),
            RateLimitItemPerMinute(per_minute, namespace=NAMESPACE),
        )
        self._local = tuple(LocalWindow(item.amount, item.get_expiry()) for item in self._items)
        self._shared = SlidingWindowCounterRateLimiter(_redis_storage(redis_url)) if redis_url else None
        self._shared_down_until = 0.0

    def _admit_locally(self, subject: str) -> None:
        now = time.time()
        for window in self._local:
            if (wait := window.hit(subject, now)) is not None:
                raise _retry_after(wait)

    async def _admit_shared(self, shared: SlidingWindowCounterRateLimiter, subject: str) -> None:
        for item in self._items:
            if not await shared.hit(item, subject):
                stats = await shared.get_window_stats(item, subject)
                raise _retry_after(stats.reset_time - time.time())

    async def admit(self, subject: str) -> None:
        """Counts one request of ``subject``; raises RateLimited (with Retry-After) when over."""
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                await self._admit_shared(self._shared, subject)
                return
            except RateLimited:
                raise
            except Exception as exc:  # any storage failure: degrade to local
                self._shared_down_until = time.monotonic() + REDIS_RETRY_AFTER_SECS
                log.warning("shared rate limit unavailable; using this replica's", exc_info=exc)
        self._admit_locally(subject)
