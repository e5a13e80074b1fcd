"""The SQLite appender commits a batch whole or not at all and never makes the loop wait: not
for another writer's lock, not for a checkpoint, not (synchronous=FULL) for the log's fsync.
Every behaviour holds under both synchronous modes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from services.matching import sqlite_appender
from services.matching.sqlite_appender import SqliteAppender

INSERT = "INSERT INTO log (id, body) VALUES (?, ?)"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "append.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    return path


@pytest.fixture(params=["FULL", "NORMAL"])
def synchronous(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def rows(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT id, body FROM log ORDER BY id").fetchall()


async def test_a_batch_commits_every_statement(database: Path, synchronous: str) -> None:
    appender = SqliteAppender(str(database), synchronous)

    await appender.write([(INSERT, [(1, "a")]), (INSERT, [(2, "b"), (3, "c")])])
    await appender.close()

    assert rows(database) == [(1, "a"), (2, "b"), (3, "c")]


async def test_a_failing_statement_leaves_nothing_of_its_batch(database: Path, synchronous: str) -> None:
    appender = SqliteAppender(str(database), synchronous)

    with pytest.raises(sqlite3.IntegrityError):
        await appender.write([(INSERT, [(1, "a")]), (INSERT, [(1, "duplicate")])])
    await appender.write([(INSERT, [(2, "b")])])
    await appender.close()

    assert rows(database) == [(2, "b")]


async def test_another_writers_lock_is_waited_for_off_the_loop(database: Path, synchronous: str) -> None:
    other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute(INSERT, (1, "first"))
    appender = SqliteAppender(str(database), synchronous)

    write = asyncio.ensure_future(appender.write([(INSERT, [(2, "second")])]))
    ticks_while_waiting = 0
    for _ in range(20):  # the loop keeps running while the batch waits for the lock
        await asyncio.sleep(0.005)
        ticks_while_waiting += not write.done()
    other.execute("COMMIT")
    await asyncio.wait_for(write, 10)
    await appender.close()
    other.close()

    assert ticks_while_waiting == 20
    assert rows(database) == [(1, "first"), (2, "second")]


async def test_batches_that_wait_for_a_lock_together_each_commit(database: Path, synchronous: str) -> None:
    other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    appender = SqliteAppender(str(database), synchronous)

    writes = [asyncio.ensure_future(appender.write([(INSERT, [(index, str(index))])])) for index in range(5)]
    await asyncio.sleep(0.05)
    other.execute("COMMIT")
    await asyncio.wait_for(asyncio.gather(*writes), 10)
    await appender.close()
    other.close()

    assert sorted(rows(database)) == [(index, str(index)) for index in range(5)]


async def test_the_log_is_checkpointed_into_the_database_file_in_the_background(
        database: Path, synchronous: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_appender, "CHECKPOINT_BYTES", 100_000)
    reader = sqlite3.connect(database)  # open throughout, so no connection's close checkpoints
    appender = SqliteAppender(str(database), synchronous)
    size_before = database.stat().st_size

    for index in range(30):
        await appender.write([(INSERT, [(index, "x" * 10_000)])])
    await appender.close()  # waits for a checkpoint in flight
    size_after = database.stat().st_size
    reader.close()

    assert size_after > size_before + 100_000


@pytest.mark.parametrize(("mode", "on_the_loop"), [("FULL", False), ("NORMAL", True)])
async def test_a_commit_that_fsyncs_runs_off_the_loops_thread(
        database: Path, mode: str, on_the_loop: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    committed_on: list[threading.Thread] = []
    real = sqlite_appender._transaction

    def recorded(connection: sqlite3.Connection, statements: list[sqlite_appender.Statement]) -> None:
        committed_on.append(threading.current_thread())
        real(connection, statements)

    monkeypatch.setattr(sqlite_appender, "_transaction", recorded)
    appender = SqliteAppender(str(database), mode)

    await appender.write([(INSERT, [(1, "a")])])
    await appender.close()

    assert (committed_on == [threading.current_thread()]) is on_the_loop
    assert rows(database) == [(1, "a")]
