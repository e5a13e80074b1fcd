"""Continuous price-time matching of one incoming order against the opposite book side.

This is the hot path: locals instead of attribute look-ups, one loop for both sides (keys are
signed so "best" is always the largest key), and no event objects unless the engine records them.
"""

from __future__ import annotations

from .book import BookSide, RestingOrder
from .enums import OrderEventType, OrderState, Reason, SelfTradePrevention, Side
from .records import OrderEvent, Trade
from .state import MatchState

_new = tuple.__new__  # builds NamedTuples without their Python-level __new__
_BUY = Side.BUY
_SELL = Side.SELL
_FILLED = OrderState.FILLED
_PARTIAL = OrderState.PARTIALLY_FILLED
_EV_FILLED = OrderEventType.FILLED
_EV_PARTIAL = OrderEventType.PARTIALLY_FILLED
_CANCEL_RESTING = SelfTradePrevention.CANCEL_RESTING
_CANCEL_TAKER = SelfTradePrevention.CANCEL_TAKER


def can_fill_completely(
    opposite: BookSide, threshold: int, taker: RestingOrder, budget: int | None, stp: SelfTradePrevention
) -> bool:
    """Whether `taker` would fill entirely right now (fill-or-kill check), honouring self-trade rules."""
    needed = taker.remaining
    account = taker.account
    levels = opposite.levels
    for key in reversed(opposite.keys):
        if key < threshold:
            return False
        level = levels[key]
        price = level.price
        for maker in level.orders:
            available = maker.remaining
            if not available:
                continue
            if maker.account == account:
                if stp == _CANCEL_RESTING:
                    continue  # it would be cancelled, not traded
                return False  # the taker would be cancelled at this point
            if budget is not None:
                affordable = budget // price
                if affordable < available:
                    return affordable >= needed
                budget -= available * price
            if available >= needed:
                return True
            needed -= available
    return False


def take(
    state: MatchState,
    stp: SelfTradePrevention,
    taker: RestingOrder,
    opposite: BookSide,
    threshold: int,
    budget: int | None,
    now: int,
) -> tuple[list[Trade], bool]:
    """Fill `taker` against `opposite` while the best key is >= threshold, under the market's
    self-trade prevention policy `stp`, recording trades' and events' sequences in `state`.

    Returns the trades and whether self-trade prevention cancelled the taker.
    """
    trades: list[Trade] = []
    keys = opposite.keys
    levels = opposite.levels
    orders_by_id = state.orders
    record = state.record_events
    events = state.events
    account = taker.account
    taker_id = taker.order_id
    taker_side = taker.side
    taker_is_buy = taker_side == _BUY
    remaining = taker.remaining
    trade_seq = state.trade_seq
    event_seq = state.event_seq
    taker_cancelled = False

    while remaining and keys:
        key = keys[-1]
        if key < threshold:
            break
        level = levels[key]
        price = level.price
        queue = level.orders
        if budget is not None and budget < price:
            break
        while queue:
            maker = queue[0]
            available = maker.remaining
            if not available:
                queue.popleft()  # lazily cancelled
                continue
            if maker.account == account:
                if stp != _CANCEL_TAKER:
                    queue.popleft()
                    event_seq = state.cancel_in_book(maker, level, Reason.SELF_TRADE_PREVENTED, now, event_seq)
                if stp != _CANCEL_RESTING:
                    taker_cancelled = True
                    break
                continue
            quantity = remaining if remaining < available else available
            if budget is not None:
                affordable = budget // price
                if affordable < quantity:
                    quantity = affordable
                    if not quantity:
                        break
                budget -= quantity * price
            trade_seq += 1
            if taker_is_buy:
                trade = _new(Trade, (trade_seq, price, quantity, taker_id, maker.order_id, account,
                                     maker.account, taker_side, None, now, ""))
            else:
                trade = _new(Trade, (trade_seq, price, quantity, maker.order_id, taker_id, maker.account,
                                     account, taker_side, None, now, ""))
            trades.append(trade)
            remaining -= quantity
            available -= quantity
            maker.remaining = available
            maker.filled += quantity
            level.quantity -= quantity
            if not available:
                queue.popleft()
                level.count -= 1
                del orders_by_id[maker.order_id]
            if record:
                events.append(_new(OrderEvent, (
                    event_seq + 1, maker.order_id, maker.account,
                    _EV_PARTIAL if available else _EV_FILLED, _PARTIAL if available else _FILLED,
                    maker.filled, available, trade_seq, price, quantity, "", now)))
                taker.filled += quantity
                events.append(_new(OrderEvent, (
                    event_seq + 2, taker_id, account,
                    _EV_PARTIAL if remaining else _EV_FILLED, _PARTIAL if remaining else _FILLED,
                    taker.filled, remaining, trade_seq, price, quantity, "", now)))
            event_seq += 2
            if not remaining:
                break
        if not level.count:
            keys.pop()
            del levels[key]
        if taker_cancelled or (budget is not None and budget < price):
            break

    taker.filled = taker.quantity - remaining
    taker.remaining = remaining
    state.trade_seq = trade_seq
    state.event_seq = event_seq
    return trades, taker_cancelled
