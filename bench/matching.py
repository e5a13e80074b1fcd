"""Matching engine benchmark: clearmesh's pure-Python engine against liquibook and lightmatchingengine.

    python bench/matching.py [--quick]

One reproducible stream (fixed seed) of GTC limit orders on one market: ~85% rest a few ticks off
the touch, ~15% cross and sweep; before each new order, with probability 0.3, a cancel of a
uniformly chosen still-resting order. Every engine replays the same stream in this process and
must report the same traded volume and number of fills. The last output line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.runtime.loop import run as run_loop
from services.runtime.settings import Settings
from services.matching.domain import (
    MatchingEngine,
    OrderType,
    Side,
    SubmitOrder,
    CancelOrder,
    default_markets,
)

SEED = 20240601
MID_PRICE = 100_000
CANCEL_PROBABILITY = 0.3
CROSS_PROBABILITY = 0.15
LIFETIME_NS = 24 * 3600 * 10**9
JOURNAL_SUBMITTERS = 256

# A stream operation: (True, index, is_buy, price, quantity) for a new order, (False, index) for a cancel.
Op = tuple


def continuous_market_engine() -> MatchingEngine:
    market = next(m for m in default_markets() if m.name == "BTC-USDC")
    return MatchingEngine(market, default_order_lifetime_ns=LIFETIME_NS, record_events=False)


def generate_stream(order_count: int, seed: int = SEED) -> list[Op]:
    """Build the stream once; resting status comes from a reference run of our engine (untimed)."""
    rng = random.Random(seed)
    engine = continuous_market_engine()
    resting: list[int] = []  # ids of resting orders, swap-removed via position
    position: dict[int, int] = {}

    def forget(index: int) -> None:
        slot = position.pop(index)
        last = resting.pop()
        if last != index:
            resting[slot] = last
            position[last] = slot

    ops: list[Op] = []
    for index in range(order_count):
        if resting and rng.random() < CANCEL_PROBABILITY:
            victim = resting[rng.randrange(len(resting))]
            engine.cancel(str(victim), now=index)
            forget(victim)
            ops.append((False, victim))
        is_buy = rng.random() < 0.5
        best_bid, best_ask = engine.bids.best_price(), engine.asks.best_price()
        quantity = rng.randint(1, 100)
        if rng.random() < CROSS_PROBABILITY:
            touch = best_ask if is_buy else best_bid
            touch = MID_PRICE if touch is None else touch
            price = touch + rng.randint(0, 3) if is_buy else touch - rng.randint(0, 3)
            quantity = rng.randint(50, 300)  # big enough to sweep one or more levels
        else:
            opposite = best_ask if is_buy else best_bid
            opposite = (MID_PRICE + (1 if is_buy else -1)) if opposite is None else opposite
            price = opposite - rng.randint(1, 5) if is_buy else opposite + rng.randint(1, 5)
        result = engine.submit(str(index), "buyer" if is_buy else "seller", Side.BUY if is_buy else Side.SELL,
                               OrderType.LIMIT, quantity, price=price, now=index)
        for trade in result.trades:
            maker = int(trade.sell_order if is_buy else trade.buy_order)
            if maker in position and engine.resting_order(str(maker)) is None:
                forget(maker)
        if result.remaining:
            position[index] = len(resting)
            resting.append(index)
        ops.append((True, index, is_buy, price, quantity))
    return ops


# ------------------------------------------------------------------ runners
# Each runner replays the stream and returns (seconds, traded volume, fills, per-op latencies or None).
RunResult = tuple[float, int, int, list[int] | None]


def run_clearmesh(ops: list[Op], measure_latency: bool = False) -> RunResult:
    engine = continuous_market_engine()
    submit, cancel = engine.submit, engine.cancel
    buy, sell, limit = Side.BUY, Side.SELL, OrderType.LIMIT
    ids = [str(op[1]) for op in ops]
    volume = fills = 0
    latencies: list[int] | None = [] if measure_latency else None
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for op, order_id in zip(ops, ids):
        if measure_latency:
            t0 = clock()
        if op[0]:
            if op[2]:
                trades = submit(order_id, "buyer", buy, limit, op[4], price=op[3], now=op[1]).trades
            else:
                trades = submit(order_id, "seller", sell, limit, op[4], price=op[3], now=op[1]).trades
            if trades:
                fills += len(trades)
                for trade in trades:
                    volume += trade.quantity
        else:
            cancel(order_id, now=op[1])
        if latencies is not None:
            latencies.append(clock() - t0)
    return time.perf_counter() - started, volume, fills, latencies


def run_liquibook(ops: list[Op]) -> RunResult:
    import liquibook

    class FillCounter(liquibook.OrderListener):
        def __init__(self) -> None:
            liquibook.OrderListener.__init__(self)
            self.fills = 0
            self.volume = 0

        def on_fill(self, passive: Any, aggressive: Any, quantity: int, cost: int) -> None:
            self.fills += 1
            self.volume += quantity

        def on_accept(self, order: Any) -> None:
            pass

        def on_cancel(self, order: Any) -> None:
            pass

        def on_reject(self, order: Any, reason: str) -> None:
            pass

        def on_cancel_reject(self, order: Any, reason: str) -> None:
            pass

    book = liquibook.DepthOrderBook()
    listener = FillCounter()
    book.set_order_listener(listener)
    book.set_symbol("BTC-USDC")
    orders: dict[int, Any] = {}
    new_order, add, cancel = liquibook.SimpleOrder, book.add, book.cancel
    started = time.perf_counter()
    for op in ops:
        if op[0]:
            order = orders[op[1]] = new_order(op[2], op[3], op[4])
            add(order)
        else:
            cancel(orders[op[1]])
    return time.perf_counter() - started, listener.volume, listener.fills, None


def run_lightmatchingengine(ops: list[Op]) -> RunResult:
    from lightmatchingengine.lightmatchingengine import LightMatchingEngine
    from lightmatchingengine.lightmatchingengine import Side as LmeSide

    engine = LightMatchingEngine()
    add, cancel = engine.add_order, engine.cancel_order
    buy, sell = LmeSide.BUY, LmeSide.SELL
    volume = fills = 0
    started = time.perf_counter()
    for op in ops:
        if op[0]:
            order, trades = add("BTC-USDC", op[3], op[4], buy if op[2] else sell)
            for trade in trades:
                if trade.order_id != order.order_id:  # one passive execution per maker fill
                    fills += 1
                    volume += trade.trade_qty
        else:
            cancel(op[1] + 1, "BTC-USDC")  # it numbers orders 1, 2, ... in submission order
    return time.perf_counter() - started, volume, fills, None


async def _journaled_ops_per_sec(ops: list[Op], submitters: int, directory: Path) -> float:
    from services.matching import tables
    from services.matching.store import MatchingStore
    from services.matching.writer import SNAPSHOT_EVERY, MarketWriter
    from services.runtime.collector import tune_collector
    from services.runtime.database import create_engine

    market = continuous_market_engine().market
    synchronous = Settings().sqlite_synchronous  # CLEARMESH_SQLITE_SYNCHRONOUS, as the service reads it
    database = create_engine(f"sqlite+aiosqlite:///{directory / 'matching.db'}", sqlite_synchronous=synchronous)
    async with database.begin() as connection:
        await connection.run_sync(tables.metadata.create_all)
    store = MatchingStore(database, sqlite_synchronous=synchronous)
    await store.add_market(market, 0)
    writer = MarketWriter(store, await store.load(market), lifetime_ns=LIFETIME_NS, max_book_size=None,
                          snapshot_every=SNAPSHOT_EVERY)
    writer.start()
    commands: list[SubmitOrder | CancelOrder] = [
        SubmitOrder(str(op[1]), "buyer" if op[2] else "seller", Side.BUY if op[2] else Side.SELL, OrderType.LIMIT,
                    op[4], op[1], price=op[3]) if op[0] else CancelOrder(str(op[1]), op[1])
        for op in ops]
    stream = iter(commands)
    tune_collector()  # as `clearmesh serve` does once the service is up
    execute = writer.execute

    async def submitter() -> None:
        # Each takes the next command and waits for its acknowledgement (durable) before the
        # next: the queue order is the stream order, as with concurrent clients of one market.
        for command in stream:
            await execute(command)

    started = time.perf_counter()
    await asyncio.gather(*(submitter() for _ in range(submitters)))
    elapsed = time.perf_counter() - started
    await writer.close()
    await store.close()
    journaled = await store.journal_length(market.name)
    await database.dispose()
    assert journaled == len(commands), f"journal holds {journaled} of {len(commands)} commands"
    return len(commands) / elapsed


def run_journaled(ops: list[Op], submitters: int = JOURNAL_SUBMITTERS) -> float:
    """Ops/second through the service's real write path: a market writer applying each command and
    journaling it (with its trades and order events) to a SQLite file before acknowledging it,
    group-committing what concurrent submitters queue while a commit is in flight."""
    with tempfile.TemporaryDirectory() as directory:
        return run_loop(_journaled_ops_per_sec(ops, submitters, Path(directory)))


def auction_clear_ms(order_count: int, runs: int, seed: int = SEED) -> float:
    """Median time of one uniform-price clearing over a book of `order_count` overlapping orders."""
    market = next(m for m in default_markets() if m.name == "GRID-USDC")
    rng = random.Random(seed)
    orders = [(rng.random() < 0.5, rng.randint(900, 1100), rng.randint(1, 100)) for _ in range(order_count)]
    timings = []
    for _ in range(runs):
        engine = MatchingEngine(market, default_order_lifetime_ns=LIFETIME_NS)
        for index, (is_buy, price, quantity) in enumerate(orders):
            engine.submit(str(index), f"acct{index % 97}", Side.BUY if is_buy else Side.SELL, OrderType.LIMIT,
                          quantity, price=price, now=index)
        engine.drain_events()
        started = time.perf_counter()
        engine.clear(order_count + 1)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def median_run(runner: Callable[[list[Op]], RunResult], ops: list[Op], runs: int) -> tuple[float, int, int]:
    results = []
    for _ in range(runs):
        gc.collect()
        results.append(runner(ops))
    seconds = statistics.median(r[0] for r in results)
    return len(ops) / seconds, results[0][1], results[0][2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small workload, one run (smoke test)")
    args = parser.parse_args()
    order_count, runs, auction_orders = (20_000, 1, 20_000) if args.quick else (200_000, 3, 100_000)

    ops = generate_stream(order_count)
    cancels = sum(1 for op in ops if not op[0])
    print(f"stream: {order_count} orders + {cancels} cancels = {len(ops)} operations, seed {SEED}")

    ours, volume, fills = median_run(run_clearmesh, ops, runs)
    liquibook_ops, lb_volume, lb_fills = median_run(run_liquibook, ops, runs)
    lme_ops, lme_volume, lme_fills = median_run(run_lightmatchingengine, ops, runs)
    assert (lb_volume, lb_fills) == (volume, fills), f"liquibook {(lb_volume, lb_fills)} != {(volume, fills)}"
    assert (lme_volume, lme_fills) == (volume, fills), f"lightmatchingengine {(lme_volume, lme_fills)} != ours"
    print(f"all engines agree: traded volume {volume} lots in {fills} fills")

    _, _, _, latencies = run_clearmesh(ops, measure_latency=True)
    assert latencies is not None
    cuts = statistics.quantiles(latencies, n=100)
    p50_us, p99_us = cuts[49] / 1000, cuts[98] / 1000

    print(f"{'engine':<22}{'ops/s':>12}{'ours / it':>12}")
    print(f"{'clearmesh (python)':<22}{ours:>12,.0f}{1.0:>12.2f}")
    print(f"{'liquibook (C++)':<22}{liquibook_ops:>12,.0f}{ours / liquibook_ops:>12.2f}")
    print(f"{'lightmatchingengine':<22}{lme_ops:>12,.0f}{ours / lme_ops:>12.2f}")
    print(f"clearmesh latency per operation: p50 {p50_us:.2f} us, p99 {p99_us:.2f} us")

    journaled_runs = [run_journaled(ops) for _ in range(runs)]
    journaled = statistics.median(journaled_runs)
    synchronous = Settings().sqlite_synchronous
    print(f"journaled (SQLite file, synchronous={synchronous}, group commit, {JOURNAL_SUBMITTERS} concurrent "
          f"submitters): {journaled:,.0f} ops/s "
          f"(median of {', '.join(f'{run:,.0f}' for run in journaled_runs)})")

    auction_ms = auction_clear_ms(auction_orders, runs)
    print(f"auction: clearing {auction_orders} orders took {auction_ms:.1f} ms (median of {runs})")

    print(json.dumps({
        "ops_per_sec": round(ours),
        "p50_us": round(p50_us, 3),
        "p99_us": round(p99_us, 3),
        "liquibook_ops_per_sec": round(liquibook_ops),
        "lightmatchingengine_ops_per_sec": round(lme_ops),
        "vs_liquibook": round(ours / liquibook_ops, 3),
        "vs_lightmatchingengine": round(ours / lme_ops, 3),
        "journaled_ops_per_sec": round(journaled),
        "sqlite_synchronous": synchronous,
        "auction_100k_ms": round(auction_ms, 2),
    }))


if __name__ == "__main__":
    main()
