"""Per-subject rate limits (the token's subject, or the client address when anonymous).

RATE_LIMIT_PER_MINUTE bounds any sliding minute; RATE_LIMIT_BURST bounds any single second,
so a client may spend a burst at once but not its whole minute in one spike. Both are moving
windows of the ``limits`` library: in memory for one edge, in Redis (REDIS_URL) so every edge
replica draws on the same budget. Redis accelerates, never decides: if it fails, this replica
falls back to its own memory rather than refusing or waving everything through.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from gateway.edge.errors import RateLimited

log = logging.getLogger("clearmesh.edge")
NAMESPACE = "clearmesh-edge"
REDIS_TIMEOUT_SECS = 0.25
# After a Redis failure, this long on the local budget before Redis is tried again, so an
# outage costs one timeout per period rather than one per request.
REDIS_RETRY_AFTER_SECS = 5.0


def _redis_storage(redis_url: str) -> Storage:
    scheme, sep, rest = redis_url.partition("://")
    return RedisStorage(f"async+{scheme}{sep}{rest}", implementation="redispy", key_prefix=NAMESPACE,
                        socket_connect_timeout=REDIS_TIMEOUT_SECS, socket_timeout=REDIS_TIMEOUT_SECS)


class RateLimiter:
    def __init__(self, per_minute: int, burst: int, redis_url: str = "") -> None:
        self._items: tuple[RateLimitItem, ...] = (
            RateLimitItemPerSecond(burst, namespace=NAMESPACE),
            RateLimitItemPerMinute(per_minute, namespace=NAMESPACE),
        )
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared = MovingWindowRateLimiter(_redis_storage(redis_url)) if redis_url else None
        self._shared_down_until = 0.0

    async def _hit(self, limiter: MovingWindowRateLimiter, subject: str) -> None:
        for item in self._items:
            if not await limiter.hit(item, subject):
                stats = await limiter.get_window_stats(item, subject)
                raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))

    async def admit(self, subject: str) -> None:
        """Counts one request of ``subject``; raises RateLimited (with Retry-After) when over."""
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                await self._hit(self._shared, subject)
                return
            except RateLimited:
                raise
            except Exception as exc:  # noqa: BLE001 - any storage failure: degrade to local
                self._shared_down_until = time.monotonic() + REDIS_RETRY_AFTER_SECS
                log.warning("shared rate limit unavailable; using this replica's", exc_info=exc)
        await self._hit(self._local, subject)
