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
its end, however many units of a group commit added them. Likewise additions to counters
(`add_at_commit`): summed per row, then one upsert at the very end, its rows in key order. And
checks (`check_at_commit`): run once each, after all of that, with what every unit gave them.
A read of a single statement may run outside a transaction (`read_alone`), on a bare
connection; on PostgreSQL so may a write of a single statement (`write_alone`), which is a
transaction by itself.

A service's runtime keeps its connections between calls (`keep_connections`; on SQLite where
it runs on the loop's thread, sqlite_inline.py, and on PostgreSQL): checking one out of
SQLAlchemy's pool and back cost ~80 µs of CPU per write and ~60 per `read_alone` on SQLite,
which Order pays on every placement (on PostgreSQL a `read_alone` cost ~340 µs checked out
and ~130 kept, its statement on the driver either way). Its writes are then begun and committed
on the driver, the work given a `DirectSession` rather than an ORM session (see there and
direct_statements.py: per write transaction of direct statements, as Order's placements and event
follower run, ~200 µs of CPU less on SQLite, and on PostgreSQL ~0.4 ms instead of ~1.1–1.6; a
work that asks for more still gets a real session, in the same transaction, for ~20 % less
than before on SQLite). On PostgreSQL as many writers are kept as write at once (Order's group
commit runs in lanes, `MAX_KEPT_WRITERS`); a connection the server dropped is given up, not
kept, and the call on it fails as on any lost connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from services.runtime.database import statements_alone
from services.runtime.direct_statements import DirectSession, DirectStatement, driver_of
from services.runtime.sqlite_inline import InlineConnection

T = TypeVar("T")
log = logging.getLogger("clearmesh.db")
# A check run at a write transaction's end with its units' items (`check_at_commit`).
Check = Callable[[AsyncSession, list[Any]], Awaitable[None]]

