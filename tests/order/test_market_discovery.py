"""Order finds the markets to follow: a Matching that is not serving yet when Order starts
(services start in any order) is asked again soon, not after the whole refresh interval."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, cast

from services.order.follower import EventFollower
from services.runtime.errors import Unavailable

REFRESH_SECS = 60.0  # far longer than the test waits: a retry that waits for it fails the test


class _MatchingUpAfter:
    """Peers whose market listing fails `failures` times (Matching not serving), then lists."""

    def __init__(self, failures: int, markets: list[str]) -> None:
        self.failures = failures
        self.markets = markets
        self.calls = 0

    async def market_ids(self) -> list[str]:
        self.calls += 1
        if self.calls <= self.failures:
            raise Unavailable("MATCHING_UNAVAILABLE", "matching is not serving")
        return self.markets


async def _followed(peers: _MatchingUpAfter, wait_secs: float) -> list[str]:
    spawned: list[str] = []
    found = asyncio.Event()

    def spawn(coroutine: Any, name: str) -> None:
        coroutine.close()  # the market's own follower is not under test here
        spawned.append(name)
        found.set()

    follower = EventFollower(cast(Any, None), cast(Any, None), cast(Any, peers), cast(Any, None),
                             fee_rate=Decimal("0.001"), release=cast(Any, None), withdraw=cast(Any, None),
                             spawn=spawn)
    task = asyncio.create_task(follower.follow_all_markets(refresh_secs=REFRESH_SECS))
    try:
        await asyncio.wait_for(found.wait(), wait_secs)
    except TimeoutError:
        pass
    finally:
        task.cancel()
    return spawned


async def test_markets_listed_once_matching_serves_are_followed_without_waiting_for_the_refresh() -> None:
    peers = _MatchingUpAfter(failures=3, markets=["BTC-USDC", "GRID-USDC"])

    spawned = await _followed(peers, wait_secs=5.0)

    assert spawned == ["order-events:BTC-USDC", "order-events:GRID-USDC"]
    assert peers.calls == 4

