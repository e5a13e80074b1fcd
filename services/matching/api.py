"""The Matching gRPC adapter: parse (requests.py) → market writer / store → messages (wire.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clearmesh.matching.v1 import matching_pb2, matching_service_pb2 as pb, matching_service_pb2_grpc as pb_grpc
from services.matching import wire
from services.matching.domain import CancelOrder
from services.matching.domain.reasons import MatchingReason
from services.matching.exchange import Exchange
from services.matching.requests import (
    parse_book_request,
    parse_cancel_request,
    parse_create_market,
    parse_market,
    parse_stream_request,
    parse_submit_market,
    parse_submit_order,
)
from services.runtime import idempotency
from services.runtime.errors import NotFound
from services.runtime.paging import encode_token, read_page
from services.runtime.transactions import Transactions

STREAM_CHUNK = 500  # items read per step when a stream catches up
CREATE_MARKET = idempotency.method_name(pb.DESCRIPTOR.services_by_name["MatchingService"], "CreateMarket")


class MatchingServicer(pb_grpc.MatchingServiceServicer):
    def __init__(self, exchange: Exchange, tx: Transactions, precisions: Mapping[str, int]) -> None:
        self.exchange = exchange
        self.store = exchange.store
        self.tx = tx
        self.precisions = precisions  # the platform's assets: code -> decimals

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
        return wire.market_message(self.exchange.writer(parse_market("name", request.name)).market)

    async def CreateMarket(self, request: pb.CreateMarketRequest, context: Any) -> matching_pb2.Market:
        market = parse_create_market(request, self.precisions)

        async def create(session: AsyncSession) -> matching_pb2.Market:
            writer = await self.exchange.create(market, session)
            return wire.market_message(writer.market)

        return await idempotency.once(self.tx, self.exchange.clock, CREATE_MARKET, request.request_id,
                                      request, matching_pb2.Market, create)

    # --------------------------------------------------------------- book data
    async def GetOrderBook(self, request: pb.GetOrderBookRequest, context: Any) -> matching_pb2.OrderBook:
        market, depth = parse_book_request(request)
        writer = self.exchange.writer(market)
        return wire.book_message(writer.market, writer.engine.book(depth))

    async def ListTrades(self, request: pb.ListTradesRequest, context: Any) -> pb.ListTradesResponse:
        writer = self.exchange.writer(parse_market("market", request.market))
        page = read_page(request.page_size, request.page_token, request.market)
        trades = await self.store.trades_after(writer.name, page.after_number, page.size + 1)
        more = len(trades) > page.size
        trades = trades[:page.size]
        return pb.ListTradesResponse(
            trades=[wire.trade_message(writer.market, trade) for trade in trades],
            next_page_token=encode_token(str(trades[-1].sequence), request.market) if more else "")

    async def ListAuctions(self, request: pb.ListAuctionsRequest, context: Any) -> pb.ListAuctionsResponse:
        writer = self.exchange.writer(parse_market("market", request.market))
        page = read_page(request.page_size, request.page_token, request.market)
        auctions = await self.store.auctions_after(writer.name, page.after_number, page.size + 1)
        more = len(auctions) > page.size
        auctions = auctions[:page.size]
        return pb.ListAuctionsResponse(
            auctions=[wire.auction_message(writer.market, auction) for auction in auctions],
            next_page_token=encode_token(str(auctions[-1].sequence), request.market) if more else "")

    async def StreamTrades(self, request: pb.StreamTradesRequest, context: Any) -> AsyncIterator[pb.StreamTradesResponse]:
        writer = self.exchange.writer(parse_stream_request(request.market, request.after_sequence))
        market = writer.market
        async for trade in _follow(writer.trades, self.store.trades_after, writer.name, request.after_sequence):
            yield pb.StreamTradesResponse(trade=wire.trade_message(market, trade))

    async def StreamOrderEvents(self, request: pb.StreamOrderEventsRequest,
                                context: Any) -> AsyncIterator[pb.StreamOrderEventsResponse]:
        writer = self.exchange.writer(parse_stream_request(request.market, request.after_sequence))
        market = writer.market
        async for event in _follow(writer.events, self.store.events_after, writer.name, request.after_sequence):
            yield pb.StreamOrderEventsResponse(event=wire.event_message(market, event))

    # ------------------------------------------------------------------ orders
    async def SubmitOrder(self, request: pb.SubmitOrderRequest, context: Any) -> pb.SubmitOrderResponse:
        writer = self.exchange.writer(parse_submit_market(request))
        command = parse_submit_order(writer.market, request, self.exchange.now())
        return wire.submit_response(writer.market, await writer.submit(command))

    async def CancelOrder(self, request: pb.CancelOrderRequest, context: Any) -> pb.CancelOrderResponse:
        writer = self.exchange.writer(parse_cancel_request(request))
        if writer.engine.resting_order(request.order) is None:
            finished = await writer.status(request.order)
            if finished is None:
                raise NotFound(MatchingReason.ORDER_NOT_FOUND, f"order {request.order} is not in markets/{writer.name}",
                               metadata={"order": request.order})
            # Cancelling an order that already left the book answers its final state (idempotent).
            return pb.CancelOrderResponse(state=wire.enum(finished.state), sequence=finished.sequence,
                                          filled_quantity=wire.quantity(writer.market, finished.filled),
                                          remaining_quantity=wire.quantity(writer.market, 0))
        result = await writer.execute(CancelOrder(request.order, self.exchange.now()))
        return wire.cancel_response(writer.market, result)


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
