"""The Matching journal store: what the per-market writers persist and what readers page through.

Writes go through the driver's executemany with positional rows (the ORM/dict path costs more
per row than the whole match), one transaction per batch of commands (group commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.matching import tables
from services.matching.domain import (
    Auction,
    Command,
    Market,
    OrderEvent,
    OrderEventType,
    OrderState,
    Side,
    Trade,
    command_from_row,
    command_to_row,
)

SNAPSHOTS_KEPT = 2


@dataclass(frozen=True)
class StoredMarket:
    """Everything needed to rebuild one market's engine: a snapshot (or the definition) + the rest."""

    market: Market
    snapshot: dict[str, Any] | None
    snapshot_sequence: int
    commands: list[Command]  # journaled after the snapshot, in order
    last_sequence: int  # the journal's last command sequence


@dataclass
class Batch:
    """One group commit: the commands a writer applied and what they produced."""

    market: str
    first_sequence: int
    commands: list[Command]
    trades: list[Trade]
    events: list[OrderEvent]
    auctions: list[Auction]
    snapshot: dict[str, Any] | None = None  # taken after the batch's last command


def _insert_sql(table: Any, paramstyle: str) -> str:
    columns = [column.name for column in table.columns]
    if paramstyle in ("numeric_dollar", "numeric"):
        marks = ", ".join(f"${index}" for index in range(1, len(columns) + 1))
    elif paramstyle == "format":
        marks = ", ".join("%s" for _ in columns)
    else:
        marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"


class MatchingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        style = engine.dialect.paramstyle
        self._insert = {table.name: _insert_sql(table, style) for table in tables.metadata.sorted_tables}

    # ----------------------------------------------------------------- markets
    async def add_market(self, market: Market, now: int, session: AsyncSession | None = None) -> bool:
        """Insert a market definition (in `session`'s transaction if given); False when the name is taken."""
        if session is None:
            async with self.engine.begin() as connection:
                return await self._add_market(connection, market, now)
        return await self._add_market(session, market, now)

    @staticmethod
    async def _add_market(connection: AsyncConnection | AsyncSession, market: Market, now: int) -> bool:
        exists = (await connection.execute(
            select(tables.markets.c.name).where(tables.markets.c.name == market.name))).first()
        if exists is not None:
            return False
        await connection.execute(tables.markets.insert().values(
            name=market.name, definition=orjson.dumps(market.to_dict()).decode(), create_time=now))
        return True

    async def market_definitions(self) -> list[Market]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(tables.markets.c.definition).order_by(tables.markets.c.name))).all()
        return [Market.from_dict(orjson.loads(row.definition)) for row in rows]

    async def load(self, market: Market) -> StoredMarket:
        """The latest snapshot of `market` and every command journaled after it."""
        name = market.name
        async with self.engine.connect() as connection:
            snap = (await connection.execute(
                select(tables.snapshots.c.sequence, tables.snapshots.c.snapshot)
                .where(tables.snapshots.c.market == name)
                .order_by(tables.snapshots.c.sequence.desc()).limit(1))).first()
            after = 0 if snap is None else int(snap.sequence)
            rows = (await connection.execute(
                select(tables.journal.c.sequence, tables.journal.c.command)
                .where(tables.journal.c.market == name, tables.journal.c.sequence > after)
                .order_by(tables.journal.c.sequence))).all()
        expected = after + 1
        commands = []
        for row in rows:
            if row.sequence != expected:
                raise RuntimeError(f"journal of {name} has a gap before command {row.sequence}")
            commands.append(command_from_row(orjson.loads(row.command)))
            expected += 1
        return StoredMarket(market, None if snap is None else orjson.loads(snap.snapshot), after, commands,
                            expected - 1)

    # ------------------------------------------------------------------ writes
    async def append(self, batch: Batch) -> None:
        """Journal a batch and its results in one transaction: all of it is durable, or none."""
        market = batch.market
        async with self.engine.begin() as connection:
            await self._executemany(connection, "matching_journal", [
                (market, sequence, orjson.dumps(command_to_row(command)).decode())
                for sequence, command in enumerate(batch.commands, batch.first_sequence)])
            if batch.trades:
                await self._executemany(connection, "matching_trades",
                                        [(market, *trade) for trade in batch.trades])
            if batch.events:
                await self._executemany(connection, "matching_order_events",
                                        [(market, *event) for event in batch.events])
            if batch.auctions:
                await self._executemany(connection, "matching_auctions",
                                        [(market, *auction) for auction in batch.auctions])
            if batch.snapshot is not None:
                last = batch.first_sequence + len(batch.commands) - 1
                await self._executemany(connection, "matching_snapshots",
                                        [(market, last, orjson.dumps(batch.snapshot).decode())])
                kept = (await connection.execute(
                    select(tables.snapshots.c.sequence).where(tables.snapshots.c.market == market)
                    .order_by(tables.snapshots.c.sequence.desc()).offset(SNAPSHOTS_KEPT - 1).limit(1))).first()
                if kept is not None:
                    await connection.execute(delete(tables.snapshots).where(
                        tables.snapshots.c.market == market, tables.snapshots.c.sequence < kept.sequence))

    async def _executemany(self, connection: AsyncConnection, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        await connection.exec_driver_sql(self._insert[table], list(rows))

    # ------------------------------------------------------------------- reads
    async def journal_length(self, market: str) -> int:
        async with self.engine.connect() as connection:
            return int((await connection.execute(
                select(func.count()).select_from(tables.journal).where(tables.journal.c.market == market))).scalar_one())

    async def trades_after(self, market: str, after: int, limit: int) -> list[Trade]:
        table = tables.trades
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(*[c for c in table.columns if c.name != "market"])
                .where(table.c.market == market, table.c.sequence > after)
                .order_by(table.c.sequence).limit(limit))).all()
        return [Trade(row.sequence, row.price, row.quantity, row.buy_order, row.sell_order, row.buyer, row.seller,
                      None if row.taker_side is None else Side(row.taker_side), row.auction, row.time)
                for row in rows]

    async def events_after(self, market: str, after: int, limit: int) -> list[OrderEvent]:
        table = tables.order_events
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(*[c for c in table.columns if c.name != "market"])
                .where(table.c.market == market, table.c.sequence > after)
                .order_by(table.c.sequence).limit(limit))).all()
        return [_event(row) for row in rows]

    async def last_event_of(self, market: str, order_id: str) -> OrderEvent | None:
        table = tables.order_events
        async with self.engine.connect() as connection:
            row = (await connection.execute(
                select(*[c for c in table.columns if c.name != "market"])
                .where(table.c.market == market, table.c.order_id == order_id)
                .order_by(table.c.sequence.desc()).limit(1))).first()
        return None if row is None else _event(row)

    async def auctions_after(self, market: str, after: int, limit: int) -> list[Auction]:
        table = tables.auctions
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(*[c for c in table.columns if c.name != "market"])
                .where(table.c.market == market, table.c.sequence > after)
                .order_by(table.c.sequence).limit(limit))).all()
        return [Auction(*row) for row in rows]


def _event(row: Any) -> OrderEvent:
    return OrderEvent(row.sequence, row.order_id, row.account, OrderEventType(row.type), OrderState(row.state),
                      row.filled, row.remaining, row.trade, row.last_price, row.last_quantity, row.reason, row.time)
