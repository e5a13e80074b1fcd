"""SQLite engines run their statements on the event loop's thread (services/runtime/sqlite_inline.py)
and keep every transactional behaviour the services rely on."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.runtime.database import create_engine
from services.runtime import sqlite_inline
from services.runtime.sqlite_inline import inline_connector
from services.runtime.transactions import Transactions


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"))
    yield engine
    await engine.dispose()


async def _names(tx: Transactions) -> list[str]:
    async def read(session: AsyncSession) -> list[str]:
        return list((await session.execute(text("SELECT name FROM items ORDER BY id"))).scalars())

    return await tx.read(read)


async def test_statements_start_no_worker_thread(tmp_path: Path) -> None:
    threads = set(threading.enumerate())
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'threads.db'}", sqlite_synchronous="NORMAL")
    try:
        tx = Transactions(engine)
        await tx.write(lambda session: session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")))
        await tx.write(lambda session: session.execute(text("INSERT INTO items (name) VALUES ('a')")))
        assert await _names(tx) == ["a"]
        assert set(threading.enumerate()) == threads
    finally:
        await engine.dispose()


async def test_a_failed_write_is_rolled_back_whole(engine: AsyncEngine) -> None:
    tx = Transactions(engine)
    await tx.write(lambda session: session.execute(text("INSERT INTO items (id, name) VALUES (1, 'a')")))

    async def half(session: AsyncSession) -> None:
        await session.execute(text("INSERT INTO items (id, name) VALUES (2, 'b')"))
        await session.execute(text("INSERT INTO items (id, name) VALUES (1, 'again')"))

    with pytest.raises(IntegrityError):
        await tx.write(half)
    assert await _names(tx) == ["a"]


async def test_a_reader_sees_only_what_was_committed(engine: AsyncEngine) -> None:
    tx = Transactions(engine)

    async def write_then_read_beside(session: AsyncSession) -> list[str]:
        await session.execute(text("INSERT INTO items (name) VALUES ('pending')"))
        return await _names(tx)

    assert await tx.write(write_then_read_beside) == []
    assert await _names(tx) == ["pending"]


@pytest.mark.parametrize(("synchronous", "off_loop"), [("FULL", 1), ("NORMAL", 0)])
async def test_an_engine_commits_its_writes_off_the_loop_only_when_they_sync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synchronous: str, off_loop: int) -> None:
    sent: list[object] = []

    class Seen(ThreadPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            sent.append(fn)
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(sqlite_inline, "COMMITS", Seen(max_workers=1))
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}", sqlite_synchronous=synchronous)  # type: ignore[arg-type]
    try:
        tx = Transactions(engine)
        await tx.write(lambda session: session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")))
        await tx.write(lambda session: session.execute(text("INSERT INTO items (name) VALUES ('a')")))
        assert await _names(tx) == ["a"]
        assert len(sent) == off_loop  # the INSERT's commit; the DDL and the read change no rows
    finally:
        await engine.dispose()


class _SeenCommits(sqlite3.Connection):
    """A connection that notes the thread of each commit and can hold back one made off the loop
    (a durable write's, as if its fsync were slow). A read's commit runs on the loop's thread:
    holding that would stall the loop itself, not stand for a sync."""

    threads: list[int]
    gate: threading.Event
    loop_thread: int

    def commit(self) -> None:
        _SeenCommits.threads.append(threading.get_ident())
        if threading.get_ident() != _SeenCommits.loop_thread:
            _SeenCommits.gate.wait(timeout=10)
        super().commit()


@pytest.fixture(params=[False, True], ids=["orm-session", "kept-connections"])
async def durable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Transactions]:
    """A synchronous=FULL file whose commits are seen (and can be held) by `_SeenCommits`; its
    writes through an ORM session, or begun and committed on the driver (kept connections)."""
    _SeenCommits.threads, _SeenCommits.gate = [], threading.Event()
    _SeenCommits.loop_thread = threading.get_ident()
    _SeenCommits.gate.set()
    path = tmp_path / "durable.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", sqlite_synchronous="FULL",
                           async_creator=inline_connector(str(path), commit_off_loop=True, factory=_SeenCommits))
    tx = Transactions(engine, keep_connections=request.param)
    await tx.write(lambda session: session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")))
    _SeenCommits.threads.clear()
    yield tx
    _SeenCommits.gate.set()
    await tx.close()
    await engine.dispose()


async def test_a_durable_write_commits_off_the_loop_thread(durable: Transactions) -> None:
    await durable.write(lambda session: session.execute(text("INSERT INTO items (name) VALUES ('a')")))

    assert _SeenCommits.threads and threading.get_ident() not in _SeenCommits.threads
    assert await _names(durable) == ["a"]


async def test_a_read_commits_on_the_loop_thread(durable: Transactions) -> None:
    await _names(durable)

    assert _SeenCommits.threads == [threading.get_ident()]


async def test_the_loop_serves_others_while_a_durable_commit_syncs(durable: Transactions) -> None:
    _SeenCommits.gate.clear()  # the commit "syncs" until the gate opens
    write = asyncio.create_task(durable.write(lambda session: session.execute(text("INSERT INTO items (name) VALUES ('a')"))))
    while not _SeenCommits.threads:
        await asyncio.sleep(0.001)

    assert await _names(durable) == []  # a reader runs meanwhile, and sees nothing uncommitted
    _SeenCommits.gate.set()
    await write
    assert await _names(durable) == ["a"]


async def test_a_write_cancelled_during_its_commit_ends_committed_and_leaves_the_file_usable(
        durable: Transactions) -> None:
    _SeenCommits.gate.clear()
    write = asyncio.create_task(durable.write(lambda session: session.execute(text("INSERT INTO items (name) VALUES ('a')"))))
    while not _SeenCommits.threads:
        await asyncio.sleep(0.001)

    write.cancel()
    await asyncio.sleep(0.01)
    assert not write.done()  # it waits for the commit rather than abandon the connection mid-commit
    _SeenCommits.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await write
    await durable.write(lambda session: session.execute(text("INSERT INTO items (name) VALUES ('b')")))
    assert await _names(durable) == ["a", "b"]
