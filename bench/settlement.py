"""Settlement benchmark: trades per second from trade to POSTED, and the lag of each trade.

    python bench/settlement.py [--quick] [--db sqlite|postgresql] [--sweep K] [--profile DIR]

Wallet, Matching and Settlement each run as their own process (`clearmesh serve`, as
deployed; real gRPC over loopback, the in-process Solana VM), on SQLite (a file per service)
and on PostgreSQL (a scratch database per service); this process only makes the trades and
reads the results. Two phases per database:

- catch-up: N trades are made (holds placed as Order would, orders into Matching) while
  Settlement is stopped; then Settlement starts and the time until all N are POSTED gives
  trades/s (intake + batched posting at full speed);
- steady: M trades at a steady 500 a second with Settlement running. Everything but the
  crossing is done first (the holds, and M resting sells); then one buy every K/500 s (paced
  by its schedule, not by the calls before it) sweeps K resting sells: K trades per call, so
  the generator (this one process, one core at most) keeps up with 500/s where two calls per
  trade did not. A trade's lag is its Wallet transfer's create_time − the trade's
  execute_time (p50, p99). The rate achieved (M ÷ first → last execute_time, as Matching
  made them) is printed and reported beside the target.

The catch-up's trades/s runs from the first trade's intake to the last transfer's
create_time, as earlier rounds measured it: the Wallet stamps a transfer before its
transaction, so the last batch's Wallet transaction and its marking POSTED fall outside.
The bench cannot see the end itself in a short catch-up (a thousand trades are settled before
the starting service first answers); when its poll does see it, the rate to that moment is
printed too. The CPU each process used per trade, from the first intake until all are seen
POSTED (the anchoring meanwhile included; user + system, sampled from /proc by
`bench/cpu.py`; on PostgreSQL also the server processes of each service's database,
`pg-wallet` …) is steadier than the rate on a shared machine.

`--profile DIR` runs each service under cProfile (DIR/{service}-{database}.prof, written when
it stops): the figures it gives are slower than without.

Four processes on a shared 2-core machine: run it alone (`flock /tmp/clearmesh-bench.lock`)
and repeat it. The last output line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "protos" / "gen" / "python"))

import grpc

from bench.cpu import CpuSampler
from bench.processes import PYTHONPATH, SECRET, free_port, stop_all
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb, matching_service_pb2_grpc as matching_grpc
from clearmesh.type.v1 import trading_pb2
from clearmesh.settlement.v1 import settlement_pb2, settlement_service_pb2 as pb, settlement_service_pb2_grpc as pb_grpc
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb, wallet_service_pb2_grpc as wallet_grpc
from services.runtime import loop
from services.runtime.auth import TokenIssuer
from services.runtime.database import create_scratch_database, drop_scratch_database
from services.runtime.health import wait_serving

POSTGRES_ADMIN_URL = os.environ.get("CLEARMESH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
PRICE, QUANTITY = "100.00", "0.01"  # notional 1 USDC, fee 0.001 a side
BUY_HOLD = "1.01"  # a buy's hold per trade: notional + its fee, with room
CONCURRENCY = 32
SWEEP = 4  # resting sells one steady buy fills: trades per SubmitOrder
SERVICES = ("wallet", "matching", "settlement")
START_ATTEMPTS = 2400  # 0.05 s apart: two minutes at least, for a process that started yet never serves


class Mesh:
    """The three services as processes on free ports, sharing a data directory and a secret."""

    def __init__(self, data_dir: Path, databases: dict[str, str], profile: Path | None = None,
                 label: str = "") -> None:
        self.data_dir = data_dir
        self.profile, self.label = profile, label
        self.ports = {service: free_port() for service in SERVICES}
        self.env = {
            **os.environ, "JWT_SECRET": SECRET, "CLEARMESH_DATA_DIR": str(data_dir),
            "CLEARMESH_MIGRATE_ON_START": "true", "CLEARMESH_LOG_LEVEL": "WARNING",
            "PYTHONPATH": PYTHONPATH,
            **{f"CLEARMESH_{service.upper()}_ADDR": f"127.0.0.1:{port}" for service, port in self.ports.items()},
            **{f"{service.upper()}_DATABASE_URL": url for service, url in databases.items() if url},
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.databases = {url.rsplit("/", 1)[1]: service for service, url in databases.items() if url}
        self.admin: Any = None  # asyncpg connection for cpu_labels
        issuer = TokenIssuer(SECRET, issuer="clearmesh", audience="clearmesh", ttl_seconds=3600)
        self.operator = (("authorization", f"Bearer {issuer.mint(account='ops', roles=['operator'])}"),)
        self.order = (("authorization", f"Bearer {issuer.mint(service='order')}"),)
        self.count = 0
        self.channels = {service: grpc.aio.insecure_channel(f"127.0.0.1:{port}") for service, port in self.ports.items()}
        self.wallet_stub = wallet_grpc.WalletServiceStub(self.channels["wallet"])
        self.matching_stub = matching_grpc.MatchingServiceStub(self.channels["matching"])
        self.settlement_stub = pb_grpc.SettlementServiceStub(self.channels["settlement"])

    async def start(self, service: str) -> None:
        """`clearmesh serve SERVICE`, once its health check answers SERVING."""
        log = open(self.data_dir / f"{service}.log", "ab")  # noqa: SIM115 - lives as long as the process
        launcher = ["-m", "cProfile", "-o", str(self.profile / f"{service}-{self.label}.prof")] if self.profile else []
        self.processes[service] = subprocess.Popen(
            [sys.executable, *launcher, "-m", "services.cli", "serve", service], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**self.env, "CLEARMESH_GRPC_PORT": str(self.ports[service])})

        def alive() -> None:
            if self.processes[service].poll() is not None:
                raise RuntimeError(f"{service} exited: {(self.data_dir / f'{service}.log').read_text()[-2000:]}")

        if not await wait_serving(self.channels[service], attempts=START_ATTEMPTS, pause=0.05, alive=alive):
            raise RuntimeError(f"{service} did not answer SERVING; see {self.data_dir / f'{service}.log'}")

    async def fund(self) -> None:
        for account, asset, amount in (("buyer", "USDC", "10000000"), ("seller", "BTC", "100000")):
            await self.wallet_stub.Deposit(wallet_pb.DepositRequest(
                account=f"accounts/{account}", asset=asset, amount=amount, request_id=f"fund-{account}"),
                metadata=self.operator)

    async def stop(self) -> None:
        if self.admin is not None:
            await self.admin.close()
        for channel in self.channels.values():
            await channel.close()
        stop_all(self.processes.values(), wait_secs=60)  # a profiled service writes its profile first

    async def holds(self, index: int) -> None:
        """The two holds of the `index`th trade, placed as Order would before its orders."""
        await asyncio.gather(
            self.wallet_stub.PlaceHold(wallet_pb.PlaceHoldRequest(
                hold=f"holds/b{index}", account="accounts/buyer", asset="USDC", amount=BUY_HOLD), metadata=self.order),
            self.wallet_stub.PlaceHold(wallet_pb.PlaceHoldRequest(
                hold=f"holds/s{index}", account="accounts/seller", asset="BTC", amount=QUANTITY), metadata=self.order))

    async def submit(self, order: str, account: str, side: trading_pb2.Side, quantity: str) -> None:
        await self.matching_stub.SubmitOrder(matching_pb.SubmitOrderRequest(
            order=order, account=account, market="markets/BTC-USDC", side=side, type=trading_pb2.ORDER_TYPE_LIMIT,
            price=PRICE, quantity=quantity), metadata=self.order)

    async def orders(self, index: int) -> None:
        """A sell resting, then the crossing buy: one trade per pair (every order has the same
        price and size, so whichever sell a buy meets, each order fills once, from its own hold)."""
        await self.submit(f"orders/s{index}", "accounts/seller", trading_pb2.SIDE_SELL, QUANTITY)
        await self.submit(f"orders/b{index}", "accounts/buyer", trading_pb2.SIDE_BUY, QUANTITY)

    async def lanes(self, count: int, work: Callable[[int], Awaitable[None]]) -> list[int]:
        """`work` for the next `count` trade indexes, CONCURRENCY at a time; the indexes."""
        first = self.count + 1
        self.count += count
        indexes = iter(range(first, first + count))

        async def lane() -> None:
            for index in indexes:
                await work(index)
        await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
        return list(range(first, first + count))

    async def trades(self, count: int) -> None:
        async def trade(index: int) -> None:
            await self.holds(index)
            await self.orders(index)
        await self.lanes(count, trade)

    async def resting(self, index: int) -> None:
        """The `index`th trade's seller side, resting: its hold, then its sell."""
        await self.wallet_stub.PlaceHold(wallet_pb.PlaceHoldRequest(
            hold=f"holds/s{index}", account="accounts/seller", asset="BTC", amount=QUANTITY), metadata=self.order)
        await self.submit(f"orders/s{index}", "accounts/seller", trading_pb2.SIDE_SELL, QUANTITY)

    async def steady(self, count: int, rate: float, sweep: int) -> None:
        """`count` trades at `rate` a second: `count` sells rest first (on an empty book), with a
        buy hold per `sweep` of them; then each buy, of `sweep` sells' quantity, starts at its
        scheduled time whether or not the ones before have finished, and fills `sweep` sells
        (the same price and size: each sell fills once, each buy from its own hold)."""
        indexes = await self.lanes(count, self.resting)
        buys = [indexes[n:n + sweep] for n in range(0, count, sweep)]
        quantity = Decimal(QUANTITY)

        async def hold(group: list[int]) -> None:
            await self.wallet_stub.PlaceHold(wallet_pb.PlaceHoldRequest(
                hold=f"holds/b{group[0]}", account="accounts/buyer", asset="USDC",
                amount=str(Decimal(BUY_HOLD) * len(group))), metadata=self.order)
        for n in range(0, len(buys), CONCURRENCY):
            await asyncio.gather(*(hold(group) for group in buys[n:n + CONCURRENCY]))
        # At most this many buys in flight: a behind schedule generator waits for room
        # rather than piling up calls until Matching cancels them.
        room = asyncio.Semaphore(2 * CONCURRENCY)

        async def buy(group: list[int]) -> None:
            try:
                await self.submit(f"orders/b{group[0]}", "accounts/buyer", trading_pb2.SIDE_BUY,
                                  str(quantity * len(group)))
            finally:
                room.release()
        began = time.perf_counter()
        running: list[asyncio.Task[None]] = []
        done = 0
        for group in buys:
            await asyncio.sleep(max(0.0, began + done / rate - time.perf_counter()))
            await room.acquire()
            running.append(asyncio.create_task(buy(group)))
            done += len(group)
        await asyncio.gather(*running)

    async def posted(self, stub: pb_grpc.SettlementServiceStub) -> int:
        """How many settlements are POSTED or ANCHORED. One pass over all of them (in intake
        order): filtering by state instead would count one twice that the anchorer moves from
        POSTED to ANCHORED between the two listings."""
        done = (settlement_pb2.SETTLEMENT_STATE_POSTED, settlement_pb2.SETTLEMENT_STATE_ANCHORED)
        total = 0
        token = ""
        while True:
            page = await stub.ListSettlements(pb.ListSettlementsRequest(page_size=1000, page_token=token),
                                              metadata=self.operator)
            total += sum(1 for settlement in page.settlements if settlement.state in done)
            token = page.next_page_token
            if not token:
                return total

    async def executed_ms(self) -> dict[int, float]:
        """Each trade's execute time (ms since the epoch), by its sequence."""
        executed: dict[int, float] = {}
        token = ""
        while True:
            page = await self.matching_stub.ListTrades(matching_pb.ListTradesRequest(
                market="markets/BTC-USDC", page_size=1000, page_token=token), metadata=self.operator)
            executed.update({t.sequence: t.execute_time.ToNanoseconds() / 1e6 for t in page.trades})
            token = page.next_page_token
            if not token:
                return executed

    async def posted_ms(self) -> dict[int, float]:
        """When the Wallet posted each trade's transfer (its fee entry's create_time), by sequence."""
        posted: dict[int, float] = {}
        token = ""
        while True:
            page = await self.wallet_stub.ListEntries(wallet_pb.ListEntriesRequest(
                account="system/fees", page_size=1000, page_token=token), metadata=self.operator)
            posted.update({int(e.transfer.rsplit("/", 1)[1]): e.create_time.ToNanoseconds() / 1e6
                           for e in page.entries})
            token = page.next_page_token
            if not token:
                return posted

    async def cpu_labels(self) -> dict[int, str]:
        """The processes whose CPU the bench counts: the services, and the PostgreSQL server
        processes of their databases (`pg-wallet` …), by pid."""
        labels = {process.pid: service for service, process in self.processes.items()}
        if self.databases:
            if self.admin is None:  # one connection for the run: a new one forks a server process
                import asyncpg
                self.admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
            rows = await self.admin.fetch(
                "SELECT pid, datname FROM pg_stat_activity WHERE datname = ANY($1::text[])", list(self.databases))
            labels.update({row["pid"]: f"pg-{self.databases[row['datname']]}" for row in rows})
        return labels

    async def recorded_ms(self, sequence: int) -> float:
        """When Settlement took the trade in (its settlement's create_time: the moment its intake
        batch began, before the batch was charged and written)."""
        found = await self.settlement_stub.GetSettlement(pb.GetSettlementRequest(
            name=f"settlements/BTC-USDC-{sequence}"), metadata=self.operator)
        return float(found.create_time.ToNanoseconds() / 1e6)


