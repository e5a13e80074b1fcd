"""The trading vocabulary Order and Matching share: an order's side, type and time in force.

One definition so the two services can never disagree on what an order asks for. Values equal
the protobuf enum numbers (clearmesh.type.v1) so the wire adapters convert with `Enum(value)`;
IntEnums so Matching's hot path compares plain ints. Pure Python: domains import it freely.
"""

from __future__ import annotations

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
