"""Transactions on SQLite and PostgreSQL: a single statement may run outside a transaction; rows
may be deferred to one INSERT at the end of a write, and checks to its very end."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from services.runtime.database import create_engine
from services.runtime.errors import FailedPrecondition
from services.runtime.direct_statements import DirectStatement, run_text
from services.runtime.sqlite_inline import inline_connector
from services.runtime.transactions import Transactions, add_at_commit, check_at_commit, insert_at_commit

ITEMS = Table("items", MetaData(), Column("id", Integer, primary_key=True))
COUNTERS = Table("counters", MetaData(), Column("name", String(20), primary_key=True),
                 Column("day", Integer, primary_key=True), Column("total", BigInteger, nullable=False))


@pytest.fixture
async def tx(database_url: str) -> AsyncIterator[Transactions]:
    engine = create_engine(database_url)
    transactions = Transactions(engine)
    await transactions.write(lambda session: session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY)")))
    await transactions.write(lambda session: session.execute(text("INSERT INTO items (id) VALUES (1), (2)")))
    yield transactions
    await engine.dispose()


async def _count_in_transaction(session: AsyncSession | AsyncConnection) -> tuple[int, bool]:
    """The rows, and whether the connection is inside a transaction after reading them."""
    count = (await session.execute(text("SELECT count(*) FROM items"))).scalar_one()
    connection = session if isinstance(session, AsyncConnection) else await session.connection()
    driver: Any = (await connection.get_raw_connection()).driver_connection
    inside = driver.in_transaction if hasattr(driver, "in_transaction") else driver.is_in_transaction()
    return count, bool(inside)


async def test_a_read_runs_in_a_transaction(tx: Transactions) -> None:
    assert await tx.read(_count_in_transaction) == (2, True)


async def test_a_read_alone_runs_its_statement_outside_any_transaction(tx: Transactions) -> None:
    assert await tx.read_alone(_count_in_transaction) == (2, False)
    # And leaves the connection as writes expect it.
    await tx.write(lambda session: session.execute(text("INSERT INTO items (id) VALUES (3)")))
    assert await tx.read(_count_in_transaction) == (3, True)


async def test_on_postgresql_a_write_alone_is_committed_by_its_own_statement(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    tx = Transactions(engine, keep_connections=True)
    try:
        await tx.write(lambda session: session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY)")))
        inside = await tx.write_alone(lambda connection: _insert_in_transaction(connection, 3))
        # Another connection sees it at once: nothing was left open to commit.
        async with engine.connect() as other:
            seen = (await other.execute(text("SELECT id FROM items"))).scalars().all()
    finally:
        await tx.close()
        await engine.dispose()
    assert (inside, seen) == (False, [3])


async def _insert_in_transaction(connection: AsyncConnection, item: int) -> bool:
    """Inserts `item` (as run_text runs a statement written per call); whether a transaction is open after."""
    await run_text(connection, "INSERT INTO items (id) VALUES ($1)", (item,))
    driver: Any = (await connection.get_raw_connection()).driver_connection
    return bool(driver.is_in_transaction())


async def test_on_sqlite_a_write_alone_is_refused(tmp_path: Path) -> None:
    # SQLite has one writer: a write outside `write` would not queue for it.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    try:
        with pytest.raises(ValueError, match="write_alone"):
            await Transactions(engine).write_alone(lambda connection: run_text(connection, "SELECT 1", ()))
    finally:
        await engine.dispose()


async def test_rows_deferred_to_the_commit_are_inserted_together_at_the_end(tx: Transactions) -> None:
    async def work(session: AsyncSession) -> int:
        insert_at_commit(session, ITEMS, {"id": 3})
        insert_at_commit(session, ITEMS, {"id": 4})
        # Not there yet: they are written as the transaction ends.
        return (await session.execute(text("SELECT count(*) FROM items"))).scalar_one()

    assert await tx.write(work) == 2
    assert await tx.read(_count_in_transaction) == (4, True)


async def test_rows_deferred_by_a_failed_write_are_not_inserted(tx: Transactions) -> None:
    async def work(session: AsyncSession) -> None:
        insert_at_commit(session, ITEMS, {"id": 3})
        raise FailedPrecondition("NO", "refused")

    with pytest.raises(FailedPrecondition):
        await tx.write(work)
    assert await tx.read(_count_in_transaction) == (2, True)


async def _counters(tx: Transactions) -> list[tuple[str, int, int]]:
    rows = await tx.read(lambda session: session.execute(select(COUNTERS).order_by(COUNTERS.c.name, COUNTERS.c.day)))
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("kept", [False, True], ids=["session", "direct"])
async def test_additions_deferred_to_the_commit_are_summed_per_row_and_added_to_what_it_holds(
        database_url: str, kept: bool) -> None:
    engine = create_engine(database_url)
    tx = Transactions(engine, keep_connections=kept)
    await tx.write(lambda session: session.run_sync(lambda sync: COUNTERS.create(sync.connection())))
    await tx.write(lambda session: session.execute(COUNTERS.insert().values(name="b", day=1, total=100)))

    async def work(session: AsyncSession) -> list[tuple[str, int, int]]:
        for name, day, amount in [("b", 1, 5), ("a", 2, 1), ("b", 1, 7), ("a", 1, 3), ("a", 2, 2)]:
            add_at_commit(session, COUNTERS, {"name": name, "day": day}, "total", amount)
        # Not there yet: they are made as the transaction ends.
        return [tuple(row) for row in await session.execute(select(COUNTERS))]

    try:
        assert await tx.write(work) == [("b", 1, 100)]
        assert await _counters(tx) == [("a", 1, 3), ("a", 2, 3), ("b", 1, 112)]
    finally:
        await tx.close()
        await engine.dispose()


async def test_additions_deferred_by_a_failed_write_are_not_made(database_url: str) -> None:
    engine = create_engine(database_url)
    tx = Transactions(engine, keep_connections=True)
    await tx.write(lambda session: session.run_sync(lambda sync: COUNTERS.create(sync.connection())))

    async def work(session: AsyncSession) -> None:
        add_at_commit(session, COUNTERS, {"name": "a", "day": 1}, "total", 3)
        raise FailedPrecondition("NO", "refused")

    try:
        with pytest.raises(FailedPrecondition):
            await tx.write(work)
        assert await _counters(tx) == []
    finally:
        await tx.close()
        await engine.dispose()


async def test_a_check_at_commit_runs_once_with_every_items_after_the_deferred_writes(tx: Transactions) -> None:
    calls: list[tuple[list[Any], int]] = []

    async def check(session: AsyncSession, items: list[Any]) -> None:
        calls.append((items, (await session.execute(text("SELECT count(*) FROM items"))).scalar_one()))

    async def work(session: AsyncSession) -> None:
        check_at_commit(session, check, "first")
        insert_at_commit(session, ITEMS, {"id": 3})
        check_at_commit(session, check, "second")

    await tx.write(work)
    assert calls == [(["first", "second"], 3)]  # one call, which saw the deferred row


async def test_a_check_at_commit_that_raises_rolls_the_whole_write_back(tx: Transactions) -> None:
    async def refuse(_session: AsyncSession, _items: list[Any]) -> None:
        raise FailedPrecondition("NO", "refused at the commit")

    async def work(session: AsyncSession) -> None:
        await session.execute(text("INSERT INTO items (id) VALUES (3)"))
        insert_at_commit(session, ITEMS, {"id": 4})
        check_at_commit(session, refuse, None)

    with pytest.raises(FailedPrecondition):
        await tx.write(work)
    assert await tx.read(_count_in_transaction) == (2, True)


async def test_on_sqlite_a_write_takes_the_files_write_lock_before_its_first_statement(tmp_path: Path) -> None:
    # BEGIN IMMEDIATE: another process's writer must wait from the start, or it could change
    # what this write is about to read.
    path = tmp_path / "locked.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        tx = Transactions(engine)

        async def another_writer_starts(session: AsyncSession) -> bool:
            await session.execute(text("SELECT 1"))
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # database is locked
                return False
            finally:
                other.close()
            return True

        assert await tx.write(another_writer_starts) is False
        assert await tx.read(another_writer_starts) is True  # a read leaves writers alone
    finally:
        await engine.dispose()


async def test_a_write_the_database_rolls_back_as_a_deadlock_runs_again_and_is_logged(
        postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = create_engine(postgres_url)
    attempts = 0

    async def work(session: AsyncSession) -> int:
        nonlocal attempts
        attempts += 1
        if attempts == 1:  # PostgreSQL's own error, as its deadlock detector raises it
            await session.execute(text("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$"))
        return attempts

    try:
        with caplog.at_level(logging.WARNING, logger="clearmesh.db"):
            assert await Transactions(engine).write(work) == 2
    finally:
        await engine.dispose()
    [record] = caplog.records
    assert record.fields == {"db.sqlstate": "40P01", "attempt": 1}  # type: ignore[attr-defined]


class _NotedCommits(sqlite3.Connection):
    """A connection that notes each commit in `_NotedCommits.seen`."""

    seen: ClassVar[list[str]] = []

    def commit(self) -> None:
        _NotedCommits.seen.append("commit")
        super().commit()


async def test_on_sqlite_a_write_commits_before_the_loop_runs_anything_else(tmp_path: Path) -> None:
    # The writer is held until the commit: a turn of the event loop in between (SQLAlchemy ends
    # its async sessions in a task of their own) would hold it while the loop serves others.
    path = tmp_path / "turns.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", sqlite_synchronous="NORMAL",
                           async_creator=inline_connector(str(path), factory=_NotedCommits))
    try:
        tx = Transactions(engine)
        await tx.write(lambda session: session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY)")))
        _NotedCommits.seen = []

        async def work(session: AsyncSession) -> None:
            await session.execute(text("INSERT INTO items (id) VALUES (1)"))
            asyncio.get_running_loop().call_soon(_NotedCommits.seen.append, "the loop's next turn")

        await tx.write(work)
        await asyncio.sleep(0)
    finally:
        await engine.dispose()

    assert _NotedCommits.seen == ["commit", "the loop's next turn"]


@pytest.fixture
async def kept_tx(database_url: str) -> AsyncIterator[Transactions]:
    """Transactions keeping their connections, as a service's runtime does: on SQLite on the
    loop's thread and on PostgreSQL its writes are begun and committed on the driver."""
    engine = create_engine(database_url)
    transactions = Transactions(engine, keep_connections=True)
    await transactions.write(lambda session: session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY)")))
    await transactions.write(lambda session: session.execute(text("INSERT INTO items (id) VALUES (1), (2)")))
    yield transactions
    await transactions.close()
    await engine.dispose()