_WRITE_OPTION = "clearmesh_write"
_ALONE_OPTION = "clearmesh_alone"
_AT_COMMIT = "clearmesh_inserts_at_commit"
_ADD_AT_COMMIT = "clearmesh_additions_at_commit"
_CHECK_AT_COMMIT = "clearmesh_checks_at_commit"
# deadlock_detected, serialization_failure: PostgreSQL asks the client to try again.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
MAX_ATTEMPTS = 5
# Statement-alone connections kept for `read_alone` (with `keep_connections`): as many as run at
# once, which on the loop's thread is one unless a work awaits something else in between.
MAX_KEPT_ALONE = 4
# Write connections kept on PostgreSQL (with `keep_connections`; SQLite has one writer): Order's
# group commit runs up to four groups at once (order/group.py) beside its event follower's
# write. With MAX_KEPT_ALONE that is the engine's whole pool (database.POSTGRES_POOL), so a
# burst beyond it takes the pool's overflow connections and gives them back.
MAX_KEPT_WRITERS = 6


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
    """Read and write transactions on one service's database, with the locking described above.

    `keep_connections`: on SQLite on the loop's thread and on PostgreSQL, the connections of the
    writes and those of `read_alone` stay checked out between calls (see the module); `close`
    gives them back, before the engine is disposed (ServiceRuntime.close)."""

    def __init__(self, engine: AsyncEngine, *, keep_connections: bool = False) -> None:
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
        self._alone = engine.execution_options(**{_ALONE_OPTION: True}) if self.is_sqlite else statements_alone(engine)
        self._writer_lock = asyncio.Lock() if self.is_sqlite else None
        self._keep = keep_connections
        self._kept_writers: list[AsyncConnection] = []
        self._kept_alone: list[AsyncConnection] = []
        self._max_kept_writers = 1 if self.is_sqlite else MAX_KEPT_WRITERS
        self._closed = False

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        self._inline = isinstance(dbapi_connection.driver_connection, InlineConnection)

    @property
    def _direct(self) -> bool:
        """Whether connections are kept between calls and writes begun on the driver: with
        `keep_connections`, on SQLite on the loop's thread and on PostgreSQL (asyncpg)."""
        return self._keep and not self._closed and (self._inline or not self.is_sqlite)

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
        if not self._direct:
            async with self._connection() as connection:
                return await work(connection)
        connection = self._kept_alone.pop() if self._kept_alone else await self._alone.connect().start()
        kept = False
        try:
            answer = await work(connection)
            # A statement through SQLAlchemy began its (BEGIN-less) transaction: ended as the
            # pool would end it on the connection's return.
            if connection.in_transaction():
                await connection.rollback()
            kept = self._direct and len(self._kept_alone) < MAX_KEPT_ALONE
            return answer
        except DBAPIError as error:
            if error.connection_invalidated:  # not given back to the pool for another to find dead
                await connection.invalidate()
            raise
        finally:
            if kept:
                self._kept_alone.append(connection)
            else:
                await connection.close()

    async def write_alone(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`work` that writes with ONE statement, its own transaction on PostgreSQL (autocommit):
        all of it or none, without the BEGIN and COMMIT round trips (`read_alone`'s connections).
        PostgreSQL only: on SQLite a write queues for the one writer (`write`)."""
        if self.is_sqlite:
            raise ValueError("write_alone is PostgreSQL's: on SQLite a write queues for the one writer (write)")
        return await self.read_alone(work)

    async def write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in one write transaction; domain errors roll it back and propagate."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                session_of = self._direct_write() if self._direct else self._session(self._writes)
                async with self._serialized(), session_of as session:
                    answer = await work(session)
                    await _end_of_write(session)
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
    async def _direct_write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction on a kept connection (on SQLite the one writer's, under the
        writer lock), begun and committed on the driver: a `DirectSession`. Only with the
        connections kept: on SQLite, on one checked out per transaction the direct path saved
        less, and a work of SQLAlchemy statements, which then gets a session bound to that
        connection, cost ~5 % more than the plain ORM session (as the Wallet's store would,
        with its own Transactions)."""
        connection = self._kept_writers.pop() if self._kept_writers else await self._alone.connect().start()
        driver = driver_of(connection)
        assert driver is not None, "an inline SQLite or an asyncpg engine's connection"
        unit = DirectSession(connection, driver)
        healthy = False
        try:
            await driver.begin()
            yield cast(AsyncSession, unit)
            if unit.orm is not None:
                await unit.orm.commit()  # SQLAlchemy's transaction on it is ours: its commit is the driver's
            if driver.in_transaction:
                await driver.commit()
            healthy = True
        except BaseException:
            healthy = await _rolled_back(unit) and driver.alive
            raise
        finally:
            if unit.orm is not None:
                await unit.orm.close()
            if healthy and self._direct and len(self._kept_writers) < self._max_kept_writers:
                self._kept_writers.append(connection)  # for the next write
            elif healthy:
                await connection.close()
            else:
                await connection.invalidate()

    async def close(self) -> None:
        """Gives the connections kept between calls back to the pool (`keep_connections`); a
        write still running then gives its own back when it ends."""
        self._closed = True
        async with self._serialized():
            while self._kept_writers:
                await self._kept_writers.pop().close()
        while self._kept_alone:
            await self._kept_alone.pop().close()

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


def add_at_commit(session: AsyncSession, table: Table, key: Mapping[str, Any], column: str, amount: int) -> None:
    """`amount` added to `column` of `table`'s row at `key` (the values of its primary key, or
    of a unique key, by column name) at the end of this write transaction, the row made with
    `amount` if there is none. Only for counters nothing in the transaction reads back.

    Why at the end, and not at once: a counter row is shared (an account's hour, say), so its
    upsert locks a row that other transactions lock too. A group commit's units run in their own
    order (group.py: by order id), so two groups adding to two accounts' rows as their units
    come would lock them in opposite orders and deadlock on PostgreSQL (found only after
    deadlock_timeout, 1 s). Deferred, every transaction locks its counter rows last, all in one
    order (by key), after every other row it locks (only a check at commit, `check_at_commit`,
    comes after), so no cycle can form through them; and the
    additions of a group's units to one row are one: summed first (PostgreSQL would also refuse
    to update one row twice in one INSERT ... ON CONFLICT)."""
    names = tuple(sorted(key))
    additions = session.info.setdefault(_ADD_AT_COMMIT, {}).setdefault((table, names, column), {})
    values = tuple(key[name] for name in names)
    additions[values] = additions.get(values, 0) + amount


# Each table's INSERT of deferred rows, and each counter's upsert (by table, key columns and
# column); on SQLite on the loop's thread and on PostgreSQL they run on the driver.
_DEFERRED_INSERTS: dict[Table, DirectStatement] = {}
_UPSERTS: dict[tuple[Table, tuple[str, ...], str], DirectStatement] = {}


async def _end_of_write(session: AsyncSession) -> None:
    """What the write's units deferred to its end: rows, then counters, then checks."""
    for table, rows in session.info.pop(_AT_COMMIT, {}).items():
        insert = _DEFERRED_INSERTS.get(table)
        if insert is None:
            insert = _DEFERRED_INSERTS[table] = DirectStatement(table.insert())
        await insert.run_many(session, rows)
    # Last, after every other statement of the transaction: see `add_at_commit`.
    additions: dict[tuple[Table, tuple[str, ...], str], dict[tuple[Any, ...], int]] = session.info.pop(_ADD_AT_COMMIT, {})
    for target in sorted(additions, key=lambda target: (target[0].name, target[1], target[2])):
        names, column = target[1], target[2]
        upsert = _UPSERTS.get(target)
        if upsert is None:
            upsert = _UPSERTS[target] = _upsert(*target)
        # One statement for all of them (executemany: one pipeline on asyncpg), in key order.
        await upsert.run_many(session, [{**dict(zip(names, values)), column: amount}
                                        for values, amount in sorted(additions[target].items())])
    checks: dict[Check, list[Any]] = session.info.pop(_CHECK_AT_COMMIT, {})
    for check, items in checks.items():
        await check(session, items)


def check_at_commit(session: AsyncSession, check: Check, item: Any) -> None:
    """`check(session, items)` run once at the end of this write transaction, after its last
    write (those deferred to its end too), with the `item` of every unit that asked for it, in
    the order they asked; an error it raises rolls the whole transaction back, as any error
    does (a group commit then runs each unit alone: order/group.py). `check` is one function
    for the life of the process (a module's), so that the units of a group share one call.

    For a promise that spans transactions, such as an account's daily limit across Order's
    replicas (order/store.py, `placed_since`): checked where nothing this transaction does can
    change its answer any more, with every lock it takes, so what it sees stays true until
    the commit."""
    session.info.setdefault(_CHECK_AT_COMMIT, {}).setdefault(check, []).append(item)


def _upsert(table: Table, names: tuple[str, ...], column: str) -> DirectStatement:
    """INSERT ... ON CONFLICT (names) DO UPDATE SET column = column + the new row's: each
    dialect's own construct, both of which PostgreSQL and SQLite (3.24 and later) run."""
    def of(insert: Any) -> Any:
        return insert.on_conflict_do_update(index_elements=[table.c[name] for name in names],
                                            set_={column: table.c[column] + insert.excluded[column]})

    return DirectStatement(of(sqlite.insert(table)), elsewhere={"postgresql": of(postgresql.insert(table))})


async def _rolled_back(unit: DirectSession) -> bool:
    """`unit`'s transaction rolled back; False if that failed (the connection is then dropped)."""
    try:
        if unit.orm is not None:
            await unit.orm.rollback()
        if unit.direct_driver.in_transaction:
            await unit.direct_driver.rollback()
    except Exception:  # the work's own error is the one raised; this connection is dropped
        log.warning("a write transaction could not be rolled back; its connection is dropped", exc_info=True)
        return False
    return True
