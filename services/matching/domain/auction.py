"""Periodic uniform-price double auction (docs/auction.md).

1. Merge walk: bids by (-price, arrival), asks by (price, arrival); while the best remaining bid
   >= the best remaining ask, pair min(remaining) and advance the exhausted side. The walk's
   total is the maximum executable volume V*, and its pairs are the allocation (time priority
   at the marginal price comes for free from the arrival order inside each level).
2. Every price in [L, U] clears V* with no unfilled order wanting to trade, where
   L = max(last accepted ask, best unfilled bid) and U = min(last accepted bid, best unfilled ask).
3. Among those prices pick the smallest imbalance |D(p) - S(p)|, then the closest to the anchor
   (last clearing price, else the market's reference price, else the interval's midpoint), then
   the lower price. Everyone trades at that one price, which lies within every filled limit.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain, compress, count, islice, repeat
from operator import attrgetter, eq, not_

import numpy as np

from .book import BookSide, RestingOrder
from .enums import OrderEventType, OrderState, Reason
from .records import Auction, OrderEvent, Records, Trade
from .state import MatchState

_new = tuple.__new__  # builds NamedTuples without their Python-level __new__ (hot loop)
_remaining = attrgetter("remaining")  # live orders have something remaining
_filled = attrgetter("filled")
_order_id = attrgetter("order_id")
_account = attrgetter("account")
_FILLED, _PARTIAL = OrderState.FILLED, OrderState.PARTIALLY_FILLED
_EV_FILLED, _EV_PARTIAL = OrderEventType.FILLED, OrderEventType.PARTIALLY_FILLED
_OUTCOME_TYPE = (None, OrderEventType.CANCELLED, _EV_FILLED)
_OUTCOME_STATE = (None, OrderState.CANCELLED, _FILLED)
_CUT_REASON = {False: "", True: Reason.SELF_TRADE_PREVENTED}


def walk(bids: BookSide, asks: BookSide) -> tuple[int, int, int]:
    """The merge walk over price levels: V* and the equilibrium interval [L, U].

    Orders at one price are interchangeable for the price, so walking aggregated levels gives
    the same V*, L and U as walking orders, in O(levels) instead of O(orders).
    """
    bid_levels = bids.levels_best_first()
    ask_levels = asks.levels_best_first()
    bid = next(bid_levels, None)
    ask = next(ask_levels, None)
    if bid is None or ask is None or bid.price < ask.price:
        return 0, 0, 0
    bid_left, ask_left = bid.quantity, ask.quantity
    volume = 0
    last_bid_price = last_ask_price = 0
    while bid.price >= ask.price:
        quantity = bid_left if bid_left < ask_left else ask_left
        volume += quantity
        last_bid_price, last_ask_price = bid.price, ask.price
        bid_left -= quantity
        ask_left -= quantity
        if not bid_left:
            bid = next(bid_levels, None)
            bid_left = bid.quantity if bid is not None else 0
        if not ask_left:
            ask = next(ask_levels, None)
            ask_left = ask.quantity if ask is not None else 0
        if bid is None or ask is None:
            break
    # After the walk `bid`/`ask` are the best levels still wanting to trade (possibly partly filled).
    low = max(last_ask_price, bid.price) if bid is not None else last_ask_price
    high = min(last_bid_price, ask.price) if ask is not None else last_bid_price
    return volume, low, high


def accepted_orders(side: BookSide, volume: int) -> list[RestingOrder]:
    """The priority-ordered prefix of live orders that the walk fills (the last one maybe partly)."""
    accepted: list[RestingOrder] = []
    for level in side.levels_best_first():
        if level.quantity < volume:
            accepted.extend(filter(_remaining, level.orders))
            volume -= level.quantity
            continue
        for order in level.orders:
            if order.remaining:
                accepted.append(order)
                volume -= order.remaining
                if volume <= 0:
                    return accepted
    return accepted


def demand_at(bids: BookSide, price: int) -> int:
    """D(p): total bid quantity willing to buy at `price`."""
    total = 0
    for level in bids.levels_best_first():
        if level.price < price:
            break
        total += level.quantity
    return total


def supply_at(asks: BookSide, price: int) -> int:
    """S(p): total ask quantity willing to sell at `price`."""
    total = 0
    for level in asks.levels_best_first():
        if level.price > price:
            break
        total += level.quantity
    return total


def choose_price(bids: BookSide, asks: BookSide, low: int, high: int, anchor: int | None) -> int:
    """The clearing price in [low, high]: least imbalance, then closest to the anchor, then lowest."""
    if anchor is None:
        anchor = (low + high) // 2
    candidates = {low, high}
    if high - low >= 2:
        # No order price lies strictly inside (low, high), so the curves are flat there.
        candidates.add(min(max(anchor, low + 1), high - 1))

    def rank(price: int) -> tuple[int, int, int]:
        return abs(demand_at(bids, price) - supply_at(asks, price)), abs(price - anchor), price

    return min(candidates, key=rank)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The clearing allocates ~150k tuples for a 100k-order book; each allocation burst would let
    the cyclic collector walk the whole book several times, costing more than the clearing
    itself. Nothing allocated here forms a cycle, so the collector waits until it is done."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Side:
    """One side's accepted orders with their columns extracted once (C-level maps, no loops)."""

    __slots__ = ("accounts", "allotted", "cumulative", "cut", "ids", "orders")

    def __init__(self, orders: list[RestingOrder], volume: int) -> None:
        self.orders = orders
        # List comprehensions: slot reads specialise in the interpreter and beat map(attrgetter).
        self.ids: list[str] = [order.order_id for order in orders]
        self.accounts: list[str] = [order.account for order in orders]
        remaining = np.array([order.remaining for order in orders], np.int64)
        self.cumulative = np.cumsum(remaining)
        # What each order is allotted: all it has, except the marginal (last) one.
        remaining[-1] -= int(self.cumulative[-1]) - volume
        self.allotted = remaining
        self.cut = np.zeros(len(orders), np.int64)  # self-matched quantity cancelled

    @property
    def left(self) -> int:
        """What the marginal order keeps resting after the clearing."""
        return int(self.orders[-1].remaining - self.allotted[-1])


