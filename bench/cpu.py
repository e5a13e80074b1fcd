"""CPU that processes use over a window, sampled from /proc (Linux).

Sampled every few ms while it runs, so the window can begin at a moment only known afterwards
(the settlement bench's starts when the first trade was recorded, inside a process that was
starting up until then). A process found after the window began counts whole: it began in it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU the process `pid` has used so far; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


class CpuSampler:
    """Samples the CPU of the processes `find` names (pid → label, asked again every
    `refresh_secs`) every `every_secs` until stopped."""

    def __init__(self, find: Callable[[], Awaitable[dict[int, str]]], every_secs: float = 0.01,
                 refresh_secs: float = 0.05) -> None:
        self._find = find
        self._every, self._refresh = every_secs, refresh_secs
        self._labels: dict[int, str] = {}
        self._times: list[float] = []  # time.time() of each sample
        self._samples: list[dict[int, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample()  # the end of the window

    async def _run(self) -> None:
        found_at = 0.0
        while True:
            if time.monotonic() - found_at >= self._refresh:
                self._labels.update(await self._find())
                found_at = time.monotonic()
            self._sample()
            await asyncio.sleep(self._every)

    def _sample(self) -> None:
        now = time.time()
        sample = {pid: seconds for pid in self._labels if (seconds := cpu_seconds(pid)) is not None}
        self._times.append(now)
        self._samples.append(sample)

    def used(self, since: float, until: float) -> dict[str, float]:
        """CPU seconds each label's processes used from `since` to `until` (time.time()s; the
        samples at or just before `since` and at or just after `until`)."""
        at = max(0, bisect.bisect_right(self._times, since) - 1)
        end = min(len(self._times) - 1, bisect.bisect_left(self._times, until))
        before, last = self._samples[at], self._samples[end]
        used: dict[str, float] = {}
        for pid, seconds in last.items():
            label = self._labels[pid]
            used[label] = used.get(label, 0.0) + seconds - before.get(pid, 0.0)
        return used


def cpu_seconds_of(processes: Mapping[str, subprocess.Popen[bytes]]) -> dict[str, float]:
    """User + system CPU each named process has used so far (every thread); an error if one
    has gone (its figures would be missing, not small)."""
    used = {}
    for name, process in processes.items():
        seconds = cpu_seconds(process.pid) if process.poll() is None else None
        if seconds is None:
            raise RuntimeError(f"{name} (pid {process.pid}) has exited")
        used[name] = seconds
    return used
