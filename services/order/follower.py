"""Matching is the truth of fills: one background task per market follows its order events
from the cursor stored in this database, and applies each batch of events together with the
new cursor in one transaction, so after a crash nothing is counted twice or missed. A batch of
resting orders' OPEN events, which their recorded answers already showed (Order.answered), is
first checked against those orders as their placements in this process stored them
(Lifecycle.recorded), the others read in one statement alone: when it moves no order nothing
is written, and the stored cursor catches up with a later write (CURSOR_LAG_SECS). At 500 placements a second on
PostgreSQL that write was ~0.2 transactions per order of BEGIN, a locked read, the orders'
UPDATE, the cursor's UPDATE and COMMIT, for a fill_sequence and a cursor only.
Reconnects with backoff; the markets Matching lists are looked up at start and periodically.

On SQLite the batch's transaction is the placements' group commit (`write`, services/order/group.py):
every placed order has an event to apply (its fill accounting moves with it), so at 500
placements a second the follower wrote ~35 transactions a second of its own, each with its
commit's fsync, holding SQLite's one writer for about a third of the time it was held
(instrumented, 2026-12-06) while placements queued behind it. Joined to the group that is
being formed, the batch shares that group's commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import grpc
from clearmesh.matching.v1 import matching_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from services.order import wire
from services.order.domain.enums import STATE_NUMBERS, OrderState
from services.order.domain.market import MarketRules
from services.order.domain.orders import Order, Release
from services.order.domain.reasons import OrderReason
from services.order.markets import Markets
from services.order.peers import Peers
from services.order.store import OrderStore
from services.runtime.backoff import Backoff
from services.runtime.errors import DomainError
from services.runtime.transactions import Transactions

log = logging.getLogger("clearmesh.order.follower")

LIVE_STATES = frozenset({STATE_NUMBERS[OrderState.OPEN], STATE_NUMBERS[OrderState.PARTIALLY_FILLED]})
BATCH = 500  # events applied per transaction at most
# How long the stored cursor may stay behind batches that moved no order (most are resting
# orders' OPEN events): written with the next batch that moves one, or on its own after this
# long. A restart replays what it is behind by, and those events move nothing again.
CURSOR_LAG_SECS = 1.0
OPEN = STATE_NUMBERS[OrderState.OPEN]
MARKETS_REFRESH_SECS = 10.0
MIN_BACKOFF_SECS = 0.05
MAX_BACKOFF_SECS = 5.0

Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]
T = TypeVar("T")


class Write(Protocol):
    """Runs a unit of work in a write transaction (`Transactions.write`, `GroupWriter.write`)."""

    def __call__(self, work: Callable[[AsyncSession], Awaitable[T]], /) -> Awaitable[T]: ...


class EventFollower:
    def __init__(self, tx: Transactions, store: OrderStore, peers: Peers, markets: Markets, *, fee_rate: Decimal,
                 release: Callable[[Order], Coroutine[Any, Any, None]],
                 withdraw: Callable[[Order], Coroutine[Any, Any, bool]], spawn: Spawn,
                 answered: Callable[[list[str]], Awaitable[None]] | None = None,
                 recorded: Callable[[list[str]], dict[str, Order]] | None = None,
                 write: Write | None = None, cursor_lag_secs: float = CURSOR_LAG_SECS) -> None:
        self.tx = tx
        self.cursor_lag_secs = cursor_lag_secs
        # Where a batch's transaction runs: the placements' group commit (service.py), else alone.
        self._write = write
        self.store = store
        self.peers = peers
        self.markets = markets
        self.fee_rate = fee_rate
        self._release = release
        self._withdraw = withdraw
        self._spawn = spawn
        # Lets a placement in flight record Matching's answer before its order's events are
        # written (Lifecycle.answered): the caller is answered a commit sooner.
        self._answered = answered
        # The orders as the placements' recorded answers left them (Lifecycle.recorded), which
        # `moves_nothing` need not read again.
        self._recorded = recorded
        self._following: set[str] = set()

    async def follow_all_markets(self, refresh_secs: float = MARKETS_REFRESH_SECS) -> None:
        """Follow every market Matching lists, looking again every `refresh_secs` for new ones.
        A failed listing (Matching not serving yet: the services start in any order) is tried
        again with backoff, not after the whole refresh interval: until it succeeds no order's
        fills reach it."""
        backoff = Backoff(MIN_BACKOFF_SECS, min(MAX_BACKOFF_SECS, refresh_secs))
        while True:
            try:
                for market_id in await self.peers.market_ids():
                    if market_id not in self._following:
                        self._following.add(market_id)
                        self._spawn(self.follow(market_id), f"order-events:{market_id}")
            except DomainError as error:
                log.warning("could not list the markets", extra={"fields": {"reason": error.reason}})
                await backoff.wait()
                continue
            backoff.reset()
            await asyncio.sleep(refresh_secs)

    async def follow(self, market_id: str) -> None:
        backoff = Backoff(MIN_BACKOFF_SECS, MAX_BACKOFF_SECS)
        while True:
            try:
                market = await self.markets.get(market_id)
                if await self._follow_stream(market):
                    backoff.reset()
            except (grpc.aio.AioRpcError, DomainError) as error:  # Matching restarting, say
                log.info("order event stream interrupted", extra={"fields": {"market": market_id, "error": str(error)}})
            except Exception:  # e.g. the database briefly unavailable: never stop following
                log.exception("order event follower failed", extra={"fields": {"market": market_id}})
            await backoff.wait()

    async def _follow_stream(self, market: MarketRules) -> bool:
        """Follow one stream until it ends or fails; True if it delivered anything."""
        after = await self.tx.read(lambda session: self.store.cursor(session, market.market_id))
        call = self.peers.order_events(market.market_id, after)
        queue: asyncio.Queue[matching_pb2.OrderEvent | None] = asyncio.Queue()

        async def read() -> None:
            try:
                async for response in call:
                    if response.HasField("status"):  # an in-band error ends the stream
                        break
                    queue.put_nowait(response.event)
            finally:
                queue.put_nowait(None)

        reader = asyncio.create_task(read(), name=f"order-events-reader:{market.market_id}")
        write = self._write or self.tx.write
        delivered = False
        loop = asyncio.get_running_loop()
        unsaved_since: float | None = None  # when the stored cursor first fell behind, if it is
        try:
            ended = False
            while not ended:
                first = await queue.get()
                if first is None:
                    break
                if self._answered is not None:
                    await self._answered([first.order.removeprefix("orders/")])
                batch = [first]
                # Whatever else already arrived goes into the same transaction.
                while len(batch) < BATCH and not queue.empty():
                    item = queue.get_nowait()
                    if item is None:
                        ended = True
                        break
                    batch.append(item)
                if self._answered is not None and len(batch) > 1:
                    # The others' answers too: Matching answers a batch of SubmitOrders at once, and
                    # an OPEN event read before its answer is recorded is one to write.
                    await self._answered(_order_ids(batch))
                if all(_opened(event) for event in batch) and await self.moves_nothing(market, batch):
                    # Nothing to write but the cursor, which may lag (see CURSOR_LAG_SECS).
                    if unsaved_since is None:
                        unsaved_since = loop.time()
                    elif loop.time() - unsaved_since >= self.cursor_lag_secs:
                        last = batch[-1].sequence
                        await write(lambda session: self.store.set_cursor(session, market.market_id, last))  # noqa: B023
                        unsaved_since = None
                    delivered = True
                    continue
                released, strays = await write(lambda session: self.apply(session, market, batch))  # noqa: B023
                unsaved_since = None
                for order in released:
                    self._spawn(self._release(order), f"order-release:{order.order_id}")
                for order in strays:
                    self._spawn(self._withdraw(order), f"order-withdraw:{order.order_id}")
                delivered = True
        finally:
            reader.cancel()
            call.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]
        return delivered

    async def apply(self, session: AsyncSession, market: MarketRules,
                    events: list[matching_pb2.OrderEvent]) -> tuple[list[Order], list[Order]]:
        """Move the orders these events concern and the cursor past them. Returned, to act on
        once this commits: the orders whose release became due, and the strays — orders this
        service rejected because Matching did not answer, which Matching shows live after all
        (their hold is gone, so they must leave the book)."""
        orders = await self.store.many(session, _order_ids(events))
        changed, strays = self._moved(market, orders, events)
        await self.store.save_all(session, list(changed.values()))
        await self.store.set_cursor(session, market.market_id, events[-1].sequence)
        released = [order for order_id, order in changed.items()
                    if order.release is Release.DUE and orders[order_id].release is not Release.DUE]
        return released, list(strays.values())

    async def moves_nothing(self, market: MarketRules, events: list[matching_pb2.OrderEvent]) -> bool:
        """Whether `events` would move no order and find no stray, decided on the orders as their
        placements recorded them (`recorded`) and, for the others, as read in one statement
        alone, unlocked. Safe to act on without a lock, and on an order as it was stored a
        moment ago: its sequences only grow, so events behind them then are behind them now; and
        one recorded resting cannot since have been rejected (a stray's state)."""
        order_ids = _order_ids(events)
        orders = self._recorded(order_ids) if self._recorded is not None else {}
        unknown = [order_id for order_id in order_ids if order_id not in orders]
        if unknown:
            orders |= await self.tx.read_alone(lambda connection: self.store.many(connection, unknown, lock=False))
        changed, strays = self._moved(market, orders, events)
        return not changed and not strays

    def _moved(self, market: MarketRules, orders: dict[str, Order],
               events: list[matching_pb2.OrderEvent]) -> tuple[dict[str, Order], dict[str, Order]]:
        """The orders `events` move (as they end up), and the strays among them, by order id."""
        changed: dict[str, Order] = {}
        strays: dict[str, Order] = {}
        for event in events:
            order_id = event.order.removeprefix("orders/")
            order = changed.get(order_id) or orders.get(order_id)
            if order is None:
                continue  # not an order of this service's database
            if (order.state is OrderState.REJECTED and order.reject_reason == OrderReason.MATCHING_UNAVAILABLE
                    and event.state in LIVE_STATES):
                strays[order_id] = order
            updated = order.with_event(market, wire.fill_event(market, event), self.fee_rate)
            if updated != order:
                changed[order_id] = updated
        return changed, strays


def _order_ids(events: list[matching_pb2.OrderEvent]) -> list[str]:
    return [event.order.removeprefix("orders/") for event in events]


def _opened(event: matching_pb2.OrderEvent) -> bool:
    """An order's OPEN without a fill: what its recorded answer already showed, usually
    (Order.answered); a batch of only these is first read, to be written only if it must be."""
    return event.state == OPEN and not event.trade
