"""Properties over random command sequences (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.domain import (
    CancelOrder,
    ClearAuction,
    Command,
    MarketMode,
    MatchingEngine,
    OrderEventType,
    OrderType,
    Side,
    SubmitOrder,
    TimeInForce,
    apply,
    command_from_dict,
    command_to_dict,
    default_markets,
)
from services.runtime.errors import DomainError

CONTINUOUS = next(m for m in default_markets() if m.mode == MarketMode.CONTINUOUS)
AUCTION = next(m for m in default_markets() if m.mode == MarketMode.PERIODIC_AUCTION)
SETTINGS = settings(max_examples=60, deadline=None)

order_spec = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(95, 105),  # price
    st.integers(1, 20),  # quantity
    st.sampled_from(["alice", "bob", "carol"]),
    st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
    st.booleans(),  # market order?
)
step = st.one_of(order_spec, st.integers(0, 60))  # an int means "cancel the order with that index"


def commands_from(steps: list) -> list:
    commands: list[Command] = []
    for now, item in enumerate(steps, start=1):
        if isinstance(item, int):
            commands.append(CancelOrder(f"o{item}", now))
            continue
        side, price, quantity, account, tif, is_market = item
        if is_market:
            commands.append(SubmitOrder(f"o{now}", account, side, OrderType.MARKET, quantity, now,
                                        time_in_force=TimeInForce.IOC))
        else:
            commands.append(SubmitOrder(f"o{now}", account, side, OrderType.LIMIT, quantity, now, price=price,
                                        time_in_force=tif))
    return commands


def run(engine: MatchingEngine, commands: list) -> list:
    outcomes: list[Any] = []  # each command's result, or the reason it was refused
    for command in commands:
        try:
            outcomes.append(apply(engine, command))
        except DomainError as error:
            outcomes.append(error.reason)
    return outcomes


@SETTINGS
@given(st.lists(step, max_size=60))
def test_continuous_book_is_never_crossed(steps):
    engine = MatchingEngine(CONTINUOUS)
    for command in commands_from(steps):
        run(engine, [command])
        view = engine.book()
        if view.bids and view.asks:
            assert view.bids[0].price < view.asks[0].price


@SETTINGS
@given(st.lists(step, max_size=60))
def test_quantity_is_conserved(steps):
    engine = MatchingEngine(CONTINUOUS)
    commands = commands_from(steps)
    run(engine, commands)
    submitted = {c.order_id: c.quantity for c in commands if isinstance(c, SubmitOrder)}
    filled = dict.fromkeys(submitted, 0)
    cancelled = dict.fromkeys(submitted, 0)
    last_remaining: dict[str, int] = {}
    for event in engine.drain_events():
        if event.type in (OrderEventType.FILLED, OrderEventType.PARTIALLY_FILLED):
            filled[event.order_id] += event.last_quantity
        if event.type in (OrderEventType.CANCELLED, OrderEventType.REJECTED, OrderEventType.EXPIRED):
            cancelled[event.order_id] = submitted[event.order_id] - event.filled
        last_remaining[event.order_id] = event.remaining
    for order_id, quantity in submitted.items():
        resting = engine.resting_order(order_id)
        remaining = resting.remaining if resting is not None else 0
        if order_id in last_remaining:
            assert filled[order_id] + remaining + cancelled[order_id] == quantity


@SETTINGS
@given(st.lists(step, max_size=60))
def test_fills_follow_price_then_time_priority(steps):
    engine = MatchingEngine(CONTINUOUS)
    commands = commands_from(steps)
    arrival = {c.order_id: index for index, c in enumerate(commands) if isinstance(c, SubmitOrder)}
    price_of = {c.order_id: c.price for c in commands if isinstance(c, SubmitOrder)}
    for outcome in run(engine, commands):
        trades = getattr(outcome, "trades", None)
        if not trades:
            continue
        makers = [t.sell_order if t.taker_side == Side.BUY else t.buy_order for t in trades]
        buying = trades[0].taker_side == Side.BUY
        keys = [((price_of[m] if buying else -price_of[m]), arrival[m]) for m in makers]
        assert keys == sorted(keys)
        assert [t.price for t in trades] == [price_of[m] for m in makers]


@SETTINGS
@given(st.lists(step, max_size=60), st.integers(0, 60))
def test_snapshot_restore_and_replay_reproduce_book_and_trades(steps, split):
    commands = commands_from(steps)
    split = min(split, len(commands))
    original = MatchingEngine(CONTINUOUS)
    expected = run(original, commands)
    head = MatchingEngine(CONTINUOUS)
    run(head, commands[:split])
    image = json.loads(json.dumps(head.snapshot()))
    restored = MatchingEngine.restore(image)
    journal = [command_from_dict(json.loads(json.dumps(command_to_dict(c)))) for c in commands[split:]]
    replayed = run(restored, journal)
    assert replayed == expected[split:]
    assert restored.snapshot() == original.snapshot()
    assert restored.book() == original.book()


auction_order = st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(90, 110), st.integers(1, 30))


def brute_force_volume(orders) -> int:
    prices = {price for _, price, _ in orders}
    best = 0
    for price in prices:
        demand = sum(q for side, p, q in orders if side == Side.BUY and p >= price)
        supply = sum(q for side, p, q in orders if side == Side.SELL and p <= price)
        best = max(best, min(demand, supply))
    return best


@settings(max_examples=150, deadline=None)
@given(st.lists(auction_order, max_size=40))
def test_auction_maximises_volume_and_never_trades_through_a_limit(orders):
    engine = MatchingEngine(AUCTION)
    limits = {}
    for index, (side, price, quantity) in enumerate(orders):
        engine.submit(f"o{index}", f"acct{index}", side, OrderType.LIMIT, quantity, price=price, now=index + 1)
        limits[f"o{index}"] = price
    record, trades = engine.clear(len(orders) + 1)
    assert record.volume == brute_force_volume(orders) == sum(t.quantity for t in trades)
    for trade in trades:
        assert trade.price == record.price
        assert limits[trade.buy_order] >= trade.price >= limits[trade.sell_order]
    view = engine.book()
    if view.bids and view.asks:
        assert view.bids[0].price < view.asks[0].price  # everything that could trade did


@settings(max_examples=50, deadline=None)
@given(st.lists(auction_order, max_size=40), st.integers(0, 40))
def test_auction_replay_after_restore_is_identical(orders, split):
    commands = [SubmitOrder(f"o{i}", f"acct{i}", side, OrderType.LIMIT, q, i + 1, price=p)
                for i, (side, p, q) in enumerate(orders)]
    commands.insert(min(split, len(commands)), ClearAuction(len(orders) // 2 + 1))
    commands.append(ClearAuction(len(orders) + 2))
    original = MatchingEngine(AUCTION)
    expected = run(original, commands)
    head = MatchingEngine(AUCTION)
    cut = min(split, len(commands))
    run(head, commands[:cut])
    restored = MatchingEngine.restore(json.loads(json.dumps(head.snapshot())))
    assert run(restored, commands[cut:]) == expected[cut:]
    assert restored.snapshot() == original.snapshot()
