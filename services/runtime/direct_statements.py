"""A fixed Core statement run on the database's own driver, beneath SQLAlchemy, on the hot
path: SQLite's sqlite3, or asyncpg (its part in asyncpg_direct.py).

SQLAlchemy's execution of a prebuilt statement (an execution context, the cache lookup of its
compiled form, the parameters processed, a cursor result built and its rows) costs ~100 µs of
CPU per statement where the sqlite3 driver alone takes ~15 µs, and on SQLite the statements
themselves take microseconds: at 32 concurrent PlaceOrders that was a fifth of Order's CPU
(docs/performance-history.md, "What limits it"). On PostgreSQL each statement is a round trip, but the
CPU around it was ours all the same: SQLAlchemy's execution, its asyncpg adapter (a greenlet
switch each way, its own cache of prepared statements) and the ORM session of a write; there
a write transaction of one statement cost ~1.1–1.6 ms of CPU through SQLAlchemy and ~0.4
direct, a `read_alone` ~0.6 and ~0.13 (medians of 5 × 300, 2026-12-07, a busy machine).

A `DirectStatement` is compiled once per dialect, with SQLAlchemy's own compiler and its own
type conversions (the dialect's bind and result processors: on SQLite times as text, booleans
as integers), and executed on the driver of the very connection the caller's transaction is
on: a write's (`DirectSession`: its BEGIN and COMMIT are the driver's too, no ORM session in
between), an ORM session's (SQLAlchemy issued its BEGIN: on PostgreSQL only once it has, as
its adapter sends it with its first statement), or, from `Transactions.read_alone`, a
connection's alone (PostgreSQL's in autocommit). On asyncpg a statement is `fetch` or
`execute`, on asyncpg's own cache of prepared statements.

It runs the SQLAlchemy way on a SQLite engine that is not on the loop's thread (`sqlite_inline`:
an in-memory database keeps aiosqlite), and in a PostgreSQL session whose transaction has not
begun on the server yet. Under a recording span a statement gets the SQL span SQLAlchemy's
hooks would give it (runtime/sql_spans.py: same name, attributes and parent, and only when
it took long enough or failed), made here, so tracing does not send it the slow way (which
cost ~50 µs more per statement on SQLite, four statements a PlaceOrder). A driver error is raised as SQLAlchemy would raise it
(`DBAPIError.instance`: an IntegrityError is SQLAlchemy's IntegrityError; on PostgreSQL with
the server's sqlstate), so `Transactions.write` treats it the same.

Only for a few statements run on every order: every other statement goes through SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.expression import Executable

from services.runtime.asyncpg_direct import AsyncpgDriver
from services.runtime.sql_spans import statement_spans
from services.runtime.sqlite_inline import InlineConnection

_MISSING = object()


@dataclass(frozen=True, slots=True)
class Ran:
    """What a statement gave back, either way: its rows (attributes named as the statement's
    columns) and how many rows it changed."""

    rows: Sequence[Any]
    rowcount: int

    def one(self) -> Any:
        if len(self.rows) != 1:
            raise ValueError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]

    def first(self) -> Any:
        return self.rows[0] if self.rows else None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # Per placeholder, in order: the parameter's name, its literal value if it has one, and
    # the dialect's conversion of it (None: passed as it is).
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    row: Callable[[Sequence[Any]], Any] | None  # the row type, None if it returns no rows
    results: tuple[Callable[[Any], Any] | None, ...]

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        """The placeholders' values for `params`, as the dialect stores them."""
        values = []
        for name, default, convert in self.binds:
            value = params.get(name, default)
            if value is _MISSING:
                raise KeyError(f"a value is required for the parameter {name!r}")
            values.append(value if convert is None or value is None else convert(value))
        return values


class SqliteDriver:
    """One sqlite3 connection (an inline one's), as `DirectStatement` and `Transactions` run on it."""

    __slots__ = ("connection", "engine", "inline")

    def __init__(self, inline: InlineConnection, engine: Engine) -> None:
        self.inline = inline
        self.connection = inline.sqlite_connection
        self.engine = engine

    @property
    def in_transaction(self) -> bool:
        return self.connection.in_transaction

    @property
    def alive(self) -> bool:
        return True  # a file: no connection to lose

    async def begin(self) -> None:
        # IMMEDIATE: the file's write lock from the start (runtime/transactions.py).
        self.connection.execute("BEGIN IMMEDIATE")

    async def commit(self) -> None:
        await self.inline.commit()  # off the loop's thread when it syncs (sqlite_inline.py)

    async def rollback(self) -> None:
        await self.inline.rollback()

    async def run(self, sql: str, values: Sequence[Any], returns_rows: bool) -> tuple[Sequence[Any], int]:
        # The span ends after the fetch, unlike SQLAlchemy's hook: SQLite steps through the rows there.
        with _statement(self.connection, self.engine, sql, values) as cursor:
            cursor.execute(sql, values)
            fetched = cursor.fetchall()
            return fetched, cursor.rowcount

    async def run_many(self, sql: str, values: Sequence[Sequence[Any]]) -> None:
        with _statement(self.connection, self.engine, sql, values) as cursor:
            cursor.executemany(sql, values)


