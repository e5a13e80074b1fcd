"""How a service runs a unit of work so that concurrent writers never act on a stale read
(the Wallet can never overdraw; an order's hold and its state change together).

PostgreSQL: READ COMMITTED with `SELECT ... FOR UPDATE` on the touched rows, always in one
order (holds by id, then balances by (account, asset)), so two transfers wait for each other
instead of both reading the old balance; a deadlock or serialization failure is retried.

SQLite has no row locks: writers are serialized. Within a process an asyncio lock queues them
(cheaper than SQLite's sleeping busy handler); across processes sharing the file, every write
transaction starts with `BEGIN IMMEDIATE`, which takes the database's write lock up front (a
second process waits up to busy_timeout), so no writer can read a balance another is about to
change. Reads start a plain deferred `BEGIN` and run beside the writer under WAL.

A unique-key violation means a concurrent call with the same id committed first; the unit of
work is run again and then finds that first result (the idempotent replay path).

A write may defer rows nothing in it reads back (`insert_at_commit`): they are one INSERT at
its end, however many units of a group commit added them. A read of a single statement may
run outside a transaction (`read_alone`), on a bare connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from services.runtime.sqlite_inline import InlineConnection

T = TypeVar("T")
log = logging.getLogger("clearmesh.db")

_WRITE_OPTION = "clearmesh_write"
_ALONE_OPTION = "clearmesh_alone"
_AT_COMMIT = "clearmesh_inserts_at_commit"
# deadlock_detected, serialization_failure: PostgreSQL asks the client to try again.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
MAX_ATTEMPTS = 5


def _sqlite_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
    # Stop the driver from issuing its own deferred BEGIN; `_sqlite_begin` issues ours.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Connection) -> None:
    options = connection.get_execution_options()
    if options.get(_ALONE_OPTION, False):  # `read_alone`: the driver runs the statement in autocommit
        return
    begin = "BEGIN IMMEDIATE" if options.get(_WRITE_OPTION, False) else "BEGIN"
    driver = connection.connection.driver_connection
    if isinstance(driver, InlineConnection):
        # On the driver itself: SQLAlchemy's execution of it cost ~60 µs of CPU per transaction,
        # four times the statement (it gets no span either way: runtime/sql_spans.py).
        driver.sqlite_connection.execute(begin)
    else:
        connection.exec_driver_sql(begin)


class Transactions:
    """Read and write transactions on one service's database, with the locking described above."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.dialect = engine.dialect.name
        # Whether the connections run on the loop's thread (SQLite through sqlite_inline), learnt
        # when the first is opened; see `_session` and `_connection`.
        self._inline = False
        if self.is_sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_driver_transactions)
            event.listen(engine.sync_engine, "connect", self._connected)
            event.listen(engine.sync_engine, "begin", _sqlite_begin)
        self._reads = async_sessionmaker(engine, expire_on_commit=False)
        self._writes = async_sessionmaker(
            engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False)
        # SQLite: no BEGIN (above); PostgreSQL: the driver's autocommit, which also skips it and
        # the COMMIT (AUTOCOMMIT on SQLite would instead switch the driver's isolation_level on
        # every checkout and back, undoing `_sqlite_driver_transactions` in between).
        alone = {_ALONE_OPTION: True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}
        self._alone = engine.execution_options(**alone)
        self._writer_lock = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        self._inline = isinstance(dbapi_connection.driver_connection, InlineConnection)

    @asynccontextmanager
    async def _session(self, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed if the block ends well, else rolled back; closed.

        SQLAlchemy's own `sessionmaker.begin()` ends the session in a task of its own, so that a
        cancellation cannot abandon its close partway (`_run_to_completion`). That task is a turn
        of the event loop between a write's last statement and its commit: the loop first ran
        everything else that was ready, while this process's writer lock was held (Order's group
        commit at 500 placements a second: ~0.6 ms of every ~2.7 ms the writer was held, and a
        task and a shield more of CPU per transaction). On the loop's own thread nothing in a
        transaction suspends but a durable commit, which does not return before it has ended,
        however cancelled (`InlineConnection.commit`): there is nothing for a task to protect."""
        if not self._inline:
            async with sessions.begin() as session:
                yield session
            return
        session = sessions()
        try:
            async with session.begin():
                yield session
        finally:
            await session.close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection outside a transaction, closed after (as `_session`, for `read_alone`)."""
        if not self._inline:
            async with self._alone.connect() as connection:
                yield connection
            return
        connection = await self._alone.connect().start()
        try:
            yield connection
        finally:
            await connection.close()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read transaction: a consistent view, beside the writer (never takes its lock)."""
        async with self._session(self._reads) as session:
            yield session

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.reading() as session:
            return await work(session)

    async def read_alone(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`work` that runs ONE statement, outside a transaction: a single statement sees one
        consistent snapshot by itself, and on PostgreSQL the BEGIN and COMMIT round trips it
        saves cost as much as the statement. `work` of several statements must use `read`
        (each statement would see its own snapshot).

        On a Core connection, not an ORM session: the one statement needs nothing a session
        adds, and opening and closing one cost about 100 µs of CPU per call, a third of the
        whole read on SQLite (Order runs one per placement)."""
        async with self._connection() as connection:
            return await work(connection)

    async def write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in one write transaction; domain errors roll it back and propagate."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self._serialized(), self._session(self._writes) as session:
                    answer = await work(session)
                    await _insert_deferred(session)
                    return answer
            except IntegrityError:
                if attempt == MAX_ATTEMPTS:
                    raise
            except DBAPIError as error:
                sqlstate = getattr(error.orig, "sqlstate", None)
                if attempt == MAX_ATTEMPTS or sqlstate not in _RETRYABLE_SQLSTATES:
                    raise
                # Said out loud: a deadlock is a lock order broken somewhere, and PostgreSQL finds
                # it only after deadlock_timeout (1 s), which every writer in it waited (issue #12).
                log.warning("a write transaction was rolled back by the database and runs again",
                            extra={"fields": {"db.sqlstate": sqlstate, "attempt": attempt}})
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def _serialized(self) -> AsyncIterator[None]:
        if self._writer_lock is None:
            yield
            return
        async with self._writer_lock:
            yield


def insert_at_commit(session: AsyncSession, table: Table, row: dict[str, Any]) -> None:
    """`row` inserted into `table` at the end of this write transaction (`Transactions.write`),
    in one statement with every other row deferred to it: a group commit's units (group.py)
    then add a row each to one INSERT instead of a statement each. Only for rows nothing in the
    transaction reads back: they are not there until its end."""
    session.info.setdefault(_AT_COMMIT, {}).setdefault(table, []).append(row)


async def _insert_deferred(session: AsyncSession) -> None:
    for table, rows in session.info.pop(_AT_COMMIT, {}).items():
        await session.execute(table.insert(), rows)
