"""Intake: follows every market's trade stream and records one PENDING settlement per trade.

One task lists Matching's markets now and then and starts a follower per market. A follower
reads `StreamTrades(after_sequence = the stored cursor)` into a queue; whatever has arrived
when the writer gets to it (up to `MAX_INTAKE`) is written in one transaction together with
the new cursor. A trade delivered twice (a reconnect, a restart between the stream and the
commit) finds its settlement already there and changes nothing. When the stream breaks, the
follower waits (doubling up to `MAX_BACKOFF_SECS`) and resumes from the stored cursor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from decimal import Decimal
from functools import partial
from typing import Any

import grpc
from opentelemetry import trace
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from clearmesh.matching.v1 import matching_pb2, matching_service_pb2 as matching_pb
from clearmesh.matching.v1 import matching_service_pb2_grpc as matching_grpc
from services.runtime.backoff import Backoff
from services.runtime.clock import Clock
from services.runtime.paging import every_page
from services.runtime.shards import MatchingShards
from services.runtime.status import is_outage
from services.runtime.telemetry import link_to
from services.runtime.transactions import Transactions
from services.settlement import metrics
from services.settlement.domain.settlement import Settlement, charge_in_order
from services.settlement.domain.states import State
from services.settlement.store import SettlementStore
from services.settlement.wire import settlement_of_trade
from services.wallet.domain import AssetCatalog

log = logging.getLogger("clearmesh.settlement.intake")
_tracer = trace.get_tracer("clearmesh.settlement")

MAX_INTAKE = 1000
# Trades per stream message. One message per trade cost the intake more than recording it: a
# gRPC read per trade, each a turn of the event loop it shares with the poster and the
# anchorer, so a backlog came in by the handful while they worked. A message of what
# Matching has ready (it never waits to fill one) is read in one turn.
TRADES_PER_MESSAGE = 500
# How long the writer lets trades gather after the first before it writes them. The stream's
# reader shares the event loop with the writer, and a SQLite write does not yield it: without
# the wait the writer took the one to five trades that had arrived since its last write, so a
# backlog was written a handful of trades per transaction (each ~5 ms of fixed cost). A few
# ms of delay per trade buys batches of hundreds when trades arrive faster than one write.
INTAKE_LINGER_SECS = 0.02
# ...unless this many are there already (a stream message brings up to TRADES_PER_MESSAGE): a
# backlog's first batch is then written, and posted, while the next ones arrive, rather than
# the poster waiting for a full MAX_INTAKE to be written first.
INTAKE_ENOUGH = 100
RELIST_SECS = 30.0
FIRST_BACKOFF_SECS = 0.1
MAX_BACKOFF_SECS = 5.0
# Markets listed per ListMarkets page.
MARKET_PAGE = 1000
_END = None


class Intake:
    def __init__(self, *, tx: Transactions, store: SettlementStore, clock: Clock,
                 matching: MatchingShards, assets: AssetCatalog, fee_rate: Decimal,
                 spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]],
                 on_intake: Callable[[], None], relist_secs: float = RELIST_SECS) -> None:
        self._tx = tx
        self._store = store
        self._clock = clock
        self._matching = matching
        self._assets = assets
        self._fee_rate = fee_rate
        self._spawn = spawn
        self._on_intake = on_intake
        self._relist_secs = relist_secs
        self._followers: dict[str, asyncio.Task[Any]] = {}

    async def run(self) -> None:
        """Keeps a follower running for every market Matching lists."""
        while True:
            try:
                for market in await self._markets():
                    follower = self._followers.get(market.name)
                    if follower is None or follower.done():
                        self._followers[market.name] = self._spawn(self._follow(market), f"intake {market.name}")
            except grpc.aio.AioRpcError as error:
                log.warning("cannot list markets", extra={"fields": {"status": error.code().name}})
            await asyncio.sleep(self._relist_secs)

    async def _markets(self) -> list[matching_pb2.Market]:
        """Every Matching shard's markets (each lists only its own)."""
        markets: list[matching_pb2.Market] = []
        for channel in self._matching.every():
            stub = matching_grpc.MatchingServiceStub(channel)
            async for page in every_page(partial(stub.ListMarkets, timeout=10),
                                         matching_pb.ListMarketsRequest(page_size=MARKET_PAGE)):
                markets.extend(page.markets)
        return markets

    async def _follow(self, market: matching_pb2.Market) -> None:
        backoff = Backoff(FIRST_BACKOFF_SECS, MAX_BACKOFF_SECS)
        while True:
            try:
                if await self._follow_once(market):
                    backoff.reset()
            except grpc.aio.AioRpcError as error:
                log.warning("trade stream broke; resuming from the stored cursor",
                            extra={"fields": {"market": market.name, "status": error.code().name,
                                               "detail": error.details()}})
            except Exception as error:  # the store is gone: nothing was recorded past the stored cursor
                if not isinstance(error, SQLAlchemyError) and not is_outage(error):
                    raise
                log.warning("the settlement store failed; resuming from the stored cursor",
                            extra={"fields": {"market": market.name, "error": type(error).__name__}})
            await backoff.wait()

    async def _follow_once(self, market: matching_pb2.Market) -> bool:
        """Follows the stream until it ends; True if it delivered anything."""
        cursor = await self._tx.read(lambda session: self._store.cursor(session, market.name))
        # From the shard that owns the market; the cursor is the market's, so each shard's
        # markets resume on their own.
        call = matching_grpc.MatchingServiceStub(self._matching.of(market.name)).StreamTrades(
            matching_pb.StreamTradesRequest(market=market.name, after_sequence=cursor,
                                            max_trades_per_message=TRADES_PER_MESSAGE))
        queue: asyncio.Queue[matching_pb2.Trade | None] = asyncio.Queue(maxsize=4 * MAX_INTAKE)
        reader = asyncio.create_task(_read(call, queue))
        delivered = False
        try:
            while True:
                trades, ended = await _drain(queue)
                if trades:
                    await self._record(market, trades)
                    delivered = True
                if ended:
                    await reader  # raises what broke the stream
                    return delivered
        finally:
            reader.cancel()
            call.cancel()

    async def _record(self, market: matching_pb2.Market, trades: list[matching_pb2.Trade]) -> None:
        """Records the trades' settlements in one span that links to each trade's taker trace:
        from the trace that placed an order, Jaeger leads to the settling of its trades."""
        links = [link for link in map(link_to, (trade.taker_trace_parent for trade in trades)) if link is not None]
        with _tracer.start_as_current_span("settlement intake", links=links, attributes={
                "clearmesh.market": market.name, "clearmesh.trade_count": len(trades)}):
            await self._record_traced(market, trades)

    async def _record_traced(self, market: matching_pb2.Market, trades: list[matching_pb2.Trade]) -> None:
        now = self._clock.now()
        arrived = [settlement_of_trade(trade, market, self._assets, self._fee_rate, now) for trade in trades]
        cursor = max(trade.sequence for trade in trades)

        async def record(session: AsyncSession) -> list[Settlement]:
            # Charged here, in trade order and in the transaction that records them, so each
            # order's running notional counts every trade exactly once.
            fresh = await self._store.unseen(session, arrived)
            orders = [order for s in fresh for order in (s.terms.buy_order, s.terms.sell_order)]
            filled = await self._store.order_fills(session, orders)
            charged_ones, now_filled = charge_in_order(fresh, filled, self._assets, self._fee_rate)
            await self._store.save_order_fills(session, filled, now_filled)
            await self._store.intake(session, market.name, charged_ones, cursor)
            return charged_ones

        recorded = await self._tx.write(record)
        if recorded:
            metrics.GAVE_UP.inc(sum(s.progress.state is State.FAILED for s in recorded))  # unpostable as they came
            self._on_intake()