def clear_auction(state: MatchState, bids: BookSide, asks: BookSide, anchor: int | None, auction_seq: int,
                  now: int) -> tuple[Auction, Sequence[Trade]]:
    """Clear the book at one price (the one closest to `anchor` among the best); fully filled
    orders leave, the rest keep resting. The auction's price is None when nothing crosses."""
    volume, low, high = walk(bids, asks)
    if not volume:
        return Auction(auction_seq, now, None, 0, 0, 0), []
    price = choose_price(bids, asks, low, high, anchor)
    with _collector_paused():
        buying = _Side(accepted_orders(bids, volume), volume)
        selling = _Side(accepted_orders(asks, volume), volume)
        trades = _pair_fills(state, buying, selling, volume, price, auction_seq, now)
        _order_events(state, buying, price, now)
        _order_events(state, selling, price, now)
        _settle_side(state, bids, buying)
        _settle_side(state, asks, selling)
    traded = volume - int(buying.cut.sum())
    filled_orders = int(np.count_nonzero(buying.allotted > buying.cut) + np.count_nonzero(selling.allotted > selling.cut))
    return Auction(auction_seq, now, price, traded, filled_orders, len(trades)), trades


def _pair_fills(state: MatchState, buying: _Side, selling: _Side, volume: int, price: int, auction_seq: int,
                now: int) -> Records[Trade]:
    """Pair accepted bids and asks in priority order, one trade per pair.

    Pairing is a merge of the two cumulative-quantity sequences: every point where a bid or an
    ask runs out ends one pair. numpy does the merge and the index look-ups and the records are
    built by C-level map/zip, so no Python code runs per trade. Quantities are int64 here: fine
    for any book whose total lots fit in 9.2e18.

    Self-trade prevention: a pair whose buyer and seller are the same account does not trade.
    An auction has no taker and no maker, so the market's continuous policy (cancel resting /
    taker / both) has nothing to choose between; instead the self-matched quantity is cancelled
    from both orders (decrement both). Price and V* were fixed before pairing and stay within the
    limits of every pair that does trade.
    """
    bid_cum, ask_cum = buying.cumulative, selling.cumulative
    merged = np.sort(np.concatenate((bid_cum, ask_cum)))
    ends = merged[np.concatenate((merged[1:] != merged[:-1], [True]))]  # unique: where some order runs out
    ends = np.append(ends[ends < volume], volume)
    starts = np.concatenate(([0], ends[:-1]))
    bid_index = np.searchsorted(bid_cum, starts, side="right")
    ask_index = np.searchsorted(ask_cum, starts, side="right")
    quantities = ends - starts
    bid_at, ask_at = bid_index.tolist(), ask_index.tolist()
    buyers = list(map(buying.accounts.__getitem__, bid_at))
    sellers = list(map(selling.accounts.__getitem__, ask_at))
    buy_ids = map(buying.ids.__getitem__, bid_at)
    sell_ids = map(selling.ids.__getitem__, ask_at)
    quantity_list: Iterable[int] = quantities.tolist()
    self_pairs = list(map(eq, buyers, sellers))
    if any(self_pairs):
        mask = np.array(self_pairs, bool)
        np.add.at(buying.cut, bid_index[mask], quantities[mask])
        np.add.at(selling.cut, ask_index[mask], quantities[mask])
        keep = list(map(not_, self_pairs))
        quantity_list, buy_ids, sell_ids, buyers, sellers = (  # type: ignore[assignment]  # lazy, where lists were
            compress(column, keep) for column in (quantity_list, buy_ids, sell_ids, buyers, sellers))
    first_seq = state.trade_seq + 1
    length = len(self_pairs) - sum(self_pairs)
    state.trade_seq = first_seq + length - 1
    return Records(Trade, length, (count(first_seq), repeat(price), quantity_list, buy_ids, sell_ids, buyers, sellers,
                                   repeat(None), repeat(auction_seq), repeat(now), repeat("")))


