"""PlaceOrder's own SQL stays a handful of statements: each is a round trip (on PostgreSQL) and
a span (when traced) on every order, and they were most of its time (bench/order.py)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.engine import make_url

# The lookup (request log, order and notional in one), the insert, the answer, the remembered
# answer; and one more when Matching's event moved the order before its answer was recorded.
MOST_STATEMENTS = 5


async def test_placing_an_order_runs_at_most_five_statements_on_orders_database(
        open_mesh: Any, recorded_spans: InMemorySpanExporter, database_url: str) -> None:
    async with open_mesh(database_url) as mesh:
        caller = await mesh.trader("alice", deposits={"USDC": "1000"})
        recorded_spans.clear()
        await mesh.place(caller, price="100.00", quantity="0.01")
        url = make_url(mesh.services["order"].runtime.database_url)

    namespace = (url.database or "").rsplit("/", 1)[-1]
    statements = [span.name for span in recorded_spans.get_finished_spans()
                  if (span.attributes or {}).get("db.namespace") == namespace]
    assert statements and len(statements) <= MOST_STATEMENTS, statements
