"""Wallet benchmark: PostTransfer, PostTransfers and PlaceHold over gRPC, on SQLite and PostgreSQL.

    python bench/wallet.py [--quick] [--only transfer|batch|hold]

The Wallet runs in this process on a free port (services.runtime.server.start) on a fresh
database (a temporary SQLite file; a new PostgreSQL database, dropped afterwards). Each client
gets its own buyer and seller, funded with Deposit + PlaceHold, then posts trades built with
build_trade_legs (unique transfer ids) one after another; 1 or 16 clients run at once. Every
trade also credits `system/fees`, so all clients contend for that row, as in production.

- transfer: PostTransfer, one trade per call, 1 and 16 clients (as Settlement did before batches).
- batch: PostTransfers, batches of 100 and 500 such trades per call, 1 and 4 clients; figures
  are transfers/s, latencies per call (one batch).
- hold: PlaceHold, 32 clients (the Order service: one hold per order), each on its own
  funded account with unique hold ids; figures are holds/s and per-call latencies.

The last output line is one JSON object.
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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "protos" / "gen" / "python"))

import grpc

from bench.processes import SECRET
from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb, wallet_service_pb2_grpc as pb_grpc
from services.runtime.auth import TokenIssuer
from services.runtime.database import create_scratch_database, drop_scratch_database
from services.runtime.loop import run as run_loop
from services.runtime.server import start
from services.runtime.settings import Settings
from services.wallet.domain import DEFAULT_ASSETS, build_trade_legs, format_units, legs_to_postings
from services.wallet.service import SPEC

POSTGRES_ADMIN_URL = os.environ.get("CLEARMESH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
USDC, GRID = DEFAULT_ASSETS["USDC"], DEFAULT_ASSETS["GRID"]
Metadata = tuple[tuple[str, str], ...]


def bearer(issuer: TokenIssuer, **claims: Any) -> Metadata:
    return (("authorization", f"Bearer {issuer.mint(**claims)}"),)


def trade_request(transfer_id: str, buyer: str, seller: str, hold_suffix: str) -> pb.PostTransferRequest:
    legs = build_trade_legs(
        buyer=buyer, seller=seller, base=GRID, quote=USDC, quantity=Decimal("0.001"),
        quote_amount=Decimal("0.01"), buyer_fee=Decimal("0.00001"), seller_fee=Decimal("0.00001"),
        buyer_hold_id=f"buy-{hold_suffix}", seller_hold_id=f"sell-{hold_suffix}")
    return pb.PostTransferRequest(transfer=f"transfers/{transfer_id}", postings=[
        wallet_pb2.Posting(account=p.account, asset=p.asset, amount=format_units(DEFAULT_ASSETS[p.asset], p.units),
                           hold=f"holds/{p.hold_id}" if p.hold_id else "")
        for p in legs_to_postings(legs, DEFAULT_ASSETS)
    ])


async def fund(stub: pb_grpc.WalletServiceStub, operator: Metadata, order: Metadata, client: str) -> tuple[str, str]:
    buyer, seller = f"accounts/buyer-{client}", f"accounts/seller-{client}"
    await stub.Deposit(pb.DepositRequest(account=buyer, asset="USDC", amount="1000000", request_id=f"fund-b-{client}"),
                       metadata=operator)
    await stub.Deposit(pb.DepositRequest(account=seller, asset="GRID", amount="1000000", request_id=f"fund-s-{client}"),
                       metadata=operator)
    await stub.PlaceHold(pb.PlaceHoldRequest(hold=f"holds/buy-{client}", account=buyer, asset="USDC", amount="1000000"),
                         metadata=order)
    await stub.PlaceHold(pb.PlaceHoldRequest(hold=f"holds/sell-{client}", account=seller, asset="GRID", amount="1000000"),
                         metadata=order)
    return buyer, seller


@dataclass(frozen=True)
class Callers:
    stub: pb_grpc.WalletServiceStub
    operator: Metadata
    order: Metadata
    settlement: Metadata


@asynccontextmanager
async def serving(database_url: str) -> AsyncIterator[Callers]:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(CLEARMESH_DATA_DIR=Path(data_dir), jwt_secret=SECRET, database_url=database_url,
                            CLEARMESH_MIGRATE_ON_START=True, CLEARMESH_LOG_LEVEL="WARNING")
        running = await start(SPEC, settings, port=0)
        issuer = TokenIssuer(SECRET, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_seconds=3600)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
        try:
            yield Callers(pb_grpc.WalletServiceStub(channel), operator=bearer(issuer, account="ops", roles=("operator",)),
                          order=bearer(issuer, service="order"), settlement=bearer(issuer, service="settlement"))
        finally:
            await channel.close()
            await running.stop(grace=0)


async def timed(calls: Sequence[Sequence[Callable[[], Awaitable[object]]]]) -> tuple[float, list[float]]:
    """Each client's calls one after another, all clients at once: (elapsed s, latencies s)."""
    latencies: list[float] = []

    async def client(mine: Sequence[Callable[[], Awaitable[object]]]) -> None:
        for call in mine:
            began = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(client(mine) for mine in calls))
    return time.perf_counter() - began, sorted(latencies)


