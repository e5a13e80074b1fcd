"""PaddedIn: an IN list of plain bind parameters, one statement per power-of-two length, the
values padded by repeating the last, so the rows found are those of the values given."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql.expression import Executable

from services.runtime.padded_in import Names, PaddedIn

metadata = MetaData()
things = Table("things", metadata, Column("kind", String, primary_key=True), Column("name", String, primary_key=True),
               Column("size", Integer))


def _by_name(names: Names) -> Executable:
    return select(things.c.name, things.c.size).where(things.c.name.in_([bindparam(name) for name, in names]))


def _by_key(names: Names) -> Executable:
    keys = [tuple_(bindparam(kind), bindparam(name)) for kind, name in names]
    return select(things.c.name).where(tuple_(things.c.kind, things.c.name).in_(keys))


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(things.insert(), [{"kind": kind, "name": f"{kind}{index}", "size": index}
                                                   for kind in ("a", "b") for index in range(6)])
    yield engine
    await engine.dispose()


async def test_the_rows_of_the_values_given_are_found_whatever_the_padding(engine: AsyncEngine) -> None:
    padded = PaddedIn(_by_name)
    async with engine.connect() as connection:
        for values in (["a1"], ["a1", "b2", "a3"], ["a0", "a1", "a2", "a3", "a4"]):
            statement, params = padded.of(values)
            rows = (await statement.run(connection, params)).rows
            assert sorted(row.name for row in rows) == sorted(values)


async def test_lengths_share_the_statement_of_their_power_of_two() -> None:
    padded = PaddedIn(_by_name)
    three, params = padded.of(["x", "y", "z"])
    four, _ = padded.of(["w", "x", "y", "z"])
    five, _ = padded.of(["v", "w", "x", "y", "z"])
    assert three is four and four is not five
    assert list(params.values()) == ["x", "y", "z", "z"]


async def test_pairs_fill_a_row_value_in_list(engine: AsyncEngine) -> None:
    padded = PaddedIn(_by_key, width=2)
    statement, params = padded.of([("a", "a1"), ("b", "b4"), ("b", "a1")])
    async with engine.connect() as connection:
        rows = (await statement.run(connection, params)).rows
    assert sorted(row.name for row in rows) == ["a1", "b4"]


def test_an_empty_list_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        PaddedIn(_by_name).of([])
