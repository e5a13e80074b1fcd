"""Group commit: concurrent writes share transactions, and one unit's error is its own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.order.group import GroupWriter
from services.runtime.database import create_engine
from services.runtime.errors import NotFound
from services.runtime.transactions import Transactions

metadata = MetaData()
rows = Table("rows", metadata, Column("value", Integer, primary_key=True))


async def _writer(tmp_path: Path) -> tuple[GroupWriter, Transactions, list[int]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'group.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    tx = Transactions(engine)
    commits: list[int] = []
    original = tx.write

    async def counted(work):
        commits.append(1)
        return await original(work)

    tx.write = counted  # type: ignore[method-assign]
    return GroupWriter(tx), tx, commits


def _insert(value: int):
    async def work(session: AsyncSession) -> int:
        if value < 0:
            raise NotFound("NOPE", "refused on purpose")
        await session.execute(rows.insert().values(value=value))
        return value

    return work


async def test_concurrent_writes_share_commits_and_each_gets_its_answer(tmp_path: Path) -> None:
    writer, tx, commits = await _writer(tmp_path)
    answers = await asyncio.gather(*(writer.write(_insert(value)) for value in range(50)))
    assert answers == list(range(50))
    assert len(commits) < 50
    stored = await tx.read(lambda session: session.execute(select(rows.c.value)))
    assert sorted(row.value for row in stored) == list(range(50))


async def test_one_units_error_is_its_own_and_the_others_commit(tmp_path: Path) -> None:
    writer, tx, _ = await _writer(tmp_path)
    outcomes = await asyncio.gather(*(writer.write(_insert(value)) for value in (1, -1, 2)), return_exceptions=True)
    assert outcomes[0] == 1 and outcomes[2] == 2
    assert isinstance(outcomes[1], NotFound)
    stored = await tx.read(lambda session: session.execute(select(rows.c.value)))
    assert sorted(row.value for row in stored) == [1, 2]
    with pytest.raises(NotFound):
        await writer.write(_insert(-2))
