"""The matching engine of one market: validates commands, matches, expires, clears auctions.

Deterministic: time arrives with every command (integer nanoseconds) and is never read from a
clock; a command stamped earlier than the last one is treated as happening at the last time, so
replaying the same commands always yields the same trades and events.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence
from itertools import chain
from operator import attrgetter
from typing import Any

from services.runtime.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    ResourceExhausted,
)

from .auction import clear_auction
from .book import BookSide, RestingOrder
from .continuous import can_fill_completely, take
from .enums import (
    MarketMode,
    MarketState,
    OrderEventType,
    OrderState,
    OrderType,
    Reason,
    Side,
    TimeInForce,
)
from .market import Market
from .reasons import MatchingReason
from .records import (
    Auction,
    BookView,
    CancelResult,
    Level,
    OrderEvent,
    SubmitResult,
    Trade,
)
from .state import MatchState
from .validation import OrderRules

SNAPSHOT_FORMAT = 1

_new = tuple.__new__  # builds NamedTuples without their Python-level __new__ (hot path)
_BUY = Side.BUY
_LIMIT = OrderType.LIMIT
_GTC, _IOC, _FOK, _GTT = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTT
_OPEN, _PARTIAL, _FILLED = OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.FILLED
_CANCELLED, _REJECTED = OrderState.CANCELLED, OrderState.REJECTED
_EV_ACCEPTED, _EV_CANCELLED, _EV_REJECTED = OrderEventType.ACCEPTED, OrderEventType.CANCELLED, OrderEventType.REJECTED
_SNAPSHOT_FIELDS = attrgetter("order_id", "account", "side", "price", "quantity", "remaining", "filled", "seq",
                              "expire_at", "default_expiry")  # restore() reads them in this order
_REMAINING = attrgetter("remaining")
_ORDERS = attrgetter("orders")
_NO_LIMIT = 1 << 62  # a price key lower than any real one: market orders take every level


class MatchingEngine:
    def __init__(
        self,
        market: Market,
        *,
        default_order_lifetime_ns: int | None = None,
        max_book_size: int | None = None,
        record_events: bool = True,
    ) -> None:
        self.market = market
        self._rules = OrderRules(market)
        self._auction = market.mode == MarketMode.PERIODIC_AUCTION
        self._halted = market.state == MarketState.HALTED
        self.default_order_lifetime_ns = default_order_lifetime_ns
        self.max_book_size = max_book_size
        self.bids = BookSide(1)
        self.asks = BookSide(-1)
        # The orders, sequences and pending events, shared with continuous matching and the auction.
        self.state = MatchState(record_events)
        self._auction_seq = 0
        self._order_seq = 0
        self.now = 0  # the engine's clock: the latest time a command brought (read it; rewind() to undo)
        self.last_clearing_price: int | None = None
        # Default-lifetime expiries are monotonic in arrival order, so a FIFO suffices for them;
        # explicit GTT expiries go in a heap. Both are cleaned lazily.
        self._default_expiries: deque[RestingOrder] = deque()
        self._gtt_expiries: list[tuple[int, int, RestingOrder]] = []

    # ----------------------------------------------------------------- queries
    @property
    def sequence(self) -> int:
        """The market's event sequence (the last event's number)."""
        return self.state.event_seq

    @property
    def trade_sequence(self) -> int:
        return self.state.trade_seq

    def rewind(self, now: int) -> None:
        """Put the clock back to `now`, as if a refused command that expired nothing never came."""
        self.now = now

    def __len__(self) -> int:
        """Resting orders in the book."""
        return len(self.state.orders)

    def resting_order(self, order_id: str) -> RestingOrder | None:
        return self.state.orders.get(order_id)

    def book(self, depth: int | None = None) -> BookView:
        def side_levels(side: BookSide) -> list[Level]:
            keys = side.keys if depth is None else side.keys[-depth:] if depth > 0 else []
            levels = side.levels
            return [Level(lv.price, lv.quantity, lv.count) for lv in (levels[k] for k in reversed(keys))]

        return BookView(side_levels(self.bids), side_levels(self.asks), self.state.event_seq)

    def crosses(self) -> bool:
        """Whether the best bid meets the best ask (an auction would trade)."""
        bid, ask = self.bids.best_price(), self.asks.best_price()
        return bid is not None and ask is not None and bid >= ask

    def expiry_due(self, now: int) -> bool:
        """Whether an expiry time of a queued order has passed (it may since have left the book)."""
        fifo, heap = self._default_expiries, self._gtt_expiries
        return bool((fifo and fifo[0].expire_at <= now) or (heap and heap[0][0] <= now))  # type: ignore[operator]  # queued orders have an expire_at

    def drain_events(self) -> list[OrderEvent]:
        """Order events recorded since the last drain, in sequence order."""
        return self.state.drain_events()

    # ---------------------------------------------------------------- commands
    def submit(
        self,
        order_id: str,
        account: str,
        side: Side,
        order_type: OrderType,
        quantity: int,
        *,
        price: int | None = None,
        time_in_force: TimeInForce | None = None,
        post_only: bool = False,
        max_notional: int | None = None,
        expire_at: int | None = None,
        now: int,
    ) -> SubmitResult:
        # Hot path: enum members are read from module constants (class attribute access on an
        # Enum is slow) and the common limit-GTC case avoids every optional branch.
        if now > self.now:
            self._advance(now)
        else:
            now = self.now
        if self._halted:
            raise FailedPrecondition(MatchingReason.MARKET_HALTED, f"market {self.market.name} is halted")
        if time_in_force is None:
            time_in_force = _GTC if order_type == _LIMIT else _IOC
        self._rules.check(side, order_type, quantity, price, time_in_force, post_only, max_notional,
                          expire_at, now)
        state = self.state
        orders = state.orders
        if order_id in orders:
            raise AlreadyExists(MatchingReason.ORDER_ALREADY_EXISTS, f"order {order_id} is already in the book")
        may_rest = order_type == _LIMIT and (time_in_force == _GTC or time_in_force == _GTT)
        if may_rest and self.max_book_size is not None and len(orders) >= self.max_book_size:
            raise ResourceExhausted(MatchingReason.ORDER_BOOK_FULL, f"order book of {self.market.name} is full",
                                    metadata={"max_book_size": str(self.max_book_size)})

        default_expiry = False
        if may_rest and expire_at is None and self.default_order_lifetime_ns is not None:
            expire_at = now + self.default_order_lifetime_ns
            default_expiry = True
        self._order_seq += 1
        taker = RestingOrder(order_id, account, side, price if price is not None else 0, quantity,
                             self._order_seq, expire_at, default_expiry)
        if side == _BUY:
            own, opposite = self.bids, self.asks
        else:
            own, opposite = self.asks, self.bids

        if self._auction:
            self._emit(taker, _EV_ACCEPTED, _OPEN, "", now)
            self._rest(taker, own)
            return _new(SubmitResult, (order_id, _OPEN, 0, quantity, [], "", state.event_seq))

        # Keys are signed (asks: -price), so "crosses" is always "opposite key >= threshold".
        threshold = opposite.sign * price if order_type == _LIMIT else -_NO_LIMIT  # type: ignore[operator]  # a limit has a price
        opposite_keys = opposite.keys
        crosses = bool(opposite_keys) and opposite_keys[-1] >= threshold
        if post_only and crosses:
            self._emit(taker, _EV_REJECTED, _REJECTED, Reason.POST_ONLY_WOULD_TAKE, now)
            return _new(SubmitResult, (order_id, _REJECTED, 0, 0, [], Reason.POST_ONLY_WOULD_TAKE,
                                       state.event_seq))
        if state.record_events:
            self._emit(taker, _EV_ACCEPTED, _OPEN, "", now)
        else:
            state.event_seq += 1
        if time_in_force == _FOK and not can_fill_completely(
            opposite, threshold, taker, max_notional, self.market.self_trade_prevention
        ):
            return self._cancel_taker(taker, [], Reason.FOK_UNFILLABLE, now)

        trades: list[Trade]
        if crosses:
            trades, stp_cancelled = take(state, self.market.self_trade_prevention, taker, opposite, threshold,
                                         max_notional, now)
            if stp_cancelled:
                return self._cancel_taker(taker, trades, Reason.SELF_TRADE_PREVENTED, now)
            if not taker.remaining:
                return _new(SubmitResult, (order_id, _FILLED, taker.filled, 0, trades, "", state.event_seq))
        else:
            trades = []
        if not may_rest:
            return self._cancel_taker(taker, trades, Reason.IOC_REMAINDER, now)
        self._rest(taker, own)
        return _new(SubmitResult, (order_id, _PARTIAL if taker.filled else _OPEN, taker.filled,
                                   taker.remaining, trades, "", state.event_seq))

    def cancel(self, order_id: str, *, now: int) -> CancelResult:
        if now > self.now:
            self._advance(now)
        else:
            now = self.now
        state = self.state
        order = state.orders.get(order_id)
        if order is None:
            raise NotFound(MatchingReason.ORDER_NOT_FOUND, f"order {order_id} is not in the book")
        cancelled = order.remaining
        self._remove(order)
        if state.record_events:
            self._emit(order, _EV_CANCELLED, _CANCELLED, Reason.CANCELLED_BY_USER, now)
        else:
            state.event_seq += 1
        return _new(CancelResult, (order_id, _CANCELLED, order.filled, cancelled, state.event_seq))

    def expire(self, now: int) -> list[str]:
        """Expire every order whose expiry time is <= now; returns their ids in expiry order."""
        if now > self.now:
            self.now = now
        return self._expire_due(self.now)

    def clear(self, now: int) -> tuple[Auction, Sequence[Trade]]:
        """Run one uniform-price auction over the collected orders (periodic-auction markets)."""
        now = self._advance(now)
        if self.market.mode != MarketMode.PERIODIC_AUCTION:
            raise FailedPrecondition(MatchingReason.NOT_AN_AUCTION_MARKET, f"{self.market.name} matches continuously")
        self._auction_seq += 1
        anchor = self.last_clearing_price if self.last_clearing_price is not None else self.market.reference_ticks
        auction, trades = clear_auction(self.state, self.bids, self.asks, anchor, self._auction_seq, now)
        if auction.price is not None:
            self.last_clearing_price = auction.price
        return auction, trades

    def set_state(self, state: MarketState, *, now: int) -> None:
        """Open or halt the market; a halted market accepts cancels but no new orders."""
        self._advance(now)
        self.market = self.market.with_state(state)
        self._halted = state == MarketState.HALTED

    # --------------------------------------------------------------- internals
    def _advance(self, now: int) -> int:
        """Move the engine clock (never backwards) and expire what became due."""
        if now <= self.now:
            return self.now
        self.now = now
        fifo, heap = self._default_expiries, self._gtt_expiries
        if (fifo and fifo[0].expire_at <= now) or (heap and heap[0][0] <= now):  # type: ignore[operator]  # queued orders have an expire_at
            self._expire_due(now)
        return now

    def _expire_due(self, now: int) -> list[str]:
        due: list[RestingOrder] = []
        fifo, heap = self._default_expiries, self._gtt_expiries
        while fifo and fifo[0].expire_at <= now:  # type: ignore[operator]  # queued orders have an expire_at
            due.append(fifo.popleft())
        while heap and heap[0][0] <= now:
            due.append(heapq.heappop(heap)[2])
        orders = self.state.orders
        live = [order for order in due if orders.get(order.order_id) is order]
        live.sort(key=lambda order: (order.expire_at, order.seq))
        for order in live:
            self._remove(order)
            self._emit(order, OrderEventType.EXPIRED, OrderState.EXPIRED, Reason.EXPIRED, now)
        return [order.order_id for order in live]

    def _rest(self, order: RestingOrder, side: BookSide) -> None:
        side.add(order)
        self.state.orders[order.order_id] = order
        if order.expire_at is not None:
            if order.default_expiry:
                self._default_expiries.append(order)
            else:
                heapq.heappush(self._gtt_expiries, (order.expire_at, order.seq, order))

    def _remove(self, order: RestingOrder) -> None:
        if order.side == _BUY:
            self.bids.discard(order)
        else:
            self.asks.discard(order)
        del self.state.orders[order.order_id]

    def _cancel_taker(self, taker: RestingOrder, trades: list[Trade], reason: str, now: int) -> SubmitResult:
        taker.remaining = 0
        self._emit(taker, OrderEventType.CANCELLED, OrderState.CANCELLED, reason, now)
        return _new(SubmitResult, (taker.order_id, _CANCELLED, taker.filled, 0, trades, reason, self.state.event_seq))

    def _emit(self, order: RestingOrder, kind: OrderEventType, order_state: OrderState, reason: str, now: int) -> None:
        state = self.state
        sequence = state.event_seq = state.event_seq + 1
        if state.record_events:
            remaining = order.remaining if order_state == _OPEN or order_state == _PARTIAL else 0
            state.events.append(_new(OrderEvent, (sequence, order.order_id, order.account, kind, order_state,
                                                  order.filled, remaining, None, None, None, reason, now)))

    # ------------------------------------------------------ snapshot / restore
    def snapshot(self) -> dict[str, Any]:
        """A plain JSON-serialisable image of the book; `restore` rebuilds an identical engine."""
        # One tuple per live order, in priority order (best price first, then arrival), by C-level
        # maps: a snapshot walks the whole book (side is an IntEnum, which JSON writes as its number).
        orders = list(map(_SNAPSHOT_FIELDS, filter(_REMAINING, chain.from_iterable(
            map(_ORDERS, chain(self.bids.levels_best_first(), self.asks.levels_best_first()))))))
        return {
            "format": SNAPSHOT_FORMAT,
            "market": self.market.to_dict(),
            "now": self.now,
            "event_sequence": self.state.event_seq,
            "trade_sequence": self.state.trade_seq,
            "auction_sequence": self._auction_seq,
            "order_sequence": self._order_seq,
            "last_clearing_price": self.last_clearing_price,
            "orders": orders,
        }

    @classmethod
    def restore(
        cls,
        snapshot: dict[str, Any],
        *,
        default_order_lifetime_ns: int | None = None,
        max_book_size: int | None = None,
        record_events: bool = True,
    ) -> MatchingEngine:
        if snapshot.get("format") != SNAPSHOT_FORMAT:
            raise FailedPrecondition(MatchingReason.UNSUPPORTED_SNAPSHOT, f"snapshot format {snapshot.get('format')!r}")
        engine = cls(Market.from_dict(snapshot["market"]), default_order_lifetime_ns=default_order_lifetime_ns,
                     max_book_size=max_book_size, record_events=record_events)
        engine.now = snapshot["now"]
        engine.state.event_seq = snapshot["event_sequence"]
        engine.state.trade_seq = snapshot["trade_sequence"]
        engine._auction_seq = snapshot["auction_sequence"]
        engine._order_seq = snapshot["order_sequence"]
        engine.last_clearing_price = snapshot["last_clearing_price"]
        restored = []
        for order_id, account, side, price, quantity, remaining, filled, seq, expire_at, default_expiry in snapshot[
            "orders"
        ]:
            order = RestingOrder(order_id, account, Side(side), price, quantity, seq, expire_at, default_expiry)
            order.remaining = remaining
            order.filled = filled
            restored.append(order)
        # Re-adding in priority order reproduces every level's FIFO; expiry queues need arrival order.
        for order in restored:
            engine.bids.add(order) if order.side == _BUY else engine.asks.add(order)
            engine.state.orders[order.order_id] = order
        for order in sorted(restored, key=lambda o: o.seq):
            if order.expire_at is None:
                continue
            if order.default_expiry:
                engine._default_expiries.append(order)
            else:
                heapq.heappush(engine._gtt_expiries, (order.expire_at, order.seq, order))
        return engine
