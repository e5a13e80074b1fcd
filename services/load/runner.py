"""Send the flow through a driver: `workers` calls in flight at most, at `rate` actions a
second (0: as fast as the mesh answers), for `duration` seconds or `actions` actions.

With a rate the run is an open loop (services/load/pacing.py): action k is due at
start + k / rate whichever worker sends it, and a PlaceOrder's latency runs from when it was
due, not from when a free worker sent it, so a stalled mesh shows as latency (and as calls
left unsent when the run ends: `behind`), not as a pause the figures miss. As fast as
possible (rate 0), latency runs from the send: at saturation it is mostly the workers' own
queue. A failed call is counted by its code and the flow goes on: under `kill -9` the load
keeps coming, as real clients' would."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.load.accounts import Trader
from services.load.drivers import Driver
from services.load.flow import Cancel, Flow
from services.load.pacing import Schedule
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
                 samples: Samples | None = None, clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if flow.traders != len(traders):
            raise ValueError("the flow and the trader list disagree on how many traders there are")
        self.driver, self.traders, self.flow, self.plan = driver, traders, flow, plan
        self.samples = samples or Samples()
        self._clock, self._sleep = clock, sleep  # a test's simulated time, or the real one
        self._live: dict[int, str] = {}  # flow number → the order it placed, while it may rest
        self._sent = 0
        self._schedule: Schedule | None = None  # with a rate: when each action is due
        self.started = 0.0
        self._stop = asyncio.Event()
        self._stopped_at = math.inf

    def stop(self) -> None:
        """End the run early (the chaos test stops its load this way)."""
        if not self._stop.is_set():
            self._stopped_at = self._clock()
        self._stop.set()

    def elapsed(self) -> float:
        return self._clock() - self.started

    def _over(self) -> bool:
        plan = self.plan
        return (self._stop.is_set() or (plan.duration_secs > 0 and self.elapsed() >= plan.duration_secs)
                or (plan.actions > 0 and self._sent >= plan.actions))

    async def _worker(self) -> None:
        plan, samples, schedule = self.plan, self.samples, self._schedule
        while not self._over():
            action = next(self.flow)
            if isinstance(action, Cancel) and action.number not in self._live:
                continue  # its order failed, traded at once, or is still being placed: nothing to cancel
            due = schedule.take() if schedule is not None else None
            if schedule is not None and due is None:
                return  # the next action would be due after the run's end
            self._sent += 1
            began = self._clock()
            if due is not None:
                if due > began:
                    await self._sleep(due - began)
                    if self._stop.is_set():
                        return
                began = due  # late or not, the call's latency runs from when it was due
            trader = self.traders[action.trader]
            if isinstance(action, Cancel):
                answer = await self.driver.cancel(trader, self._live.pop(action.number),
                                                  f"{plan.run_id}-c{action.number}")
                samples.cancel_codes[answer.code] += 1
                continue
            answer = await self.driver.place(trader, action, f"{plan.run_id}-{action.number}")
            samples.place_ms.append((self._clock() - began) * 1000)
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
            now, count = self._clock(), self.samples.placed
            recent = self.samples.place_ms[-2000:]
            errors = sum(self.samples.place_codes.values()) - count
            behind = f", {self._schedule.behind(now)} due and not sent" if self._schedule else ""
            show(f"[{now - self.started:6.1f} s] placed {count} ({(count - last_count) / (now - last_time):.0f}/s now, "
                 f"{count / (now - self.started):.0f}/s overall), errors {errors}, "
                 f"p99 {percentile(recent, 0.99):.1f} ms{behind}")
            last_count, last_time = count, now

    async def run(self, show: Callable[[str], None] | None = None) -> float:
        """Run to the end of the plan; returns the elapsed seconds (with a rate and a duration,
        at least the duration: the window the actions were offered in)."""
        plan = self.plan
        self.started = self._clock()
        if plan.rate > 0:
            end = self.started + plan.duration_secs if plan.duration_secs > 0 else math.inf
            self._schedule = Schedule(plan.rate, self.started, end)
        progress = asyncio.create_task(self._progress(show)) if show else None
        try:
            await asyncio.gather(*(self._worker() for _ in range(plan.workers)))
        finally:
            if progress:
                progress.cancel()
        elapsed = self.elapsed()
        if self._schedule is not None:
            finished = min(self._clock(), self._stopped_at)
            waits = self._schedule.waits_ms(finished)
            if plan.actions > 0:
                waits = waits[:max(0, plan.actions - self._schedule.taken)]
            self.samples.behind = len(waits)
            # Lower bounds: what each had waited when the run ended (see Schedule.waits_ms).
            self.samples.place_ms.extend(waits)
            if not self._stop.is_set() and plan.duration_secs > 0:
                elapsed = max(elapsed, plan.duration_secs)
        return elapsed
