"""The event loop every clearmesh process runs on: uvloop (libuv) where it exists, asyncio's own
elsewhere (uvloop has no Windows build).

Measured in bench/matching.py's journaled run, where each durable command is a future set, a
callback scheduled and a task woken: uvloop does that bookkeeping in C. grpc.aio, uvicorn and
asyncpg all run on it, and the test suite runs on the same loop (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

try:
    import uvloop
except ImportError:  # pragma: no cover - platforms without uvloop
    uvloop = None  # type: ignore[assignment]  # optional: the module, or None without it


def new_event_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on the runtime's loop."""
    if uvloop is None:  # pragma: no cover
        return asyncio.run(main)
    return uvloop.run(main)
