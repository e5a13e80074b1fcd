"""PlaceOrder's own SQL stays a handful of statements: each is a round trip (on PostgreSQL) and
a span (when traced) on every order, and they were most of its time (bench/order.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from services.order import store
from services.order.service import SPEC
from services.runtime import migrate
from services.runtime.database import create_engine
from services.runtime.transactions import Transactions
from tests.testkit.orders import pending_order

# The lookup (request log, order and notional in one), the insert, the notional added to the
# account's hour and the check that no other replica placed beyond KYC's answer meanwhile (at
# the insert's commit; on PostgreSQL after the account's lock, a statement of its own), the
# answer, the remembered answer; and one more when Matching's event moved the order before its
# answer was recorded.
MOST_STATEMENTS = 8


async def test_placing_an_order_runs_at_most_eight_statements_on_orders_database(
        open_mesh: Any, recorded_spans: InMemorySpanExporter, database_url: str) -> None:
    # Counted by their spans: Order records every statement's (none is too fast for a span).
    async with open_mesh(database_url, sql_span_min_ms=0) as mesh:
        caller = await mesh.trader("alice", deposits={"USDC": "1000"})
        recorded_spans.clear()
        await mesh.place(caller, price="100.00", quantity="0.01")
        url = make_url(mesh.services["order"].runtime.database_url)

    namespace = (url.database or "").rsplit("/", 1)[-1]
    statements = [span.name for span in recorded_spans.get_finished_spans()
                  if (span.attributes or {}).get("db.namespace") == namespace]
    assert statements and len(statements) <= MOST_STATEMENTS, statements


async def test_the_accounts_notional_of_the_window_is_read_from_indexes_alone(tmp_path: Path) -> None:
    # Every placement sums the account's notional of the last 24 h: read from the table, that is
    # a row per order, on pages a SQLite reader's cache has usually dropped. Its hours come from
    # the hours' primary key, the oldest hour's orders from the notional index, the rejected
    # ones from their partial index (not the notional index, which would walk every order).
    path = tmp_path / "order.db"
    await migrate.upgrade(f"sqlite+aiosqlite:///{path}", SPEC.migrations)
    statement = store._placement().compile(dialect=sqlite.dialect())
    values = {"account": "accounts/a", "since": "2026-12-06 10:30:00.000000", "boundary": "2026-12-06 11:00:00.000000",
              "request_id": "r"}
    with sqlite3.connect(path) as connection:
        plan = [row[-1] for row in connection.execute(
            f"EXPLAIN QUERY PLAN {statement.string}", [values.get(name, 0) for name in statement.positiontup])]

    window = [step for step in plan if step.startswith("SEARCH") and "request_id" not in step]
    assert window == [
        "SEARCH order_notional_hours USING PRIMARY KEY (account=? AND hour_start>?)",
        "SEARCH order_orders USING COVERING INDEX order_orders_account_notional (account=? AND create_time>? AND create_time<?)",
        "SEARCH order_orders USING COVERING INDEX order_orders_account_rejected (account=? AND state=? AND create_time>?)",
    ], plan


@pytest.mark.parametrize("stored", [1, 3, 5])
async def test_the_followers_read_of_a_batch_finds_each_stored_order_once(tmp_path: Path, stored: int) -> None:
    # One fixed statement per power of two of ids, run on the driver on SQLite (the follower's
    # write then needs no ORM session): the ids are padded by repeating the last.
    url = f"sqlite+aiosqlite:///{tmp_path / 'order.db'}"
    await migrate.upgrade(url, SPEC.migrations)
    engine = create_engine(url)
    tx, orders = Transactions(engine), store.OrderStore()
    ids = [f"00000000-0000-4000-8000-00000000000{index}" for index in range(stored)]
    try:
        async def insert(session: AsyncSession) -> None:
            for order_id in ids:
                await orders.insert(session, pending_order(order_id))

        await tx.write(insert)
        found = await tx.write(lambda session: orders.many(session, [*reversed(ids), ids[0], "not-an-order"]))
    finally:
        await engine.dispose()
    assert list(found) == ids and all(found[order_id].order_id == order_id for order_id in ids)