def _order_events(state: MatchState, side: _Side, price: int, now: int) -> None:
    """One event per accepted order per clearing (not per fill): its state after the auction.

    `last_quantity` is what the order traded in this auction at the one clearing price; the
    trades carry the individual pairs.
    """
    orders = side.orders
    size = len(orders)
    first = state.event_seq + 1
    state.event_seq += size
    if not state.record_events:
        return
    traded = side.allotted - side.cut
    left = side.left
    filled = (np.array([order.filled for order in orders], np.int64) + traded).tolist()
    remaining = [0] * size
    remaining[-1] = left
    cut = side.cut
    # Type, state and reason columns are mapped when the records are materialised (lazily).
    types: Iterable[OrderEventType]
    states: Iterable[OrderState]
    reasons: Iterable[str]
    if not cut.any():
        types, states, reasons = repeat(_EV_FILLED, size), repeat(_FILLED, size), repeat("")
    else:
        outcome = np.where(cut > 0, 1, 2).tolist()  # 1: a self-matched part was cancelled, 2: filled
        types = map(_OUTCOME_TYPE.__getitem__, outcome)  # type: ignore[arg-type]  # outcome is 1 or 2, never the None
        states = map(_OUTCOME_STATE.__getitem__, outcome)  # type: ignore[arg-type]  # outcome is 1 or 2, never the None
        reasons = map(_CUT_REASON.__getitem__, (cut > 0).tolist())
    if left:
        # The marginal order (last) keeps resting: it has its own type and state.
        last_state = _PARTIAL if filled[-1] else OrderState.OPEN
        types = chain(islice(types, size - 1), (_EV_PARTIAL,))
        states = chain(islice(states, size - 1), (last_state,))
    state.add_lazy_events(Records(OrderEvent, size, (
        count(first), side.ids, side.accounts, types, states, filled, remaining, repeat(None), repeat(price),
        traded.tolist(), reasons, repeat(now))))


def _settle_side(state: MatchState, side: BookSide, accepted: _Side) -> None:
    """Drop the filled orders (a best-first prefix of `side`) and fix the marginal level.

    Only the last accepted order can be left with something; the others leave the book without
    per-order bookkeeping beyond forgetting their ids.
    """
    orders = accepted.orders
    last = orders[-1]
    left = accepted.left
    orders_by_id = state.orders
    deque(map(orders_by_id.__delitem__, accepted.ids[:-1]), maxlen=0)
    # Levels strictly better than the marginal one are entirely filled.
    levels, keys = side.levels, side.keys
    marginal_key = side.sign * last.price
    while keys[-1] != marginal_key:
        del levels[keys.pop()]
    for order in reversed(orders):  # the filled head of the marginal level
        if order.price != last.price:
            break
        order.filled += order.remaining
        order.remaining = 0
    last.remaining = left
    last.filled -= left + int(accepted.cut[-1])  # a self-matched quantity was cancelled, not filled
    if not left:
        del orders_by_id[last.order_id]
    level = levels[marginal_key]
    live = [order for order in level.orders if order.remaining]
    if not live:
        del levels[keys.pop()]
        return
    level.orders = deque(live)
    level.count = len(live)
    level.quantity = sum(map(_remaining, live))