async def wait_posted(mesh: Mesh, stub: pb_grpc.SettlementServiceStub, count: int) -> tuple[float, bool]:
    """Until all `count` trades are posted: a cheap poll of the last one (the poster takes them
    in trade order), then of them all (two batches in flight may end out of order). When that
    was seen (ms since the epoch), and whether an earlier poll had found them not all posted
    yet: if not, they were done before the service first answered (it answers only once its
    start leaves the loop free, and a short catch-up ends sooner), so the moment is unknown."""
    done = (settlement_pb2.SETTLEMENT_STATE_POSTED, settlement_pb2.SETTLEMENT_STATE_ANCHORED)
    request = pb.GetSettlementRequest(name=f"settlements/BTC-USDC-{count}")
    bracketed = False
    while True:
        try:
            if (await stub.GetSettlement(request, metadata=mesh.operator)).state in done:
                break
        except grpc.aio.AioRpcError as error:
            if error.code() is not grpc.StatusCode.NOT_FOUND:
                raise
        bracketed = True
        await asyncio.sleep(0.01)
    for _ in range(6000):  # a minute
        if await mesh.posted(stub) == count:
            return time.time() * 1000, bracketed
        bracketed = True
        await asyncio.sleep(0.01)
    raise RuntimeError(f"{await mesh.posted(stub)} of {count} trades posted")


