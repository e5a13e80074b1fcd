"""Send the flow through a driver: `workers` calls in flight at most, at `rate` actions a
second (0: as fast as the mesh answers), for `duration` seconds or `actions` actions.

Latency is timed from the moment a call is sent; with a rate set, a worker that falls behind
its schedule sends at once (so a stalled mesh shows as lower throughput and higher latency,
not as a pause the figures miss). A failed call is counted by its code and the flow goes on:
under `kill -9` the load keeps coming, as real clients' would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.load.accounts import Trader
from services.load.drivers import Driver
from services.load.flow import Cancel, Flow
from services.load.report import Samples, percentile

LIVE = ("ORDER_STATE_OPEN", "ORDER_STATE_PARTIALLY_FILLED")
PROGRESS_SECS = 1.0


@dataclass(frozen=True)
class Plan:
    workers: int = 32
    rate: float = 0.0  # actions a second; 0 = as fast as possible
    duration_secs: float = 10.0
    actions: int = 0  # stop after this many actions too (0 = no count limit)
    run_id: str = "load"  # prefix of every request_id: a second run never collides with the first


class Run:
    def __init__(self, driver: Driver, traders: list[Trader], flow: Flow, plan: Plan,
                 samples: Samples | None = None) -> None:
        if flow.traders != len(traders):
            raise ValueError("the flow and the trader list disagree on how many traders there are")
        self.driver, self.traders, self.flow, self.plan = driver, traders, flow, plan
        self.samples = samples or Samples()
        self._live: dict[int, str] = {}  # flow number → the order it placed, while it may rest
        self._sent = 0
        self.started = 0.0
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """End the run early (the chaos test stops its load this way)."""
        self._stop.set()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def _over(self) -> bool:
        plan = self.plan
        return (self._stop.is_set() or (plan.duration_secs > 0 and self.elapsed() >= plan.duration_secs)
                or (plan.actions > 0 and self._sent >= plan.actions))

    async def _worker(self) -> None:
        plan, samples = self.plan, self.samples
        while not self._over():
            action = next(self.flow)
            if isinstance(action, Cancel) and action.number not in self._live:
                continue  # its order failed, traded at once, or is still being placed: nothing to cancel
            slot = self._sent
            self._sent += 1
            if plan.rate > 0 and (wait := self.started + slot / plan.rate - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            trader = self.traders[action.trader]
            if isinstance(action, Cancel):
                answer = await self.driver.cancel(trader, self._live.pop(action.number),
                                                  f"{plan.run_id}-c{action.number}")
                samples.cancel_codes[answer.code] += 1
                continue
            began = time.perf_counter()
            answer = await self.driver.place(trader, action, f"{plan.run_id}-{action.number}")
            samples.place_ms.append((time.perf_counter() - began) * 1000)
            samples.place_codes[answer.code] += 1
            samples.crossing += action.crossing
            if answer.ok:
                samples.states[answer.state] += 1
                samples.accepted[answer.order] = answer.state
                if answer.state in LIVE:
                    self._live[action.number] = answer.order

    async def _progress(self, show: Callable[[str], None]) -> None:
        last_count, last_time = 0, self.started
        while True:
            await asyncio.sleep(PROGRESS_SECS)
            now, count = time.perf_counter(), self.samples.placed
            recent = self.samples.place_ms[-2000:]
            errors = sum(self.samples.place_codes.values()) - count
            show(f"[{now - self.started:6.1f} s] placed {count} ({(count - last_count) / (now - last_time):.0f}/s now, "
                 f"{count / (now - self.started):.0f}/s overall), errors {errors}, "
                 f"p99 {percentile(recent, 0.99):.1f} ms")
            last_count, last_time = count, now

    async def run(self, show: Callable[[str], None] | None = None) -> float:
        """Run to the end of the plan; returns the elapsed seconds."""
        self.started = time.perf_counter()
        progress = asyncio.create_task(self._progress(show)) if show else None
        try:
            await asyncio.gather(*(self._worker() for _ in range(self.plan.workers)))
        finally:
            if progress:
                progress.cancel()
        return self.elapsed()
