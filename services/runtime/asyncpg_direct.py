"""PostgreSQL's side of the direct statements (direct_statements.py): a transaction and its
statements run on asyncpg's own connection, the one beneath SQLAlchemy's adapter.

Through SQLAlchemy a write transaction of one statement cost ~1.1–1.6 ms of CPU beside the
server's work, ~0.4 here (direct_statements.py): an ORM session made, begun, committed and closed;
the pool's checkout and reset; per statement an execution context, the adapter's cursor and
its own cache of prepared statements, a greenlet switch each way (py-spy of Order at 32 clients,
bench/order.py: 41 % of Order's samples had SQLAlchemy on the stack). Here a statement is
asyncpg's `fetch` (rows) or `execute` (a count, from its status), both on asyncpg's own cache of
prepared statements, and BEGIN, COMMIT and ROLLBACK are plain statements on the same
connection (`is_in_transaction` is the server's own word on where it stands).

A driver error is raised as SQLAlchemy's asyncpg adapter raises it: the adapter's DB-API error
class for asyncpg's (an IntegrityConstraintViolationError is its IntegrityError, whose
`sqlstate` is the server's), wrapped by `DBAPIError.instance` into SQLAlchemy's IntegrityError,
DBAPIError, ... (a disconnection so marked), so `Transactions.write` treats it the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import asyncpg
from asyncpg import exceptions
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from services.runtime.sql_spans import Statement, statement_spans

# asyncpg's errors by the name of the adapter's DB-API class they become: the first of an
# error's classes (its MRO) found here, as in the adapter's own translation.
_DBAPI_CLASS = {
    exceptions.UniqueViolationError: "UniqueViolationError",
    exceptions.ForeignKeyViolationError: "ForeignKeyViolationError",
    exceptions.NotNullViolationError: "NotNullViolationError",
    exceptions.CheckViolationError: "CheckViolationError",
    exceptions.RestrictViolationError: "RestrictViolationError",
    exceptions.ExclusionViolationError: "ExclusionViolationError",
    exceptions.IntegrityConstraintViolationError: "IntegrityError",
    exceptions.InvalidCachedStatementError: "InvalidCachedStatementError",
    exceptions.InternalServerError: "InternalServerError",
    exceptions.SyntaxOrAccessError: "ProgrammingError",
    exceptions.InternalClientError: "InternalClientError",
    exceptions.InterfaceError: "InterfaceError",
    exceptions.PostgresError: "Error",
}
DRIVER_ERRORS = (exceptions.PostgresError, exceptions.InterfaceError, exceptions.InternalClientError)
_COUNT = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+|MERGE) (\d+)")


def dbapi_error(engine: Engine, sql: str, values: Any, error: BaseException, *, closed: bool = False) -> DBAPIError:
    """asyncpg's `error` as SQLAlchemy raises it (see the module); `closed`: the connection is."""
    dialect = engine.dialect
    dbapi = dialect.loaded_dbapi
    name = next((_DBAPI_CLASS[kind] for kind in type(error).__mro__ if kind in _DBAPI_CLASS), "Error")
    translated = getattr(dbapi, name)(error.args[0] if error.args else str(error), error)
    return DBAPIError.instance(sql, values, translated, dbapi.Error, dialect=dialect,
                               connection_invalidated=closed or dialect.is_disconnect(translated, None, None))


class AsyncpgDriver:
    """One asyncpg connection, as `DirectStatement` and `Transactions` run on it."""

    __slots__ = ("connection", "engine")

    def __init__(self, connection: asyncpg.Connection, engine: Engine) -> None:
        self.connection = connection
        self.engine = engine

    @property
    def in_transaction(self) -> bool:
        return self.connection.is_in_transaction()

    @property
    def alive(self) -> bool:
        """False once the connection is lost (the server went away): it is then dropped."""
        return not self.connection.is_closed()

    async def begin(self) -> None:
        await self._control("BEGIN")

    async def commit(self) -> None:
        # A transaction a statement of which failed ends ROLLBACK at COMMIT, without an error:
        # a work that caught the error and went on must not be told it committed.
        if await self._control("COMMIT") != "COMMIT":
            raise dbapi_error(self.engine, "COMMIT", (), exceptions.InFailedSQLTransactionError(
                "the transaction was rolled back at its COMMIT: one of its statements had failed"))

    async def rollback(self) -> None:
        await self._control("ROLLBACK")

    async def _control(self, sql: str) -> str:
        try:
            return await self.connection.execute(sql)
        except DRIVER_ERRORS as error:
            raise dbapi_error(self.engine, sql, (), error, closed=self.connection.is_closed()) from error

    async def run(self, sql: str, values: Sequence[Any], returns_rows: bool) -> tuple[Sequence[Any], int]:
        """The statement's rows (if it returns any) and how many rows it changed or gave."""
        timed = self._timed(sql)
        try:
            if returns_rows:
                rows: Sequence[Any] = await self.connection.fetch(sql, *values)
                count = len(rows)
            else:
                rows, status = (), await self.connection.execute(sql, *values)
                found = _COUNT.match(status or "")
                count = int(found.group(1)) if found else -1
        except DRIVER_ERRORS as error:
            raise self._failed(timed, sql, values, error) from error
        if timed is not None:
            timed.end()
        return rows, count

    async def run_many(self, sql: str, values: Sequence[Sequence[Any]]) -> None:
        """The statement once per set of values (asyncpg's executemany: one pipeline of them)."""
        timed = self._timed(sql)
        try:
            await self.connection.executemany(sql, values)
        except DRIVER_ERRORS as error:
            raise self._failed(timed, sql, values, error) from error
        if timed is not None:
            timed.end()

    def _timed(self, sql: str) -> Statement | None:
        """The statement timed for its SQL span (sql_spans.py: made if slow or failed), as the
        engine's SQLAlchemy hooks would time it; None when it would get none."""
        spans = statement_spans(self.engine)
        return spans.start(sql) if spans is not None else None

    def _failed(self, timed: Statement | None, sql: str, values: Any, error: BaseException) -> DBAPIError:
        raised = dbapi_error(self.engine, sql, values, error, closed=self.connection.is_closed())
        if timed is not None:
            timed.end(raised.orig or error)
        return raised
