"""A deterministic event loop: virtual time, no threads, and a hook where the loop goes idle.

The services are asyncio code that sleeps (backoffs, pollers, deadlines) and talks to SQLite
through aiosqlite, whose worker thread finishes on its own schedule. Under the simulation:

- time is virtual: `loop.time()` moves only when the simulator advances it to the next timer,
  so a 2 s repair interval costs nothing and fires at the same point of every run;
- there are no threads: aiosqlite's calls and `run_in_executor`/`asyncio.to_thread` run at
  once on the loop's thread (the same SQL on the same files, only synchronous);
- the loop never blocks in `select`: where it would wait (nothing ready), it calls `on_idle`
  instead. That is the one point where the simulator decides what happens next.

With those three, a run depends only on its seed (and PYTHONHASHSEED, which orders sets of
strings: the CLI pins it).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import itertools
import math
import re
import selectors
import sqlite3
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator
from functools import partial
from random import Random
from typing import Any

import aiosqlite.core

from services.runtime import random_ids

# The simulated process a task belongs to; every task a node starts inherits it.
NODE: contextvars.ContextVar[str | None] = contextvars.ContextVar("simulated_node", default=None)


BUSY_LIMIT = 200_000
TINY_WAIT = 1e-6
TIME_GRID = 2.0**-20


class BusyLoop(RuntimeError):
    pass


class _IdleSelector(selectors.SelectSelector):
    """Registers the loop's own file descriptors but never waits on them."""

    def __init__(self, on_idle: Callable[[float | None], None], advance: Callable[[float], None]) -> None:
        super().__init__()
        self._on_idle = on_idle
        self._advance = advance
        self._busy = 0

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is not None and 0 < timeout < TINY_WAIT:
            # A timer due within float rounding of now (a linger computed as 0.005 - 0.00499…):
            # let it come due, or it fires "early" again and again without time moving.
            self._busy = 0
            self._advance(timeout)
        elif timeout is None or timeout > 0:  # nothing is ready: the loop would wait here
            self._busy = 0
            self._on_idle(timeout)
        else:
            self._busy += 1
            if self._busy > BUSY_LIMIT:
                # Virtual time stands still while anything is ready: code that polls without
                # ever sleeping would spin here forever (and burn a core in production).
                raise BusyLoop(f"{BUSY_LIMIT} loop turns without ever waiting")
        return []


class SimLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._virtual = 0.0
        # Each node's live tasks with their creation number: a crash cancels them in creation
        # order (a WeakSet would iterate them by address, which differs from run to run, and
        # the order they are cancelled in is the order they unwind in).
        self.tasks_by_node: dict[str, weakref.WeakKeyDictionary[asyncio.Task[Any], int]] = {}
        self._created = itertools.count()
        self.idle_hook: Callable[[float | None], None] = lambda _timeout: None
        # When a list: every callback the loop is handed, in order (see `scheduled`).
        self.schedule: list[str] | None = None
        super().__init__(selector=_IdleSelector(lambda timeout: self.idle_hook(timeout), self.advance))

    def create_task(self, coro: Any, *, name: object = None,
                    context: contextvars.Context | None = None) -> asyncio.Task[Any]:
        """Every task is recorded under the node whose context created it, so a crash can stop
        all of that node's tasks (asyncio.create_task and ensure_future come here too)."""
        task = super().create_task(coro, name=name, context=context)
        node = context.get(NODE) if context is not None else NODE.get()
        if node is not None:
            self.tasks_by_node.setdefault(node, weakref.WeakKeyDictionary())[task] = next(self._created)
        return task

    def pop_tasks(self, node: str) -> list[asyncio.Task[Any]]:
        """The node's live tasks, oldest first; forgotten here."""
        tasks = self.tasks_by_node.pop(node, weakref.WeakKeyDictionary())
        return sorted(tasks, key=tasks.__getitem__)

    # The loop runs its callbacks in the order they are handed to it (timers once due): recorded,
    # that order shows a replay that went another way inside a step even when the steps agree.
    def call_soon(self, callback: Callable[..., Any], *args: Any,  # type: ignore[override]
                  context: contextvars.Context | None = None) -> asyncio.Handle:
        if self.schedule is not None:
            self.schedule.append(scheduled(callback))
        return super().call_soon(callback, *args, context=context)

    def call_soon_threadsafe(self, callback: Callable[..., Any], *args: Any,  # type: ignore[override]
                             context: contextvars.Context | None = None) -> asyncio.Handle:
        if self.schedule is not None:  # from another thread: the replay depends on when it came
            self.schedule.append("from a thread: " + scheduled(callback))
        return super().call_soon_threadsafe(callback, *args, context=context)

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any,  # type: ignore[override]
                context: contextvars.Context | None = None) -> asyncio.TimerHandle:
        if self.schedule is not None:
            self.schedule.append(f"at {when:.6f}: {scheduled(callback)}")
        return super().call_at(when, callback, *args, context=context)

    def time(self) -> float:
        return self._virtual

    def advance(self, seconds: float) -> None:
        """Time moves to a point of a 2^-20 s grid at or past the target: differences of
        grid points are exact, so a poller that waits 0.005 s sees at least 0.005 s pass
        (with float drift it could see 0.00499… and spin on a wait too small to move time)."""
        target = self._virtual + max(seconds, 0.0)
        self._virtual = math.ceil(target / TIME_GRID) * TIME_GRID

    def run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:  # type: ignore[override]
        future = self.create_future()
        try:
            future.set_result(func(*args))
        except BaseException as error:  # noqa: BLE001 - handed to the awaiting caller
            future.set_exception(error)
        return future


