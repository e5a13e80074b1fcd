"""An order as the Order service keeps it, and how Matching's answers and events move it.

Two things are kept apart:
- what the client sees (`state`, `filled_quantity`, `average_price`), moved by the SubmitOrder
  answer and by events, whichever carries the later market sequence (`state_sequence`);
- the fill accounting (`fill_sequence`, `filled_value`, `consumed_units`), moved ONLY by the
  event stream, the one complete and ordered record of fills: each event is counted once
  (sequence > fill_sequence), and a final event makes the release of what the order no longer
  needs due (`release_units`), exactly once. An answer may say one thing of it: that a live
  order with nothing filled at the answer's sequence has no fill to count up to there. Its
  events up to there (its OPEN) then change nothing, and the event follower writes nothing
  for them (services/order/follower.py): most orders rest, and that was a write transaction
  for every batch of their OPEN events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from services.order.domain.enums import OrderState, may_move
from services.order.domain.holds import fill_consumption
from services.order.domain.market import MarketRules
from services.order.domain.reasons import OrderReason
from services.order.domain.validation import OrderSpec


# The mark of an unresolved order (see `Order.unresolved`); the reason it ends with if Matching
# turns out never to have had it.
MATCHING_UNANSWERED = OrderReason.MATCHING_UNAVAILABLE

# What `Order.answered` looks at, and what it may change: an answer applied to an order that
# agrees with the stored one on ANSWER_READS changes the stored one exactly as it changes that
# order, so the store can apply it with a conditional UPDATE instead of reading the row first.
ANSWER_READS = ("state", "state_sequence", "filled_quantity", "average_price", "fill_sequence")
ANSWER_WRITES = (*ANSWER_READS, "reject_reason", "update_time")


class Release(StrEnum):
    """Where giving back the unneeded rest of the hold stands."""

    NONE = "NONE"  # the order is live (or its hold may still be placed)
    DUE = "DUE"  # final: `release_units` must go back to the account
    DONE = "DONE"  # given back (or nothing to give)


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str  # a UUID; `orders/{order_id}` is the order's name and Matching's order id
    account: str  # `accounts/{id}`
    market_id: str
    spec: OrderSpec
    request_id: str
    fingerprint: str
    hold_asset: str
    hold_units: int
    kyc_notional_units: int  # what the order counts against the account's daily notional
    state: OrderState
    filled_quantity: Decimal  # as Matching reports it
    average_price: str
    reject_reason: str
    create_time: datetime
    update_time: datetime
    state_sequence: int = 0
    fill_sequence: int = 0
    filled_value: int = 0  # Σ ticks × lots over the fills the events reported
    consumed_units: int = 0  # Σ fill_consumption: what Settlement takes from the hold
    release: Release = Release.NONE
    release_units: int = 0

    @property
    def name(self) -> str:
        return f"orders/{self.order_id}"

    @property
    def hold_name(self) -> str:
        return f"holds/{self.order_id}"

    @property
    def release_request_id(self) -> str:
        return f"release-{self.order_id}"

    @property
    def unresolved(self) -> bool:
        """Submitted to Matching, whose answer never came (a crash, a deadline): Matching may have
        it, even filled, so it keeps its hold until Matching says what became of it."""
        return self.state is OrderState.PENDING and self.reject_reason == MATCHING_UNANSWERED

    def unanswered(self, at: datetime) -> Order:
        """SubmitOrder went unanswered: still PENDING and held, marked to be withdrawn."""
        return replace(self, reject_reason=MATCHING_UNANSWERED, update_time=at)

    def rejected(self, reason: str, at: datetime, *, held: bool) -> Order:
        """Refused before Matching accepted it: all of the hold (if any was placed) goes back."""
        return replace(self, state=OrderState.REJECTED, reject_reason=reason, update_time=at,
                       release=Release.DUE if held else Release.DONE,
                       release_units=self.hold_units if held else 0)

    def answered(self, state: OrderState, filled_quantity: Decimal, average_price: str, reason: str,
                 sequence: int, at: datetime) -> Order:
        """Matching's answer to SubmitOrder or CancelOrder, unless an event already showed later.
        Reads only ANSWER_READS and changes only ANSWER_WRITES."""
        if sequence < self.state_sequence or not (state is self.state or may_move(self.state, state)):
            return self
        # Live with nothing filled at `sequence`: no fill of it up to there (see the module). Not
        # for a final state: its event makes the release due, and must still be counted.
        fill_sequence = self.fill_sequence
        if not state.is_final and not filled_quantity:
            fill_sequence = max(fill_sequence, sequence)
        return replace(self, state=state, filled_quantity=max(filled_quantity, self.filled_quantity),
                       average_price=average_price or self.average_price,
                       reject_reason=reason if state.is_final else "",
                       state_sequence=sequence, fill_sequence=fill_sequence, update_time=at)

    def with_event(self, market: MarketRules, event: FillEvent, fee_rate: Decimal) -> Order:
        """One of Matching's order events: counted once, in sequence order. A fill (one trade,
        or all of the order's trades in one auction clearing) adds to the filled value and to
        what Settlement will take from the hold (domain/holds.py)."""
        order = self
        if event.sequence > order.fill_sequence:
            value, consumed = order.filled_value, order.consumed_units
            if event.last_lots:
                fill = event.last_ticks * event.last_lots
                consumed += fill_consumption(market, order.spec.side, fill, market.quantity(event.last_lots),
                                             value, fee_rate)
                value += fill
            order = replace(order, fill_sequence=event.sequence, filled_value=value, consumed_units=consumed)
            if event.state.is_final and order.release is Release.NONE:
                order = replace(order, release=Release.DUE,
                                release_units=max(0, order.hold_units - order.consumed_units))
        if event.sequence > order.state_sequence and (event.state is order.state or may_move(order.state, event.state)):
            average = order.average_price
            filled_lots = market.lots(event.filled_quantity)
            if filled_lots and order.filled_value:
                average = _average(market, order.filled_value, filled_lots)
            order = replace(order, state=event.state, filled_quantity=event.filled_quantity, average_price=average,
                            reject_reason=event.reason if event.state.is_final else "",
                            state_sequence=event.sequence, update_time=event.time)
        return order


@dataclass(frozen=True, slots=True)
class FillEvent:
    """An OrderEvent of Matching in the market's integer units."""

    sequence: int
    state: OrderState
    filled_quantity: Decimal  # as Matching reports it
    last_ticks: int
    last_lots: int
    reason: str
    time: datetime


def _average(market: MarketRules, filled_value: int, filled_lots: int) -> str:
    """The volume-weighted price, computed as Matching computes it for its SubmitOrder answer."""
    return format(market.price(1) * Decimal(filled_value) / Decimal(filled_lots), "f")
