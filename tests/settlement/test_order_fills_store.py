"""The orders' filled notional, written as sets (one INSERT and one UPDATE per intake): what a
later intake reads back is the last figure written for each order, new or known."""

from __future__ import annotations

from typing import Any


async def test_fills_saved_by_two_intakes_read_back_as_the_latest_figures(settled: Any) -> None:
    tx, store = settled.store()
    orders = ["orders/fills-a", "orders/fills-b", "orders/fills-c"]

    first = {orders[0]: 5, orders[1]: 7}
    await tx.write(lambda session: store.save_order_fills(session, {}, first))
    before = await tx.write(lambda session: store.order_fills(session, orders))
    second = {orders[0]: 9, orders[2]: 4}  # one known order grows, one new order appears
    await tx.write(lambda session: store.save_order_fills(session, before, second))

    assert before == first
    assert await tx.read(lambda session: store.order_fills(session, orders)) == {
        orders[0]: 9, orders[1]: 7, orders[2]: 4}
