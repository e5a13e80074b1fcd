"""The runner: paces the flow (open loop: a paced call is timed from when it was due, and a run
that falls behind says so), stops at the plan's end, cancels only orders that may still
rest, counts failed calls by code and goes on. A recording driver stands in for a transport
(the transports themselves run against real processes in tests/e2e/test_load_cli.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from services.load.accounts import Trader
from services.load.drivers import Answer
from services.load.flow import Flow, Mix, Place
from services.load.report import figures
from services.load.runner import Plan, Run

TRADERS = [Trader(f"t{index}", "token") for index in range(4)]


class RecordingDriver:
    """Answers every other order OPEN and the rest FILLED; optionally fails every n-th call."""

    def __init__(self, fail_every: int = 0) -> None:
        self.placed: list[tuple[str, str]] = []  # (request_id, order)
        self.cancelled: list[str] = []
        self.fail_every = fail_every

    async def place(self, trader: Trader, action: Place, request_id: str) -> Answer:
        if self.fail_every and (len(self.placed) + 1) % self.fail_every == 0:
            self.placed.append((request_id, ""))
            return Answer("UNAVAILABLE")
        order = f"orders/{action.number}"
        self.placed.append((request_id, order))
        return Answer("OK", order, "ORDER_STATE_OPEN" if action.number % 2 == 0 else "ORDER_STATE_FILLED")

    async def cancel(self, trader: Trader, order: str, request_id: str) -> Answer:
        self.cancelled.append(order)
        return Answer("OK", order, "ORDER_STATE_CANCELLED")

    async def close(self) -> None:
        pass


async def test_the_run_stops_after_the_planned_number_of_actions() -> None:
    driver = RecordingDriver()
    run = Run(driver, TRADERS, Flow(1, 4), Plan(workers=4, duration_secs=0, actions=200, run_id="r"))
    await run.run()
    assert len(driver.placed) + len(driver.cancelled) == 200


async def test_a_rate_paces_the_actions() -> None:
    driver = RecordingDriver()
    run = Run(driver, TRADERS, Flow(1, 4), Plan(workers=4, rate=50, duration_secs=0.5, run_id="r"))
    elapsed = await run.run()
    sent = len(driver.placed) + len(driver.cancelled)
    assert 20 <= sent <= 50 * elapsed + 4  # at most one early action per worker


async def test_only_orders_answered_open_are_cancelled_and_each_once() -> None:
    driver = RecordingDriver()
    await Run(driver, TRADERS, Flow(3, 4), Plan(workers=1, duration_secs=0, actions=2000, run_id="r")).run()
    assert driver.cancelled
    assert all(int(order.removeprefix("orders/")) % 2 == 0 for order in driver.cancelled)
    assert len(set(driver.cancelled)) == len(driver.cancelled)


async def test_failed_calls_are_counted_by_code_and_the_flow_goes_on() -> None:
    driver = RecordingDriver(fail_every=4)
    run = Run(driver, TRADERS, Flow(5, 4), Plan(workers=2, duration_secs=0, actions=400, run_id="r"))
    await run.run()
    assert run.samples.place_codes["UNAVAILABLE"] == len(driver.placed) // 4
    assert run.samples.place_codes["OK"] == len(driver.placed) - len(driver.placed) // 4
    assert len(run.samples.place_ms) == len(driver.placed)


async def test_every_request_id_is_new_and_carries_the_run_id() -> None:
    driver = RecordingDriver()
    await Run(driver, TRADERS, Flow(7, 4), Plan(workers=8, duration_secs=0, actions=500, run_id="run42")).run()
    ids = [request_id for request_id, _ in driver.placed]
    assert len(set(ids)) == len(ids) and all(request_id.startswith("run42-") for request_id in ids)


async def test_stop_ends_a_run_without_an_end_of_its_own() -> None:
    driver = RecordingDriver()
    run = Run(driver, TRADERS, Flow(9, 4), Plan(workers=2, rate=100, duration_secs=0, run_id="r"))
    task = asyncio.create_task(run.run())
    await asyncio.sleep(0.2)
    run.stop()
    await asyncio.wait_for(task, 2)
    assert driver.placed


class SimulatedTime:
    """A clock that moves only when a worker sleeps or a call takes its time: the pacing is
    checked exactly, without timing anything (one worker, so the order of events is fixed)."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, secs: float) -> None:
        self.now += max(0.0, secs)
        await asyncio.sleep(0)


