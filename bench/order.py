"""Order benchmark: PlaceOrder throughput and latency through real processes.

    python bench/order.py [--quick]

KYC, Wallet, Matching and Order run as their own processes (`python -m services.cli serve`,
each on its own SQLite file in a temporary data directory, on free ports), as `clearmesh up`
runs them. 32 traders are approved at tier 2 and funded; each PlaceOrder is a limit buy on
BTC-USDC that rests (no fills), so one call is: KYC check, the order stored, the hold placed,
the order journaled by Matching, the answer stored. 1 client, then 32 at once. The last output
line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "protos" / "gen" / "python"))

import grpc
from clearmesh.kyc.v1 import kyc_pb2
from clearmesh.kyc.v1 import kyc_service_pb2 as kyc_pb
from clearmesh.kyc.v1 import kyc_service_pb2_grpc as kyc_grpc
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as pb
from clearmesh.order.v1 import order_service_pb2_grpc as pb_grpc
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb
from clearmesh.wallet.v1 import wallet_service_pb2_grpc as wallet_grpc
from google.type import date_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runtime.auth import TokenIssuer
from services.runtime.loop import run as run_loop

SECRET = "bench-secret-" + "x" * 32
SERVICES = ("kyc", "wallet", "matching", "order")
CLIENTS = 32
Metadata = tuple[tuple[str, str], ...]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_mesh(data_dir: Path) -> tuple[list[subprocess.Popen[bytes]], dict[str, int]]:
    ports = {name: free_port() for name in SERVICES}
    env = {**os.environ, "JWT_SECRET": SECRET, "CLEARMESH_DATA_DIR": str(data_dir),
           "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'protos' / 'gen' / 'python'}",
           "CLEARMESH_LOG_LEVEL": "WARNING",
           **{f"CLEARMESH_{name.upper()}_ADDR": f"127.0.0.1:{port}" for name, port in ports.items()}}
    processes = []
    for name in SERVICES:
        log = open(data_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", name], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**env, "CLEARMESH_GRPC_PORT": str(ports[name])}))
    return processes, ports


async def wait_serving(port: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        for _ in range(600):
            try:
                answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the service on port {port} did not start")


async def prepare_trader(issuer: TokenIssuer, kyc: kyc_grpc.KycServiceStub, wallet: wallet_grpc.WalletServiceStub,
                         account: str) -> Metadata:
    trader: Metadata = (("authorization", f"Bearer {issuer.mint(account=account, roles=('trader',))}"),)
    operator: Metadata = (("authorization", f"Bearer {issuer.mint(account='ops', roles=('operator',))}"),)
    applicant = await kyc.CreateApplicant(kyc_pb.CreateApplicantRequest(applicant=kyc_pb2.Applicant(
        legal_name="Bench Trader", country="NL", address="1 Canal Street, Amsterdam",
        date_of_birth=date_pb2.Date(year=1990, month=4, day=2))), metadata=trader)
    await kyc.SubmitDocument(kyc_pb.SubmitDocumentRequest(parent=applicant.name, document=kyc_pb2.Document(
        type=kyc_pb2.DOCUMENT_TYPE_PASSPORT, issuing_country="NL", number=f"NX{abs(hash(account)) % 10**7:07d}",
        sha256="ab" * 32, size_bytes=120_000)), metadata=trader)
    await kyc.ReviewApplicant(kyc_pb.ReviewApplicantRequest(
        name=applicant.name, decision=kyc_pb.REVIEW_DECISION_APPROVE, tier=2), metadata=operator)
    await wallet.Deposit(wallet_pb.DepositRequest(account=f"accounts/{account}", asset="USDC", amount="100000",
                                                  request_id=f"deposit-{account}"), metadata=operator)
    return trader


async def place_many(stub: pb_grpc.OrderServiceStub, trader: Metadata, prefix: str, count: int,
                     latencies: list[float]) -> None:
    for index in range(count):
        began = time.perf_counter()
        await stub.PlaceOrder(pb.PlaceOrderRequest(order=order_pb2.Order(
            market="markets/BTC-USDC", side=trading_pb2.SIDE_BUY, type=trading_pb2.ORDER_TYPE_LIMIT,
            price="1.00", quantity="0.001"), request_id=f"{prefix}-{index}"), metadata=trader)
        latencies.append((time.perf_counter() - began) * 1000)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(quick: bool) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        processes, ports = start_mesh(Path(tmp))
        try:
            for port in ports.values():
                await wait_serving(port)
            issuer = TokenIssuer(SECRET, issuer="clearmesh", audience="clearmesh", ttl_seconds=3600)
            channels = {name: grpc.aio.insecure_channel(f"127.0.0.1:{port}") for name, port in ports.items()}
            kyc, wallet = kyc_grpc.KycServiceStub(channels["kyc"]), wallet_grpc.WalletServiceStub(channels["wallet"])
            order = pb_grpc.OrderServiceStub(channels["order"])
            traders = [await prepare_trader(issuer, kyc, wallet, f"trader{i}") for i in range(CLIENTS)]
            await place_many(order, traders[0], "warm", 20, [])
            for clients, per_client in ((1, 100 if quick else 400), (CLIENTS, 10 if quick else 40)):
                latencies: list[float] = []
                began = time.perf_counter()
                await asyncio.gather(*(place_many(order, traders[i], f"c{clients}-{i}", per_client, latencies)
                                       for i in range(clients)))
                elapsed = time.perf_counter() - began
                figures[f"place_per_sec_{clients}"] = round(len(latencies) / elapsed, 1)
                figures[f"place_p50_ms_{clients}"] = round(statistics.median(latencies), 2)
                figures[f"place_p99_ms_{clients}"] = round(percentile(latencies, 0.99), 2)
                print(f"{clients:>2} client(s): {len(latencies)} orders in {elapsed:.2f} s, "
                      f"{figures[f'place_per_sec_{clients}']} /s, p50 {figures[f'place_p50_ms_{clients}']} ms, "
                      f"p99 {figures[f'place_p99_ms_{clients}']} ms", flush=True)
            for channel in channels.values():
                await channel.close()
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer orders per phase")
    figures = run_loop(run(parser.parse_args().quick))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
