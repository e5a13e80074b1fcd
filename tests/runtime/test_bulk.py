"""Many rows in one statement (services/runtime/bulk.py), on both databases: every row written,
in the order given, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, event, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.runtime.bulk import insert_rows, update_rows
from services.runtime.database import create_engine
from services.runtime.transactions import Transactions

metadata = MetaData()
SEQUENCE = BigInteger().with_variant(Integer(), "sqlite")
journal = Table(
    "bulk_journal", metadata,
    Column("sequence", SEQUENCE, primary_key=True, autoincrement=True),
    Column("name", String(40), nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("note", String(40), nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
)
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(params=[False, True], ids=["session", "kept"])
async def tx(database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Transactions]:
    """Both ways a write runs: an ORM session, and a service runtime's (its connections kept,
    the write a DirectSession on the driver)."""
    engine: AsyncEngine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    transactions = Transactions(engine, keep_connections=request.param)
    yield transactions
    await transactions.close()
    await engine.dispose()


async def _rows(tx: Transactions) -> list[tuple[int, str, int, str | None]]:
    async def read(session: AsyncSession) -> list[tuple[int, str, int, str | None]]:
        rows = await session.execute(select(journal).order_by(journal.c.sequence))
        return [(row.sequence, row.name, row.units, row.note) for row in rows]

    return await tx.read(read)


async def test_inserted_rows_are_numbered_in_the_order_given(tx: Transactions) -> None:
    names = ["z", "a", "m", "b"]
    await tx.write(lambda session: insert_rows(session, journal, [
        {"name": name, "units": units, "note": None if units % 2 else "even", "at": AT}
        for units, name in enumerate(names)]))

    assert [(name, units, note) for _, name, units, note in await _rows(tx)] == [
        ("z", 0, "even"), ("a", 1, None), ("m", 2, "even"), ("b", 3, None)]
    sequences = [sequence for sequence, *_ in await _rows(tx)]
    assert sequences == sorted(sequences)


async def test_updates_change_only_the_rows_they_name(tx: Transactions) -> None:
    await tx.write(lambda session: insert_rows(session, journal, [
        {"name": name, "units": 1, "note": None, "at": AT} for name in ("a", "b", "c")]))

    await tx.write(lambda session: update_rows(session, journal, ("name",), [
        {"name": "c", "units": 30, "note": "changed"}, {"name": "a", "units": -10, "note": None}]))

    assert [(name, units, note) for _, name, units, note in await _rows(tx)] == [
        ("a", -10, None), ("b", 1, None), ("c", 30, "changed")]


UNNOTED = journal.c.note.is_(None)


async def test_an_update_with_a_condition_leaves_the_rows_that_do_not_meet_it(tx: Transactions) -> None:
    await tx.write(lambda session: insert_rows(session, journal, [
        {"name": name, "units": 1, "note": note, "at": AT} for name, note in (("a", None), ("b", "kept"))]))

    await tx.write(lambda session: update_rows(session, journal, ("name",), [
        {"name": "a", "units": 10, "note": "done"}, {"name": "b", "units": 20, "note": "done"}], where=UNNOTED))

    assert [(name, units, note) for _, name, units, note in await _rows(tx)] == [
        ("a", 10, "done"), ("b", 1, "kept")]


async def test_a_failed_transaction_keeps_none_of_its_rows(tx: Transactions) -> None:
    async def fail_after_insert(session: AsyncSession) -> None:
        await insert_rows(session, journal, [{"name": "lost", "units": 1, "note": None, "at": AT}])
        raise RuntimeError("after the insert")

    with pytest.raises(RuntimeError):
        await tx.write(fail_after_insert)

    assert await _rows(tx) == []


async def test_no_rows_are_no_error(tx: Transactions) -> None:
    await tx.write(lambda session: insert_rows(session, journal, []))
    await tx.write(lambda session: update_rows(session, journal, ("name",), []))

    assert await _rows(tx) == []


async def test_on_postgresql_a_direct_write_sends_the_rows_as_one_unnest(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    tx = Transactions(engine, keep_connections=True)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    try:
        await tx.write(lambda session: insert_rows(session, journal, [
            {"name": name, "units": 1, "note": None, "at": AT} for name in "abc"]))
    finally:
        await tx.close()
        await engine.dispose()
    assert [statement for statement in statements if "INSERT" in statement and "unnest" in statement]


@pytest.mark.parametrize("write", ["insert", "update"])
async def test_on_postgresql_a_value_longer_than_its_column_is_refused_not_cut(postgres_url: str, write: str) -> None:
    # As a plain INSERT or UPDATE refuses it: cast to the column's own VARCHAR(40)[], the
    # array's values would be cut to 40 characters without a word.
    engine = create_engine(postgres_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    tx = Transactions(engine)
    try:
        await tx.write(lambda session: insert_rows(session, journal, [{"name": "a", "units": 1, "note": None, "at": AT}]))
        too_long = "x" * 41
        with pytest.raises(DBAPIError, match="too long"):
            if write == "insert":
                await tx.write(lambda session: insert_rows(session, journal, [
                    {"name": too_long, "units": 1, "note": None, "at": AT}]))
            else:
                await tx.write(lambda session: update_rows(session, journal, ("name",), [
                    {"name": "a", "units": 1, "note": too_long}]))
        assert [(name, note) for _, name, _, note in await _rows(tx)] == [("a", None)]
    finally:
        await tx.close()
        await engine.dispose()