INSERT_ITEM = DirectStatement(ITEMS.insert())
COUNT_ITEMS = DirectStatement(select(func.count().label("n")).select_from(ITEMS))


async def test_a_write_of_direct_statements_opens_no_orm_session(kept_tx: Transactions) -> None:
    # SQLAlchemy's session cost ~200 µs of CPU per write transaction on SQLite, the driver's
    # BEGIN, statement and COMMIT ~70 (runtime/direct_statements.py, DirectSession); on PostgreSQL
    # the session and the adapter's execution were most of Order's CPU of a write.
    begun: list[object] = []

    def noted(*args: object) -> None:
        begun.append(args)

    event.listen(Session, "after_begin", noted)
    try:
        await kept_tx.write(lambda session: INSERT_ITEM.run(session, {"id": 3}))
    finally:
        event.remove(Session, "after_begin", noted)
    assert begun == []
    assert (await kept_tx.read_alone(lambda c: COUNT_ITEMS.run(c, {}))).one().n == 3


async def test_sqlalchemys_statements_share_the_direct_writes_transaction(kept_tx: Transactions) -> None:
    async def work(session: AsyncSession) -> tuple[int, bool]:
        await INSERT_ITEM.run(session, {"id": 3})
        seen = (await session.execute(text("SELECT count(*) FROM items"))).scalar_one()
        await session.execute(text("INSERT INTO items (id) VALUES (4)"))
        return seen, (await _count_in_transaction(session))[1]

    assert await kept_tx.write(work) == (3, True)
    assert await kept_tx.read(_count_in_transaction) == (4, True)


