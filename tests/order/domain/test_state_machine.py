"""The order's state machine and its fill accounting under any sequence of Matching's events,
replays and late answers included."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.order.domain.enums import (
    OrderState,
    OrderType,
    Side,
    TimeInForce,
    may_move,
)
from services.order.domain.market import MarketRules
from services.order.domain.orders import ANSWER_READS, ANSWER_WRITES, FillEvent, Order, Release
from services.order.domain.validation import OrderSpec
from services.runtime.fees import fee_units

RATE = Decimal("0.001")
# tick × lot = 0.01 × 0.0001 USDC = one USDC unit.
MARKET = MarketRules("BTC-USDC", "BTC", "USDC", Decimal("0.01"), Decimal("0.0001"), None, None, auction=False,
                     halted=False, reference_price=None, base_decimals=8, quote_decimals=6)
START = datetime(2026, 12, 6, tzinfo=UTC)
STATES = list(OrderState)
LIVE = [OrderState.OPEN, OrderState.PARTIALLY_FILLED]


def _order(hold_units: int = 2_000_000) -> Order:
    spec = OrderSpec(Side.BUY, OrderType.LIMIT, TimeInForce.GTC, Decimal("100.00"), Decimal("0.01"), None, False,
                     None, "")
    return Order("0b7f6c1e-0000-4000-8000-000000000000", "accounts/alice", "BTC-USDC", spec, "r1", "f",
                 "USDC", hold_units, 0, OrderState.PENDING, Decimal(0), "", "", START, START)


def _event(sequence: int, state: OrderState, filled_lots: int, last_lots: int = 0, last_ticks: int = 0) -> FillEvent:
    return FillEvent(sequence, state, MARKET.quantity(filled_lots), last_ticks, last_lots, "",
                     START + timedelta(seconds=sequence))


@st.composite
def event_histories(draw: st.DrawFn) -> list[FillEvent]:
    """What Matching can say of one order: live events with growing fills, maybe a final one."""
    events: list[FillEvent] = [_event(1, OrderState.OPEN, 0)]
    filled = 0
    for sequence in range(2, draw(st.integers(2, 12))):
        size = draw(st.integers(0, 5))
        filled += size
        events.append(_event(sequence, OrderState.PARTIALLY_FILLED if filled else OrderState.OPEN, filled, size,
                             draw(st.integers(1, 10_000)) if size else 0))
    if draw(st.booleans()):
        final = draw(st.sampled_from([OrderState.FILLED, OrderState.CANCELLED, OrderState.EXPIRED]))
        events.append(_event(len(events) + 1, final, filled))
    return events


@given(st.sampled_from(STATES), st.sampled_from(STATES))
def test_a_final_state_never_moves_and_a_partial_fill_never_goes_back_to_open(current: OrderState,
                                                                             new: OrderState) -> None:
    if current.is_final:
        assert not may_move(current, new)
    if current is OrderState.PARTIALLY_FILLED:
        assert not may_move(current, OrderState.OPEN)
    assert not may_move(current, OrderState.PENDING)


@given(event_histories(), st.data())
def test_each_event_counts_once_and_a_final_event_makes_the_release_due_once(events: list[FillEvent],
                                                                              data: st.DataObject) -> None:
    # Delivered at least once, in order: before any event, some already delivered may come again.
    replayed: list[FillEvent] = []
    for index, event in enumerate(events):
        if data.draw(st.booleans()):
            replayed.extend(events[data.draw(st.integers(0, index)):index])
        replayed.append(event)
    order = _order()
    releases = 0
    for event in replayed:
        before = order
        order = order.with_event(MARKET, event, RATE)
        releases += before.release is Release.NONE and order.release is Release.DUE
    filled = MARKET.notional_units(sum(event.last_ticks * event.last_lots for event in events))
    # A buy's fills consume their notional and the fee of all of it, each event counted once.
    assert order.consumed_units == filled + fee_units(filled, RATE)
    assert order.filled_value == sum(event.last_ticks * event.last_lots for event in events)
    assert order.state is events[-1].state
    if events[-1].state.is_final:
        assert releases == 1
        assert order.release_units == order.hold_units - order.consumed_units
    else:
        assert releases == 0


@given(event_histories(), st.data())
def test_an_answer_anywhere_in_the_history_leaves_the_fill_accounting_to_the_events(
        events: list[FillEvent], data: st.DataObject) -> None:
    # Matching's answer at sequence s shows the order as its events up to s left it. One of a
    # live order with nothing filled lets its events up to s pass uncounted (fill_sequence): the
    # counts, the release and what is shown must come out as from the events alone.
    shown = events[data.draw(st.integers(0, len(events) - 1))]
    alone = answered = _order()
    answered = answered.answered(shown.state, shown.filled_quantity, "", "", shown.sequence, START)
    releases = 0
    for event in events:
        alone = alone.with_event(MARKET, event, RATE)
        before, answered = answered, answered.with_event(MARKET, event, RATE)
        releases += before.release is Release.NONE and answered.release is Release.DUE
    accounting = ("state", "filled_quantity", "filled_value", "consumed_units", "release", "release_units",
                  "fill_sequence", "state_sequence")
    assert [getattr(answered, name) for name in accounting] == [getattr(alone, name) for name in accounting]
    assert releases == (1 if events[-1].state.is_final else 0)


def test_an_answer_of_a_resting_order_with_nothing_filled_leaves_its_open_event_nothing_to_change() -> None:
    # What lets the event follower skip the write of such events (services/order/follower.py).
    answered = _order().answered(OrderState.OPEN, Decimal(0), "", "", 4, START)
    assert answered.with_event(MARKET, _event(4, OrderState.OPEN, 0), RATE) == answered


def test_an_answer_that_shows_a_fill_or_a_final_state_leaves_the_events_to_count() -> None:
    filled = _order().answered(OrderState.PARTIALLY_FILLED, Decimal("0.0001"), "100.00", "", 4, START)
    cancelled = _order().answered(OrderState.CANCELLED, Decimal(0), "", "", 4, START)
    assert (filled.fill_sequence, cancelled.fill_sequence) == (0, 0)


def test_a_late_submit_answer_does_not_undo_what_a_later_event_showed() -> None:
    order = _order().with_event(MARKET, _event(5, OrderState.FILLED, 10, 10, 10_000), RATE)
    late = order.answered(OrderState.OPEN, Decimal(0), "", "", 3, START)
    assert late.state is OrderState.FILLED


def test_the_submit_answer_shows_the_state_before_the_events_arrive_without_counting_fills() -> None:
    answered = _order().answered(OrderState.FILLED, Decimal("0.0001"), "100.00", "", 9, START)
    assert (answered.state, answered.filled_quantity, answered.average_price) == (OrderState.FILLED, Decimal("0.0001"), "100.00")
    assert (answered.consumed_units, answered.release) == (0, Release.NONE)
    # The events then count the fill (and make the release due) without moving what is shown.
    settled = answered.with_event(MARKET, _event(8, OrderState.FILLED, 10, 10, 10_000), RATE)
    # 10 lots at 100.00: 0.1 USDC = 100 000 units, and its fee 100.
    assert (settled.state, settled.consumed_units, settled.release) == (OrderState.FILLED, 100_100, Release.DUE)
    assert settled.release_units == settled.hold_units - 100_100


@given(event_histories(), event_histories(), st.data())
def test_an_answer_reads_only_answer_reads_and_writes_only_answer_writes(
        history: list[FillEvent], other: list[FillEvent], data: st.DataObject) -> None:
    # What lets the store apply an answer with one conditional UPDATE (OrderStore.save_answer).
    order, base = _order(), _order(hold_units=1_000_000).unanswered(START)
    for event in history[:data.draw(st.integers(0, len(history)))]:
        order = order.with_event(MARKET, event, RATE)
    for event in other[:data.draw(st.integers(0, len(other)))]:
        base = base.with_event(MARKET, event, RATE)
    twin = replace(base, **{name: getattr(order, name) for name in ANSWER_READS})
    state = data.draw(st.sampled_from([state for state in STATES if state is not OrderState.PENDING]))
    answer = (state, MARKET.quantity(data.draw(st.integers(0, 20))), data.draw(st.sampled_from(["", "101.00"])),
              data.draw(st.sampled_from(["", "IOC_UNFILLED"])), data.draw(st.integers(0, 14)), START + timedelta(days=1))
    answered, twin_answered = order.answered(*answer), twin.answered(*answer)
    assert (answered is order) == (twin_answered is twin)
    if answered is not order:
        assert [getattr(answered, name) for name in ANSWER_WRITES] == [getattr(twin_answered, name)
                                                                        for name in ANSWER_WRITES]
    untouched = [field.name for field in fields(Order) if field.name not in ANSWER_WRITES]
    assert [getattr(twin_answered, name) for name in untouched] == [getattr(twin, name) for name in untouched]


def test_an_order_rejected_before_matching_releases_all_it_held_or_nothing() -> None:
    held = _order().rejected("MATCHING_UNAVAILABLE", START, held=True)
    assert (held.state, held.release, held.release_units) == (OrderState.REJECTED, Release.DUE, 2_000_000)
    never_held = _order().rejected("INSUFFICIENT_FUNDS", START, held=False)
    assert (never_held.release, never_held.release_units) == (Release.DONE, 0)


def test_an_order_matching_did_not_answer_stays_pending_and_held_until_matching_says() -> None:
    unresolved = _order().unanswered(START)
    assert unresolved.unresolved
    assert (unresolved.state, unresolved.release) == (OrderState.PENDING, Release.NONE)
    # Matching had it and filled part of it before it was withdrawn: the fill stays covered and
    # only what it did not consume goes back, once the cancel is final.
    filled = unresolved.with_event(MARKET, _event(1, OrderState.PARTIALLY_FILLED, 10, 10, 10_000), RATE)
    assert not filled.unresolved and filled.reject_reason == ""
    withdrawn = filled.with_event(MARKET, _event(2, OrderState.CANCELLED, 10), RATE)
    assert (withdrawn.release, withdrawn.release_units) == (Release.DUE, 2_000_000 - 100_100)


def test_the_average_price_is_volume_weighted() -> None:
    order = _order()
    order = order.with_event(MARKET, _event(1, OrderState.PARTIALLY_FILLED, 1, 1, 10_000), RATE)
    order = order.with_event(MARKET, _event(2, OrderState.FILLED, 4, 3, 10_400), RATE)
    assert order.average_price == "103.00"
    assert replace(order).filled_quantity == Decimal("0.0004")
