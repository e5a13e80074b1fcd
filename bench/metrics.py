"""Metrics benchmark: what one RPC pays for its metrics on the hot path.

    python bench/metrics.py

The server interceptor's `metrics.observe` (a counter and a histogram, children cached by
method and code) against building the children with `labels()` on every call, as it did
before; and Matching's per-batch cost (one histogram observation, one counter increment).
Best of 5 runs of 200 000 calls each, in this process. The last output line is one JSON object.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.matching.metrics import MarketChildren
from services.runtime import metrics

CALLS = 200_000
RUNS = 5
METHOD = "/clearmesh.order.v1.OrderService/PlaceOrder"


def best_ns_per_call(call: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter_ns()
        for _ in range(CALLS):
            call()
        best = min(best, (time.perf_counter_ns() - started) / CALLS)
    return best


def labels_every_call() -> None:
    service, _, name = METHOD.lstrip("/").partition("/")
    metrics.HANDLED.labels(service, name, "OK").inc()
    metrics.LATENCY.labels(service, name, "OK").observe(0.003)


def main() -> None:
    cached = best_ns_per_call(lambda: metrics.observe(METHOD, grpc.StatusCode.OK, 0.003))
    uncached = best_ns_per_call(labels_every_call)
    market = MarketChildren("BTC-USDC")

    def batch() -> None:
        market.matching.observe(0.0002)
        market.trades.inc(3)

    per_batch = best_ns_per_call(batch)
    print(f"server call, children cached:       {cached / 1000:.2f} us")
    print(f"server call, labels() on each call: {uncached / 1000:.2f} us")
    print(f"matching, per batch:                {per_batch / 1000:.2f} us")
    print(json.dumps({"rpc_cached_us": round(cached / 1000, 3), "rpc_labels_each_call_us": round(uncached / 1000, 3),
                      "matching_per_batch_us": round(per_batch / 1000, 3)}))


if __name__ == "__main__":
    main()