async def run(name: str, databases: dict[str, str], data_dir: Path, catch_up: int, live: int,
              rate: float, sweep: int, profile: Path | None) -> dict[str, float]:
    mesh = Mesh(data_dir, databases, profile, name)
    try:
        await mesh.start("wallet")
        await mesh.start("matching")
        await mesh.fund()
        await mesh.trades(catch_up)
        began = time.perf_counter()
        sampler = CpuSampler(mesh.cpu_labels)
        sampler.start()
        try:
            await mesh.start("settlement")
            seen, bracketed = await wait_posted(mesh, mesh.settlement_stub, catch_up)
        finally:
            await sampler.stop()
        with_start = catch_up / (time.perf_counter() - began)
        # From the first trade's intake (the process start — Python, migrations, the first
        # stream — is not settlement throughput) to the last transfer's create_time. The
        # Wallet stamps that before its transaction, so the last batch's Wallet transaction and
        # its marking POSTED are left out; when the bench's poll saw the end (`bracketed`), the
        # rate to that moment is given too.
        posted = await mesh.posted_ms()
        first = await mesh.recorded_ms(1)
        per_sec = catch_up / ((max(posted[n] for n in range(1, catch_up + 1)) - first) / 1000)
        to_seen = catch_up / ((seen - first) / 1000) if bracketed else None
        seen_text = (f"{to_seen:.0f}/s to the last seen POSTED" if to_seen is not None
                     else "all POSTED before the service first answered")
        # Intake alone (first → last intake batch begun): the poster cannot finish before it.
        intake = (await mesh.recorded_ms(catch_up) - first) / 1000
        intake_text = f"intake alone {catch_up / intake:.0f}/s" if intake > 0 else "all in the first intake batch"
        print(f"{name}: {catch_up} trades caught up at {per_sec:.0f} trades/s (first intake → last transfer "
              f"stamped; {seen_text}; {with_start:.0f}/s counting the process start; {intake_text})", flush=True)
        cpu_ms = {label: seconds * 1000 / catch_up for label, seconds in sorted(sampler.used(first / 1000, seen / 1000).items())}
        print(f"{name}: CPU per trade, first intake → all POSTED (and the anchoring meanwhile): "
              + ", ".join(f"{label} {ms:.3f} ms" for label, ms in cpu_ms.items()), flush=True)
        await mesh.steady(live, rate, sweep)
        await wait_posted(mesh, mesh.settlement_stub, catch_up + live)  # (its time: the lags below)
        executed, posted = await mesh.executed_ms(), await mesh.posted_ms()
        steady = range(catch_up + 1, catch_up + live + 1)
        # As Matching made them: the live trades over the span of their execute times.
        span = (max(executed[n] for n in steady) - min(executed[n] for n in steady)) / 1000
        achieved = (live - 1) / span if span > 0 else float("inf")
        lags = sorted(posted[n] - executed[n] for n in steady)
        p50, p99 = statistics.median(lags), lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        print(f"{name}: {live} trades at {rate:.0f}/s (achieved {achieved:.0f}/s, {sweep} per buy), "
              f"lag trade → POSTED p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {lags[-1]:.1f} ms", flush=True)
        return {"trades_per_sec": round(per_sec, 1),
                **({"trades_per_sec_to_seen_posted": round(to_seen, 1)} if to_seen is not None else {}),
                "steady_target_per_sec": rate,
                "steady_trades_per_sec": round(achieved, 1),
                "lag_p50_ms": round(p50, 1), "lag_p99_ms": round(p99, 1),
                **{f"cpu_ms_per_trade_{label.replace('-', '_')}": round(ms, 3) for label, ms in cpu_ms.items()}}
    finally:
        await mesh.stop()