class TimedDriver(RecordingDriver):
    """Each PlaceOrder takes `secs(n)` of simulated time, n counting the calls from 0."""

    def __init__(self, time: SimulatedTime, secs: Callable[[int], float]) -> None:
        super().__init__()
        self.time, self.secs = time, secs

    async def place(self, trader: Trader, action: Place, request_id: str) -> Answer:
        self.time.now += self.secs(len(self.placed))
        return await super().place(trader, action, request_id)


NO_CANCELS = Mix(cancel=0.0)


def paced_run(secs: Callable[[int], float], plan: Plan) -> tuple[Run, SimulatedTime]:
    time = SimulatedTime()
    run = Run(TimedDriver(time, secs), TRADERS, Flow(1, 4, NO_CANCELS), plan, clock=time.clock, sleep=time.sleep)
    return run, time


async def test_a_paced_call_is_timed_from_when_it_was_due_not_from_when_it_was_sent() -> None:
    # Due every 100 ms, each takes 250 ms: call k is due at 0.1 k, goes out at 0.25 k, answers at 0.25 (k + 1).
    run, _ = paced_run(lambda n: 0.25, Plan(workers=1, rate=10, duration_secs=0, actions=5, run_id="r"))
    await run.run()
    assert run.samples.place_ms == pytest.approx([250.0, 400.0, 550.0, 700.0, 850.0])


async def test_a_stall_shows_in_every_call_that_was_due_while_it_lasted() -> None:
    # Call 2 (due at 0.2 s) takes a whole second; calls 3..11 fell due meanwhile and went out at 1.2 s on.
    run, _ = paced_run(lambda n: 1.0 if n == 2 else 0.001, Plan(workers=1, rate=10, duration_secs=0, actions=12,
                                                                 run_id="r"))
    await run.run()
    latencies = run.samples.place_ms
    assert latencies[2] == pytest.approx(1000.0)
    assert latencies[3] == pytest.approx(1200.0 - 300.0 + 1.0)  # due 0.3 s, sent 1.2 s, answered 1.201 s
    assert all(latencies[k] > 1200.0 - 100.0 * k for k in range(3, 12))


async def test_as_fast_as_possible_a_call_is_timed_from_its_send() -> None:
    run, _ = paced_run(lambda n: 0.25, Plan(workers=1, rate=0, duration_secs=0, actions=5, run_id="r"))
    await run.run()
    assert run.samples.place_ms == pytest.approx([250.0] * 5)


async def test_a_paced_run_that_keeps_up_sends_what_was_due_in_its_window_and_nothing_after() -> None:
    run, time = paced_run(lambda n: 0.001, Plan(workers=1, rate=10, duration_secs=1.0, run_id="r"))
    elapsed = await run.run()
    result = figures(run.samples, elapsed, "grpc", offered_per_sec=10)
    assert result["place_calls"] == 10  # due at 0.0 .. 0.9 s
    assert elapsed == 1.0 and time.now < 1.0
    assert result["behind"] == 0 and result["actions_per_sec"] == 10.0
    assert result["kept_up"] is True


async def test_a_paced_run_that_falls_behind_says_so() -> None:
    # Offered 100 a second for 1 s; one worker answered in 50 ms manages 20 of them.
    run, _ = paced_run(lambda n: 0.05, Plan(workers=1, rate=100, duration_secs=1.0, run_id="r"))
    elapsed = await run.run()
    result = figures(run.samples, elapsed, "grpc", offered_per_sec=100)
    assert result["place_calls"] == 20
    assert result["behind"] == 80
    assert result["kept_up"] is False
    # The 80 never sent count with what they had waited at the end (call 20, due at 0.2 s: 800 ms) beside
    # the 20 sent (the last due at 0.19 s, answered at 1.0 s: 810 ms), so the p99 is no better than 800 ms.
    assert len(run.samples.place_ms) == 100
    assert result["place_p99_ms"] == pytest.approx(800.0)