Driver = SqliteDriver | AsyncpgDriver


class DirectSession:
    """A write transaction begun and ended on the driver (`Transactions.write`), given to a
    unit of work in place of the AsyncSession it is typed to get.

    SQLAlchemy's session cost ~200 µs of CPU per write transaction on SQLite (made, begun,
    committed and closed through its greenlet bridge, its connection checked out of the pool and
    back) where BEGIN IMMEDIATE, the statements and the COMMIT take ~70 on the driver; on
    PostgreSQL ~0.7–1.2 ms more than the ~0.4 of BEGIN, a statement and COMMIT on asyncpg
    (see the module). Order runs about one such transaction per placement. A DirectStatement
    runs here on the driver; whatever else the work asks of a session (`execute`, `scalar`,
    `connection()`, ...) is answered by a real AsyncSession on the same connection, made at the
    first such use, inside the same transaction: SQLAlchemy begins its own transaction there
    without a BEGIN (the connection is `Transactions`' statement-alone kind: SQLite's without
    one, PostgreSQL's in autocommit), and its commit or rollback is the driver's."""

    # Named apart from every AsyncSession attribute (`connection()` is one), which the work may use.
    __slots__ = ("_connection", "_orm", "direct_driver", "info")

    def __init__(self, connection: AsyncConnection, driver: Driver) -> None:
        self._connection = connection
        self.direct_driver = driver
        # What `insert_at_commit` defers to the end of the transaction, as a session's `info`.
        self.info: dict[Any, Any] = {}
        self._orm: AsyncSession | None = None

    @property
    def orm(self) -> AsyncSession | None:
        """The real session, if the work needed one."""
        return self._orm

    def __getattr__(self, name: str) -> Any:
        if self._orm is None:
            self._orm = AsyncSession(bind=self._connection, expire_on_commit=False)
        return getattr(self._orm, name)


def _engine_of(connection: AsyncSession | AsyncConnection) -> Engine:
    bind = connection.get_bind() if isinstance(connection, AsyncSession) else connection.sync_engine
    return bind if isinstance(bind, Engine) else bind.engine


def driver_of(connection: AsyncConnection) -> Driver | None:
    """The driver beneath `connection` if statements may run on it directly: SQLite's on the
    loop's thread (sqlite_inline.py), asyncpg's; None for any other (aiosqlite's)."""
    fairy = connection.sync_connection.connection  # type: ignore[union-attr]
    driver = fairy.driver_connection
    if isinstance(driver, InlineConnection):
        return SqliteDriver(driver, connection.sync_engine)
    if isinstance(driver, asyncpg.Connection):
        return AsyncpgDriver(driver, connection.sync_engine)
    return None


async def _direct_driver(connection: AsyncSession | AsyncConnection) -> Driver | None:
    """The driver underneath, if the statement may run on it directly. On PostgreSQL only where
    it runs where SQLAlchemy would run it: on a connection in autocommit (`read_alone`), or in
    a transaction already begun on the server (SQLAlchemy's adapter sends its BEGIN only with
    the first statement it runs itself)."""
    if isinstance(connection, AsyncSession):
        connection = await connection.connection()
    driver = driver_of(connection)
    if isinstance(driver, AsyncpgDriver) and not (
            driver.in_transaction or getattr(connection.sync_connection.connection.dbapi_connection,  # type: ignore[union-attr]
                                             "autocommit", False)):
        return None
    return driver


# The dialects whose drivers run direct statements (SqliteDriver, AsyncpgDriver).
_DIRECT_DIALECTS = frozenset({"sqlite", "postgresql"})


def is_postgresql(session: AsyncSession | DirectSession) -> bool:
    """Whether a write transaction's session is on PostgreSQL."""
    if isinstance(session, DirectSession):  # asking it for a bind would make it an ORM session
        return bool(session.direct_driver.engine.dialect.name == "postgresql")
    return bool(session.get_bind().dialect.name == "postgresql")


async def _target(connection: AsyncSession | AsyncConnection | DirectSession) -> tuple[Engine, Driver | None]:
    """The engine, and the driver to run on directly (None: through SQLAlchemy)."""
    if isinstance(connection, DirectSession):
        return connection.direct_driver.engine, connection.direct_driver
    engine = _engine_of(connection)
    if engine.dialect.name not in _DIRECT_DIALECTS:
        return engine, None
    return engine, await _direct_driver(connection)


