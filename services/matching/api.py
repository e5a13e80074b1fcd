"""The Matching gRPC adapter: parse (requests.py) → market writer / store → messages (wire.py).

A user's call of a market another shard owns is answered by that shard (relay.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from google.rpc import status_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from clearmesh.matching.v1 import matching_pb2, matching_service_pb2 as pb, matching_service_pb2_grpc as pb_grpc
from services.matching import wire
from services.matching.domain import CancelOrder, SubmitResult
from services.matching.domain import SubmitOrder as SubmitCommand  # the servicer has a SubmitOrder
from services.matching.domain.reasons import MatchingReason
from services.matching.exchange import Exchange
from services.matching.writer import MarketWriter
from services.matching.relay import Relay
from services.matching.requests import (
    parse_book_request,
    parse_cancel_request,
    parse_create_market,
    parse_market,
    parse_stream_request,
    parse_submit_market,
    parse_submit_order,
)
from services.matching.visibility import trade_as_seen_by
from services.runtime import idempotency
from services.runtime.auth import current_principal
from services.runtime.batches import check_batch, settle_each
from services.runtime.errors import DomainError, NotFound
from services.runtime.paging import read_page
from services.runtime.shards import market_id
from services.runtime.telemetry import current_traceparent
from services.runtime.transactions import Transactions

T = TypeVar("T")
U = TypeVar("U")
STREAM_CHUNK = 500  # items read per step when a stream catches up
Parsed = tuple[MarketWriter, SubmitCommand]  # a submission's market writer and its command
CREATE_MARKET = idempotency.method_name(pb.DESCRIPTOR.services_by_name["MatchingService"], "CreateMarket")


class MatchingServicer(pb_grpc.MatchingServiceServicer):
    def __init__(self, exchange: Exchange, tx: Transactions, precisions: Mapping[str, int], relay: Relay) -> None:
        self.exchange = exchange
        self.relay = relay
        self.store = exchange.store
        self.tx = tx
        self.precisions = precisions  # the platform's assets: code -> decimals

    # ------------------------------------------------------------------ markets
    async def ListMarkets(self, request: pb.ListMarketsRequest, context: Any) -> pb.ListMarketsResponse:
        page = read_page(request.page_size, request.page_token)
        markets = {name: wire.market_message(writer.market) for name, writer in self.exchange.writers.items()}
        elsewhere, more = await self.relay.markets_elsewhere(request, context)  # a user's call: every shard's
        markets.update((market_id(market.name), market) for market in elsewhere)
        names = sorted(name for name in markets if page.cursor is None or name > page.cursor)
        chosen, token = page.cut(names, lambda name: name, more=more)
        return pb.ListMarketsResponse(markets=[markets[name] for name in chosen], next_page_token=token)

    async def GetMarket(self, request: pb.GetMarketRequest, context: Any) -> matching_pb2.Market:
        market = parse_market("name", request.name)
        if self.relay.elsewhere(market, context):
            return await self.relay.call("GetMarket", market, request, context)
        return wire.market_message(self.exchange.writer(market).market)

    async def CreateMarket(self, request: pb.CreateMarketRequest, context: Any) -> matching_pb2.Market:
        market = parse_create_market(request, self.precisions)
        if self.relay.elsewhere(market.name, context):
            return await self.relay.call("CreateMarket", market.name, request, context)

        async def create(session: AsyncSession) -> matching_pb2.Market:
            writer = await self.exchange.create(market, session)
            return wire.market_message(writer.market)

        return await idempotency.once(self.tx, self.exchange.clock, CREATE_MARKET, request.request_id,
                                      request, matching_pb2.Market, create)

    # --------------------------------------------------------------- book data
    async def GetOrderBook(self, request: pb.GetOrderBookRequest, context: Any) -> matching_pb2.OrderBook:
        market, depth = parse_book_request(request)
        if self.relay.elsewhere(market, context):
            return await self.relay.call("GetOrderBook", market, request, context)
        writer = self.exchange.writer(market)
        return wire.book_message(writer.market, writer.engine.book(depth))

    async def ListTrades(self, request: pb.ListTradesRequest, context: Any) -> pb.ListTradesResponse:
        market = parse_market("market", request.market)
        if self.relay.elsewhere(market, context):
            return await self.relay.call("ListTrades", market, request, context)
        writer = self.exchange.writer(market)
        page = read_page(request.page_size, request.page_token, request.market)
        trades, token = page.cut(await self.store.trades_after(writer.name, page.after_number, page.size + 1),
                                 lambda trade: str(trade.sequence))
        viewer = current_principal()
        return pb.ListTradesResponse(
            trades=[trade_as_seen_by(viewer, wire.trade_message(writer.market, trade)) for trade in trades],
            next_page_token=token)

    async def ListAuctions(self, request: pb.ListAuctionsRequest, context: Any) -> pb.ListAuctionsResponse:
        market = parse_market("market", request.market)
        if self.relay.elsewhere(market, context):
            return await self.relay.call("ListAuctions", market, request, context)
        writer = self.exchange.writer(market)
        page = read_page(request.page_size, request.page_token, request.market)
        auctions, token = page.cut(await self.store.auctions_after(writer.name, page.after_number, page.size + 1),
                                   lambda auction: str(auction.sequence))
        return pb.ListAuctionsResponse(
            auctions=[wire.auction_message(writer.market, auction) for auction in auctions], next_page_token=token)

    async def StreamTrades(self, request: pb.StreamTradesRequest, context: Any) -> AsyncIterator[pb.StreamTradesResponse]:
        name = parse_stream_request(request.market, request.after_sequence,
                                    max_per_message=request.max_trades_per_message)
        if self.relay.elsewhere(name, context):
            async for answer in self.relay.stream("StreamTrades", name, request, context):
                yield answer
            return
        writer = self.exchange.writer(name)
        market = writer.market
        viewer = current_principal()
        per_message = request.max_trades_per_message
        if not per_message:
            async for trade in _follow(writer.trades, self.store.trades_after, writer.name, request.after_sequence):
                yield pb.StreamTradesResponse(trade=trade_as_seen_by(viewer, wire.trade_message(market, trade)))
            return
        # What is there when the stream gets to it goes in as few messages as the caller allows:
        # a follower catching up then reads hundreds of trades per message, not one (never
        # waiting to fill one: a live trade goes out as soon as it is made).
        async for trades in _follow_chunks(writer.trades, self.store.trades_after, writer.name, request.after_sequence):
            for start in range(0, len(trades), per_message):
                yield pb.StreamTradesResponse(trades=pb.TradeBatch(trades=[
                    trade_as_seen_by(viewer, wire.trade_message(market, trade))
                    for trade in trades[start:start + per_message]]))

    async def StreamOrderEvents(self, request: pb.StreamOrderEventsRequest,
                                context: Any) -> AsyncIterator[pb.StreamOrderEventsResponse]:
        writer = self.exchange.writer(parse_stream_request(request.market, request.after_sequence))
        market = writer.market
        async for event in _follow(writer.events, self.store.events_after, writer.name, request.after_sequence):
            yield pb.StreamOrderEventsResponse(event=wire.event_message(market, event))

    # ------------------------------------------------------------------ orders
    async def SubmitOrder(self, request: pb.SubmitOrderRequest, context: Any) -> pb.SubmitOrderResponse:
        writer, command = self._parse_submission(request)
        trace = _trade_trace(request.trace_parent, current_traceparent())
        return wire.submit_response(writer.market, await writer.submit(command, trace))

    async def SubmitOrders(self, request: pb.SubmitOrdersRequest, context: Any) -> pb.SubmitOrdersResponse:
        """Each order as SubmitOrder would take it, applied in the order of the request (time
        priority among them is theirs): the index lookups of orders memory does not know run
        first (one per market), then every other order reaches its market's writer in the same
        turn, so they share journal batches; each answers once its batch is durable. An order
        placed in another trace than the batch call's keeps its own (`_trade_trace`).

        The orders go to the writers as futures (runtime/batches.settle_each), not a task per
        order: at Order's batch sizes the tasks cost more CPU than applying the orders."""
        check_batch("orders", request.orders)
        trace = current_traceparent()
        parsed = [_attempt(self._parse_submission, order) for order in request.orders]
        earlier = await _finished_before(parsed)
        loop = asyncio.get_running_loop()
        submitted: list[asyncio.Future[SubmitResult] | Exception] = []
        for order, item, before in zip(request.orders, parsed, earlier, strict=True):
            if isinstance(item, Exception):
                submitted.append(item)
            elif isinstance(before, Exception):
                submitted.append(before)
            elif before is not None:
                known: asyncio.Future[SubmitResult] = loop.create_future()
                known.set_result(before)
                submitted.append(known)
            else:
                writer, command = item
                submitted.append(writer.enqueue(command, _trade_trace(order.trace_parent, trace)))
        answers = await settle_each(submitted)
        results = []
        for item, answer in zip(parsed, answers, strict=True):
            if isinstance(answer, status_pb2.Status):
                results.append(pb.SubmitOrderResult(error=answer))
            else:  # answered: it was parsed
                results.append(pb.SubmitOrderResult(order=wire.submit_response(cast(Parsed, item)[0].market, answer)))
        return pb.SubmitOrdersResponse(results=results)

    def _parse_submission(self, request: pb.SubmitOrderRequest) -> Parsed:
        writer = self.exchange.writer(parse_submit_market(request))
        return writer, parse_submit_order(writer.market, request, self.exchange.now())

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


