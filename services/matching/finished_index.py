"""The index of orders that left the book: order id -> the sequence of its last event.

It answers idempotent resubmits of orders that memory no longer holds (writer.py). It is derived
data (the event blocks hold the same facts), written in bulk with each snapshot and off the
journal's write path:
  - on PostgreSQL, a table of the journal's database, written on a connection of its own, one
    statement over two arrays;
  - on the embedded SQLite, a file of its own beside the journal's (`<journal>-index`), written by
    one statement run on a worker thread. SQLite has one writer per file: in the journal's file
    these inserts (~2 µs a row here, whatever the batching) would hold its write lock or its
    thread; in their own file they run on the other core while the journal goes on. Lookups read
    it inline: a point read in WAL mode never waits for the writer.
The journal file's `matching_finished_orders` table, filled by migration `matching_0002` and by
earlier versions, is an inbox on SQLite: its rows move to the index file when it is opened.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Protocol

import orjson
from sqlalchemy import ARRAY, String, any_, bindparam, select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.schema import CreateTable

from services.matching import tables
from services.matching.domain.reasons import MatchingReason
from services.matching.sqlite_appender import file_path
from services.runtime.direct_statements import DirectStatement
from services.runtime.errors import Unavailable
from services.runtime.transactions import Transactions

Finished = list[tuple[str, int]]  # (order id, its last event's sequence)

# A row already there is left alone: a replay from the last snapshot finishes those orders again,
# with the same events, and a database indexed by an earlier version holds them already.
_POSTGRES_INSERT = ("INSERT INTO matching_finished_orders (market, order_id, sequence) "
                    "SELECT $1::varchar, * FROM unnest($2::varchar[], $3::bigint[]) ON CONFLICT DO NOTHING")
_SQLITE_INSERT = ("INSERT INTO matching_finished_orders (market, order_id, sequence) "
                  "SELECT ?, json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?) "
                  "WHERE true ORDER BY 2 ON CONFLICT DO NOTHING")  # sorted: B-tree pages in order
# PostgreSQL's look-up of a batch's orders: one statement whatever their number (an array).
_SEQUENCES_OF = DirectStatement(select(tables.finished_orders.c.order_id, tables.finished_orders.c.sequence).where(
    tables.finished_orders.c.market == bindparam("market"),
    tables.finished_orders.c.order_id == any_(bindparam("order_ids", type_=ARRAY(String)))))
_LOOKUP = "SELECT sequence FROM matching_finished_orders WHERE market = ? AND order_id = ?"
# A batch's orders at once (a JSON array of ids): one statement instead of one per order.
_LOOKUP_MANY = ("SELECT order_id, sequence FROM matching_finished_orders "
                "WHERE market = ? AND order_id IN (SELECT value FROM json_each(?))")


def _closed() -> Unavailable:
    return Unavailable(MatchingReason.JOURNAL_UNAVAILABLE, "the finished-orders index is closed")


class FinishedIndex(Protocol):
    async def add(self, market: str, finished: Finished) -> None: ...

    async def sequence_of(self, market: str, order_id: str) -> int | None: ...

    async def sequences_of(self, market: str, order_ids: Sequence[str]) -> dict[str, int]: ...

    async def close(self) -> None: ...


def finished_index(engine: AsyncEngine, tx: Transactions | None = None) -> FinishedIndex:
    """The index of `engine`'s journal; `tx` its transactions on PostgreSQL (DatabaseIndex)."""
    path = file_path(engine)
    return SqliteFileIndex(path) if path is not None else DatabaseIndex(engine, tx)


