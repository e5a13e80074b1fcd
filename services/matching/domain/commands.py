"""Journal-able commands and the single entry point that applies them to an engine.

A journal stores `command_to_dict(cmd)` and replays with `apply(engine, command_from_dict(d))`;
given the same starting snapshot the replay reproduces every trade and event exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from operator import attrgetter
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


# Compact positional form for the journal's hot path: one string of kind codes for a whole batch
# plus, per command, its field values in declaration order (a C-level attrgetter, no dicts). A
# field added later with a default, at the end of a command, still decodes older rows.
_FIELDS: dict[type, tuple[str, ...]] = {cls: cls.__slots__ for cls in _KINDS.values()}  # type: ignore[attr-defined]  # slotted dataclasses
_CODES = {SubmitOrder: "S", CancelOrder: "C", ClearAuction: "A", Expire: "E", SetMarketState: "M"}
_BY_CODE = {code: cls for cls, code in _CODES.items()}


def _values_getter(fields: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if len(fields) > 1:
        return attrgetter(*fields)
    (field,) = fields  # attrgetter of one name returns the bare value
    return lambda command: (getattr(command, field),)


_VALUES = {cls: _values_getter(fields) for cls, fields in _FIELDS.items()}


def commands_to_rows(commands: Sequence[Command]) -> tuple[str, list[tuple[Any, ...]]]:
    """(kind codes, value tuples); enums stay IntEnums, which serialise as their integers."""
    kinds = list(map(type, commands))
    values = _VALUES
    return "".join(map(_CODES.__getitem__, kinds)), [values[kind](command) for kind, command in zip(kinds, commands)]


def _field_value(field: str, value: Any) -> Any:
    enum = _ENUM_FIELDS.get(field)
    return value if enum is None or value is None else enum(value)


def commands_from_rows(codes: str, rows: Sequence[Sequence[Any]]) -> list[Command]:
    if len(codes) != len(rows):
        raise ValueError(f"{len(codes)} command kinds for {len(rows)} rows")
    commands: list[Command] = []
    for code, row in zip(codes, rows):
        cls = _BY_CODE[code]
        commands.append(cls(*map(_field_value, _FIELDS[cls], row)))
    return commands
