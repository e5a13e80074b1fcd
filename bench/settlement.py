"""Settlement benchmark: trades per second from trade to POSTED, and the lag of each trade.

    python bench/settlement.py [--quick]

Wallet, Matching and Settlement run in this one process (real gRPC over loopback, the
in-process Solana VM), on SQLite (a file per service) and on PostgreSQL (a scratch database
per service). Two phases per database:

- catch-up: N trades are made (holds placed as Order would, orders into Matching) while
  Settlement is stopped; then Settlement starts and the time until all N are POSTED gives
  trades/s (intake + batched posting at full speed);
- live: trades are made at a steady pace with Settlement running; a trade's lag is its
  Wallet transfer's create_time − the trade's execute_time (p50, p99).

One process on a shared 2-core machine: the figures include the three services competing
for one core and one GIL. The last output line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "protos" / "gen" / "python"))

import grpc

from clearmesh.matching.v1 import matching_service_pb2 as matching_pb, matching_service_pb2_grpc as matching_grpc
from clearmesh.type.v1 import trading_pb2
from clearmesh.settlement.v1 import settlement_pb2, settlement_service_pb2 as pb, settlement_service_pb2_grpc as pb_grpc
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb, wallet_service_pb2_grpc as wallet_grpc
from services.matching.service import SPEC as MATCHING
from services.runtime import loop
from services.runtime.auth import TokenIssuer
from services.runtime.database import create_scratch_database, drop_scratch_database
from services.runtime.server import RunningService, start
from services.runtime.settings import Settings
from services.settlement.service import SPEC as SETTLEMENT
from services.wallet.service import SPEC as WALLET

POSTGRES_ADMIN_URL = os.environ.get("CLEARMESH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-secret-" + "x" * 32
PRICE, QUANTITY = "100.00", "0.01"  # notional 1 USDC, fee 0.001 a side
CONCURRENCY = 32
SERVICES = ("wallet", "matching", "settlement")


class Mesh:
    def __init__(self, settings: Settings, databases: dict[str, str]) -> None:
        self.settings = settings
        self.databases = databases
        issuer = TokenIssuer(SECRET, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_seconds=3600)
        self.operator = (("authorization", f"Bearer {issuer.mint(account='ops', roles=['operator'])}"),)
        self.order = (("authorization", f"Bearer {issuer.mint(service='order')}"),)
        self.count = 0

    def on(self, service: str) -> Settings:
        return self.settings.model_copy(update={"database_url": self.databases[service]})

    async def start(self) -> None:
        self.wallet = await start(WALLET, self.on("wallet"), port=0)
        self.matching = await start(MATCHING, self.on("matching"), port=0)
        self.settlement_settings = self.on("settlement").model_copy(update={
            "wallet_addr": f"127.0.0.1:{self.wallet.port}", "matching_addr": f"127.0.0.1:{self.matching.port}"})
        self.channels = [grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
                         for service in (self.wallet, self.matching)]
        self.wallet_stub = wallet_grpc.WalletServiceStub(self.channels[0])
        self.matching_stub = matching_grpc.MatchingServiceStub(self.channels[1])
        for account, asset, amount in (("buyer", "USDC", "10000000"), ("seller", "BTC", "100000")):
            await self.wallet_stub.Deposit(wallet_pb.DepositRequest(
                account=f"accounts/{account}", asset=asset, amount=amount, request_id=f"fund-{account}"),
                metadata=self.operator)

    async def stop(self) -> None:
        for channel in self.channels:
            await channel.close()
        for service in (self.matching, self.wallet):
            await service.stop(0)

    async def trade(self) -> None:
        index = self.count = self.count + 1
        await asyncio.gather(
            self.wallet_stub.PlaceHold(wallet_pb.PlaceHoldRequest(
                hold=f"holds/b{index}", account="accounts/buyer", asset="USDC", amount="1.01"), metadata=self.order),
            self.wallet_stub.PlaceHold(wallet_pb.PlaceHoldRequest(
                hold=f"holds/s{index}", account="accounts/seller", asset="BTC", amount=QUANTITY), metadata=self.order))
        # A sell resting, then the crossing buy: one trade per pair (the orders never meet others).
        for order, account, side in ((f"orders/s{index}", "accounts/seller", trading_pb2.SIDE_SELL),
                                     (f"orders/b{index}", "accounts/buyer", trading_pb2.SIDE_BUY)):
            await self.matching_stub.SubmitOrder(matching_pb.SubmitOrderRequest(
                order=order, account=account, market="markets/BTC-USDC", side=side, type=trading_pb2.ORDER_TYPE_LIMIT, price=PRICE,
                quantity=QUANTITY), metadata=self.order)

    async def trades(self, count: int) -> None:
        # Pairs sequentially within a lane keep each sell resting before its buy arrives.
        async def lane(n: int) -> None:
            for _ in range(n):
                await self.trade()
        await asyncio.gather(*(lane(count // CONCURRENCY + (i < count % CONCURRENCY)) for i in range(CONCURRENCY)))

    async def posted(self, stub: pb_grpc.SettlementServiceStub) -> int:
        """How many settlements are POSTED or ANCHORED."""
        total = 0
        for state in (settlement_pb2.SETTLEMENT_STATE_POSTED, settlement_pb2.SETTLEMENT_STATE_ANCHORED):
            token = ""
            while True:
                page = await stub.ListSettlements(pb.ListSettlementsRequest(
                    state=state, page_size=1000, page_token=token), metadata=self.operator)
                total += len(page.settlements)
                token = page.next_page_token
                if not token:
                    break
        return total

    async def lags_ms(self) -> list[float]:
        """Each trade's Wallet transfer time − its execute time."""
        executed: dict[str, float] = {}
        token = ""
        while True:
            page = await self.matching_stub.ListTrades(matching_pb.ListTradesRequest(
                market="markets/BTC-USDC", page_size=1000, page_token=token), metadata=self.operator)
            executed.update({f"transfers/{t.name}": t.execute_time.ToNanoseconds() / 1e6 for t in page.trades})
            token = page.next_page_token
            if not token:
                break
        lags: list[float] = []
        token = ""
        while True:
            page = await self.wallet_stub.ListEntries(wallet_pb.ListEntriesRequest(
                account="system/fees", page_size=1000, page_token=token), metadata=self.operator)
            lags += [e.create_time.ToNanoseconds() / 1e6 - executed[e.transfer] for e in page.entries
                     if e.transfer in executed]
            token = page.next_page_token
            if not token:
                break
        return lags


