"""A fixed statement run on the driver directly (SQLite's or asyncpg's: services/runtime/
direct_statements.py, asyncpg_direct.py) gives what SQLAlchemy gives, inside the caller's
transaction, raises what SQLAlchemy raises, and under a recording span makes the SQL span
SQLAlchemy's hooks would (services/runtime/sql_spans.py)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Boolean, Column, DateTime, Integer, LargeBinary, MetaData, String, Table, bindparam, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.runtime.database import create_engine
from services.runtime.direct_statements import DirectStatement
from opentelemetry import trace
from services.runtime.transactions import Transactions

metadata = MetaData()
items = Table(
    "items", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False, unique=True),
    Column("active", Boolean, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("blob", LargeBinary, nullable=True),
    Column("kind", String(10), nullable=False),
)
AT = datetime(2026, 12, 6, 12, 30, 15, 123456, tzinfo=UTC)
ROW = {"id": 1, "name": "a", "active": True, "at": AT, "blob": b"\x00\x01", "kind": "plain"}

BY_NAME = select(items).where(items.c.name == bindparam("name"), items.c.kind == "plain")
SINCE = select(items.c.name).where(items.c.at >= bindparam("since"))
INSERT = DirectStatement(
    sqlite.insert(items).on_conflict_do_nothing(index_elements=[items.c.name]),
    elsewhere={"postgresql": postgresql.insert(items).on_conflict_do_nothing(index_elements=[items.c.name])})
RENAME = DirectStatement(items.update().where(items.c.id == bindparam("target_id")))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    # Every statement under a recording span gets its span here (the threshold's tests below set their own).
    engine = create_engine(database_url, sql_span_min_ms=0)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def tx(engine: AsyncEngine) -> AsyncIterator[Transactions]:
    """Keeping its connections, as a service's runtime does: its writes run on the driver too."""
    transactions = Transactions(engine, keep_connections=True)
    yield transactions
    await transactions.close()


def _namespace(engine: AsyncEngine) -> str:
    return (engine.url.database or "").rsplit("/", 1)[-1]


def _insert_ignoring_a_taken_name(engine: AsyncEngine) -> Any:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(items).on_conflict_do_nothing(index_elements=[items.c.name])


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    # Every statement under a recording span gets its span here (the threshold's tests below set their own).
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'direct.db'}", sql_span_min_ms=0)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


def _statements_through_sqlalchemy(engine: AsyncEngine) -> list[str]:
    seen: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_rest: seen.append(statement.split()[0].upper()))
    return seen


async def _insert_through_sqlalchemy(tx: Transactions, row: dict[str, Any]) -> None:
    await tx.write(lambda session: session.execute(items.insert(), row))


async def test_a_row_is_stored_as_sqlalchemy_stores_it(tx: Transactions) -> None:
    await tx.write(lambda session: INSERT.run(session, ROW))
    await _insert_through_sqlalchemy(tx, {**ROW, "id": 2, "name": "b"})
    stored = await tx.read(lambda session: session.execute(
        text("SELECT active, at, blob, kind FROM items ORDER BY id")))
    direct, through_sqlalchemy = stored.all()
    assert tuple(direct) == tuple(through_sqlalchemy)


async def test_a_row_reads_back_as_sqlalchemy_reads_it(tx: Transactions) -> None:
    await _insert_through_sqlalchemy(tx, ROW)

    async def direct(connection: AsyncConnection) -> Any:
        return (await DirectStatement(BY_NAME).run(connection, {"name": "a"})).one()

    async def through_sqlalchemy(connection: AsyncConnection) -> Any:
        return (await connection.execute(BY_NAME, {"name": "a"})).one()

    row, expected = await tx.read_alone(direct), await tx.read_alone(through_sqlalchemy)
    assert tuple(row) == tuple(expected)
    assert (row.active, row.at.replace(tzinfo=UTC), bytes(row.blob)) == (True, AT, b"\x00\x01")


