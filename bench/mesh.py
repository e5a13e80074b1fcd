"""Mesh benchmark: sustained PlaceOrder throughput of the whole mesh, over gRPC and over REST,
beside the bare gRPC echo rate measured in the same run, and PlaceOrder latency at a rate.

    python bench/mesh.py [--quick] [--database sqlite|postgres|both] [--seconds S] [--workers N]

Every service (`clearmesh serve`, each its own process, as `clearmesh up` runs them, logs at
INFO) and the REST edge start on free ports, on SQLite files in a temporary data directory
(the embedded default) or on a scratch PostgreSQL database (CLEARMESH_TEST_POSTGRES, default
postgresql://postgres@127.0.0.1:5432/test). The load is `clearmesh load`'s (services/load):
new traders through KYC and funded, then the realistic flow (about 30 % crossing, cancels,
market and IOC orders, both default markets), each measurement `--seconds` long:

1. Saturated, over gRPC then over REST: `--workers` calls in flight, each sent as soon as the
   last answered (a closed loop), as fast as the mesh answers. `grpc_place_per_sec` and
   `rest_place_per_sec` are these rates. Their latency (`saturated_place_p99_ms`) is mostly
   the queue the loop makes itself: by Little's law its mean is workers ÷ rate (32 ÷ 300/s
   ≈ 107 ms) whatever the mesh does.
2. Paced, over gRPC (an open loop, services/load/pacing.py): actions due on a fixed schedule
   at 100 %, 75 %, 50 %, 25 % and 10 % of the saturated gRPC rate, highest first, each
   call's latency from when it was due (a stall is not hidden; an action due but never sent
   by the end counts with what it had waited), stopping at the first step that kept up
   (answered ≥ 95 % of the rate offered) with p99 within 50 ms.
   `place_p99_ms` (and p50/p95) is that step's, at the PlaceOrder rate it achieved
   (`place_p99_at_per_sec`, `place_p99_at_share` of the saturated rate); when no step is
   within, the 10 % step's, and `place_p99_within_target` is false. `full_rate_place_p99_ms`
   is the 100 % step's p99: the latency at the sustained rate itself.

The yardstick: a minimal grpc.aio echo server (its own process, one unary method that returns
its request) called by a grpc.aio client with the same concurrency and channels as the load's
gRPC driver, on the same machine in the same run. `grpc_over_echo` is how close the mesh's
PlaceOrder comes to what gRPC itself allows here; one PlaceOrder is four service hops (KYC,
Wallet, Matching, two writes of Order) plus the trades it sets off.

Where the CPU goes: for each load run, the CPU every process used while the flow ran (/proc),
per PlaceOrder answered OK: the edge, Order, KYC, the Wallet, Matching, Settlement and the
load generator itself (this process); and the echo server's and client's per call.
Settlement lag is the saturated gRPC run's (the most trades to settle).

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "protos" / "gen" / "python"))

import grpc

from bench.cpu import cpu_seconds
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
P99_TARGET_MS = 50.0  # the issue's: PlaceOrder p99 at the rate reported
# Paced steps, as shares of the saturated gRPC PlaceOrder rate, highest first (pace_search).
PACED_SHARES = (1.0, 0.75, 0.5, 0.25, 0.1)
STEP_KEYS = ("share", "offered_per_sec", "actions_per_sec", "place_per_sec", "behind", "kept_up", "place_p50_ms",
             "place_p99_ms", "settlement_lag_p99_ms")
LOAD_GENERATOR = "load generator"


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


@dataclass(frozen=True)
class Echo:
    per_sec: float
    p99_ms: float
    server_cpu_ms: float  # per call
    client_cpu_ms: float  # per call: this process, every thread


async def echo_rate(port: int, server_pid: int, workers: int, seconds: float) -> Echo:
    """`workers` callers on CHANNELS channels for `seconds`: calls a second, p99 and CPU."""
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
    server_before, client_before = cpu_seconds(server_pid) or 0.0, cpu_seconds(os.getpid()) or 0.0
    began = time.perf_counter()
    await asyncio.gather(*(caller(began + seconds) for _ in range(workers)))
    elapsed = time.perf_counter() - began
    server_cpu, client_cpu = (cpu_seconds(server_pid) or 0.0) - server_before, (cpu_seconds(os.getpid()) or 0.0) - client_before
    for channel in channels:
        await channel.close()
    count = len(latencies)
    return Echo(count / elapsed, percentile(latencies, 0.99), server_cpu * 1000 / count, client_cpu * 1000 / count)


def measure_echo(workers: int, seconds: float) -> Echo:
    server = subprocess.Popen([sys.executable, __file__, "--echo-server"], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": PYTHONPATH})
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        return run_loop(echo_rate(port, server.pid, workers, seconds))
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
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def target(self) -> Target:
        def addr(name: str) -> str:
            return f"127.0.0.1:{self.ports[name]}"

        return Target(addr("order"), addr("matching"), addr("wallet"), addr("kyc"), addr("settlement"),
                      "127.0.0.1", self.ports["edge"])

    def start(self) -> None:
        for name in (*SERVICES, "edge"):
            log = open(self.data_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
            env = {**self.env, "CLEARMESH_GRPC_PORT": str(self.ports[name])} if name != "edge" else self.env
            self.processes[name] = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", name], cwd=ROOT,
                                                    stdout=log, stderr=subprocess.STDOUT, env=env)
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

    def pids(self) -> dict[str, int]:
        """Each process's pid, the edge first (the order its CPU figures are printed in)."""
        return {name: self.processes[name].pid for name in ("edge", "order", "kyc", "wallet", "matching", "settlement")}

    def stop(self) -> None:
        stop_all(self.processes.values())


