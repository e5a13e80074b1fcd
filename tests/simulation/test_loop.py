"""The simulation's event loop: virtual time, no threads, and a loop that cannot spin silently."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path
from random import Random

import aiosqlite
import pytest

from tests.testkit.simulation.loop import BusyLoop, Connections, SimLoop, deterministic_io


def _run(loop: SimLoop, work: object) -> object:
    try:
        return loop.run_until_complete(work)  # type: ignore[arg-type]
    finally:
        loop.close()


def test_an_hour_of_sleep_passes_in_virtual_time_only() -> None:
    loop = SimLoop()
    loop.idle_hook = lambda timeout: loop.advance(timeout or 0.0)
    started = time.perf_counter()
    _run(loop, asyncio.sleep(3600))
    assert loop.time() >= 3600
    assert time.perf_counter() - started < 1.0


def test_time_moves_only_when_the_simulator_moves_it() -> None:
    loop = SimLoop()
    idle: list[float | None] = []

    def on_idle(timeout: float | None) -> None:
        idle.append(timeout)
        loop.advance(timeout or 0.0)

    loop.idle_hook = on_idle
    _run(loop, asyncio.sleep(2.5))
    assert idle == [2.5]


def test_code_that_never_waits_is_reported_instead_of_hanging() -> None:
    async def spin() -> None:
        while True:
            await asyncio.sleep(0)

    with pytest.raises(BusyLoop):
        _run(SimLoop(), spin())


def test_sqlite_runs_on_the_loop_thread(tmp_path: Path) -> None:
    async def query() -> list[int]:
        threads = threading.active_count()
        async with aiosqlite.connect(tmp_path / "t.db") as db:
            rows = await (await db.execute("SELECT 1 + 1")).fetchall()
        assert threading.active_count() == threads  # no worker thread was started
        return [row[0] for row in rows]

    with deterministic_io(Random(1), Connections()):
        assert _run(SimLoop(), query()) == [2]


def test_uuid4_on_another_thread_draws_nothing_from_the_seed() -> None:
    """Another thread's uuid4 (a live stack's interceptor, left running by an earlier test)
    must not shift the ids the simulation gets."""
    with deterministic_io(Random(7), Connections()):
        elsewhere: list[uuid.UUID] = []
        thread = threading.Thread(target=lambda: elsewhere.append(uuid.uuid4()))
        thread.start()
        thread.join()
        here = uuid.uuid4()
    assert here == uuid.UUID(int=Random(7).getrandbits(128), version=4)  # still the seed's first draw
    assert elsewhere and elsewhere[0] != here
