"""Order's metrics.

market_orders_total: every order PlaceOrder made, by market, side and how its placement ended.
A retry of the same request_id is the same order, counted once (by its first call).

order_placement_conflicts_total: placements whose commit found that another replica had stored
more of the account's notional, since the read, than KYC's answer left room for, and that read
and asked again (store.placed_since). A steady rate means one account's orders keep reaching
several replicas at once.

order_place_step_seconds{step}: where a PlaceOrder's time goes, as the Order process sees it —
the whole call (`total`) and each part of it: the KYC check, the Wallet hold, Matching's submit,
and Order's own reads and writes (`store`). The benchmark reads the sums to report each part's
share of the call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

from services.order.domain.enums import OrderState, Side
from services.runtime.metrics import Children

ORDERS = Counter("market_orders_total", "Orders placed, by market, side and outcome.",
                 ["market", "side", "outcome"])

CONFLICTS = Counter("order_placement_conflicts_total",
                    "Placements asked again because another replica placed the account's orders meanwhile.")

# The outcome of a placement: the state Matching answered (open, partially_filled, filled,
# cancelled, expired, rejected), `rejected` when KYC, the Wallet or Matching refused it,
# `unavailable` when a peer did not answer, `error` for a fault of ours.
REFUSED, UNAVAILABLE, ERROR = "rejected", "unavailable", "error"
OUTCOME_OF_STATE = {state: state.value.lower() for state in OrderState}
SIDE_LABEL = {Side.BUY: "buy", Side.SELL: "sell"}

_orders: Children[tuple[str, Side, str]] = Children(
    ORDERS, lambda key: (key[0], SIDE_LABEL[key[1]], key[2]))


def count_order(market: str, side: Side, outcome: str) -> None:
    _orders((market, side, outcome)).inc()


STEPS = ("total", "kyc", "wallet", "matching", "store")
STEP_SECONDS = Histogram("order_place_step_seconds", "PlaceOrder time in the Order process, by step.", ["step"],
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
_BY_STEP = {step: STEP_SECONDS.labels(step) for step in STEPS}


@contextmanager
def timed(step: str) -> Iterator[None]:
    began = time.perf_counter()
    try:
        yield
    finally:
        _BY_STEP[step].observe(time.perf_counter() - began)
