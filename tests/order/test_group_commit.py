"""Group commit: concurrent writes share transactions, and one unit's error is its own."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any, ClassVar, Self

import pytest
from opentelemetry import trace
from sqlalchemy import Column, Integer, MetaData, Table, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.order import tables as order_tables
from services.order.group import LANES, GroupWriter
from services.order.store import OrderStore
from services.runtime.database import create_engine
from services.runtime.errors import NotFound
from services.runtime.sqlite_inline import inline_connector
from services.runtime.transactions import Transactions, insert_at_commit
from tests.testkit.orders import pending_order

metadata = MetaData()
rows = Table("rows", metadata, Column("value", Integer, primary_key=True))


class _NotedCursor(sqlite3.Cursor):
    """A cursor that notes each statement it is asked to run (once for an executemany) in
    `_NotedCursor.seen`, whether SQLAlchemy or a direct statement (runtime/direct_statements.py) runs it."""

    seen: ClassVar[list[str] | None] = None

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        if _NotedCursor.seen is not None:
            _NotedCursor.seen.append(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Self:
        if _NotedCursor.seen is not None:
            _NotedCursor.seen.append(sql)
        return super().executemany(sql, parameters)


class _NotingConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _NotedCursor) -> Any:
        return super().cursor(factory)


async def _writer(tmp_path: Path, statements: list[str] | None = None) -> tuple[GroupWriter, Transactions, list[int]]:
    """The writer, its transactions, and a list that gets a 1 per write transaction (and
    `statements` each statement run after the table is made)."""
    path = tmp_path / "group.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}",
                           async_creator=inline_connector(str(path), commit_off_loop=True, factory=_NotingConnection))
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    _NotedCursor.seen = statements
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
    answers = await asyncio.gather(*(writer.write(_insert(value), order_id=str(value)) for value in range(50)))
    assert answers == list(range(50))
    assert len(commits) < 50
    stored = await tx.read(lambda session: session.execute(select(rows.c.value)))
    assert sorted(row.value for row in stored) == list(range(50))


async def test_one_units_error_is_its_own_and_the_others_commit(tmp_path: Path) -> None:
    writer, tx, _ = await _writer(tmp_path)
    outcomes = await asyncio.gather(*(writer.write(_insert(value), order_id=str(value)) for value in (1, -1, 2)), return_exceptions=True)
    assert outcomes[0] == 1 and outcomes[2] == 2
    assert isinstance(outcomes[1], NotFound)
    stored = await tx.read(lambda session: session.execute(select(rows.c.value)))
    assert sorted(row.value for row in stored) == [1, 2]
    with pytest.raises(NotFound):
        await writer.write(_insert(-2), order_id="-2")


async def test_a_unit_that_fails_alone_in_its_group_is_not_run_again(tmp_path: Path) -> None:
    writer, _, commits = await _writer(tmp_path)
    with pytest.raises(NotFound):
        await writer.write(_insert(-1), order_id="-1")
    assert len(commits) == 1  # its own transaction, once: a second would only repeat the error


async def test_each_unit_runs_in_its_callers_trace_context(tmp_path: Path) -> None:
    writer, _, commits = await _writer(tmp_path)
    seen: dict[int, int] = {}

    def noting(value: int):
        async def work(session: AsyncSession) -> int:
            seen[value] = trace.get_current_span().get_span_context().trace_id
            return await _insert(value)(session)

        return work

    async def traced(value: int) -> int:
        caller = trace.NonRecordingSpan(trace.SpanContext(trace_id=value, span_id=value, is_remote=False))
        with trace.use_span(caller):
            return await writer.write(noting(value), order_id=str(value))

    await asyncio.gather(*(traced(value) for value in range(1, 21)))
    assert len(commits) < 20  # units of several callers shared a transaction
    assert seen == {value: value for value in range(1, 21)}


def _insert_at_commit(value: int):
    async def work(session: AsyncSession) -> int:
        insert_at_commit(session, rows, {"value": value})
        return value

    return work


async def test_rows_a_groups_units_defer_to_the_commit_are_one_insert_per_group(tmp_path: Path) -> None:
    statements: list[str] = []
    writer, tx, commits = await _writer(tmp_path, statements)
    answers = await asyncio.gather(*(writer.write(_insert_at_commit(value), order_id=str(value)) for value in range(50)))
    assert answers == list(range(50))
    assert len([statement for statement in statements if statement.startswith("INSERT")]) == len(commits) < 50
    stored = await tx.read(lambda session: session.execute(select(rows.c.value)))
    assert sorted(row.value for row in stored) == list(range(50))


async def test_a_deferred_row_that_fails_fails_only_its_own_unit(tmp_path: Path) -> None:
    writer, tx, _ = await _writer(tmp_path)
    await writer.write(_insert(7), order_id="7")
    outcomes = await asyncio.gather(*(writer.write(_insert_at_commit(value), order_id=str(value)) for value in (1, 7, 2)),
                                    return_exceptions=True)
    assert outcomes[0] == 1 and outcomes[2] == 2
    assert isinstance(outcomes[1], IntegrityError)
    stored = await tx.read(lambda session: session.execute(select(rows.c.value)))
    assert sorted(row.value for row in stored) == [1, 2, 7]


async def test_groups_commit_side_by_side_only_where_the_database_allows(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    tx = Transactions(engine)
    in_flight, most = 0, 0
    original = tx.write

    async def watched(work):
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.01)  # a group's round trips to the server
            return await original(work)
        finally:
            in_flight -= 1

    tx.write = watched  # type: ignore[method-assign]
    # One unit per group, so only the lanes can let groups overlap.
    writer = GroupWriter(tx, max_batch=1)
    try:
        answers = await asyncio.gather(*(writer.write(_insert(value), order_id=str(value)) for value in range(40)))
    finally:
        await engine.dispose()
    assert answers == list(range(40))
    assert most == (1 if tx.is_sqlite else LANES)



async def test_a_write_made_as_soon_as_the_previous_one_is_answered_is_committed(tmp_path: Path) -> None:
    """The caller of the last write is woken before the flusher that answered it has left the
    writer's books: its next write must get a flusher of its own, not wait for a later write."""
    writer, _, _ = await _writer(tmp_path)
    assert await writer.write(_insert(1), order_id="1") == 1
    async with asyncio.timeout(5):  # the next write starts in this very turn (no new task)
        assert await writer.write(_insert(2), order_id="2") == 2


