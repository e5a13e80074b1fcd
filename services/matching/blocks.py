"""How a group commit's commands, trades and order events are laid out as journal blocks.

Commands: {"kinds": "SSCA...", "values": [[field values in declaration order], ...]}, one kind
code per command (domain/commands.py). Trades and events are columnar, keyed by field name:
{"sequence": [...], "price": [...], ...}. Both are built by C-level maps and one orjson call per
block, which is what lets the journal keep up with the engine; names keep the blocks readable
and let a record gain a field without rewriting history. Enums are stored as their integers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any, TypeVar

import orjson

from services.matching.domain import (
    Command,
    OrderEvent,
    OrderEventType,
    OrderState,
    Side,
    Trade,
    commands_from_rows,
    commands_to_rows,
)

R = TypeVar("R", Trade, OrderEvent)


def encode_commands(commands: Sequence[Command]) -> str:
    kinds, values = commands_to_rows(commands)
    return orjson.dumps({"kinds": kinds, "values": values}).decode()


def decode_commands(payload: str | bytes) -> list[Command]:
    data = orjson.loads(payload)
    return commands_from_rows(data["kinds"], data["values"])


def encode_snapshot(snapshot: dict[str, Any]) -> str:
    """MatchingEngine.snapshot() as stored."""
    return orjson.dumps(snapshot).decode()


def encode_records(records: Sequence[Trade] | Sequence[OrderEvent]) -> str:
    """A non-empty run of trades or of events, as named columns."""
    return orjson.dumps(dict(zip(type(records[0])._fields, zip(*records)))).decode()


def _optional(enum: Callable[[int], Any]) -> Callable[[int | None], Any]:
    return lambda value: None if value is None else enum(value)


# Columns stored as integers that the records carry as enums.
_ENUMS: dict[type, dict[str, Callable[[Any], Any]]] = {
    Trade: {"taker_side": _optional(Side)},
    OrderEvent: {"type": OrderEventType, "state": OrderState},
}


def _decode(kind: type[R], payload: str | bytes) -> list[R]:
    data = orjson.loads(payload)
    enums = _ENUMS[kind]
    defaults = kind._field_defaults
    # A column a block predates (a trade's `trace`, added later) reads as the field's default.
    columns = [repeat(defaults[field]) if field not in data
               else data[field] if field not in enums else map(enums[field], data[field]) for field in kind._fields]
    return list(map(tuple.__new__, repeat(kind), zip(*columns)))


def decode_trades(payload: str | bytes) -> list[Trade]:
    return _decode(Trade, payload)


def decode_events(payload: str | bytes) -> list[OrderEvent]:
    return _decode(OrderEvent, payload)