_DEFAULT_TASK_NAME = re.compile(r"Task-\d+")


def scheduled(callback: Callable[..., Any]) -> str:
    """A callback as the same callback reads in every run: a task by its name and where its
    coroutines stand; nothing by address (that differs from run to run), nor by asyncio's
    default task names (numbered across the whole process)."""
    task = getattr(callback, "__self__", None)
    if not isinstance(task, asyncio.Task):
        return getattr(callback, "__qualname__", type(callback).__name__)
    name = task.get_name()
    where: list[str] = [] if _DEFAULT_TASK_NAME.fullmatch(name) else [name]
    awaiting: Any = task.get_coro()
    while awaiting is not None:
        frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "gi_frame", None) \
            or getattr(awaiting, "ag_frame", None)
        if frame is None:
            break
        where.append(f"{frame.f_code.co_qualname}:{frame.f_lineno}")
        awaiting = getattr(awaiting, "cr_await", None) or getattr(awaiting, "gi_yieldfrom", None) \
            or getattr(awaiting, "ag_await", None)
    return " > ".join(where)


# ------------------------------------------------------------------ synchronous aiosqlite

async def _execute(self: aiosqlite.core.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if not self._running or not self._connection:
        raise ValueError("Connection closed")
    return partial(fn, *args, **kwargs)()


class _Immediate:
    """Stands for aiosqlite's queue to its worker thread (SQLAlchemy's adapter also uses it
    directly): each function runs as it is put, its future resolved at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:  # noqa: BLE001 - handed to whoever awaits the future
            if future is not None:
                future.set_exception(error)
        else:
            if future is not None:
                future.set_result(result)


async def _connect(self: aiosqlite.core.Connection) -> aiosqlite.core.Connection:
    self._tx = _Immediate()  # type: ignore[assignment]
    if self._connection is None:
        self._connection = self._connector()
    return self


def _await(self: aiosqlite.core.Connection) -> Any:
    return self._connect().__await__()


def _stop(self: aiosqlite.core.Connection) -> None:
    self._running = False
    if self._connection is not None:
        self._connection.close()
        self._connection = None


class Connections:
    """Every SQLite connection opened during the run, by the node that opened it: a crash
    closes its node's connections, as the OS does for a killed process (releasing its locks)."""

    def __init__(self) -> None:
        self.by_node: dict[str, list[sqlite3.Connection]] = {}

    def opened(self, connection: sqlite3.Connection) -> sqlite3.Connection:
        node = NODE.get()
        if node is not None:
            self.by_node.setdefault(node, []).append(connection)
        return connection

    def close_all(self, node: str) -> None:
        for connection in self.by_node.pop(node, []):
            with contextlib.suppress(sqlite3.Error):
                connection.close()


def collect_garbage() -> None:
    """A collection where the simulation says (the collector is off during a run), of the young
    generations only: what was allocated since the last collection, which once the run's start
    has collected is the run's own objects (and any other thread's). A full collection walks
    every object of the process, ~80 ms each time here and more after a whole test suite: about
    40 % of seed 5's 120 steps, with its four crashes. What survived an earlier collection stays
    until the run is over, the same in every run of a seed."""
    gc.collect(1)


def _on_this_thread(patched: Callable[..., Any], real: Callable[..., Any]) -> Callable[..., Any]:
    """`patched` when called on the thread that runs the simulation, `real` on any other.

    The patches are process-wide, but other threads may be running code of their own: in the
    full suite, the live stacks of the edge and hostile-input tests (session fixtures) serve and
    poll on a background thread, and their interceptors call uuid4 for every call they take.
    Drawn from the simulation's seed, those draws would shift the order ids the simulation gets
    by however many calls happened to land during its run."""
    here = threading.get_ident()

    def dispatch(*args: Any, **kwargs: Any) -> Any:
        return (patched if threading.get_ident() == here else real)(*args, **kwargs)

    return dispatch


@contextlib.contextmanager
def deterministic_io(random: Random, connections: Connections) -> Iterator[None]:
    """On this thread: aiosqlite without its thread, SQLite connections tracked, uuid4 drawn
    from `random`. Other threads keep the real ones."""
    patches: dict[str, Callable[..., Any]] = {"_execute": _execute, "_connect": _connect, "__await__": _await,
                                              "stop": _stop}
    saved = {name: getattr(aiosqlite.core.Connection, name) for name in patches}
    real_connect, real_uuid4, real_ids_uuid4 = sqlite3.connect, uuid.uuid4, random_ids.uuid4

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return connections.opened(real_connect(*args, **kwargs))

    def uuid4() -> uuid.UUID:
        return uuid.UUID(int=random.getrandbits(128), version=4)

    for name, patch in patches.items():
        setattr(aiosqlite.core.Connection, name, _on_this_thread(patch, saved[name]))
    sqlite3.connect = _on_this_thread(connect, real_connect)
    uuid.uuid4 = _on_this_thread(uuid4, real_uuid4)
    # The services' own ids (order ids, correlation ids) come from the runtime's buffer of
    # randomness, not uuid.uuid4: drawn from the seed as well.
    random_ids.uuid4 = _on_this_thread(uuid4, real_ids_uuid4)
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(aiosqlite.core.Connection, name, method)
        sqlite3.connect = real_connect
        uuid.uuid4 = real_uuid4
        random_ids.uuid4 = real_ids_uuid4