async def main(quick: bool, databases: list[str], sweep: int, profile: Path | None) -> None:
    catch_up, live = (1000, 1500) if quick else (5000, 5000)
    rate = 500.0
    result: dict[str, float] = {}
    if "sqlite" in databases:
        with tempfile.TemporaryDirectory() as sqlite_dir:
            figures = await run("sqlite", {}, Path(sqlite_dir), catch_up, live, rate, sweep, profile)
            result.update({f"sqlite_{key}": value for key, value in figures.items()})
    if "postgresql" in databases:
        urls = {s: await create_scratch_database(POSTGRES_ADMIN_URL, f"clearmesh_bench_{s}") for s in SERVICES}
        try:
            with tempfile.TemporaryDirectory() as pg_dir:
                figures = await run("postgresql", urls, Path(pg_dir), catch_up, live, rate, sweep, profile)
                result.update({f"pg_{key}": value for key, value in figures.items()})
        finally:
            for url in urls.values():
                await drop_scratch_database(POSTGRES_ADMIN_URL, url)
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trades")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), action="append",
                        help="only this database (repeatable; default both)")
    parser.add_argument("--sweep", type=int, default=SWEEP, help="trades per steady buy (resting sells it fills)")
    parser.add_argument("--profile", type=Path, help="run each service under cProfile, its profile in this directory")
    arguments = parser.parse_args()
    if arguments.profile:
        arguments.profile.mkdir(parents=True, exist_ok=True)
    loop.run(main(arguments.quick, arguments.db or ["sqlite", "postgresql"], max(1, arguments.sweep),
                  arguments.profile))
