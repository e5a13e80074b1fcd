"""Append-heavy writes to a service's SQLite file, on the event loop's own thread.

Through aiosqlite every statement is a round trip to its worker thread, and that thread needs
the GIL for its Python half while the loop, busy with the next batch, holds it: measured in
bench/matching.py, a five-statement journal batch took ~5 ms that way and ~0.5 ms written
directly. A commit in WAL mode with synchronous=NORMAL is a write(2) to the log, not an fsync,
so doing it inline costs less than handing it off. With synchronous=FULL (the default, see
CLEARMESH_SQLITE_SYNCHRONOUS) every commit also fsyncs the log: SQLite releases the GIL for it,
but the loop's thread waits, so the commit runs on a worker thread instead and the loop goes on
applying what the next batch will journal. What could block the loop is taken off it:
  - the write lock: the inline attempt never waits for it (busy_timeout 0); when another
    connection holds it (a migration, an operator's transaction), the batch is retried on a
    worker thread that waits, while the loop goes on and lets that transaction finish;
  - checkpoints, the one step that fsyncs: this connection never checkpoints by itself; every
    CHECKPOINT_BYTES written, a PASSIVE checkpoint (which never blocks writers) runs on a worker
    thread, inside one sqlite3 call that holds no GIL while it works.
PostgreSQL needs none of this: asyncpg is asynchronous all the way down.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.database import DEFAULT_SQLITE_SYNCHRONOUS

Statement = tuple[str, Sequence[Sequence[Any]]]  # SQL with ? marks, and its rows of parameters

CHECKPOINT_BYTES = 8 << 20
PATIENT_BUSY_MS = 10_000


def file_path(engine: AsyncEngine) -> str | None:
    """The database file of an SQLite engine; None for other databases and in-memory ones."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return database


def _connect(path: str, busy_ms: int, synchronous: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints are ours, off the loop
    connection.execute(f"PRAGMA busy_timeout={busy_ms}")
    return connection


def _transaction(connection: sqlite3.Connection, statements: Sequence[Statement]) -> None:
    connection.execute("BEGIN IMMEDIATE")  # takes the write lock now, or fails at once
    try:
        for sql, rows in statements:
            if len(rows) == 1:
                connection.execute(sql, rows[0])
            else:
                connection.executemany(sql, rows)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


class SqliteAppender:
    def __init__(self, path: str, synchronous: str = DEFAULT_SQLITE_SYNCHRONOUS) -> None:
        self.path = path
        self.synchronous = synchronous
        self._inline = _connect(path, 0, synchronous)
        self._patient: sqlite3.Connection | None = None
        self._patient_turn = asyncio.Lock()
        self._written = 0
        self._checkpoint: asyncio.Future[None] | None = None

    async def write(self, statements: Sequence[Statement]) -> None:
        """Run `statements` in one transaction: committed when this returns, or not at all."""
        if self.synchronous == "FULL":
            await self._write_patiently(statements)  # the commit's fsync is not the loop's to wait
        else:
            try:
                _transaction(self._inline, statements)
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                await self._write_patiently(statements)
        # Roughly what reached the log: its text (the payloads are JSON text).
        self._written += sum(len(value) for _, rows in statements for row in rows for value in row
                             if isinstance(value, str))
        if self._written >= CHECKPOINT_BYTES and (self._checkpoint is None or self._checkpoint.done()):
            self._written = 0
            self._checkpoint = asyncio.ensure_future(asyncio.to_thread(self._checkpoint_now))

    async def _write_patiently(self, statements: Sequence[Statement]) -> None:
        async with self._patient_turn:  # one transaction at a time on that connection
            if self._patient is None:
                self._patient = _connect(self.path, PATIENT_BUSY_MS, self.synchronous)
            # Not asyncio.to_thread: its context copy and partial cost the loop's thread more
            # than the hand-off (uvloop inspects the partial for a coroutine function on every
            # call: ~3 % of Matching's samples at 32 clients); nothing here reads the context.
            await asyncio.get_running_loop().run_in_executor(None, _transaction, self._patient, statements)

    def _checkpoint_now(self) -> None:
        connection = _connect(self.path, 0, self.synchronous)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()

    async def close(self) -> None:
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint
        self._inline.close()
        if self._patient is not None:
            self._patient.close()