async def test_a_failed_write_rolls_back_its_direct_and_sqlalchemy_statements_alike(kept_tx: Transactions) -> None:
    async def work(session: AsyncSession) -> None:
        await INSERT_ITEM.run(session, {"id": 3})
        await session.execute(text("INSERT INTO items (id) VALUES (4)"))
        raise FailedPrecondition("NO", "refused")

    with pytest.raises(FailedPrecondition):
        await kept_tx.write(work)
    assert await kept_tx.read(_count_in_transaction) == (2, True)
    await kept_tx.write(lambda session: INSERT_ITEM.run(session, {"id": 3}))  # and the connection writes on
    assert await kept_tx.read(_count_in_transaction) == (3, True)


async def test_a_unique_key_violation_of_a_direct_statement_runs_the_write_again(kept_tx: Transactions) -> None:
    attempts = 0

    async def work(session: AsyncSession) -> int:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            await INSERT_ITEM.run(session, {"id": 1})  # taken: a concurrent call got there first
        await INSERT_ITEM.run(session, {"id": 10 + attempts})
        return attempts

    assert await kept_tx.write(work) == 2
    assert (await kept_tx.read_alone(lambda c: COUNT_ITEMS.run(c, {}))).one().n == 3  # the second run's row alone


async def test_a_deadlock_under_a_direct_statement_runs_the_write_again(postgres_url: str) -> None:
    # The server's error, as its deadlock detector raises it, on the driver beneath SQLAlchemy:
    # raised as SQLAlchemy raises it (a DBAPIError with the sqlstate), so retried the same.
    engine = create_engine(postgres_url)
    tx = Transactions(engine, keep_connections=True)
    deadlock = DirectStatement(text("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$"))
    attempts = 0

    async def work(session: AsyncSession) -> int:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            await deadlock.run(session, {})
        return attempts

    try:
        assert await tx.write(work) == 2
        with pytest.raises(DBAPIError) as raised:
            await tx.write(lambda session: deadlock.run(session, {}))
    finally:
        await tx.close()
        await engine.dispose()
    assert raised.value.orig.sqlstate == "40P01"  # type: ignore[union-attr]


