"""The Matching journal store: what the per-market writers persist and what readers page through.

One transaction per batch of commands (group commit) writes one block each of commands, trades
and order events (tables.py, blocks.py), and any auction. Snapshots are written on their own,
after the orders that finished before them are in the finished-orders index (finished_index.py).
On SQLite the transactions run inline on the loop's thread (sqlite_appender.py); on
PostgreSQL through asyncpg.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.matching import tables
from services.matching.blocks import (
    decode_commands,
    decode_events,
    decode_trades,
    encode_commands,
    encode_records,
)
from services.matching.domain import Auction, Command, Market, OrderEvent, Trade
from services.matching.finished_index import Finished, finished_index
from services.matching.sqlite_appender import SqliteAppender, Statement, file_path
from services.runtime.database import DEFAULT_SQLITE_SYNCHRONOUS
from services.runtime.direct_statements import run_text
from services.runtime.transactions import Transactions

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

    @property
    def last_sequence(self) -> int:
        return self.first_sequence + len(self.commands) - 1


def _insert_sql(table: Table, paramstyle: str) -> str:
    columns = [column.name for column in table.columns]
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({_marks(len(columns), paramstyle)})"


def _marks(count: int, paramstyle: str) -> str:
    if paramstyle in ("numeric_dollar", "numeric"):
        return ", ".join(f"${index}" for index in range(1, count + 1))
    return ", ".join(("%s" if paramstyle == "format" else "?") for _ in range(count))


_PARAMETER = re.compile(r"\$(\d+)")  # asyncpg's numbered placeholder


def _renumbered(sql: str, offset: int) -> str:
    """`sql` with each $n placeholder numbered `offset` further on."""
    return _PARAMETER.sub(lambda found: f"${int(found.group(1)) + offset}", sql)


def _one_statement(statements: list[Statement]) -> tuple[str, tuple[Any, ...]]:
    """PostgreSQL: single-row INSERTs (numbered $n parameters) as one statement, every one but
    the last a data-modifying WITH, which runs whether or not anything reads it: all of them
    or none, as in one transaction. Each statement's parameters are numbered on from the last's."""
    parts: list[str] = []
    values: list[Any] = []
    for sql, rows in statements:
        parts.append(_renumbered(sql, len(values)))
        values.extend(rows[0])
    *first, last = parts
    if not first:
        return last, tuple(values)
    return "WITH " + ", ".join(f"block{index} AS ({part})" for index, part in enumerate(first)) + " " + last, \
        tuple(values)


BLOCKS_PER_READ = 4


class MatchingStore:
    def __init__(self, engine: AsyncEngine, *, sqlite_synchronous: str = DEFAULT_SQLITE_SYNCHRONOUS,
                 tx: Transactions | None = None) -> None:
        """`tx`: the service's transactions (ServiceRuntime.transactions, which keeps connections
        between calls); on PostgreSQL a batch journaled in one statement and the finished-orders
        look-ups run on its statement-alone connections, on the driver (`append`). Without it
        (tests), a Transactions of the engine's own on PostgreSQL; SQLite does not use it."""
        self.engine = engine
        self._sqlite_synchronous = sqlite_synchronous  # what the appender's commits wait for
        style = engine.dialect.paramstyle
        self._insert = {table.name: _insert_sql(table, style) for table in tables.metadata.sorted_tables}
        self._tx = (tx or Transactions(engine)) if engine.dialect.name == "postgresql" else None
        self.finished_index = finished_index(engine, self._tx)
        marks = _marks(2, style).split(", ")
        self._prune_snapshots = (  # keeps the newest SNAPSHOTS_KEPT
            f"DELETE FROM matching_snapshots WHERE market = {marks[0]} AND sequence < (SELECT sequence "
            f"FROM matching_snapshots WHERE market = {marks[1]} ORDER BY sequence DESC "
            f"LIMIT 1 OFFSET {SNAPSHOTS_KEPT - 1})")
        # The embedded SQLite file is written on the loop's thread (sqlite_appender.py).
        self._sqlite_path = file_path(engine)
        self._appender: SqliteAppender | None = None

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
        blocks = tables.command_blocks
        async with self.engine.connect() as connection:
            snap = (await connection.execute(
                select(tables.snapshots.c.sequence, tables.snapshots.c.snapshot)
                .where(tables.snapshots.c.market == name)
                .order_by(tables.snapshots.c.sequence.desc()).limit(1))).first()
            after = 0 if snap is None else int(snap.sequence)
            rows = (await connection.execute(
                select(blocks.c.first_sequence, blocks.c.last_sequence, blocks.c.commands)
                .where(blocks.c.market == name, blocks.c.last_sequence > after)
                .order_by(blocks.c.last_sequence))).all()
        expected = after + 1
        commands: list[Command] = []
        for row in rows:
            decoded = decode_commands(row.commands)
            if row.first_sequence > expected or row.last_sequence - row.first_sequence + 1 != len(decoded):
                raise RuntimeError(f"journal of {name} has a gap before command {row.first_sequence}")
            commands.extend(decoded[expected - row.first_sequence:])
            expected = row.last_sequence + 1
        return StoredMarket(market, None if snap is None else orjson.loads(snap.snapshot), after, commands,
                            expected - 1)

    # ------------------------------------------------------------------ writes
    async def append(self, batch: Batch) -> None:
        """Journal a batch and its results in one transaction: all of it is durable, or none."""
        statements = self._statements(batch)
        if self._tx is not None and all(len(rows) == 1 for _, rows in statements):
            # PostgreSQL: the blocks in ONE statement, outside a transaction (it is its own):
            # one round trip instead of BEGIN, an INSERT per block and COMMIT, each waited for
            # on a busy machine while the batch's SubmitOrders wait (bench/order.py). On a kept
            # connection, on asyncpg directly: a connection checked out of SQLAlchemy's pool and
            # a statement run through it cost as much CPU again as the statement.
            sql, values = _one_statement(statements)
            await self._tx.write_alone(lambda connection: run_text(connection, sql, values))
            return
        await self._write(statements)

    async def index_finished(self, market: str, finished: Finished) -> None:
        """Add orders that left the book to the finished-orders index (they are journaled already)."""
        await self.finished_index.add(market, finished)

    async def save_snapshot(self, market: str, sequence: int, image: str) -> None:
        """Store a snapshot (blocks.encode_snapshot) taken after command `sequence`; only the
        newest SNAPSHOTS_KEPT stay.

        Call it once every order that finished up to `sequence` is in the finished-orders index:
        a restart replays only what follows the snapshot, and finds those orders again that way."""
        await self._write([(self._insert["matching_snapshots"], [(market, sequence, image)]),
                           (self._prune_snapshots, [(market, market)])])

    async def _write(self, statements: list[Statement]) -> None:
        if self._appender is None and self._sqlite_path is not None:
            self._appender = SqliteAppender(self._sqlite_path, self._sqlite_synchronous)
        if self._appender is not None:
            await self._appender.write(statements)
            return
        async with self.engine.begin() as connection:
            for sql, rows in statements:
                await connection.exec_driver_sql(sql, list(rows))

    def _statements(self, batch: Batch) -> list[Statement]:
        market, first, last, insert = batch.market, batch.first_sequence, batch.last_sequence, self._insert
        statements: list[Statement] = [
            (insert["matching_command_blocks"], [(market, last, first, encode_commands(batch.commands))])]
        for name, records in (("matching_trade_blocks", batch.trades), ("matching_event_blocks", batch.events)):
            if records:
                statements.append((insert[name], [(market, records[-1].sequence, records[0].sequence,
                                                   encode_records(records))]))
        if batch.auctions:
            statements.append((insert["matching_auctions"], [(market, *auction) for auction in batch.auctions]))
        return statements

    async def close(self) -> None:
        await self.finished_index.close()
        if self._appender is not None:
            await self._appender.close()
            self._appender = None

    # ------------------------------------------------------------------- reads
    async def journal_length(self, market: str) -> int:
        """How many commands the journal holds (they are numbered 1..n without gaps)."""
        blocks = tables.command_blocks
        async with self.engine.connect() as connection:
            return int((await connection.execute(
                select(func.coalesce(func.max(blocks.c.last_sequence), 0))
                .where(blocks.c.market == market))).scalar_one())

    async def trades_after(self, market: str, after: int, limit: int) -> list[Trade]:
        return await self._records_after(tables.trade_blocks, decode_trades, market, after, limit)

    async def events_after(self, market: str, after: int, limit: int) -> list[OrderEvent]:
        return await self._records_after(tables.event_blocks, decode_events, market, after, limit)

    async def _records_after(self, blocks: Table, decode: Callable[[str], list[Any]], market: str, after: int,
                             limit: int) -> list[Any]:
        """Up to `limit` records with a sequence above `after`, in order, from as few blocks as needed."""
        found: list[Any] = []
        payload = list(blocks.columns)[-1]
        async with self.engine.connect() as connection:
            while len(found) < limit:
                rows = (await connection.execute(
                    select(blocks.c.last_sequence, payload)
                    .where(blocks.c.market == market, blocks.c.last_sequence > after)
                    .order_by(blocks.c.last_sequence).limit(BLOCKS_PER_READ))).all()
                for row in rows:
                    found.extend(record for record in decode(row[1]) if record.sequence > after)
                    after = row.last_sequence
                if len(rows) < BLOCKS_PER_READ:
                    break
        return found[:limit]

    async def last_event_of(self, market: str, order_id: str) -> OrderEvent | None:
        """The last event of an order that left the book, or None if it never finished here."""
        sequence = await self.finished_index.sequence_of(market, order_id)
        return None if sequence is None else await self._event_at(market, sequence)

    async def last_events_of(self, market: str, order_ids: Sequence[str]) -> dict[str, OrderEvent]:
        """`last_event_of` for many orders, by order id (those that never finished here are
        absent): one look in the index for all of them."""
        found = await self.finished_index.sequences_of(market, order_ids) if order_ids else {}
        return {order_id: await self._event_at(market, sequence) for order_id, sequence in found.items()}

    async def _event_at(self, market: str, sequence: int) -> OrderEvent:
        """The market's event numbered `sequence` (journaled)."""
        blocks = tables.event_blocks
        async with self.engine.connect() as connection:
            payload = (await connection.execute(
                select(blocks.c.events).where(blocks.c.market == market, blocks.c.last_sequence >= sequence)
                .order_by(blocks.c.last_sequence).limit(1))).scalar_one()
        return next(event for event in decode_events(payload) if event.sequence == sequence)

    async def auctions_after(self, market: str, after: int, limit: int) -> list[Auction]:
        table = tables.auctions
        async with self.engine.connect() as connection:
            rows = (await connection.execute(
                select(*[c for c in table.columns if c.name != "market"])
                .where(table.c.market == market, table.c.sequence > after)
                .order_by(table.c.sequence).limit(limit))).all()
        return [Auction(*row) for row in rows]