class ProcessCpu:
    """CPU each process used per window (`run_load` starts and stops it around the flow, so the
    traders' setup is left out): the services and the edge from /proc, and this process, the
    load generator (every thread of it: the flow, its gRPC or HTTP client, the lag probe)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = {**pids, LOAD_GENERATOR: os.getpid()}
        self._before: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) or 0.0 for name, pid in self._pids.items()}

    def start(self) -> None:
        self._before = self._now()

    def stop(self) -> None:
        after = self._now()
        self.used = {name: after[name] - self._before[name] for name in self._pids}

    def per_order_ms(self, placed: int) -> dict[str, float]:
        return {name: round(seconds * 1000 / placed, 2) if placed else 0.0 for name, seconds in self.used.items()}


def cpu_line(per_order: dict[str, float]) -> str:
    return ("CPU ms per placed order: " + ", ".join(f"{name} {ms:.2f}" for name, ms in per_order.items())
            + f"; sum {sum(per_order.values()):.2f}")


def measure_mesh(database: str, workers: int, traders: int, seconds: float) -> dict[str, Any]:
    issuer = TokenIssuer(SECRET, issuer="clearmesh", audience="clearmesh", ttl_seconds=3600)
    url = run_loop(create_scratch_database(POSTGRES_ADMIN_URL, "clearmesh_bench")) if database == "postgres" else None
    try:
        with tempfile.TemporaryDirectory(prefix="clearmesh-bench-mesh-") as tmp:
            mesh = Mesh(Path(tmp), url)
            try:
                mesh.start()
                # Echo first, while the mesh is up but idle: the same machine, the same moment.
                echo = measure_echo(workers, seconds)
                print(f"[{database}] gRPC echo: {echo.per_sec:.0f} calls/s, p99 {echo.p99_ms:.2f} ms "
                      f"({workers} callers, {CHANNELS} channels); CPU ms per call: server {echo.server_cpu_ms:.3f}, "
                      f"client {echo.client_cpu_ms:.3f}", flush=True)

                def load(label: str, transport: str, rate: float) -> dict[str, Any]:
                    meter = ProcessCpu(mesh.pids())
                    result = run_loop(run_load(
                        issuer, mesh.target(), transport=transport, traders=traders, seed=1,
                        plan=Plan(workers=workers, rate=rate, duration_secs=seconds), meter=meter,
                        show=lambda line: print(f"  {line}", file=sys.stderr, flush=True)))
                    result["cpu_ms_per_order"] = meter.per_order_ms(result["placed"])
                    for line in [*summary_lines(result), cpu_line(result["cpu_ms_per_order"])]:
                        print(f"[{database}] {label}: {line}", flush=True)
                    return result

                saturated = {transport: load(f"{transport} saturated", transport, 0.0) for transport in ("grpc", "rest")}
                paced = pace_search(saturated["grpc"], lambda share, rate: load(f"grpc paced {share:.0%}", "grpc", rate))
            finally:
                mesh.stop()
    finally:
        if url:
            run_loop(drop_scratch_database(POSTGRES_ADMIN_URL, url))
    grpc_run, rest_run = saturated["grpc"], saturated["rest"]
    grpc_rate, rest_rate = grpc_run["place_per_sec"], rest_run["place_per_sec"]
    chosen = paced[-1]  # the first step within the target, or the slowest tried
    within = chosen["place_p99_ms"] <= P99_TARGET_MS and chosen["kept_up"]
    print(f"[{database}] PlaceOrder p99 {chosen['place_p99_ms']} ms at {chosen['place_per_sec']}/s "
          f"({chosen['share']:.0%} of the saturated gRPC rate, paced, latency from each call's due time): "
          + (f"the highest tried rate within {P99_TARGET_MS} ms" if within
             else f"NOT within {P99_TARGET_MS} ms at any tried rate"), flush=True)
    return {
        "database": database,
        "echo_calls_per_sec": round(echo.per_sec, 1),
        "grpc_place_per_sec": grpc_rate,
        "rest_place_per_sec": rest_rate,
        "grpc_over_echo": round(grpc_rate / echo.per_sec, 3),
        "rest_over_grpc": round(rest_rate / grpc_rate, 3) if grpc_rate else 0.0,
        # Latency at a rate (open loop, from each call's due time): see pace_search.
        "place_p50_ms": chosen["place_p50_ms"],
        "place_p95_ms": chosen["place_p95_ms"],
        "place_p99_ms": chosen["place_p99_ms"],
        "place_p99_at_per_sec": chosen["place_per_sec"],
        "place_p99_at_share": chosen["share"],
        "place_p99_kept_up": chosen["kept_up"],
        "place_p99_within_target": within,
        "full_rate_place_p99_ms": paced[0]["place_p99_ms"],
        "full_rate_kept_up": paced[0]["kept_up"],
        "paced": [{key: step[key] for key in STEP_KEYS} for step in paced],
        # At saturation (closed loop, 32 calls in flight): latency is mostly their own queue.
        "saturated_place_p50_ms": grpc_run["place_p50_ms"],
        "saturated_place_p99_ms": grpc_run["place_p99_ms"],
        "rest_saturated_place_p99_ms": rest_run["place_p99_ms"],
        "settlement_lag_p50_ms": grpc_run["settlement_lag_p50_ms"],
        "settlement_lag_p99_ms": grpc_run["settlement_lag_p99_ms"],
        "rest_settlement_lag_p99_ms": rest_run["settlement_lag_p99_ms"],
        "paced_settlement_lag_p99_ms": chosen["settlement_lag_p99_ms"],
        "cpu_ms_per_order": grpc_run["cpu_ms_per_order"],
        "rest_cpu_ms_per_order": rest_run["cpu_ms_per_order"],
        "echo_cpu_ms_per_call": {"server": round(echo.server_cpu_ms, 3), "client": round(echo.client_cpu_ms, 3)},
        "place_errors": grpc_run["place_errors"] | {f"rest_{k}": v for k, v in rest_run["place_errors"].items()},
        "workers": workers,
        "seconds": seconds,
    }


def pace_search(saturated: dict[str, Any], load: Callable[[float, float], dict[str, Any]]) -> list[dict[str, Any]]:
    """gRPC paced (open loop) at PACED_SHARES of the saturated PlaceOrder rate, highest first,
    until a step keeps up with p99 within P99_TARGET_MS; every step run, the last one is the
    answer (or the slowest tried, when none was within). The flow's actions include cancels,
    so the action rate offered is the PlaceOrder rate × the saturated run's actions per order."""
    actions_per_place = (saturated["place_calls"] + saturated["cancels"]) / max(1, saturated["place_calls"])
    steps: list[dict[str, Any]] = []
    for share in PACED_SHARES:
        rate = round(saturated["place_per_sec"] * share * actions_per_place, 1)
        step = {**load(share, rate), "share": share}
        steps.append(step)
        if step["kept_up"] and step["place_p99_ms"] <= P99_TARGET_MS:
            break
    return steps


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
