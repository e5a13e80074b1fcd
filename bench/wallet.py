"""Wallet benchmark: PostTransfer throughput and latency over gRPC, on SQLite and PostgreSQL.

    python bench/wallet.py [--quick]

The Wallet runs in this process on a free port (services.runtime.server.start) on a fresh
database (a temporary SQLite file; a new PostgreSQL database, dropped afterwards). Each client
gets its own buyer and seller, funded with Deposit + PlaceHold, then posts trades built with
build_trade_legs (unique transfer ids) one after another; 1 or 16 clients run at once. Every
trade also credits `system/fees`, so all clients contend for that row, as in production.
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
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "protos" / "gen" / "python"))

import grpc

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb, wallet_service_pb2_grpc as pb_grpc
from services.runtime.auth import TokenIssuer
from services.runtime.database import create_scratch_database, drop_scratch_database
from services.runtime.loop import run as run_loop
from services.runtime.server import start
from services.runtime.settings import Settings
from services.wallet.domain import DEFAULT_ASSETS, build_trade_legs, format_units, legs_to_postings
from services.wallet.service import SPEC

POSTGRES_ADMIN_URL = os.environ.get("CLEARMESH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-secret-" + "x" * 32
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


async def run(database_url: str, clients: int, transfers: int, run_id: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(CLEARMESH_DATA_DIR=Path(data_dir), jwt_secret=SECRET, database_url=database_url,
                            CLEARMESH_MIGRATE_ON_START=True, CLEARMESH_LOG_LEVEL="WARNING")
        running = await start(SPEC, settings, port=0)
        issuer = TokenIssuer(SECRET, issuer=settings.jwt_issuer, audience=settings.jwt_audience, ttl_seconds=3600)
        operator = bearer(issuer, account="ops", roles=("operator",))
        order, settlement = bearer(issuer, service="order"), bearer(issuer, service="settlement")
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
        try:
            stub = pb_grpc.WalletServiceStub(channel)
            names = [f"{run_id}-{c}" for c in range(clients)]
            parties = [await fund(stub, operator, order, name) for name in names]
            per_client = transfers // clients
            requests = [[trade_request(f"{name}-t{i}", *parties[c], name) for i in range(per_client)]
                        for c, name in enumerate(names)]
            latencies: list[float] = []

            async def client(batch: list[pb.PostTransferRequest]) -> None:
                for request in batch:
                    began = time.perf_counter()
                    await stub.PostTransfer(request, metadata=settlement)
                    latencies.append(time.perf_counter() - began)

            began = time.perf_counter()
            await asyncio.gather(*(client(batch) for batch in requests))
            elapsed = time.perf_counter() - began
        finally:
            await channel.close()
            await running.stop(grace=0)
    latencies.sort()
    return {
        "per_sec": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


async def main(quick: bool) -> dict[str, float]:
    transfers = 320 if quick else 3200
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as sqlite_dir:
        sqlite_url = f"sqlite+aiosqlite:///{sqlite_dir}/wallet.db"
        for clients in (1, 16):
            result = await run(sqlite_url, clients, transfers, f"s{clients}")
            print(f"sqlite     {clients:>2} clients: {result['per_sec']:8.1f} transfers/s  "
                  f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms")
            figures[f"sqlite_{clients}_per_sec"] = round(result["per_sec"], 1)
    pg_url = await create_scratch_database(POSTGRES_ADMIN_URL, "clearmesh_bench")
    try:
        for clients in (1, 16):
            result = await run(pg_url, clients, transfers, f"p{clients}")
            print(f"postgresql {clients:>2} clients: {result['per_sec']:8.1f} transfers/s  "
                  f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms")
            figures[f"pg_{clients}_per_sec"] = round(result["per_sec"], 1)
            if clients == 16:
                figures["pg_16_p50_ms"] = round(result["p50_ms"], 2)
                figures["pg_16_p99_ms"] = round(result["p99_ms"], 2)
    finally:
        await drop_scratch_database(POSTGRES_ADMIN_URL, pg_url)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred transfers per configuration")
    arguments = parser.parse_args()
    print(json.dumps(run_loop(main(arguments.quick))))
