"""Many rows in one statement: inserts and keyed updates that a store would otherwise run as
an executemany.

On PostgreSQL an executemany is one Bind/Execute per row, each a separate statement for the
server (executor start, triggers, foreign-key checks queued per statement): for the Wallet's
journal (six entries per trade) that was most of a PostTransfers batch's time. Here the rows
go as one array per column, `unnest`ed into one INSERT ... SELECT (or UPDATE ... FROM), so the
statement text is the same for any number of rows and stays prepared. The rows are inserted
in the order given (WITH ORDINALITY), so identity columns number them as an executemany
would. SQLite, in process, keeps the executemany: there it is already one loop in C, and on
the loop's thread it runs on the driver directly (runtime/direct_statements.py: SQLAlchemy's own
execution cost more CPU than the statement; the Wallet runs two for every hold group).

Both run inside the caller's transaction: all the rows or none, as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Enum, String, Table, and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from services.runtime.direct_statements import DirectStatement, is_postgresql

_ORDER = "bulk_ordinality"


@lru_cache(maxsize=64)
def _insert(table: Table) -> DirectStatement:
    return DirectStatement(table.insert())


def _element_type(column_type: TypeEngine[Any]) -> TypeEngine[Any]:
    """The type of a column's array: its own, but a VARCHAR(n) without its n. The array is cast
    to it, and an explicit cast to VARCHAR(n) cuts a longer value to n characters without a word,
    where the INSERT or UPDATE itself refuses it ("value too long"), as it must."""
    if isinstance(column_type, String) and not isinstance(column_type, Enum) and column_type.length is not None:
        return String(collation=column_type.collation)
    return column_type


def _rows_as_columns(table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> Any:
    """`rows` as a table-valued `unnest` of one typed array per column, with an ordinality."""
    arrays = [bindparam(f"bulk_{name}", [row[name] for row in rows], type_=ARRAY(_element_type(table.c[name].type)))
              for name in names]
    return func.unnest(*arrays).table_valued(*names, with_ordinality=_ORDER).render_derived(name="bulk")


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT every row of `rows` (each with the same keys), in their order."""
    if not rows:
        return
    if not is_postgresql(session):
        await _insert(table).run_many(session, rows)
        return
    names = list(rows[0])
    source = _rows_as_columns(table, names, rows)
    query = select(*(source.c[name] for name in names)).order_by(source.c[_ORDER])
    await session.execute(table.insert().from_select(names, query))


@lru_cache(maxsize=256)
def _keyed_update(table: Table, keys: tuple[str, ...], values: tuple[str, ...],
                  where: ColumnElement[bool] | None) -> Update:
    """The executemany UPDATE of `table` by `keys` setting `values`, built once per shape: built
    per call, its construction and cache key cost more CPU than running it (the Wallet runs
    one for every hold group). `where` is cached by identity: pass a module-level condition."""
    statement = (update(table)
                 .where(and_(*(table.c[key] == bindparam(f"key_{key}") for key in keys)))
                 .values({name: bindparam(f"new_{name}") for name in values}))
    return statement if where is None else statement.where(where)


@lru_cache(maxsize=256)
def _direct_keyed_update(table: Table, keys: tuple[str, ...], values: tuple[str, ...],
                         where: ColumnElement[bool] | None) -> DirectStatement:
    return DirectStatement(_keyed_update(table, keys, values, where))


async def update_rows(session: AsyncSession, table: Table, keys: Sequence[str],
                      rows: Sequence[Mapping[str, Any]], *, where: ColumnElement[bool] | None = None) -> None:
    """For each row of `rows`, UPDATE the row of `table` whose `keys` columns equal its own
    (and that meets `where`, if given: a row that does not is left as it is) to its other
    values. The rows must name distinct keys."""
    if not rows:
        return
    names = list(rows[0])
    values = [name for name in names if name not in keys]
    if not is_postgresql(session):
        direct = _direct_keyed_update(table, tuple(keys), tuple(values), where)
        await direct.run_many(session, [{**{f"key_{key}": row[key] for key in keys},
                                            **{f"new_{name}": row[name] for name in values}} for row in rows])
        return
    source = _rows_as_columns(table, names, rows)
    statement = (update(table)
                 .where(and_(*(table.c[key] == source.c[key] for key in keys)))
                 .values({name: source.c[name] for name in values}))
    await session.execute(statement if where is None else statement.where(where))
