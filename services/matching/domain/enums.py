"""Enumerations of the matching domain.

Values equal the protobuf enum numbers so the gRPC adapter can convert with `Enum(value)`.
They are IntEnums so the hot path compares plain ints.
"""

from enum import IntEnum

# An order's side, type and time in force are Order's too: one definition in the runtime.
from services.runtime.trading import OrderType as OrderType
from services.runtime.trading import Side as Side
from services.runtime.trading import TimeInForce as TimeInForce


class MarketMode(IntEnum):
    CONTINUOUS = 1
    PERIODIC_AUCTION = 2


class MarketState(IntEnum):
    OPEN = 1
    HALTED = 2


class SelfTradePrevention(IntEnum):
    CANCEL_RESTING = 1
    CANCEL_TAKER = 2
    CANCEL_BOTH = 3


class OrderState(IntEnum):
    OPEN = 1
    PARTIALLY_FILLED = 2
    FILLED = 3
    CANCELLED = 4
    EXPIRED = 5
    REJECTED = 6


class OrderEventType(IntEnum):
    ACCEPTED = 1
    FILLED = 2
    PARTIALLY_FILLED = 3
    CANCELLED = 4
    EXPIRED = 5
    REJECTED = 6


class Reason:
    """Stable reasons carried by cancel / reject / expire events."""

    CANCELLED_BY_USER = "CANCELLED_BY_USER"
    SELF_TRADE_PREVENTED = "SELF_TRADE_PREVENTED"
    IOC_REMAINDER = "IOC_REMAINDER"
    FOK_UNFILLABLE = "FOK_UNFILLABLE"
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    EXPIRED = "EXPIRED"
