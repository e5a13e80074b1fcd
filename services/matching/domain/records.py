"""What the engine produces: trades, order events, auctions, command results, book views.

NamedTuples: cheap to build on the hot path, immutable, and trivially JSON-friendly (`_asdict`).
Prices are ticks, quantities lots, times integer nanoseconds since the epoch.
"""

from __future__ import annotations

from typing import NamedTuple

from .enums import OrderEventType, OrderState, Side


class Trade(NamedTuple):
    sequence: int  # per market, monotonic, no gaps
    price: int
    quantity: int
    buy_order: str
    sell_order: str
    buyer: str
    seller: str
    taker_side: Side | None  # None for auction fills
    auction: int | None  # the auction's sequence for auction fills
    time: int


class OrderEvent(NamedTuple):
    sequence: int  # per market event sequence
    order_id: str
    account: str
    type: OrderEventType
    state: OrderState
    filled: int  # cumulative
    remaining: int  # still open in the book (0 once terminal)
    trade: int | None  # the trade sequence that caused the event
    last_price: int | None
    last_quantity: int | None
    reason: str
    time: int


class Auction(NamedTuple):
    sequence: int  # per market auction id
    time: int
    price: int | None  # None when nothing crossed
    volume: int
    order_count: int  # orders that received a fill
    trade_count: int


class SubmitResult(NamedTuple):
    order_id: str
    state: OrderState
    filled: int
    remaining: int  # resting in the book after the command
    trades: list[Trade]
    reason: str
    sequence: int  # market event sequence after the command


class CancelResult(NamedTuple):
    order_id: str
    state: OrderState
    filled: int
    cancelled: int  # quantity removed from the book
    sequence: int


class Level(NamedTuple):
    price: int
    quantity: int
    order_count: int


class BookView(NamedTuple):
    bids: list[Level]  # best (highest) first
    asks: list[Level]  # best (lowest) first
    sequence: int
