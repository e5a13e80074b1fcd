"""The Matching gRPC adapter: validate → market writer / store → messages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from clearmesh.matching.v1 import matching_pb2, matching_service_pb2 as pb, matching_service_pb2_grpc as pb_grpc
from services.matching import wire
from services.matching.domain import (
    CancelOrder,
    Market,
    MarketMode,
    MarketState,
    OrderType,
    SelfTradePrevention,
    Side,
    SubmitOrder,
    SubmitResult,
    TimeInForce,
    notional_to_units,
    price_to_ticks,
    quantity_to_lots,
)
from services.matching.exchange import Exchange
from services.matching.writer import MarketWriter
from services.runtime import idempotency
from services.runtime.errors import Aborted, NotFound
from services.runtime.paging import encode_token, read_page
from services.runtime.timestamps import nanos_of
from services.runtime.validation import Violations
from services.runtime.transactions import Transactions
from sqlalchemy.ext.asyncio import AsyncSession

MARKET_ID = re.compile(r"^[A-Z][A-Z0-9]{1,15}-[A-Z][A-Z0-9]{1,15}$")
DEFAULT_DEPTH = 50
MAX_DEPTH = 1000
STREAM_CHUNK = 500  # items read per step when a stream catches up
ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
ORDER_IN_FLIGHT = "ORDER_IN_FLIGHT"
CREATE_MARKET = idempotency.method_name(pb.DESCRIPTOR.services_by_name["MatchingService"], "CreateMarket")


def _market_id(violations: Violations, field: str, value: str) -> str | None:
    if not violations.require(field, value):
        return None
    return violations.resource_name(field, value, "markets")


class MatchingServicer(pb_grpc.MatchingServiceServicer):
    def __init__(self, exchange: Exchange, tx: Transactions) -> None:
        self.exchange = exchange
        self.store = exchange.store
        self.tx = tx

    def _writer(self, violations: Violations, field: str, value: str) -> MarketWriter:
        market = _market_id(violations, field, value)
        violations.raise_if_any()
        assert market is not None
        return self.exchange.writer(market)

    # ------------------------------------------------------------------ markets
    async def ListMarkets(self, request: pb.ListMarketsRequest, context: Any) -> pb.ListMarketsResponse:
        page = read_page(request.page_size, request.page_token)
        names = sorted(name for name in self.exchange.writers if page.cursor is None or name > page.cursor)
        chosen = names[:page.size]
        more = len(names) > page.size
        return pb.ListMarketsResponse(
            markets=[wire.market_message(self.exchange.writers[name].market) for name in chosen],
            next_page_token=encode_token(chosen[-1]) if more else "")

    async def GetMarket(self, request: pb.GetMarketRequest, context: Any) -> matching_pb2.Market:
        return wire.market_message(self._writer(Violations(), "name", request.name).market)

    async def CreateMarket(self, request: pb.CreateMarketRequest, context: Any) -> matching_pb2.Market:
        market = _market_definition(request)

        async def create(session: AsyncSession) -> matching_pb2.Market:
            writer = await self.exchange.create(market, session)
            return wire.market_message(writer.market)

        return await idempotency.once(self.tx, self.exchange.clock, CREATE_MARKET, request.request_id,
                                      request, matching_pb2.Market, create)

    # --------------------------------------------------------------- book data
    async def GetOrderBook(self, request: pb.GetOrderBookRequest, context: Any) -> matching_pb2.OrderBook:
        violations = Violations()
        if request.depth < 0:
            violations.add("depth", "must not be negative")
        writer = self._writer(violations, "market", request.market)
        depth = min(request.depth or DEFAULT_DEPTH, MAX_DEPTH)
        return wire.book_message(writer.market, writer.engine.book(depth))

    async def ListTrades(self, request: pb.ListTradesRequest, context: Any) -> pb.ListTradesResponse:
        writer = self._writer(Violations(), "market", request.market)
        page = read_page(request.page_size, request.page_token, request.market)
        after = page.after_number
        trades = await self.store.trades_after(writer.name, after, page.size + 1)
        more = len(trades) > page.size
        trades = trades[:page.size]
        return pb.ListTradesResponse(
            trades=[wire.trade_message(writer.market, trade) for trade in trades],
            next_page_token=encode_token(str(trades[-1].sequence), request.market) if more else "")

    async def ListAuctions(self, request: pb.ListAuctionsRequest, context: Any) -> pb.ListAuctionsResponse:
        writer = self._writer(Violations(), "market", request.market)
        page = read_page(request.page_size, request.page_token, request.market)
        auctions = await self.store.auctions_after(writer.name, page.after_number, page.size + 1)
        more = len(auctions) > page.size
        auctions = auctions[:page.size]
        return pb.ListAuctionsResponse(
            auctions=[wire.auction_message(writer.market, auction) for auction in auctions],
            next_page_token=encode_token(str(auctions[-1].sequence), request.market) if more else "")

    async def StreamTrades(self, request: pb.StreamTradesRequest, context: Any) -> AsyncIterator[pb.StreamTradesResponse]:
        writer = self._stream_writer(request.market, request.after_sequence)
        market = writer.market
        async for trade in _follow(writer.trades, self.store.trades_after, writer.name, request.after_sequence):
            yield pb.StreamTradesResponse(trade=wire.trade_message(market, trade))

    async def StreamOrderEvents(self, request: pb.StreamOrderEventsRequest,
                                context: Any) -> AsyncIterator[pb.StreamOrderEventsResponse]:
        writer = self._stream_writer(request.market, request.after_sequence)
        market = writer.market
        async for event in _follow(writer.events, self.store.events_after, writer.name, request.after_sequence):
            yield pb.StreamOrderEventsResponse(event=wire.event_message(market, event))

    def _stream_writer(self, market: str, after_sequence: int) -> MarketWriter:
        violations = Violations()
        if after_sequence < 0:
            violations.add("after_sequence", "must not be negative")
        return self._writer(violations, "market", market)

    # ------------------------------------------------------------------ orders
    async def SubmitOrder(self, request: pb.SubmitOrderRequest, context: Any) -> pb.SubmitOrderResponse:
        violations = Violations()
        market_id = _market_id(violations, "market", request.market)
        violations.require("order", request.order)
        violations.require("account", request.account)
        violations.raise_if_any()
        assert market_id is not None
        writer = self.exchange.writer(market_id)
        now = self.exchange.now()
        command = _submit_command(writer.market, request, now)
        known = writer.order_status(request.order) or await self._finished(writer, request.order)
        if known is not None:
            return wire.submit_response(writer.market, known)
        result = await writer.execute(command)
        if result is None:  # a twin of this order in the same batch was rejected
            raise Aborted(ORDER_IN_FLIGHT, f"order {request.order} was being submitted concurrently; retry")
        return wire.submit_response(writer.market, result)

    async def CancelOrder(self, request: pb.CancelOrderRequest, context: Any) -> pb.CancelOrderResponse:
        violations = Violations()
        violations.require("order", request.order)
        writer = self._writer(violations, "market", request.market)
        if writer.engine.resting_order(request.order) is None:
            finished = await self._finished(writer, request.order)
            if finished is None:
                raise NotFound(ORDER_NOT_FOUND, f"order {request.order} is not in markets/{writer.name}",
                               metadata={"order": request.order})
            # Cancelling an order that already left the book answers its final state (idempotent).
            return pb.CancelOrderResponse(state=wire.enum(finished.state), sequence=finished.sequence,
                                          filled_quantity=wire.quantity(writer.market, finished.filled),
                                          remaining_quantity=wire.quantity(writer.market, 0))
        result = await writer.execute(CancelOrder(request.order, self.exchange.now()))
        return wire.cancel_response(writer.market, result)

    async def _finished(self, writer: MarketWriter, order_id: str) -> SubmitResult | None:
        """The final state of an order that left the book, from memory or the event history."""
        status = writer.order_status(order_id)
        if status is not None:
            return status
        event = await self.store.last_event_of(writer.name, order_id)
        if event is None:
            return None
        return SubmitResult(order_id, event.state, event.filled, event.remaining, [], event.reason,
                            writer.engine.sequence)


async def _follow(feed: Any, read: Any, market: str, cursor: int) -> AsyncIterator[Any]:
    """Everything after `cursor` in order — history from the store, then live — forever."""
    while True:
        if cursor >= feed.last_sequence:
            await feed.wait_beyond(cursor)
            continue
        items = feed.after(cursor, STREAM_CHUNK)
        if items is None:
            items = await read(market, cursor, STREAM_CHUNK)
        for item in items:
            yield item
            cursor = item.sequence


def _submit_command(market: Market, request: pb.SubmitOrderRequest, now: int) -> SubmitOrder:
    """The domain command for a submission; every bad field is reported at once, before any write."""
    violations = Violations()
    problems = violations.items
    if request.side not in (Side.BUY, Side.SELL):
        violations.add("side", "must be BUY or SELL")
    if request.type not in (OrderType.LIMIT, OrderType.MARKET):
        violations.add("type", "must be LIMIT or MARKET")
    time_in_force = TimeInForce(request.time_in_force) if request.time_in_force in TimeInForce._value2member_map_ else None
    if request.time_in_force and time_in_force is None:
        violations.add("time_in_force", "is not a known time in force")
    is_market = request.type == OrderType.MARKET
    price = None
    if is_market:
        if request.price:
            violations.add("price", "a market order takes no limit price")
    elif violations.require("price", request.price):
        price = price_to_ticks(market, request.price, problems)
    quantity = None
    budget = None
    if request.max_notional:
        budget = notional_to_units(market, request.max_notional, problems)
    if request.quantity:
        quantity = quantity_to_lots(market, request.quantity, problems)
    elif not (is_market and request.side == Side.BUY and request.max_notional):
        violations.add("quantity", "is required")
    expire_at = nanos_of(request.expire_time) if request.HasField("expire_time") else None
    if time_in_force == TimeInForce.GTT:
        if expire_at is None:
            violations.add("expire_time", "is required for GTT orders")
        elif expire_at <= now:
            violations.add("expire_time", "must be in the future")
    violations.raise_if_any("the order is invalid")
    if quantity is None:
        # A market buy bounded only by its budget: as many lots as the budget can ever buy.
        quantity = market.max_lots or (1 << 62)
    return SubmitOrder(request.order, request.account, Side(request.side), OrderType(request.type), quantity, now,
                       price=price, time_in_force=time_in_force, post_only=request.post_only,
                       max_notional=budget, expire_at=expire_at)


def _market_definition(request: pb.CreateMarketRequest) -> Market:
    violations = Violations()
    if violations.require("market_id", request.market_id) and not MARKET_ID.match(request.market_id):
        violations.add("market_id", "must look like BASE-QUOTE in capitals, e.g. ETH-USDC")
    violations.request_id(request.request_id, required=False)
    if not request.HasField("market"):
        violations.add("market", "is required")
        violations.raise_if_any()
    definition = request.market
    violations.require("market.base_asset", definition.base_asset)
    violations.require("market.quote_asset", definition.quote_asset)
    tick = _decimal(violations, "market.tick_size", definition.tick_size, required=True)
    lot = _decimal(violations, "market.lot_size", definition.lot_size, required=True)
    minimum = _decimal(violations, "market.min_quantity", definition.min_quantity)
    maximum = _decimal(violations, "market.max_quantity", definition.max_quantity)
    reference = _decimal(violations, "market.reference_price", definition.reference_price)
    if minimum is not None and maximum is not None and minimum > maximum:
        violations.add("market.max_quantity", "must not be below min_quantity")
    if lot is not None:
        for field, value in (("market.min_quantity", minimum), ("market.max_quantity", maximum)):
            if value is not None and value % lot:
                violations.add(field, "must be a multiple of lot_size")
    if tick is not None and reference is not None and reference % tick:
        violations.add("market.reference_price", "must be a multiple of tick_size")
    interval_ms: int | None = None
    if definition.mode == MarketMode.PERIODIC_AUCTION:
        interval = definition.auction_interval
        interval_ms = interval.seconds * 1000 + interval.nanos // 1_000_000
        if not definition.HasField("auction_interval") or interval_ms <= 0:
            violations.add("market.auction_interval", "a periodic auction needs a positive interval")
    elif definition.mode == MarketMode.CONTINUOUS:
        if definition.HasField("auction_interval"):
            violations.add("market.auction_interval", "only periodic auction markets have one")
    else:
        violations.add("market.mode", "must be CONTINUOUS or PERIODIC_AUCTION")
    if definition.state not in (0, *MarketState._value2member_map_):
        violations.add("market.state", "is not a known market state")
    if definition.self_trade_prevention not in (0, *SelfTradePrevention._value2member_map_):
        violations.add("market.self_trade_prevention", "is not a known policy")
    violations.raise_if_any("the market is invalid")
    assert tick is not None and lot is not None
    return Market(
        name=request.market_id, base_asset=definition.base_asset, quote_asset=definition.quote_asset,
        tick_size=tick, lot_size=lot, min_quantity=minimum, max_quantity=maximum,
        mode=MarketMode(definition.mode), auction_interval_ms=interval_ms,
        state=MarketState(definition.state or MarketState.OPEN),
        self_trade_prevention=SelfTradePrevention(definition.self_trade_prevention
                                                  or SelfTradePrevention.CANCEL_RESTING),
        reference_price=reference)


def _decimal(violations: Violations, field: str, text: str, *, required: bool = False) -> Decimal | None:
    if not text:
        if required:
            violations.add(field, "is required")
        return None
    return violations.decimal(field, text)


