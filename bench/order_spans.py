"""What Order's tracing costs per order in one process, away from the mesh's noise: a
placement's span path, with export off and on, run in turns.

    python bench/order_spans.py [--sets 3] [--rounds 5] [--orders 3000] [--ratio R]

Per order, as bench/span_census.py counts an order's spans in Order at 32 clients: the
PlaceOrder SERVER span (services/runtime/rpc_tracing.py's MethodSpans, with a caller's peer
and user agent), four SQLite statements run under it (a look-up, an INSERT and an UPDATE each
in a write transaction, a read back), each timed or spanned by services/runtime/sql_spans.py's
StatementSpans, and ~0.83 CLIENT spans (ClientSpans: Order's KYC, Wallet and Matching calls
are batches shared by several placements). No gRPC and no event loop: only what tracing adds
around the work. "off" has no span processor (no exporter configured, services/runtime/unheard.py);
"on" exports every span (or the share `--ratio` of traces, parentbased_traceidratio) with a
BatchSpanProcessor and the OTLP exporter (services/runtime/otlp_spans.py) to bench/otlp_sink.py,
served from this process. Each mode runs in a child process of its own (a process has one
tracer provider), which reports its own CPU (every thread: the exporter's too) per order, per
round. The sets alternate off, on, off, on, ... The last line is one JSON object: each mode's
median µs per order and the median of what "on" added over "off" per set.

It measures whatever services/runtime/ it imports: run it from two worktrees in turns to
compare them (docs/observability.md, "What tracing costs").
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "protos" / "gen" / "python"))

PEER, AGENT = "ipv4:127.0.0.1:53422", "grpc-python-asyncio/1.85.4 grpc-c/50.0.0 (linux; chttp2)"
STATEMENTS = ("SELECT order_id, state FROM orders WHERE request_id = ? AND account = ?",
              "INSERT INTO orders (order_id, request_id, account, state) VALUES (?, ?, ?, 'PENDING')",
              "UPDATE orders SET state = 'OPEN', answer = ? WHERE order_id = ?",
              "SELECT order_id, state, answer FROM orders WHERE order_id = ?")
CALLS = ("/clearmesh.kyc.v1.KycService/CheckEligibilities", "/clearmesh.wallet.v1.WalletService/PlaceHolds",
         "/clearmesh.matching.v1.MatchingService/SubmitOrders")
WARM_UP = 500


class _Peer:
    """The servicer context's one part a SERVER span reads."""

    def peer(self) -> str:
        return PEER