def _trade_trace(order_trace: str, call_trace: str) -> str:
    """The traceparent an order's trades carry: this call's span (its own descendant) when the
    order was placed in the call's trace, as a lone order or a batch's first is; the order's own
    `trace_parent` when it was placed in another (it joined a batch another placement sent)."""
    if order_trace and order_trace.split("-")[1:2] != call_trace.split("-")[1:2]:
        return order_trace
    return call_trace


async def _follow(feed: Any, read: Any, market: str, cursor: int) -> AsyncIterator[Any]:
    """Everything after `cursor` in order — history from the store, then live — forever."""
    async for items in _follow_chunks(feed, read, market, cursor):
        for item in items:
            yield item


async def _follow_chunks(feed: Any, read: Any, market: str, cursor: int) -> AsyncIterator[list[Any]]:
    """`_follow`'s items as they come: what is there at each step (up to STREAM_CHUNK), in order."""
    while True:
        if cursor >= feed.last_sequence:
            await feed.wait_beyond(cursor)
            continue
        items = feed.after(cursor, STREAM_CHUNK)
        if items is None:
            items = await read(market, cursor, STREAM_CHUNK)
        if items:
            yield items
            cursor = items[-1].sequence


def _attempt(parse: Callable[[T], U], item: T) -> U | DomainError:
    try:
        return parse(item)
    except DomainError as error:
        return error


async def _finished_before(parsed: list[Parsed | DomainError]) -> list[SubmitResult | Exception | None]:
    """Per parsed order, what its writer's `finished_before` answers (its error returned; None
    for an order refused at parsing): each market's orders looked up together."""
    by_writer: dict[MarketWriter, list[int]] = {}
    for index, item in enumerate(parsed):
        if not isinstance(item, DomainError):
            by_writer.setdefault(item[0], []).append(index)
    answers: list[SubmitResult | Exception | None] = [None] * len(parsed)
    for writer, indexes in by_writer.items():
        found: Sequence[SubmitResult | Exception | None]
        try:
            found = await writer.finished_before_many([cast(Parsed, parsed[index])[1] for index in indexes])
        except Exception as error:  # noqa: BLE001 - each of these orders is answered with it
            found = [error] * len(indexes)
        for index, answer in zip(indexes, found, strict=True):
            answers[index] = answer
    return answers