async def test_a_time_parameter_compares_as_the_stored_times_do(tx: Transactions) -> None:
    await _insert_through_sqlalchemy(tx, ROW)
    statement = DirectStatement(SINCE)

    async def names_since(since: datetime) -> list[str]:
        return [row.name for row in (await tx.read_alone(lambda c: statement.run(c, {"since": since}))).rows]

    assert await names_since(AT) == ["a"]
    assert await names_since(AT.replace(microsecond=123457)) == []


async def test_an_insert_tells_whether_it_stored_the_row(tx: Transactions) -> None:
    first = await tx.write(lambda session: INSERT.run(session, ROW))
    again = await tx.write(lambda session: INSERT.run(session, {**ROW, "id": 2}))
    assert (first.rowcount, again.rowcount) == (1, 0)


async def test_it_writes_in_the_callers_transaction_and_rolls_back_with_it(sqlite_engine: AsyncEngine) -> None:
    tx = Transactions(sqlite_engine)

    async def insert_then_fail(session: AsyncSession) -> None:
        await INSERT.run(session, ROW)
        raise RuntimeError("the unit fails after its insert")

    with pytest.raises(RuntimeError):
        await tx.write(insert_then_fail)
    found = await tx.read_alone(lambda c: DirectStatement(BY_NAME).run(c, {"name": "a"}))
    assert found.rows == []


async def test_nothing_goes_through_sqlalchemys_execution_when_nobody_records(
        engine: AsyncEngine, tx: Transactions) -> None:
    await tx.write(lambda session: session.execute(text("SELECT 1")))  # SQLite's first connection is made
    seen = _statements_through_sqlalchemy(engine)
    await tx.write(lambda session: INSERT.run(session, ROW))
    await tx.read_alone(lambda c: DirectStatement(BY_NAME).run(c, {"name": "a"}))
    assert seen == []  # not even the write's BEGIN (runtime/transactions.py issues it on the driver)


def _sql_spans(recorded: InMemorySpanExporter) -> list[tuple[Any, ...]]:
    """Each SQL span as compared: all but its ids and times; whether its parent is the caller's."""
    finished = recorded.get_finished_spans()
    callers = {span.context.span_id for span in finished if span.name == "caller"}
    return [(span.name, span.kind, dict(span.attributes or {}), span.status.status_code, span.status.description,
             span.parent is not None and span.parent.span_id in callers, span.instrumentation_scope)
            for span in finished if (span.attributes or {}).get("db.system.name")]


async def _spans_of(recorded: InMemorySpanExporter, work: Callable[[], Awaitable[Any]]) -> list[tuple[Any, ...]]:
    """The SQL spans `work` makes under a recording span (an error it raises is expected)."""
    recorded.clear()
    with trace.get_tracer("test").start_as_current_span("caller"), contextlib.suppress(IntegrityError):
        await work()
    return _sql_spans(recorded)


async def _through_sqlalchemy(connection: AsyncSession | AsyncConnection, statement: Any, params: Any) -> None:
    await connection.execute(statement, params)


async def test_under_a_recording_span_it_still_runs_directly(sqlite_engine: AsyncEngine,
                                                            recorded_spans: InMemorySpanExporter) -> None:
    tx = Transactions(sqlite_engine)
    seen = _statements_through_sqlalchemy(sqlite_engine)
    with trace.get_tracer("test").start_as_current_span("caller"):
        await tx.write(lambda session: INSERT.run(session, ROW))
        await tx.read_alone(lambda c: DirectStatement(BY_NAME).run(c, {"name": "a"}))
    assert seen == []


