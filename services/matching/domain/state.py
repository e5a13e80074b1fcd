"""The mutable state matching shares with its algorithms: the live orders by id, the event and
trade sequences, and the events recorded since the last drain.

The engine owns one and hands it to continuous matching (`continuous.take`) and to the auction
(`auction.clear_auction`), so neither reaches into the engine. Plain slots, read into locals by
the hot loops: an attribute read here costs what the engine's own did.
"""

from __future__ import annotations

from typing import Any

from .book import PriceLevel, RestingOrder
from .enums import OrderEventType, OrderState
from .records import OrderEvent, Records


class MatchState:
    __slots__ = ("event_seq", "events", "has_lazy_events", "orders", "record_events", "trade_seq")

    def __init__(self, record_events: bool = True) -> None:
        self.orders: dict[str, RestingOrder] = {}  # every live order in the book, by id
        # Recorded events; an auction adds its events as one lazy Records (drain flattens it).
        self.events: list[Any] = []
        self.has_lazy_events = False
        self.event_seq = 0  # the last event's number
        self.trade_seq = 0  # the last trade's number
        # Sequences advance identically either way; only the event objects are skipped.
        self.record_events = record_events

    def add_lazy_events(self, events: Records[OrderEvent]) -> None:
        self.events.append(events)
        self.has_lazy_events = True

    def drain_events(self) -> list[OrderEvent]:
        """Order events recorded since the last drain, in sequence order."""
        events, self.events = self.events, []
        if not self.has_lazy_events:
            return events
        self.has_lazy_events = False
        flat: list[OrderEvent] = []
        for item in events:
            if type(item) is Records:
                flat.extend(item)
            else:
                flat.append(item)
        return flat

    def cancel_in_book(self, order: RestingOrder, level: PriceLevel, reason: str, now: int, event_seq: int) -> int:
        """Cancel a resting order already popped from its level during matching.

        `event_seq` is the caller's running event number (its loop keeps it in a local);
        returns it advanced by the cancellation's event."""
        level.quantity -= order.remaining
        level.count -= 1
        order.remaining = 0
        del self.orders[order.order_id]
        event_seq += 1
        if self.record_events:
            self.events.append(OrderEvent(event_seq, order.order_id, order.account, OrderEventType.CANCELLED,
                                          OrderState.CANCELLED, order.filled, 0, None, None, None, reason, now))
        return event_seq
