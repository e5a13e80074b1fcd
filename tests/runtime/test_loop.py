"""Every clearmesh process, and every test, runs on the runtime's loop: uvloop."""

from __future__ import annotations

import asyncio

import uvloop

from services.runtime import loop


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_processes_run_on_uvloop() -> None:
    assert isinstance(loop.run(_running_loop()), uvloop.Loop)


def test_run_gives_back_what_the_coroutine_returns() -> None:
    async def answer() -> int:
        return 42

    assert loop.run(answer()) == 42


async def test_tests_run_on_the_same_loop_as_the_processes() -> None:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