async def test_its_sql_span_is_the_one_sqlalchemys_hooks_give_the_statement(
        engine: AsyncEngine, tx: Transactions, recorded_spans: InMemorySpanExporter) -> None:
    insert = _insert_ignoring_a_taken_name(engine)

    async def direct() -> None:
        await tx.write(lambda session: INSERT.run(session, ROW))
        await tx.read_alone(lambda c: DirectStatement(BY_NAME).run(c, {"name": "a"}))

    async def through_sqlalchemy() -> None:
        await tx.write(lambda session: _through_sqlalchemy(session, insert, ROW))
        await tx.read_alone(lambda c: _through_sqlalchemy(c, BY_NAME, {"name": "a"}))

    spans = await _spans_of(recorded_spans, direct)
    assert [(name, under_caller) for name, *_, under_caller, _scope in spans] == [
        (f"INSERT {_namespace(engine)}", True), (f"SELECT {_namespace(engine)}", True)]
    assert spans == await _spans_of(recorded_spans, through_sqlalchemy)


async def test_a_failed_statements_span_is_the_one_sqlalchemys_hooks_give_it(
        tx: Transactions, recorded_spans: InMemorySpanExporter) -> None:
    await tx.write(lambda session: INSERT.run(session, ROW))
    plain, same_id = DirectStatement(items.insert()), {**ROW, "name": "b"}

    spans = await _spans_of(recorded_spans, lambda: tx.write(lambda session: plain.run(session, same_id)))
    assert spans and {span[3] for span in spans} == {trace.StatusCode.ERROR}
    assert spans == await _spans_of(recorded_spans, lambda: tx.write(
        lambda session: _through_sqlalchemy(session, items.insert(), same_id)))


async def test_many_parameter_sets_make_one_span_as_sqlalchemys_executemany_does(
        engine: AsyncEngine, tx: Transactions, recorded_spans: InMemorySpanExporter) -> None:
    await _insert_through_sqlalchemy(tx, ROW)
    await _insert_through_sqlalchemy(tx, {**ROW, "id": 2, "name": "b"})
    rows = [{"target_id": 1, "name": "x"}, {"target_id": 2, "name": "y"}]

    spans = await _spans_of(recorded_spans, lambda: tx.write(lambda session: RENAME.run_many(session, rows)))
    assert [span[0] for span in spans] == [f"UPDATE {_namespace(engine)}"]
    assert spans == await _spans_of(recorded_spans, lambda: tx.write(
        lambda session: _through_sqlalchemy(session, RENAME.statement, rows)))


async def test_outside_a_recording_span_it_makes_no_span(sqlite_engine: AsyncEngine,
                                                         recorded_spans: InMemorySpanExporter) -> None:
    tx = Transactions(sqlite_engine)
    await tx.write(lambda session: INSERT.run(session, ROW))
    await tx.read_alone(lambda c: DirectStatement(BY_NAME).run(c, {"name": "a"}))
    assert _sql_spans(recorded_spans) == []


async def test_a_statement_faster_than_the_threshold_makes_no_span(
        tmp_path: Path, recorded_spans: InMemorySpanExporter) -> None:
    engine = await _engine_with_threshold(tmp_path, 3_600_000)  # an hour
    try:
        spans = await _spans_of(recorded_spans, lambda: _insert_and_find(Transactions(engine)))
    finally:
        await engine.dispose()
    assert spans == []


async def test_a_statement_that_took_the_threshold_gets_its_span_on_the_direct_path(
        tmp_path: Path, recorded_spans: InMemorySpanExporter) -> None:
    engine = await _engine_with_threshold(tmp_path, 20)
    tx = Transactions(engine)
    slow = DirectStatement(select(func.pause(bindparam("seconds"))))

    async def fast_then_slow() -> None:
        await _insert_and_find(tx)
        await tx.read_alone(lambda c: slow.run(c, {"seconds": 0.05}))

    try:
        spans = await _spans_of(recorded_spans, fast_then_slow)
    finally:
        await engine.dispose()
    assert [(name, attributes["db.query.text"], under_caller) for name, _, attributes, *_, under_caller, _ in spans] == [
        ("SELECT threshold.db", "SELECT pause(?) AS pause_1", True)]


