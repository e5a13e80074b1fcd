"""SQLite for SQLAlchemy's asyncio engine, run on the event loop's own thread.

aiosqlite gives every connection a worker thread and sends each statement, commit and rollback
there and back. Each trip wakes a thread and hands the GIL over twice, and on a loaded machine
each wake-up also waits for the scheduler: profiled at 32 concurrent PlaceOrders (bench/order.py
with --spy), the Order process spent most of its samples in those hand-offs and most of a call
waiting for them, while the statements themselves take microseconds. So this module gives
SQLAlchemy's aiosqlite dialect (through `create_async_engine(async_creator=...)`) connections
that look like aiosqlite's but run each call directly, the way Matching's journal appender
(services/matching/sqlite_appender.py) writes.

Why that is safe here:
  - A statement never waits for another writer of this process: `Transactions` queues a
    process's writers behind one asyncio lock, and a transaction whose work awaits nothing but
    its statements runs without yielding the loop at all. Readers never wait under WAL.
  - A commit in WAL mode with synchronous=NORMAL is a write(2) to the log, not an fsync; only
    the automatic checkpoint (every ~4 MB of log) syncs. With synchronous=FULL (the default of
    the services that acknowledge money) a commit that wrote fsyncs the log: a disk flush,
    usually well under a millisecond but at times several, while the loop would stand still. That one
    call goes to a thread (`COMMITS`; sqlite3 lets go of the GIL while it syncs), and the loop
    serves other calls meanwhile. The writer still holds `Transactions`' lock, so nothing
    else writes this file from this process until the commit is done.
  - Another process holding the write lock (a second replica on the same file, an operator's
    shell) makes BEGIN IMMEDIATE wait up to busy_timeout, as before; the loop waits with it.
    Each service owns its file, so in normal running nobody else writes it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# The threads durable commits wait for their fsync on (one per file at a time: writers of a
# file are serialized), shared by the engines of a process.
COMMITS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sqlite-commit")


class InlineCursor:
    """The awaitable cursor interface SQLAlchemy's adapter calls, answered at once."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    def __aiter__(self) -> InlineCursor:
        return self

    async def __anext__(self) -> Any:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> InlineCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)  # type: ignore[arg-type]  # a mapping works too
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)  # type: ignore[arg-type]
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _RunNow:
    """Stands in for aiosqlite's queue to its thread (SQLAlchemy sets isolation_level through
    it): the function runs at once and its future is settled."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # noqa: BLE001 - handed to the awaiting adapter, as aiosqlite does
            future.set_exception(error)


class InlineConnection:
    """The parts of `aiosqlite.Connection` SQLAlchemy's aiosqlite dialect uses."""

    def __init__(self, connection: sqlite3.Connection, *, commit_off_loop: bool = False) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _RunNow(connection)
        self._commit_off_loop = commit_off_loop
        self._changes_committed = connection.total_changes

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    @property
    def sqlite_connection(self) -> sqlite3.Connection:
        """The driver's connection, for a statement run on it directly (`direct_statements.py`)."""
        return self._conn

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        if self._commit_off_loop and self._conn.total_changes != self._changes_committed:
            # A caller cancelled meanwhile is not answered before the commit ends (its
            # cancellation is raised then), so the connection is never rolled back or closed
            # while the thread still commits on it (tests/runtime/test_sqlite_inline.py). The
            # one place a transaction on this connection suspends: see `Transactions`.
            committing = asyncio.get_running_loop().run_in_executor(COMMITS, self._conn.commit)
            try:
                await asyncio.shield(committing)
            except asyncio.CancelledError:
                await _until_done(committing)
                raise
        else:
            self._conn.commit()  # a read's, or a commit that does not sync: microseconds
        self._changes_committed = self._conn.total_changes

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        """SQLAlchemy's forced termination: nothing runs elsewhere, so it is a close."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction


async def _until_done(future: asyncio.Future[Any]) -> None:
    """Waits for `future` to end, whatever cancels the waiter meanwhile."""
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            continue
        except Exception:  # noqa: BLE001 - the commit's own error is raised by the caller's future
            return


def inline_connector(path: str, *, commit_off_loop: bool = False,
                     factory: type[sqlite3.Connection] = sqlite3.Connection) -> Callable[[], Awaitable[InlineConnection]]:
    """The `async_creator` for an engine on the SQLite file at `path`; `commit_off_loop` for
    a file that syncs on commit (synchronous=FULL)."""

    async def connect() -> InlineConnection:
        # check_same_thread off: commits may run on COMMITS' threads, and SQLAlchemy may close
        # a pooled connection from the GC's thread.
        return InlineConnection(sqlite3.connect(path, check_same_thread=False, factory=factory),
                                commit_off_loop=commit_off_loop)

    return connect