class DatabaseIndex:
    """The index as a table of the journal's own database (PostgreSQL; SQLite in memory).

    On PostgreSQL (`tx` given) a look-up is one statement alone (`Transactions.read_alone`: no
    BEGIN and ROLLBACK round trips around it, SubmitOrders waits for one on every batch), fixed
    whatever the batch's size (the ids as one array) and run on the driver, on a kept connection:
    through SQLAlchemy, an IN list of as many parameters as ids was a statement compiled and
    prepared per size, on a connection checked out of the pool, for ~11 % of Matching's CPU at
    32 clients (py-spy, bench/order.py)."""

    def __init__(self, engine: AsyncEngine, tx: Transactions | None = None) -> None:
        self.engine = engine
        self._tx = tx

    async def add(self, market: str, finished: Finished) -> None:
        if not finished:
            return
        async with self.engine.begin() as connection:
            if self.engine.dialect.name == "postgresql":
                ids, sequences = map(list, zip(*finished))
                await connection.exec_driver_sql(_POSTGRES_INSERT, (market, ids, sequences))
            else:
                await connection.exec_driver_sql(_SQLITE_INSERT, (market, orjson.dumps(finished).decode()))

    async def sequence_of(self, market: str, order_id: str) -> int | None:
        return (await self.sequences_of(market, [order_id])).get(order_id)

    async def sequences_of(self, market: str, order_ids: Sequence[str]) -> dict[str, int]:
        """The indexed ones among `order_ids`: order id -> sequence."""
        ids = sorted(set(order_ids))
        if self._tx is not None:
            ran = await self._tx.read_alone(lambda connection: _SEQUENCES_OF.run(
                connection, {"market": market, "order_ids": ids}))
            return {row.order_id: int(row.sequence) for row in ran.rows}
        table = tables.finished_orders
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(table.c.order_id, table.c.sequence).where(
                table.c.market == market, table.c.order_id.in_(ids)))
            return {order_id: int(sequence) for order_id, sequence in rows}

    async def close(self) -> None:
        pass


def _connect(path: str, synchronous: str = "NORMAL") -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute("PRAGMA busy_timeout=10000")
    return connection


class SqliteFileIndex:
    """The index in its own SQLite file beside the journal's."""

    def __init__(self, journal_path: str) -> None:
        self.journal_path = journal_path
        self.path = f"{journal_path}-index"
        self._writer: sqlite3.Connection | None = None  # used on worker threads, one at a time
        self._reader: sqlite3.Connection | None = None  # used on the loop's thread
        self._turn = asyncio.Lock()

    async def _open(self) -> None:
        async with self._turn:
            if self._writer is None:
                self._writer = await asyncio.to_thread(self._create)
                self._reader = _connect(self.path)

    def _create(self) -> sqlite3.Connection:
        # FULL: each commit (one per snapshot) is fsynced before the snapshot that relies on it
        # is written to the other file, so no crash can keep the snapshot and lose the index.
        writer = _connect(self.path, "FULL")
        ddl = str(CreateTable(tables.finished_orders, if_not_exists=True).compile(dialect=sqlite_dialect.dialect()))
        writer.execute(ddl)
        # Rows the journal's file holds (migration 0002, earlier versions) move here: copied
        # first, then removed there, so a crash in between only copies them again.
        writer.execute("ATTACH DATABASE ? AS journal", (self.journal_path,))
        try:
            inbox = writer.execute("SELECT 1 FROM journal.sqlite_master WHERE type = 'table' "
                                   "AND name = 'matching_finished_orders'").fetchone()
            if inbox is not None:
                writer.execute("INSERT INTO main.matching_finished_orders (market, order_id, sequence) "
                               "SELECT market, order_id, sequence FROM journal.matching_finished_orders "
                               "WHERE true ON CONFLICT DO NOTHING")
                writer.execute("DELETE FROM journal.matching_finished_orders")
        finally:
            writer.execute("DETACH DATABASE journal")
        return writer

    async def add(self, market: str, finished: Finished) -> None:
        if self._writer is None:
            await self._open()
        if not finished:
            return
        payload = orjson.dumps(finished).decode()
        async with self._turn:
            writer = self._writer
            if writer is None:
                raise _closed()
            # One statement, committed on its own: the worker holds no GIL while SQLite works.
            await asyncio.to_thread(writer.execute, _SQLITE_INSERT, (market, payload))

    async def sequence_of(self, market: str, order_id: str) -> int | None:
        if self._reader is None:
            await self._open()
        reader = self._reader
        if reader is None:
            raise _closed()
        row = reader.execute(_LOOKUP, (market, order_id)).fetchone()
        return None if row is None else int(row[0])

    async def sequences_of(self, market: str, order_ids: Sequence[str]) -> dict[str, int]:
        """The indexed ones among `order_ids`: order id -> sequence (one statement, inline)."""
        if self._reader is None:
            await self._open()
        reader = self._reader
        if reader is None:
            raise _closed()
        rows = reader.execute(_LOOKUP_MANY, (market, orjson.dumps(list(order_ids)).decode())).fetchall()
        return {order_id: int(sequence) for order_id, sequence in rows}

    async def close(self) -> None:
        async with self._turn:
            for connection in (self._writer, self._reader):
                if connection is not None:
                    connection.close()
            self._writer = self._reader = None
