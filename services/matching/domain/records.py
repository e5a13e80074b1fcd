"""What the engine produces: trades, order events, auctions, command results, book views.

NamedTuples: cheap to build on the hot path, immutable, and trivially JSON-friendly (`_asdict`).
Prices are ticks, quantities lots, times integer nanoseconds since the epoch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from typing import Any, NamedTuple, TypeVar, overload

from .enums import OrderEventType, OrderState, Side

R = TypeVar("R", bound=tuple)


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
    # The W3C traceparent of the call that submitted the taker order, when it was traced; the
    # engine makes every trade with "" and never reads it (the writer fills it in, the journal
    # keeps it, Settlement links its span to it). Always "" for auction fills.
    trace: str = ""


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


class Records(Sequence[R]):
    """Records of one kind built on first use from columns: an auction clearing fixes every fill
    as a handful of column lists, and turning them into tens of thousands of tuples is left to
    whoever reads them (the journal writer, after the book is settled)."""

    __slots__ = ("_kind", "_columns", "_length", "_items")

    def __init__(self, kind: type[R], length: int, columns: tuple[Iterable[Any], ...]) -> None:
        self._kind = kind
        self._length = length
        self._columns: tuple[Iterable[Any], ...] | None = columns  # may hold one-shot iterators
        self._items: list[R] | None = None

    def _materialized(self) -> list[R]:
        items = self._items
        if items is None:  # the columns are read once, then dropped
            columns, self._columns = self._columns or (), None
            items = self._items = list(map(tuple.__new__, repeat(self._kind), zip(*columns)))
        return items

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> R: ...
    @overload
    def __getitem__(self, index: slice) -> list[R]: ...
    def __getitem__(self, index: int | slice) -> R | list[R]:
        return self._materialized()[index]

    def __iter__(self) -> Iterator[R]:
        return iter(self._materialized())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Records, list, tuple)):
            return self._materialized() == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Records({self._materialized()!r})"
