"""Order benchmark: PlaceOrder throughput and latency through real processes.

    python bench/order.py [--quick] [--db sqlite|postgres|both] [--repeats N] [--profile DIR]

KYC, Wallet, Matching and Order run as their own processes (`python -m services.cli serve`,
on free ports), as `clearmesh up` runs them: on SQLite (one file per service in a temporary
data directory) and on PostgreSQL (a fresh scratch database per run on CLEARMESH_TEST_POSTGRES,
default postgresql://postgres@127.0.0.1:5432/test, dropped afterwards). 32 traders are approved
at tier 2 and funded; each PlaceOrder is a limit buy on BTC-USDC that rests (no fills), so one
call is: KYC check, the order stored, the hold placed, the order journaled by Matching, the
answer stored. 1 client, then 32 at once, `--repeats` times on the same mesh.

Per phase it prints throughput, p50/p99, the share of Order's PlaceOrder time spent in each
step (KYC, Wallet, Matching, Order's own store; read from Order's `order_place_step_seconds`
histogram on its METRICS_PORT, so measured where the time is spent) and the CPU each process
burnt per order (from /proc). `--profile DIR` runs every service under cProfile and writes
DIR/{service}-{db}.prof at shutdown. The last output line is one JSON object: the best of the
repeats as `place_per_sec_32`, `place_p99_ms_32` (SQLite) and `pg_place_per_sec_32`, ... (PostgreSQL),
plus the medians under `..._median`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "protos" / "gen" / "python"))

import grpc
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as pb
from clearmesh.order.v1 import order_service_pb2_grpc as pb_grpc
from clearmesh.type.v1 import trading_pb2

from bench.processes import PYTHONPATH, SECRET, free_port, stop_all
from services.load.accounts import Metadata, prepare_traders
from services.runtime.auth import TokenIssuer
from services.runtime.database import create_scratch_database, drop_scratch_database
from services.runtime.health import wait_serving
from services.runtime.loop import run as run_loop

SERVICES = ("kyc", "wallet", "matching", "order")
CLIENTS = 32


POSTGRES_ADMIN_URL = os.environ.get("CLEARMESH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
STEPS = ("kyc", "wallet", "matching", "store")
SPY_SECS = 4


class Mesh:
    """The four service processes, their ports and Order's metrics port."""

    def __init__(self, data_dir: Path, database_url: str | None, profile: Path | None, label: str,
                 spy_binary: str | None) -> None:
        self.profile, self.label, self.spy_binary = profile, label, spy_binary
        self.ports = {name: free_port() for name in SERVICES}
        self.metrics_port = free_port()
        env = {**os.environ, "JWT_SECRET": SECRET, "CLEARMESH_DATA_DIR": str(data_dir),
               "PYTHONPATH": PYTHONPATH,
               "CLEARMESH_LOG_LEVEL": "WARNING",
               **{f"CLEARMESH_{name.upper()}_ADDR": f"127.0.0.1:{port}" for name, port in self.ports.items()}}
        if database_url is not None:
            # each service in its own schema of it, migrated at start as on SQLite
            env |= {"DATABASE_URL": database_url, "CLEARMESH_MIGRATE_ON_START": "1"}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        for name in SERVICES:
            log = open(data_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
            launcher = ["-m", "cProfile", "-o", str(profile / f"{name}-{label}.prof")] if profile and not spy_binary else []
            extra = {"METRICS_PORT": str(self.metrics_port)} if name == "order" else {}
            self.processes[name] = subprocess.Popen(
                [sys.executable, *launcher, "-m", "services.cli", "serve", name], cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT, env={**env, "CLEARMESH_GRPC_PORT": str(self.ports[name]), **extra})

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU each process has used so far (every thread)."""
        tick = os.sysconf("SC_CLK_TCK")
        used = {}
        for name, process in self.processes.items():
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[name] = (int(fields[11]) + int(fields[12])) / tick
        return used

    def step_sums(self) -> dict[str, tuple[float, float]]:
        """Order's `order_place_step_seconds` per step: (sum of seconds, count)."""
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()
        sums: dict[str, list[float]] = {}
        for kind, step, value in re.findall(r'^order_place_step_seconds_(sum|count)\{step="(\w+)"\} (\S+)$',
                                            text, re.MULTILINE):
            sums.setdefault(step, [0.0, 0.0])[0 if kind == "sum" else 1] = float(value)
        return {step: (pair[0], pair[1]) for step, pair in sums.items()}

    def spy(self, tag: str) -> list[subprocess.Popen[bytes]]:
        """With --spy: py-spy samples every service for SPY_SECS (every thread, CPU only),
        collapsed stacks in {profile}/{service}-{label}-{tag}.txt."""
        if self.spy_binary is None or self.profile is None:
            return []
        return [subprocess.Popen([self.spy_binary, "record", "--pid", str(process.pid), "--rate", "250",
                                  "--duration", str(SPY_SECS), "--format", "raw", "--threads", "--nonblocking",
                                  "-o", str(self.profile / f"{name}-{self.label}-{tag}.txt")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for name, process in self.processes.items()]

    def stop(self) -> None:
        stop_all(self.processes.values(), wait_secs=60)  # a profiled service writes its profile first


async def wait_started(port: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        if await wait_serving(channel, attempts=600, pause=0.1):
            return
    raise RuntimeError(f"the service on port {port} did not start")


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


async def phase(mesh: Mesh, order: pb_grpc.OrderServiceStub, traders: list[Metadata], clients: int,
                per_client: int, tag: str) -> dict[str, float]:
    latencies: list[float] = []
    spies = mesh.spy(tag) if clients == CLIENTS else []
    cpu_before, steps_before = mesh.cpu_seconds(), mesh.step_sums()
    client_before = time.process_time()
    began = time.perf_counter()
    await asyncio.gather(*(place_many(order, traders[i], f"{tag}-{i}", per_client, latencies)
                           for i in range(clients)))
    elapsed = time.perf_counter() - began
    client_cpu = time.process_time() - client_before
    cpu_after, steps_after = mesh.cpu_seconds(), mesh.step_sums()
    for spy in spies:
        spy.wait()
    count = len(latencies)
    figures = {"per_sec": round(count / elapsed, 1), "p50_ms": round(statistics.median(latencies), 2),
               "p99_ms": round(percentile(latencies, 0.99), 2)}
    total = steps_after["total"][0] - steps_before["total"][0]
    shares = {step: (steps_after[step][0] - steps_before[step][0]) / total for step in STEPS}
    cpu = {name: (cpu_after[name] - cpu_before[name]) * 1000 / count for name in SERVICES}
    cpu["bench client"] = client_cpu * 1000 / count
    print(f"  {clients:>2} client(s): {count} orders in {elapsed:.2f} s, {figures['per_sec']} /s, "
          f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms", flush=True)
    print("      Order's PlaceOrder time: " + ", ".join(f"{step} {share:.0%}" for step, share in shares.items())
          + f", the rest {1 - sum(shares.values()):.0%} (mean {total * 1000 / count:.1f} ms)", flush=True)
    print("      CPU ms per order: " + ", ".join(f"{name} {ms:.2f}" for name, ms in cpu.items())
          + f"; sum {sum(cpu.values()):.2f}", flush=True)
    return figures


async def warm_up(order: pb_grpc.OrderServiceStub, trader: Metadata) -> None:
    """A few orders before timing anything; retried while Order's peers are still connecting
    (SERVING says a process listens, not that its first calls to its peers got through)."""
    for attempt in range(50):
        try:
            await place_many(order, trader, f"warm{attempt}", 20, [])
            return
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            await asyncio.sleep(0.2)
    raise RuntimeError("Order answered UNAVAILABLE for 10 s after every service was serving")


async def run_mesh(label: str, database_url: str | None, quick: bool, repeats: int,
                   profile: Path | None, spy: str | None) -> dict[str, list[dict[str, float]]]:
    """Every repeat's figures per client count, on one mesh."""
    results: dict[str, list[dict[str, float]]] = {"1": [], str(CLIENTS): []}
    with tempfile.TemporaryDirectory() as tmp:
        mesh = Mesh(Path(tmp), database_url, profile, label, spy)
        try:
            for port in mesh.ports.values():
                await wait_started(port)
            issuer = TokenIssuer(SECRET, issuer="clearmesh", audience="clearmesh", ttl_seconds=3600)
            channels = {name: grpc.aio.insecure_channel(f"127.0.0.1:{port}") for name, port in mesh.ports.items()}
            order = pb_grpc.OrderServiceStub(channels["order"])
            # Approved at tier 2 and funded as `clearmesh load`'s traders are.
            traders = [trader.metadata for trader in await prepare_traders(
                issuer, f"127.0.0.1:{mesh.ports['kyc']}", f"127.0.0.1:{mesh.ports['wallet']}", "trader", CLIENTS)]
            await warm_up(order, traders[0])
            for repeat in range(repeats):
                print(f"{label}, run {repeat + 1} of {repeats}:", flush=True)
                for clients, per_client in ((1, 100 if quick else 300), (CLIENTS, 10 if quick else 40)):
                    results[str(clients)].append(
                        await phase(mesh, order, traders, clients, per_client, f"r{repeat}-c{clients}"))
            for channel in channels.values():
                await channel.close()
        finally:
            mesh.stop()
    return results


def summary(prefix: str, results: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    """Best and median of the repeats: best is the highest rate and the lowest latencies."""
    figures: dict[str, float] = {}
    for clients, runs in results.items():
        for key in ("per_sec", "p50_ms", "p99_ms"):
            values = [run[key] for run in runs]
            best = max(values) if key == "per_sec" else min(values)
            figures[f"{prefix}place_{key}_{clients}"] = best
            figures[f"{prefix}place_{key}_{clients}_median"] = round(statistics.median(values), 2)
    return figures


async def run(quick: bool, databases: list[str], repeats: int, profile: Path | None,
              spy: str | None) -> dict[str, float]:
    figures: dict[str, float] = {}
    for database in databases:
        if database == "sqlite":
            figures |= summary("", await run_mesh("SQLite", None, quick, repeats, profile, spy))
            continue
        url = await create_scratch_database(POSTGRES_ADMIN_URL, "clearmesh_bench_order")
        try:
            figures |= summary("pg_", await run_mesh("PostgreSQL", url, quick, repeats, profile, spy))
        finally:
            await drop_scratch_database(POSTGRES_ADMIN_URL, url)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer orders per phase")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=3, help="runs of both phases per database")
    parser.add_argument("--profile", type=Path, help="run the services under cProfile, writing here")
    parser.add_argument("--spy", metavar="PY_SPY", help="with --profile: sample the 32-client phase with this "
                        "py-spy binary instead of cProfile (`pip install py-spy`)")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    figures = run_loop(run(args.quick, databases, args.repeats, args.profile, args.spy))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