async def run_text(connection: AsyncConnection, sql: str, values: Sequence[Any]) -> None:
    """A statement's text, in the driver's own paramstyle, run with `values`: on the driver
    directly where a DirectStatement would run (`_direct_driver`), else through SQLAlchemy's
    `exec_driver_sql`. For a statement written per call, which no fixed DirectStatement holds
    (Matching's batch journaled in one statement, its number of blocks the batch's)."""
    driver = await _direct_driver(connection)
    if driver is None:
        await connection.exec_driver_sql(sql, tuple(values))
    else:
        await driver.run(sql, values, False)


class DirectStatement:
    def __init__(self, statement: Executable, *, elsewhere: Mapping[str, Executable] | None = None) -> None:
        """`statement` with bind parameters; `elsewhere` the dialect's own form of it by dialect
        name, where it needs one (an INSERT ... ON CONFLICT is a dialect's construct)."""
        self.statement = statement
        self._elsewhere = dict(elsewhere or {})
        # Compiled per dialect and set of parameter names, as SQLAlchemy compiles it: an INSERT
        # or UPDATE without values sets the columns its parameters name.
        self._compiled: dict[tuple[str, frozenset[str]], _Compiled] = {}

    async def run(self, connection: AsyncSession | AsyncConnection, params: Mapping[str, Any]) -> Ran:
        """The statement with `params`, on `connection`'s transaction (or alone, outside one)."""
        engine, driver = await _target(connection)
        if driver is None:
            result = await connection.execute(self._elsewhere.get(engine.dialect.name, self.statement), dict(params))
            return Ran(result.all() if result.returns_rows else [], result.rowcount)  # type: ignore[attr-defined]
        compiled = self._compiled_for(engine, params)
        fetched, rowcount = await driver.run(compiled.sql, compiled.values(params), compiled.row is not None)
        if compiled.row is None:
            return Ran([], rowcount)
        make = compiled.row
        return Ran([make([value if convert is None or value is None else convert(value)
                          for value, convert in zip(raw, compiled.results)]) for raw in fetched], rowcount)

    async def run_many(self, connection: AsyncSession | AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """The statement once per parameter set (executemany: no rows returned, and no count,
        which PostgreSQL's driver does not give for one)."""
        if not rows:
            return
        engine, driver = await _target(connection)
        if driver is None:
            await connection.execute(self._elsewhere.get(engine.dialect.name, self.statement), [dict(row) for row in rows])
            return
        compiled = self._compiled_for(engine, rows[0])
        await driver.run_many(compiled.sql, [compiled.values(row) for row in rows])

    def _compiled_for(self, engine: Engine, params: Mapping[str, Any]) -> _Compiled:
        key = (engine.dialect.name, frozenset(params))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(engine.dialect, sorted(key[1]))
        return compiled

    def _compile(self, dialect: Dialect, column_keys: list[str]) -> _Compiled:
        statement = self._elsewhere.get(dialect.name, self.statement)
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)  # type: ignore[attr-defined]
        if not compiled.positional:
            raise ValueError("a direct statement needs a positional paramstyle (SQLite's qmark, asyncpg's $n)")
        binds = []
        # One per placeholder, in order: `positiontup` names each ($n's once, though used twice).
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            default = _MISSING if bind.required else bind.effective_value
            binds.append((name, default, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        columns = list(getattr(statement, "exported_columns", []))
        row: Callable[[Sequence[Any]], Any] | None = None
        if columns:
            # A named tuple: rows read by attribute, as SQLAlchemy's are.
            row = namedtuple("Row", [column.key for column in columns], rename=True)._make  # type: ignore[attr-defined]
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
        return _Compiled(compiled.string, tuple(binds), row, results)


@contextmanager
def _statement(driver: sqlite3.Connection, engine: Engine, sql: str, values: Any) -> Iterator[sqlite3.Cursor]:
    """A cursor of the driver's for one statement, closed after: timed for its SQL span as the
    engine's SQLAlchemy hooks would time it (under a recording span; the span made when it
    took long enough or failed, sql_spans.py), or with the driver's error, which is raised as
    SQLAlchemy raises it."""
    spans = statement_spans(engine)
    timed = spans.start(sql) if spans is not None else None
    cursor = driver.cursor()
    try:
        yield cursor
    except sqlite3.Error as error:
        if timed is not None:
            timed.end(error)
        raise DBAPIError.instance(sql, values, error, sqlite3.Error) from error
    finally:
        cursor.close()
    if timed is not None:
        timed.end()