async def test_a_group_locks_its_orders_in_the_order_the_event_follower_locks_them(postgres_url: str) -> None:
    """The event follower locks a batch's orders in id order (`OrderStore.many`). A group that
    locked its orders in the order its units arrived deadlocked with it, and PostgreSQL only
    noticed after deadlock_timeout (1 s), then rolled one side back to run again."""
    engine = create_engine(postgres_url)
    async with engine.begin() as connection:
        await connection.run_sync(order_tables.metadata.create_all)
    tx, store = Transactions(engine), OrderStore()
    low, high = "00000000-0000-4000-8000-000000000001", "ffffffff-0000-4000-8000-000000000002"
    async def stored(session: AsyncSession) -> None:
        for order_id in (low, high):
            await store.insert(session, pending_order(order_id))

    await tx.write(stored)
    runs: list[str] = []  # each transaction's work, each time it runs
    first_locked = asyncio.Event()

    async def follower_waits_for_a_lock() -> None:
        waiting = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        async with asyncio.timeout(5):
            while not await tx.read_alone(lambda connection: connection.scalar(waiting)):
                await asyncio.sleep(0.01)

    def lock(order_id: str):
        async def work(session: AsyncSession) -> None:
            runs.append(order_id)
            await store.get(session, order_id, lock=True)
            if not first_locked.is_set():  # the group's first order locked: the follower comes in now
                first_locked.set()
                await follower_waits_for_a_lock()

        return work

    async def follower() -> None:
        async def apply(session: AsyncSession) -> None:
            runs.append("follower")
            await store.many(session, [low, high])

        await first_locked.wait()
        await tx.write(apply)

    writer = GroupWriter(tx)
    try:
        # One group, its units arriving in the opposite of id order.
        await asyncio.gather(writer.write(lock(high), order_id=high), writer.write(lock(low), order_id=low),
                             follower())
    finally:
        await engine.dispose()
    assert sorted(runs) == sorted([low, high, "follower"]), "a deadlock rolled a transaction back"


async def test_on_one_lane_the_followers_batch_joins_the_group_being_formed(tmp_path: Path) -> None:
    writer, _, commits = await _writer(tmp_path)
    assert await asyncio.gather(writer.write(_insert(1), order_id="1"), writer.write_alongside(_insert(2)),
                                writer.write(_insert(3), order_id="3")) == [1, 2, 3]
    assert len(commits) == 1


async def test_with_lanes_side_by_side_the_followers_batch_commits_alone(tmp_path: Path) -> None:
    # Groups on lanes side by side keep one lock order; a batch locking many orders would break it.
    _, tx, commits = await _writer(tmp_path)
    writer = GroupWriter(tx, lanes=2)
    assert await asyncio.gather(writer.write(_insert(1), order_id="1"), writer.write_alongside(_insert(2)),
                                writer.write(_insert(3), order_id="3")) == [1, 2, 3]
    assert len(commits) == 2