async def test_on_postgresql_a_kept_connection_the_server_dropped_is_replaced(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    tx = Transactions(engine, keep_connections=True)
    backend = text("SELECT pg_backend_pid()")
    try:
        writer = await tx.write(lambda session: session.scalar(backend))
        alone = await tx.read_alone(lambda c: c.scalar(backend))
        await tx.read(lambda session: session.execute(
            text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"), {"pids": [writer, alone]}))
        for kept in (partial(tx.write, lambda session: session.scalar(backend)),
                     partial(tx.read_alone, lambda c: COUNT_ITEMS.run(c, {}))):
            with pytest.raises(DBAPIError) as lost:
                await kept()  # the call on it fails, as on any connection lost...
            assert lost.value.connection_invalidated
        # ... and the next is served by another
        assert await tx.write(lambda session: session.scalar(backend)) not in (writer, alone)
        assert await tx.read_alone(lambda c: c.scalar(backend)) not in (writer, alone)
    finally:
        await tx.close()
        await engine.dispose()


async def test_kept_connections_serve_every_call_and_go_back_to_the_pool_on_close(database_url: str) -> None:
    engine = create_engine(database_url)
    checkouts: list[object] = []
    event.listen(engine.sync_engine, "checkout", lambda *args: checkouts.append(args))
    tx = Transactions(engine, keep_connections=True)
    try:
        await tx.write(lambda session: session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY)")))
        await tx.write(partial(INSERT_ITEM.run, params={"id": 5}))
        checkouts.clear()
        for value in range(5):
            await tx.write(partial(INSERT_ITEM.run, params={"id": value}))
            await tx.read_alone(lambda c: COUNT_ITEMS.run(c, {}))
            await tx.read_alone(_count_in_transaction)  # SQLAlchemy's statement on a kept connection
        assert len(checkouts) == 1  # one statement-alone connection; the writer was kept before
        assert await tx.read_alone(_count_in_transaction) == (6, False)
        await tx.close()
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_writes_at_once_each_keep_a_connection_of_their_own(postgres_url: str) -> None:
    # On PostgreSQL writers of different rows do not wait for each other (Order's group commit
    # runs several groups at once): each concurrent write has a kept connection of its own.
    engine = create_engine(postgres_url)
    tx = Transactions(engine, keep_connections=True)
    backend = text("SELECT pg_backend_pid()")
    started = asyncio.Event()
    waiting = 0

    async def work(session: AsyncSession) -> int:
        nonlocal waiting
        waiting += 1
        if waiting == 3:
            started.set()
        await started.wait()
        return int(await session.scalar(backend))

    try:
        first = await asyncio.gather(*(tx.write(work) for _ in range(3)))
        started.clear()
        waiting = 0
        again = await asyncio.gather(*(tx.write(work) for _ in range(3)))
        assert len(set(first)) == 3 and set(again) == set(first)
    finally:
        await tx.close()
        await engine.dispose()

