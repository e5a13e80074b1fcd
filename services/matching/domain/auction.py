"""Periodic uniform-price double auction (REFERENCE.md §3).

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

from typing import TYPE_CHECKING

from .book import BookSide, RestingOrder
from .enums import OrderEventType, OrderState
from .records import Auction, OrderEvent, Trade

if TYPE_CHECKING:
    from .engine import MatchingEngine

Pair = tuple[RestingOrder, RestingOrder, int]


def walk(bids: BookSide, asks: BookSide) -> tuple[list[Pair], int, int, int]:
    """The merge walk: (bid, ask, quantity) pairs, V*, and the equilibrium interval [L, U]."""
    pairs: list[Pair] = []
    bid_iter = bids.live_orders()
    ask_iter = asks.live_orders()
    bid = next(bid_iter, None)
    ask = next(ask_iter, None)
    if bid is None or ask is None or bid.price < ask.price:
        return pairs, 0, 0, 0
    bid_left = bid.remaining
    ask_left = ask.remaining
    volume = 0
    append = pairs.append
    last_bid_price = last_ask_price = 0
    while bid.price >= ask.price:
        quantity = bid_left if bid_left < ask_left else ask_left
        append((bid, ask, quantity))
        volume += quantity
        last_bid_price = bid.price
        last_ask_price = ask.price
        bid_left -= quantity
        ask_left -= quantity
        if not bid_left:
            bid = next(bid_iter, None)
            if bid is None:
                break
            bid_left = bid.remaining
        if not ask_left:
            ask = next(ask_iter, None)
            if ask is None:
                break
            ask_left = ask.remaining
    # After the walk `bid`/`ask` are the best orders still wanting to trade (possibly partly filled).
    low = max(last_ask_price, bid.price) if bid is not None else last_ask_price
    high = min(last_bid_price, ask.price) if ask is not None else last_bid_price
    return pairs, volume, low, high


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


def clear_auction(engine: MatchingEngine, auction_seq: int, now: int) -> tuple[Auction, list[Trade]]:
    """Clear the engine's book at one price; fully filled orders leave, the rest keep resting."""
    bids, asks = engine.bids, engine.asks
    pairs, volume, low, high = walk(bids, asks)
    if not volume:
        return Auction(auction_seq, now, None, 0, 0, 0), []
    anchor = engine.last_clearing_price
    if anchor is None:
        anchor = engine.market.reference_ticks
    price = choose_price(bids, asks, low, high, anchor)

    trades: list[Trade] = []
    append = trades.append
    orders_by_id = engine._orders
    record = engine.record_events
    events = engine._events
    trade_seq = engine._trade_seq
    event_seq = engine._event_seq
    filled_orders: set[str] = set()
    for bid, ask, quantity in pairs:
        trade_seq += 1
        append(Trade(trade_seq, price, quantity, bid.order_id, ask.order_id, bid.account, ask.account,
                     None, auction_seq, now))
        for order, side in ((bid, bids), (ask, asks)):
            order.remaining -= quantity
            order.filled += quantity
            level = side.levels[side.sign * order.price]
            level.quantity -= quantity
            if not order.remaining:
                level.count -= 1
                del orders_by_id[order.order_id]
            event_seq += 1
            if record:
                done = not order.remaining
                events.append(OrderEvent(
                    event_seq, order.order_id, order.account,
                    OrderEventType.FILLED if done else OrderEventType.PARTIALLY_FILLED,
                    OrderState.FILLED if done else OrderState.PARTIALLY_FILLED,
                    order.filled, order.remaining, trade_seq, price, quantity, "", now))
        filled_orders.add(bid.order_id)
        filled_orders.add(ask.order_id)
    for side in (bids, asks):
        side.drop_empty_best()
        if side.keys:  # the marginal level keeps its unfilled tail; drop the filled head now
            queue = side.levels[side.keys[-1]].orders
            while queue and not queue[0].remaining:
                queue.popleft()
    engine._trade_seq = trade_seq
    engine._event_seq = event_seq
    engine.last_clearing_price = price
    return Auction(auction_seq, now, price, volume, len(filled_orders), len(trades)), trades