def measure(export_to: str | None, ratio: float | None, rounds: int, orders: int) -> list[float]:
    """µs of this process's CPU per order, per round (in a child process: see the module)."""
    import grpc
    from opentelemetry import trace
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased
    from sqlalchemy import create_engine

    from services.runtime.rpc_tracing import ClientSpans, ServerSpans, end_client_span
    from services.runtime.sql_spans import StatementSpans

    sampler = ParentBased(ALWAYS_ON if ratio is None else TraceIdRatioBased(ratio))
    add: Callable[[SpanProcessor], None]
    try:  # the provider telemetry.py installs, its processor its own (deferred_spans.py)
        from services.runtime.deferred_spans import MeshTracerProvider
    except ImportError:  # a tree from before it: the SDK's provider, as telemetry.py made it then
        provider = TracerProvider(sampler=sampler)
        add = provider.add_span_processor
    else:
        mesh = provider = MeshTracerProvider(sampler=sampler)
        add = mesh.add_own_span_processor
    if export_to is not None:
        from services.runtime.otlp_spans import OtlpSpanExporter

        add(BatchSpanProcessor(OtlpSpanExporter(endpoint=export_to, insecure=True)))
    trace.set_tracer_provider(provider)
    path = Path(tempfile.mkdtemp()) / "order.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE orders (order_id TEXT PRIMARY KEY, request_id TEXT, account TEXT, state TEXT, answer BLOB)")
    db.execute("CREATE INDEX by_request ON orders (request_id, account)")
    spans = StatementSpans(create_engine(f"sqlite:///{path}"))
    method, clients, peer = ServerSpans().of("/clearmesh.order.v1.OrderService/PlaceOrder"), ClientSpans(), _Peer()
    metadata = {"user-agent": AGENT}

    def statement(sql: str, params: tuple[object, ...]) -> None:
        timed = spans.start(sql)
        cursor = db.cursor()
        cursor.execute(sql, params)
        cursor.fetchall()
        cursor.close()
        if timed is not None:
            timed.end()

    def call(path: str) -> None:
        span, _metadata = clients.start(path)
        if span is not None:
            end_client_span(span, grpc.StatusCode.OK, "")

    def order(index: int) -> None:
        span, token = method.start(metadata, peer)  # type: ignore[arg-type]
        order_id, request_id = f"o{index}", f"r{index}"
        statement(STATEMENTS[0], (request_id, "a"))
        db.execute("BEGIN IMMEDIATE")
        statement(STATEMENTS[1], (order_id, request_id, "a"))
        db.execute("COMMIT")
        # A KYC batch every third order, a Wallet and a Matching batch every fourth.
        if index % 3 == 0:
            call(CALLS[0])
        if index % 4 == 0:
            call(CALLS[1])
        if index % 4 == 1:
            call(CALLS[2])
        db.execute("BEGIN IMMEDIATE")
        statement(STATEMENTS[2], (b"x" * 40, order_id))
        db.execute("COMMIT")
        statement(STATEMENTS[3], (order_id,))
        method.end(span, token, grpc.StatusCode.OK)

    for index in range(WARM_UP):
        order(-1 - index)
    per_order = []
    for round_ in range(rounds):
        began = time.process_time()
        for index in range(round_ * orders, (round_ + 1) * orders):
            order(index)
        provider.force_flush()  # this round's spans exported within its CPU
        per_order.append(round((time.process_time() - began) / orders * 1e6, 1))
    provider.shutdown()
    return per_order


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sets", type=int, default=3, help="off and on, this many times each, in turns")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per run (each run's median is kept)")
    parser.add_argument("--orders", type=int, default=3000, help="orders per round")
    parser.add_argument("--ratio", type=float, help="\"on\" samples this share of traces, not every one")
    parser.add_argument("--child", choices=("off", "on"), help=argparse.SUPPRESS)
    parser.add_argument("--export-to", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child is not None:
        print(json.dumps(measure(arguments.export_to if arguments.child == "on" else None, arguments.ratio,
                                 arguments.rounds, arguments.orders)))
        return
    from bench.otlp_sink import serve

    server, sink, port = serve(0)
    medians: dict[str, list[float]] = {"off": [], "on": []}
    try:
        for set_ in range(arguments.sets):
            for mode in ("off", "on"):
                done = subprocess.run(
                    [sys.executable, __file__, "--child", mode, "--export-to", f"http://127.0.0.1:{port}",
                     "--rounds", str(arguments.rounds), "--orders", str(arguments.orders),
                     *(["--ratio", str(arguments.ratio)] if arguments.ratio is not None else [])],
                    cwd=ROOT, env=os.environ, capture_output=True, text=True, check=True)
                per_order = json.loads(done.stdout.strip().splitlines()[-1])
                medians[mode].append(statistics.median(per_order))
                print(f"set {set_ + 1} {mode}: µs per order {per_order}", flush=True)
    finally:
        server.stop(grace=None)
    added = [on - off for off, on in zip(medians["off"], medians["on"], strict=True)]
    print(json.dumps({"off_us_per_order": statistics.median(medians["off"]),
                      "on_us_per_order": statistics.median(medians["on"]),
                      "added_us_per_order": round(statistics.median(added), 1),
                      "added_range": [round(min(added), 1), round(max(added), 1)],
                      "ratio": arguments.ratio, "exports": sink.exports}))


if __name__ == "__main__":
    main()