def figures(count: int, elapsed: float, latencies: list[float]) -> dict[str, float]:
    return {
        "per_sec": count / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


async def run_transfers(database_url: str, clients: int, transfers: int, run_id: str) -> dict[str, float]:
    async with serving(database_url) as callers:
        names = [f"{run_id}-{c}" for c in range(clients)]
        parties = [await fund(callers.stub, callers.operator, callers.order, name) for name in names]
        per_client = transfers // clients
        calls = [[partial(callers.stub.PostTransfer, trade_request(f"{name}-t{i}", *parties[c], name),
                          metadata=callers.settlement) for i in range(per_client)]
                 for c, name in enumerate(names)]
        elapsed, latencies = await timed(calls)
    return figures(len(latencies), elapsed, latencies)


async def run_batches(database_url: str, clients: int, batch: int, transfers: int, run_id: str) -> dict[str, float]:
    async with serving(database_url) as callers:
        names = [f"{run_id}-{c}" for c in range(clients)]
        parties = [await fund(callers.stub, callers.operator, callers.order, name) for name in names]
        per_client = max(1, transfers // clients // batch)
        calls = [[partial(callers.stub.PostTransfers, pb.PostTransfersRequest(transfers=[
                      trade_request(f"{name}-b{b}-t{i}", *parties[c], name) for i in range(batch)]),
                          metadata=callers.settlement) for b in range(per_client)]
                 for c, name in enumerate(names)]
        elapsed, latencies = await timed(calls)
    return figures(len(latencies) * batch, elapsed, latencies)


async def run_holds(database_url: str, clients: int, holds: int, run_id: str) -> dict[str, float]:
    async with serving(database_url) as callers:
        accounts = [f"accounts/holder-{run_id}-{c}" for c in range(clients)]
        for account in accounts:
            await callers.stub.Deposit(pb.DepositRequest(account=account, asset="USDC", amount="1000000",
                                                         request_id=f"fund-{account[9:]}"), metadata=callers.operator)
        per_client = holds // clients
        calls = [[partial(callers.stub.PlaceHold, pb.PlaceHoldRequest(
                      hold=f"holds/{run_id}-{c}-o{i}", account=account, asset="USDC", amount="0.01"),
                          metadata=callers.order) for i in range(per_client)]
                 for c, account in enumerate(accounts)]
        elapsed, latencies = await timed(calls)
    return figures(len(latencies), elapsed, latencies)


def report(label: str, unit: str, result: dict[str, float]) -> None:
    print(f"{label:<34} {result['per_sec']:8.1f} {unit}/s  p50 {result['p50_ms']:7.2f} ms  p99 {result['p99_ms']:7.2f} ms")


async def measure(database: str, url: str, quick: bool, only: str | None, out: dict[str, float]) -> None:
    transfers = 320 if quick else 3200
    if only in (None, "transfer"):
        for clients in (1, 16):
            result = await run_transfers(url, clients, transfers, f"{database[0]}{clients}")
            report(f"{database} PostTransfer {clients:>2} clients", "transfers", result)
            out[f"{database}_{clients}_per_sec"] = round(result["per_sec"], 1)
            if database == "pg" and clients == 16:
                out["pg_16_p50_ms"] = round(result["p50_ms"], 2)
                out["pg_16_p99_ms"] = round(result["p99_ms"], 2)
    if only in (None, "batch"):
        for batch in (100, 500):
            for clients in (1, 4):
                result = await run_batches(url, clients, batch, 2000 if quick else 20000,
                                           f"{database[0]}b{batch}x{clients}")
                report(f"{database} PostTransfers {batch}/call {clients} clients", "transfers", result)
                for figure in ("per_sec", "p50_ms", "p99_ms"):
                    out[f"{database}_batch{batch}_{clients}_{figure}"] = round(result[figure], 1)
    if only in (None, "hold"):
        result = await run_holds(url, 32, 1600 if quick else 16000, f"{database[0]}h32")
        report(f"{database} PlaceHold 32 clients", "holds", result)
        for figure in ("per_sec", "p50_ms", "p99_ms"):
            out[f"{database}_hold_32_{figure}"] = round(result[figure], 1)


async def main(quick: bool, only: str | None) -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as sqlite_dir:
        # One file per workload: each measures its own configuration from an empty ledger.
        for part in ("transfer", "batch", "hold") if only is None else (only,):
            await measure("sqlite", f"sqlite+aiosqlite:///{sqlite_dir}/wallet-{part}.db", quick, part, out)
    pg_url = await create_scratch_database(POSTGRES_ADMIN_URL, "clearmesh_bench")
    try:
        await measure("pg", pg_url, quick, only, out)
    finally:
        await drop_scratch_database(POSTGRES_ADMIN_URL, pg_url)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred transfers per configuration")
    parser.add_argument("--only", choices=("transfer", "batch", "hold"), help="measure one workload")
    arguments = parser.parse_args()
    print(json.dumps(run_loop(main(arguments.quick, arguments.only))))