async def wait_posted(mesh: Mesh, stub: pb_grpc.SettlementServiceStub, count: int) -> None:
    """Until the `count`-th trade is posted (the poster takes them in trade order), then checks
    that all of them are: a cheap poll that does not compete with what it measures."""
    done = (settlement_pb2.SETTLEMENT_STATE_POSTED, settlement_pb2.SETTLEMENT_STATE_ANCHORED)
    request = pb.GetSettlementRequest(name=f"settlements/BTC-USDC-{count}")
    while True:
        try:
            if (await stub.GetSettlement(request, metadata=mesh.operator)).state in done:
                break
        except grpc.aio.AioRpcError as error:
            if error.code() is not grpc.StatusCode.NOT_FOUND:
                raise
        await asyncio.sleep(0.01)
    posted = await mesh.posted(stub)
    if posted != count:
        raise RuntimeError(f"{posted} of {count} trades posted")


async def run(name: str, databases: dict[str, str], data_dir: Path, catch_up: int, live: int,
              rate: float) -> dict[str, float]:
    settings = Settings(CLEARMESH_DATA_DIR=data_dir, jwt_secret=SECRET, CLEARMESH_MIGRATE_ON_START=True,
                        CLEARMESH_LOG_LEVEL="WARNING")
    mesh = Mesh(settings, databases)
    await mesh.start()
    try:
        await mesh.trades(catch_up)
        settlement: RunningService = await start(SETTLEMENT, mesh.settlement_settings, port=0)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{settlement.port}") as channel:
            stub = pb_grpc.SettlementServiceStub(channel)
            began = time.perf_counter()
            await wait_posted(mesh, stub, catch_up)
            per_sec = catch_up / (time.perf_counter() - began)
            print(f"{name}: {catch_up} trades caught up at {per_sec:.0f} trades/s (trade → POSTED)")
            lagged_from = time.perf_counter()
            for index in range(live):
                await mesh.trade()
                await asyncio.sleep(max(0.0, lagged_from + (index + 1) / rate - time.perf_counter()))
            await wait_posted(mesh, stub, catch_up + live)
            lags = sorted((await mesh.lags_ms())[catch_up:])
        await settlement.stop(0)
        p50, p99 = statistics.median(lags), lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        print(f"{name}: {live} live trades at {rate:.0f}/s, lag trade → posted p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        return {"trades_per_sec": round(per_sec, 1), "lag_p50_ms": round(p50, 1), "lag_p99_ms": round(p99, 1)}
    finally:
        await mesh.stop()


async def main(quick: bool) -> None:
    catch_up, live, rate = (500, 200, 50.0) if quick else (3000, 1000, 100.0)
    result: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as sqlite_dir:
        figures = await run("sqlite", {s: "" for s in SERVICES}, Path(sqlite_dir), catch_up, live, rate)
        result.update({f"sqlite_{key}": value for key, value in figures.items()})
    urls = {s: await create_scratch_database(POSTGRES_ADMIN_URL, f"clearmesh_bench_{s}") for s in SERVICES}
    try:
        with tempfile.TemporaryDirectory() as pg_dir:
            figures = await run("postgresql", urls, Path(pg_dir), catch_up, live, rate)
            result.update({f"pg_{key}": value for key, value in figures.items()})
    finally:
        for url in urls.values():
            await drop_scratch_database(POSTGRES_ADMIN_URL, url)
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trades")
    loop.run(main(parser.parse_args().quick))
