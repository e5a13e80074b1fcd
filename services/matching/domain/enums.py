"""Enumerations of the matching domain.

Values equal the protobuf enum numbers so the gRPC adapter can convert with `Enum(value)`.
They are IntEnums so the hot path compares plain ints.
"""

from enum import IntEnum


class Side(IntEnum):
    BUY = 1
    SELL = 2


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2


class TimeInForce(IntEnum):
    GTC = 1
    IOC = 2
    FOK = 3
    GTT = 4


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
