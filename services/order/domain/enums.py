"""The order's enumerations; values equal the protobuf enum numbers (`Enum(value)` converts)."""

from __future__ import annotations

from enum import StrEnum

# An order's side, type and time in force are Matching's too: one definition in the runtime.
from services.runtime.trading import OrderType as OrderType
from services.runtime.trading import Side as Side
from services.runtime.trading import TimeInForce as TimeInForce


class OrderState(StrEnum):
    """PENDING is the Order service's own: stored and (maybe) held, not yet answered by Matching."""

    PENDING = "PENDING"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({OrderState.FILLED, OrderState.CANCELLED, OrderState.EXPIRED, OrderState.REJECTED})
# The wire numbers of clearmesh.type.v1.OrderState (PENDING shows as UNSPECIFIED).
STATE_NUMBERS: dict[OrderState, int] = {
    OrderState.PENDING: 0, OrderState.OPEN: 1, OrderState.PARTIALLY_FILLED: 2, OrderState.FILLED: 3,
    OrderState.CANCELLED: 4, OrderState.EXPIRED: 5, OrderState.REJECTED: 6,
}
STATES_BY_NUMBER = {number: state for state, number in STATE_NUMBERS.items()}


def may_move(current: OrderState, new: OrderState) -> bool:
    """The order's state machine: PENDING → anything; OPEN → PARTIALLY_FILLED or final;
    PARTIALLY_FILLED → PARTIALLY_FILLED or final (never back to OPEN); a final state never moves."""
    if current.is_final:
        return False
    if current is OrderState.PENDING:
        return new is not OrderState.PENDING
    if current is OrderState.OPEN:
        return new is not OrderState.PENDING
    return new is OrderState.PARTIALLY_FILLED or new.is_final
