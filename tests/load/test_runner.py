"""The runner: paces the flow, stops at the plan's end, cancels only orders that may still
rest, counts failed calls by code and goes on. A recording driver stands in for a transport
(the transports themselves run against real processes in tests/e2e/test_load_cli.py)."""

from __future__ import annotations

import asyncio

from services.load.accounts import Trader
from services.load.drivers import Answer
from services.load.flow import Flow, Place
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
