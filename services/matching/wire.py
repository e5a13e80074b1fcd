"""Conversions between the domain's integer units and the wire's messages (decimal strings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from google.protobuf import duration_pb2

from clearmesh.matching.v1 import matching_pb2, matching_service_pb2 as pb
from services.matching.domain import (
    Auction,
    BookView,
    CancelResult,
    Market,
    OrderEvent,
    SubmitResult,
    Trade,
    lots_to_quantity,
    ticks_to_price,
)
from services.runtime.timestamps import timestamp_of_nanos as timestamp


def enum(value: int) -> Any:
    """A domain IntEnum as the generated enum field wants it (same numbers by design)."""
    return int(value)


def market_name(market: str) -> str:
    return f"markets/{market}"


def market_message(market: Market) -> matching_pb2.Market:
    message = matching_pb2.Market(
        name=market_name(market.name), base_asset=market.base_asset, quote_asset=market.quote_asset,
        tick_size=str(market.tick_size), lot_size=str(market.lot_size),
        min_quantity="" if market.min_quantity is None else str(market.min_quantity),
        max_quantity="" if market.max_quantity is None else str(market.max_quantity),
        mode=enum(market.mode), state=enum(market.state),
        self_trade_prevention=enum(market.self_trade_prevention),
        reference_price="" if market.reference_price is None else str(market.reference_price))
    if market.auction_interval_ms is not None:
        message.auction_interval.CopyFrom(duration_pb2.Duration(
            seconds=market.auction_interval_ms // 1000, nanos=market.auction_interval_ms % 1000 * 1_000_000))
    return message


def price(market: Market, ticks: int) -> str:
    return str(ticks_to_price(market, ticks))


def quantity(market: Market, lots: int) -> str:
    return str(lots_to_quantity(market, lots))


def trade_message(market: Market, trade: Trade) -> matching_pb2.Trade:
    name = market_name(market.name)
    return matching_pb2.Trade(
        name=f"{name}/trades/{trade.sequence}", market=name, sequence=trade.sequence,
        price=price(market, trade.price), quantity=quantity(market, trade.quantity),
        buy_order=trade.buy_order, sell_order=trade.sell_order, buyer=trade.buyer, seller=trade.seller,
        taker_side=enum(0 if trade.taker_side is None else trade.taker_side),
        auction="" if trade.auction is None else f"{name}/auctions/{trade.auction}",
        execute_time=timestamp(trade.time), taker_trace_parent=trade.trace)


def auction_message(market: Market, auction: Auction) -> matching_pb2.Auction:
    return matching_pb2.Auction(
        name=f"{market_name(market.name)}/auctions/{auction.sequence}",
        clearing_price="" if auction.price is None else price(market, auction.price),
        volume=quantity(market, auction.volume), order_count=auction.order_count,
        trade_count=auction.trade_count, clear_time=timestamp(auction.time))


def event_message(market: Market, event: OrderEvent) -> matching_pb2.OrderEvent:
    name = market_name(market.name)
    return matching_pb2.OrderEvent(
        sequence=event.sequence, market=name, order=event.order_id, account=event.account,
        type=enum(event.type), state=enum(event.state), filled_quantity=quantity(market, event.filled),
        remaining_quantity=quantity(market, event.remaining),
        trade="" if event.trade is None else f"{name}/trades/{event.trade}",
        last_price="" if event.last_price is None else price(market, event.last_price),
        last_quantity="" if event.last_quantity is None else quantity(market, event.last_quantity),
        reason=event.reason, event_time=timestamp(event.time))


def book_message(market: Market, view: BookView) -> matching_pb2.OrderBook:
    def levels(side: list) -> list[matching_pb2.PriceLevel]:
        return [matching_pb2.PriceLevel(price=price(market, level.price), quantity=quantity(market, level.quantity),
                                        order_count=level.order_count) for level in side]

    return matching_pb2.OrderBook(market=market_name(market.name), bids=levels(view.bids), asks=levels(view.asks),
                                  sequence=view.sequence)


def submit_response(market: Market, result: SubmitResult) -> pb.SubmitOrderResponse:
    average = ""
    if result.trades:
        notional = sum(trade.price * trade.quantity for trade in result.trades)
        lots = sum(trade.quantity for trade in result.trades)
        average = str(ticks_to_price(market, 1) * Decimal(notional) / Decimal(lots))
    return pb.SubmitOrderResponse(
        state=enum(result.state), filled_quantity=quantity(market, result.filled), average_price=average,
        trades=[trade_message(market, trade) for trade in result.trades], reason=result.reason,
        sequence=result.sequence)


def cancel_response(market: Market, result: CancelResult) -> pb.CancelOrderResponse:
    return pb.CancelOrderResponse(state=enum(result.state), filled_quantity=quantity(market, result.filled),
                                  remaining_quantity=quantity(market, 0), sequence=result.sequence)
