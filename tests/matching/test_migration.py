"""Migration matching_0002 moves a journal kept a row per command into blocks without changing
what it says: the same commands replay, the same trades and events page out, old orders are
still found, and downgrading gives the rows back."""

from __future__ import annotations

import random
from enum import IntEnum
from functools import partial
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.matching.domain import (
    CancelOrder, MarketMode, MatchingEngine, OrderType, Side, SubmitOrder, apply, commands_to_rows, default_markets,
)
from services.matching.service import SPEC
from services.runtime import migrate
from services.runtime.database import create_engine
from services.runtime.errors import DomainError

MARKET = next(m for m in default_markets() if m.mode == MarketMode.CONTINUOUS)


def history(count: int) -> tuple[list[Any], MatchingEngine, list[Any], list[Any]]:
    """A reproducible run of submits and cancels: the commands, the engine, its trades and events."""
    rng = random.Random(7)
    engine = MatchingEngine(MARKET)
    commands: list[Any] = []
    trades: list[Any] = []
    for index in range(count):
        if index and rng.random() < 0.3:
            command: Any = CancelOrder(f"o{rng.randrange(index)}", index)
        else:
            command = SubmitOrder(f"o{index}", f"acct{index % 5}", rng.choice([Side.BUY, Side.SELL]),
                                  OrderType.LIMIT, rng.randint(1, 20), index, price=rng.randint(95, 105))
        try:
            outcome = apply(engine, command)
        except DomainError:
            continue  # a cancel of an order that already left: never journaled
        commands.append(command)
        trades.extend(getattr(outcome, "trades", []))
    return commands, engine, trades, engine.drain_events()


async def write_rows_of_0001(connection: AsyncConnection, commands: list[Any], trades: list[Any],
                             events: list[Any]) -> None:
    kinds, values = commands_to_rows(commands)
    await connection.execute(text(
        "INSERT INTO matching_journal (market, sequence, command) VALUES (:market, :sequence, :command)"),
        [{"market": MARKET.name, "sequence": sequence, "command": orjson.dumps([kind, *row]).decode()}
         for sequence, (kind, row) in enumerate(zip(kinds, values), 1)])
    for table, records in (("matching_trades", trades), ("matching_order_events", events)):
        fields = tuple(field for field in type(records[0])._fields if field != "trace")  # 0001 predates it
        await connection.execute(text(
            f"INSERT INTO {table} (market, {', '.join(fields)}) VALUES (:market, "
            f"{', '.join(':' + field for field in fields)})"),
            [{"market": MARKET.name, **{field: int(v) if isinstance(v, IntEnum) else v
                                        for field, v in record._asdict().items() if field in fields}}
             for record in records])


@pytest.fixture
async def migrated(upgraded_from: Any) -> Any:
    commands, live, trades, events = history(2_500)
    store = await upgraded_from("matching_0001", MARKET,
                                partial(write_rows_of_0001, commands=commands, trades=trades, events=events))
    return store, commands, live, trades, events


async def test_the_migrated_journal_replays_the_same_book(migrated: Any) -> None:
    store, commands, live, _, _ = migrated

    stored = await store.load(MARKET)
    replayed = MatchingEngine(MARKET)
    for command in stored.commands:
        apply(replayed, command)

    assert stored.commands == commands
    assert replayed.book() == live.book()
    assert await store.journal_length(MARKET.name) == len(commands)


async def test_migrated_trades_and_events_page_out_in_order(migrated: Any) -> None:
    store, _, _, trades, events = migrated

    assert await store.trades_after(MARKET.name, 0, 100_000) == trades
    assert await store.events_after(MARKET.name, 0, 100_000) == events
    assert await store.events_after(MARKET.name, 1_234, 10) == events[1_234:1_244]


async def test_orders_that_finished_before_the_migration_are_still_found(migrated: Any) -> None:
    store, _, live, _, events = migrated
    last = {event.order_id: event for event in events}
    finished = [event for order, event in last.items() if live.resting_order(order) is None]
    resting = next(order for order in last if live.resting_order(order) is not None)

    assert finished and all([await store.last_event_of(MARKET.name, e.order_id) == e for e in finished[:50]])
    assert await store.last_event_of(MARKET.name, resting) is None


async def test_downgrading_gives_the_rows_back(migrated: Any, database_url: str) -> None:
    _, commands, _, trades, _ = migrated
    await migrate.downgrade(database_url, SPEC.migrations, "matching_0001")
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        journal = (await connection.execute(text(
            "SELECT sequence, command FROM matching_journal ORDER BY sequence"))).all()
        prices = (await connection.execute(text("SELECT price FROM matching_trades ORDER BY sequence"))).scalars().all()
    await engine.dispose()

    kinds, values = commands_to_rows(commands)
    assert [orjson.loads(row.command) for row in journal] == [orjson.loads(orjson.dumps([k, *v]))
                                                               for k, v in zip(kinds, values)]
    assert [row.sequence for row in journal] == list(range(1, len(commands) + 1))
    assert prices == [trade.price for trade in trades]