async def test_a_failed_statement_gets_its_span_however_fast(tmp_path: Path,
                                                            recorded_spans: InMemorySpanExporter) -> None:
    engine = await _engine_with_threshold(tmp_path, 3_600_000)
    tx = Transactions(engine)
    await tx.write(lambda session: INSERT.run(session, ROW))
    plain = DirectStatement(items.insert())
    try:
        spans = await _spans_of(recorded_spans, lambda: tx.write(lambda session: plain.run(session, {**ROW, "name": "b"})))
    finally:
        await engine.dispose()
    # Transactions.write runs a unit that hit a unique key again (the replay path): each try failed.
    assert spans and {(span[0], span[3]) for span in spans} == {("INSERT threshold.db", trace.StatusCode.ERROR)}


async def _engine_with_threshold(tmp_path: Path, min_ms: float) -> AsyncEngine:
    """A SQLite engine whose statements get a span from `min_ms`; `pause(seconds)` in SQL sleeps."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'threshold.db'}", sql_span_min_ms=min_ms)
    event.listen(engine.sync_engine, "connect", lambda dbapi_connection, _record: (
        dbapi_connection.driver_connection.sqlite_connection.create_function("pause", 1, time.sleep)))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    return engine


async def _insert_and_find(tx: Transactions) -> None:
    await tx.write(lambda session: INSERT.run(session, ROW))
    await tx.read_alone(lambda c: DirectStatement(BY_NAME).run(c, {"name": "a"}))


async def _error_of(work: Awaitable[Any]) -> DBAPIError:
    with pytest.raises(DBAPIError) as raised:
        await work
    return raised.value


def _as_compared(error: DBAPIError) -> tuple[Any, ...]:
    return type(error), type(error.orig), getattr(error.orig, "sqlstate", None), error.connection_invalidated


async def test_a_driver_error_is_raised_as_sqlalchemys(tx: Transactions) -> None:
    await tx.write(lambda session: INSERT.run(session, ROW))
    plain, same_id = DirectStatement(items.insert()), {**ROW, "name": "b"}

    direct = await _error_of(tx.write(lambda session: plain.run(session, same_id)))
    through_sqlalchemy = await _error_of(tx.write(lambda session: session.execute(items.insert(), same_id)))
    assert isinstance(direct, IntegrityError)
    assert _as_compared(direct) == _as_compared(through_sqlalchemy)


async def test_on_postgresql_a_server_error_keeps_its_sqlstate_as_through_sqlalchemy(postgres_url: str) -> None:
    # What `Transactions.write` retries by (40P01, 40001) and what an IntegrityError is.
    engine = create_engine(postgres_url)
    tx = Transactions(engine, keep_connections=True)
    raises = text("DO $$ BEGIN RAISE EXCEPTION 'no' USING ERRCODE = '40001'; END $$")
    try:
        direct = await _error_of(tx.write(lambda session: DirectStatement(raises).run(session, {})))
        through_sqlalchemy = await _error_of(tx.write(lambda session: session.execute(raises)))
    finally:
        await tx.close()
        await engine.dispose()
    assert getattr(direct.orig, "sqlstate", None) == "40001"
    assert _as_compared(direct) == _as_compared(through_sqlalchemy)


async def test_many_parameter_sets_run_as_one_executemany(tx: Transactions) -> None:
    await _insert_through_sqlalchemy(tx, ROW)
    await _insert_through_sqlalchemy(tx, {**ROW, "id": 2, "name": "b"})
    await tx.write(lambda session: RENAME.run_many(
        session, [{"target_id": 1, "name": "x"}, {"target_id": 2, "name": "y"}]))
    names = await tx.read(lambda session: session.execute(text("SELECT name FROM items ORDER BY id")))
    assert names.scalars().all() == ["x", "y"]


async def test_an_update_sets_the_columns_its_parameters_name_and_no_others(tx: Transactions) -> None:
    await _insert_through_sqlalchemy(tx, ROW)
    await tx.write(lambda session: RENAME.run(session, {"target_id": 1, "name": "x"}))
    await tx.write(lambda session: RENAME.run(session, {"target_id": 1, "kind": "other"}))
    row = await tx.read(lambda session: session.execute(text("SELECT name, kind, active FROM items")))
    assert tuple(row.one()) == ("x", "other", True)
