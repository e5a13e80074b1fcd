"""Mesh benchmark: sustained PlaceOrder throughput of the whole mesh, over gRPC and over REST,
beside the bare gRPC echo rate measured in the same run.

    python bench/mesh.py [--quick] [--database sqlite|postgres|both] [--seconds S] [--workers N]

Every service (`clearmesh serve`, each its own process, as `clearmesh up` runs them, logs at
INFO) and the REST edge start on free ports, on SQLite files in a temporary data directory
(the embedded default) or on a scratch PostgreSQL database (CLEARMESH_TEST_POSTGRES, default
postgresql://postgres@127.0.0.1:5432/test). The load is `clearmesh load`'s (services/load):
new traders through KYC and funded, then the realistic flow — about 30 % crossing, cancels,
market and IOC orders, both default markets — as fast as the mesh answers with `--workers`
calls in flight, for `--seconds`, first over gRPC, then over REST; then over gRPC again paced
at half the gRPC rate (`paced_*`), for the latency of a call that is not queued behind the
others — at saturation, latency is mostly the queue (in-flight calls / throughput).

The yardstick: a minimal grpc.aio echo server (its own process, one unary method that returns
its request) called by a grpc.aio client with the same concurrency and channels as the load's
gRPC driver, on the same machine in the same run. `grpc_over_echo` is how close the mesh's
PlaceOrder comes to what gRPC itself allows here; one PlaceOrder is four service hops (KYC,
Wallet, Matching, two writes of Order) plus the trades it sets off.

Top-level figures are the embedded default (SQLite), or the one database run; with both,
`postgres` holds the PostgreSQL run's. The last output line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "protos" / "gen" / "python"))

import grpc

from bench.processes import PYTHONPATH, SECRET, free_port, stop_all
from services.load.grpc_driver import CHANNELS
from services.load.report import percentile, summary_lines
from services.load.runner import Plan
from services.load.session import Target, run_load
from services.runtime.auth import TokenIssuer
from services.runtime.database import create_scratch_database, drop_scratch_database
from services.runtime.health import wait_serving
from services.runtime.loop import run as run_loop

SERVICES = ("kyc", "wallet", "matching", "order", "settlement")  # peers before the services calling them
POSTGRES_ADMIN_URL = os.environ.get("CLEARMESH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ECHO = "/bench.Echo/Echo"
ECHO_PAYLOAD = b"x" * 120  # about a PlaceOrderRequest's size on the wire


# ---------------------------------------------------------------- the echo yardstick

async def serve_echo() -> None:
    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler("bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(grace=0)


async def echo_rate(port: int, workers: int, seconds: float) -> tuple[float, float]:
    """Calls a second and p99 ms of `workers` callers on CHANNELS channels for `seconds`."""
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for _ in range(CHANNELS)]
    calls: itertools.cycle[grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]] = itertools.cycle(
        [channel.unary_unary(ECHO) for channel in channels])
    latencies: list[float] = []

    async def caller(until: float) -> None:
        while time.perf_counter() < until:
            began = time.perf_counter()
            await next(calls)(ECHO_PAYLOAD, timeout=10)
            latencies.append((time.perf_counter() - began) * 1000)

    await asyncio.gather(*(caller(time.perf_counter() + 1.0) for _ in range(workers)))  # warm-up
    latencies.clear()
    began = time.perf_counter()
    await asyncio.gather(*(caller(began + seconds) for _ in range(workers)))
    elapsed = time.perf_counter() - began
    for channel in channels:
        await channel.close()
    return len(latencies) / elapsed, percentile(latencies, 0.99)


def measure_echo(workers: int, seconds: float) -> tuple[float, float]:
    server = subprocess.Popen([sys.executable, __file__, "--echo-server"], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": PYTHONPATH})
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        return run_loop(echo_rate(port, workers, seconds))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


# ---------------------------------------------------------------- the mesh

class Mesh:
    """The five services and the edge as processes on free ports, stopped on exit."""

    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        self.ports = {name: free_port() for name in (*SERVICES, "edge")}
        self.env = {
            **os.environ, "JWT_SECRET": SECRET, "CLEARMESH_DATA_DIR": str(data_dir),
            "PYTHONPATH": PYTHONPATH,
            "CLEARMESH_EDGE_PORT": str(self.ports["edge"]),
            # The edge's per-subject limit is a guard for real clients, not what is measured.
            "RATE_LIMIT_PER_MINUTE": "100000000", "RATE_LIMIT_BURST": "1000000",
            **{f"CLEARMESH_{name.upper()}_ADDR": f"127.0.0.1:{port}" for name, port in self.ports.items() if name != "edge"},
        }
        if database_url:
            self.env |= {"DATABASE_URL": database_url, "CLEARMESH_MIGRATE_ON_START": "true"}
        self.data_dir = data_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def target(self) -> Target:
        def addr(name: str) -> str:
            return f"127.0.0.1:{self.ports[name]}"

        return Target(addr("order"), addr("matching"), addr("wallet"), addr("kyc"), addr("settlement"),
                      "127.0.0.1", self.ports["edge"])

    def start(self) -> None:
        for name in (*SERVICES, "edge"):
            log = open(self.data_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
            env = {**self.env, "CLEARMESH_GRPC_PORT": str(self.ports[name])} if name != "edge" else self.env
            self.processes.append(subprocess.Popen([sys.executable, "-m", "services.cli", "serve", name], cwd=ROOT,
                                                   stdout=log, stderr=subprocess.STDOUT, env=env))
            if name != "edge":
                run_loop(self._serving(name))
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.ports["edge"]), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the edge did not start") from None
                time.sleep(0.1)

    async def _serving(self, name: str) -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{self.ports[name]}") as channel:
            if await wait_serving(channel, attempts=600, pause=0.1):
                return
        raise RuntimeError(f"{name} did not start; see {self.data_dir / (name + '.log')}")

    def stop(self) -> None:
        stop_all(self.processes)


def measure_mesh(database: str, workers: int, traders: int, seconds: float) -> dict[str, Any]:
    issuer = TokenIssuer(SECRET, issuer="clearmesh", audience="clearmesh", ttl_seconds=3600)
    url = run_loop(create_scratch_database(POSTGRES_ADMIN_URL, "clearmesh_bench")) if database == "postgres" else None
    try:
        with tempfile.TemporaryDirectory(prefix="clearmesh-bench-mesh-") as tmp:
            mesh = Mesh(Path(tmp), url)
            try:
                mesh.start()
                # Echo first, while the mesh is up but idle: the same machine, the same moment.
                echo_per_sec, echo_p99 = measure_echo(workers, seconds)
                print(f"[{database}] gRPC echo: {echo_per_sec:.0f} calls/s, p99 {echo_p99:.2f} ms "
                      f"({workers} callers, {CHANNELS} channels)", flush=True)
                runs: dict[str, dict[str, Any]] = {}
                for transport, rate in (("grpc", 0.0), ("rest", 0.0), ("paced", None)):
                    if rate is None:  # half the gRPC rate just measured: latency without the queue
                        rate = round(runs["grpc"]["place_per_sec"] / 2, 1)
                    runs[transport] = run_loop(run_load(
                        issuer, mesh.target(), transport="rest" if transport == "rest" else "grpc", traders=traders,
                        seed=1, plan=Plan(workers=workers, rate=rate, duration_secs=seconds),
                        show=lambda line: print(f"  {line}", file=sys.stderr, flush=True)))
                    for line in summary_lines(runs[transport]):
                        print(f"[{database}]{' (gRPC at ' + str(rate) + '/s)' if rate else ''} {line}", flush=True)
            finally:
                mesh.stop()
    finally:
        if url:
            run_loop(drop_scratch_database(POSTGRES_ADMIN_URL, url))
    grpc_rate, rest_rate = runs["grpc"]["place_per_sec"], runs["rest"]["place_per_sec"]
    return {
        "database": database,
        "echo_calls_per_sec": round(echo_per_sec, 1),
        "grpc_place_per_sec": grpc_rate,
        "rest_place_per_sec": rest_rate,
        "grpc_over_echo": round(grpc_rate / echo_per_sec, 3),
        "rest_over_grpc": round(rest_rate / grpc_rate, 3) if grpc_rate else 0.0,
        "place_p50_ms": runs["grpc"]["place_p50_ms"],
        "place_p95_ms": runs["grpc"]["place_p95_ms"],
        "place_p99_ms": runs["grpc"]["place_p99_ms"],
        "rest_place_p99_ms": runs["rest"]["place_p99_ms"],
        "settlement_lag_p50_ms": runs["grpc"]["settlement_lag_p50_ms"],
        "settlement_lag_p99_ms": runs["grpc"]["settlement_lag_p99_ms"],
        "rest_settlement_lag_p99_ms": runs["rest"]["settlement_lag_p99_ms"],
        # The same flow over gRPC paced at half the rate above: the latency of a call that does
        # not wait behind 31 others (the figures above are at saturation, queue included).
        "paced_per_sec": runs["paced"]["place_per_sec"],
        "paced_place_p50_ms": runs["paced"]["place_p50_ms"],
        "paced_place_p99_ms": runs["paced"]["place_p99_ms"],
        "paced_settlement_lag_p99_ms": runs["paced"]["settlement_lag_p99_ms"],
        "place_errors": runs["grpc"]["place_errors"] | {f"rest_{k}": v for k, v in runs["rest"]["place_errors"].items()},
        "workers": workers,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s per measurement instead of 20")
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, help="seconds per measurement")
    parser.add_argument("--workers", type=int, default=32, help="calls in flight (echo and load alike)")
    parser.add_argument("--traders", type=int, default=32)
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.echo_server:
        run_loop(serve_echo())
        return
    seconds = arguments.seconds or (5.0 if arguments.quick else 20.0)
    databases = ("sqlite", "postgres") if arguments.database == "both" else (arguments.database,)
    results = [measure_mesh(database, arguments.workers, arguments.traders, seconds) for database in databases]
    result = results[0]
    if len(results) > 1:
        result = {**result, "postgres": results[1]}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
