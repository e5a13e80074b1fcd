"""Journal-able commands and the single entry point that applies them to an engine.

A journal stores `command_to_dict(cmd)` and replays with `apply(engine, command_from_dict(d))`;
given the same starting snapshot the replay reproduces every trade and event exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .engine import MatchingEngine
from .enums import MarketState, OrderType, Side, TimeInForce
from .records import Auction, CancelResult, SubmitResult, Trade


@dataclass(frozen=True, slots=True)
class SubmitOrder:
    order_id: str
    account: str
    side: Side
    order_type: OrderType
    quantity: int
    now: int
    price: int | None = None
    time_in_force: TimeInForce | None = None
    post_only: bool = False
    max_notional: int | None = None
    expire_at: int | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    order_id: str
    now: int


@dataclass(frozen=True, slots=True)
class ClearAuction:
    now: int


@dataclass(frozen=True, slots=True)
class Expire:
    now: int


@dataclass(frozen=True, slots=True)
class SetMarketState:
    state: MarketState
    now: int


Command = SubmitOrder | CancelOrder | ClearAuction | Expire | SetMarketState
Outcome = SubmitResult | CancelResult | tuple[Auction, Sequence[Trade]] | list[str] | None


def apply(engine: MatchingEngine, command: Command) -> Outcome:
    match command:
        case SubmitOrder():
            return engine.submit(
                command.order_id, command.account, command.side, command.order_type, command.quantity,
                price=command.price, time_in_force=command.time_in_force, post_only=command.post_only,
                max_notional=command.max_notional, expire_at=command.expire_at, now=command.now,
            )
        case CancelOrder():
            return engine.cancel(command.order_id, now=command.now)
        case ClearAuction():
            return engine.clear(command.now)
        case Expire():
            return engine.expire(command.now)
        case SetMarketState():
            engine.set_state(command.state, now=command.now)
            return None
    raise TypeError(f"not a matching command: {command!r}")


_KINDS: dict[str, type] = {cls.__name__: cls for cls in (SubmitOrder, CancelOrder, ClearAuction, Expire, SetMarketState)}
_ENUM_FIELDS = {"side": Side, "order_type": OrderType, "time_in_force": TimeInForce, "state": MarketState}


def command_to_dict(command: Command) -> dict[str, Any]:
    """JSON-serialisable form: {"kind": ..., fields...}; enums become their names."""
    data: dict[str, Any] = {"kind": type(command).__name__}
    for field, value in asdict(command).items():
        data[field] = value.name if field in _ENUM_FIELDS and value is not None else value
    return data


def command_from_dict(data: dict[str, Any]) -> Command:
    fields = dict(data)
    cls = _KINDS[fields.pop("kind")]
    for field, enum in _ENUM_FIELDS.items():
        if fields.get(field) is not None:
            fields[field] = enum[fields[field]]
    return cls(**fields)


# Compact positional form for the journal's hot path: [kind, field values...] in declaration
# order, enums as their integer values (a JSON array of scalars encodes several times faster
# than asdict() + a dict).
_FIELDS: dict[type, tuple[str, ...]] = {cls: cls.__slots__ for cls in _KINDS.values()}  # type: ignore[attr-defined]
_ENUM_OF_FIELD = {"side": Side, "order_type": OrderType, "time_in_force": TimeInForce, "state": MarketState}
_CODES = {SubmitOrder: "S", CancelOrder: "C", ClearAuction: "A", Expire: "E", SetMarketState: "M"}
_BY_CODE = {code: cls for cls, code in _CODES.items()}


def command_to_row(command: Command) -> list[Any]:
    if type(command) is SubmitOrder:
        c = command
        return ["S", c.order_id, c.account, int(c.side), int(c.order_type), c.quantity, c.now, c.price,
                None if c.time_in_force is None else int(c.time_in_force), c.post_only, c.max_notional,
                c.expire_at]
    cls = type(command)
    row: list[Any] = [_CODES[cls]]
    for field in _FIELDS[cls]:
        value = getattr(command, field)
        row.append(int(value) if field in _ENUM_OF_FIELD and value is not None else value)
    return row


def command_from_row(row: list[Any]) -> Command:
    cls = _BY_CODE[row[0]]
    values = []
    for field, value in zip(_FIELDS[cls], row[1:]):
        enum = _ENUM_OF_FIELD.get(field)
        values.append(enum(value) if enum is not None and value is not None else value)
    return cls(*values)  # type: ignore[no-any-return]
