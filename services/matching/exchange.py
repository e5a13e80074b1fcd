"""The service's markets: one writer each, created at start-up from the store, plus the
background clock that clears auctions and expires orders.

With Matching in shards (services/runtime/shards.py) this process writes only the markets its
shard owns; a call naming another shard's market answers FAILED_PRECONDITION
MARKET_ON_ANOTHER_SHARD, with that shard's number and address, so a misrouted caller is told
where to go rather than given a second, empty book (a user's call is relayed to the owner
before it gets here: relay.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.domain import ClearAuction, Expire, Market, MarketMode
from services.matching.domain.reasons import MatchingReason
from services.matching.metrics import AUCTION_INTERVAL, AUCTION_LAST_RUN, BOOKS
from services.matching.store import MatchingStore, StoredMarket
from services.matching.writer import SNAPSHOT_EVERY, MarketWriter
from services.runtime.clock import Clock
from services.runtime.errors import AlreadyExists, DomainError, FailedPrecondition, NotFound
from services.runtime.shards import ShardMap
from services.runtime.timestamps import nanos

EXPIRY_SWEEP_MS = 1000  # how often continuous markets look for orders past their expiry
NS_PER_HOUR = 3600 * 10**9

Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]


@dataclass(frozen=True)
class Placement:
    """The shard map and which shard this process is."""

    shards: ShardMap = field(default_factory=lambda: ShardMap(("",)))  # one shard: every market
    shard: int = 0

    def owns(self, market: str) -> bool:
        return self.shards.shard_of(market) == self.shard

    def refuse(self, market: str) -> FailedPrecondition:
        owner = self.shards.shard_of(market)
        return FailedPrecondition(
            MatchingReason.MARKET_ON_ANOTHER_SHARD,
            f"markets/{market} is served by matching shard {owner}, not by this shard ({self.shard})",
            metadata={"market": f"markets/{market}", "shard": str(owner), "address": self.shards.addresses[owner],
                      "thisShard": str(self.shard)})


class Exchange:
    def __init__(self, store: MatchingStore, clock: Clock, spawn: Spawn, *, order_expiration_hours: int,
                 max_book_size: int, snapshot_every: int = SNAPSHOT_EVERY,
                 placement: Placement | None = None) -> None:
        self.placement = placement or Placement()
        self.store = store
        self.clock = clock
        self._spawn = spawn
        self._lifetime_ns = order_expiration_hours * NS_PER_HOUR
        self._max_book_size = max_book_size
        self._snapshot_every = snapshot_every
        self.writers: dict[str, MarketWriter] = {}
        self._creating = asyncio.Lock()
        BOOKS.watch(self)  # its books on /metrics

    def now(self) -> int:
        return nanos(self.clock.now())

    async def open(self, defaults: list[Market]) -> None:
        """Ensure the default markets this shard owns exist, then rebuild every market from its
        journal. A journal holding a market another shard owns (the number of shards changed,
        its journal was not moved) stops the start: serving it here and there would give the
        market two writers."""
        for market in defaults:
            if self.placement.owns(market.name):
                await self.store.add_market(market, self.now())
        stored = await self.store.market_definitions()
        if strays := [market.name for market in stored if not self.placement.owns(market.name)]:
            raise RuntimeError(f"this journal holds markets that matching shard {self.placement.shard} does not own: "
                               f"{', '.join(strays)}; move them to their shards before starting")
        for market in stored:
            await self._open_market(market)

    async def _open_market(self, market: Market, stored: StoredMarket | None = None) -> MarketWriter:
        writer = MarketWriter(self.store, stored or await self.store.load(market), lifetime_ns=self._lifetime_ns,
                              max_book_size=self._max_book_size, snapshot_every=self._snapshot_every)
        writer.start()
        self.writers[market.name] = writer
        self._spawn(self._tick(writer), f"matching-clock:{market.name}")
        return writer

    async def close(self) -> None:
        for writer in self.writers.values():
            await writer.close()
        await self.store.close()

    def writer(self, market: str) -> MarketWriter:
        writer = self.writers.get(market)
        if writer is None and not self.placement.owns(market):
            raise self.placement.refuse(market)
        if writer is None:
            raise NotFound(MatchingReason.MARKET_NOT_FOUND, f"market markets/{market} does not exist",
                           metadata={"market": f"markets/{market}"})
        return writer

    async def create(self, market: Market, session: AsyncSession) -> MarketWriter:
        """Record the market in `session`'s transaction and open it (its book starts empty)."""
        if not self.placement.owns(market.name):
            raise self.placement.refuse(market.name)
        async with self._creating:
            if market.name in self.writers or not await self.store.add_market(market, self.now(), session):
                raise AlreadyExists(MatchingReason.MARKET_ALREADY_EXISTS, f"market markets/{market.name} already exists",
                                    metadata={"market": f"markets/{market.name}"})
            return await self._open_market(market, StoredMarket(market, None, 0, [], 0))

    async def _tick(self, writer: MarketWriter) -> None:
        """Clear auctions every interval and expire due orders; each is a journaled command."""
        auction = writer.market.mode == MarketMode.PERIODIC_AUCTION
        interval_ms = writer.market.auction_interval_ms if auction else EXPIRY_SWEEP_MS
        heartbeat = AUCTION_LAST_RUN.labels(writer.name) if auction else None
        if heartbeat is not None:
            AUCTION_INTERVAL.labels(writer.name).set((interval_ms or EXPIRY_SWEEP_MS) / 1000)
            heartbeat.set_to_current_time()
        while True:
            await asyncio.sleep((interval_ms or EXPIRY_SWEEP_MS) / 1000)
            now = self.now()
            engine = writer.engine
            # An auction with nothing crossing would only advance the auction counter, so it is
            # skipped; it is decided here and journaled, so replay stays deterministic.
            with contextlib.suppress(DomainError):  # e.g. the journal was briefly unavailable
                if auction and engine.crosses():
                    await writer.execute(ClearAuction(now))
                elif engine.expiry_due(now):
                    await writer.execute(Expire(now))
                # A round that ended (a failed clear does not): the StalledAuction alert
                # watches this heartbeat.
                if heartbeat is not None:
                    heartbeat.set_to_current_time()