async def _read(call: Any, queue: asyncio.Queue[matching_pb2.Trade | None]) -> None:
    """Puts every trade of the stream in the queue, then the end marker (also when it breaks)."""
    try:
        async for item in call:
            payload = item.WhichOneof("payload")
            if payload == "trades":
                for trade in item.trades.trades:
                    await queue.put(trade)
            elif payload == "trade":  # a Matching that sends one trade per message
                await queue.put(item.trade)
            else:
                # An in-band terminal error (see StreamTradesResponse), or a payload this intake
                # does not know: end and reconnect from the stored cursor, skipping nothing.
                log.warning("trade stream ended with an error", extra={"fields": {"message": item.status.message}})
                break
    except asyncio.CancelledError:
        raise
    except Exception:
        await queue.put(_END)
        raise
    await queue.put(_END)


async def _drain(queue: asyncio.Queue[matching_pb2.Trade | None]) -> tuple[list[matching_pb2.Trade], bool]:
    """What has arrived, up to MAX_INTAKE (at least one item, waiting for it, then
    `INTAKE_LINGER_SECS` for more unless INTAKE_ENOUGH are there already), and whether the
    stream ended."""
    trades: list[matching_pb2.Trade] = []
    item = await queue.get()
    if item is not _END and queue.qsize() < INTAKE_ENOUGH - 1:
        await asyncio.sleep(INTAKE_LINGER_SECS)
    while item is not _END:
        trades.append(item)
        if len(trades) >= MAX_INTAKE or queue.empty():
            return trades, False
        item = queue.get_nowait()
    return trades, True
