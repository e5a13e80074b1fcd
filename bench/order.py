"""Order benchmark: PlaceOrder throughput through real processes, and its latency at a rate.

    python bench/order.py [--quick] [--db sqlite|postgres|both] [--repeats N] [--rate R] [--profile DIR]

KYC, Wallet, Matching and Order run as their own processes (`python -m services.cli serve`,
on free ports), as `clearmesh up` runs them: on SQLite (one file per service in a temporary
data directory) and on PostgreSQL (a fresh scratch database per run on CLEARMESH_TEST_POSTGRES,
default postgresql://postgres@127.0.0.1:5432/test, dropped afterwards). 32 traders are approved
at tier 2 and funded; each PlaceOrder is a limit buy on BTC-USDC that rests (no fills), so one
call is: KYC check, the order stored, the hold placed, the order journaled by Matching, the
answer stored. Each of `--repeats` runs on the same mesh has three phases:

- 1 client, closed loop (each call sent when the last answered): one call's own latency.
- 32 clients, closed loop, as fast as they are answered: the saturation throughput. Its
  latency is mostly the clients' own queue: by Little's law the mean is 32 ÷ the rate
  whatever the services do (64 ms at 500/s), so it is reported as `saturated_...`.
- 32 clients, open loop (services/load/pacing.py): together they offer `--rate` calls a
  second (default 500, the issue's target) for 10 s (3 s with --quick), call k due at
  start + k ÷ rate whichever client is free, and each call's latency runs from when it was
  due, so a stall is not hidden. Every call due is sent, however late (unless the phase has
  lasted three windows: the rest are then never sent, and count with what they had waited).
  It prints the rate offered and achieved (calls answered over the time to the last answer,
  at least the window), and whether it kept up (achieved ≥ 95 % of the rate offered); one
  that did not is said so, in the output and in the JSON.

Per phase it also prints the share of Order's PlaceOrder time spent in each step (KYC,
Wallet, Matching, Order's own store; read from Order's `order_place_step_seconds` histogram on
its METRICS_PORT, so measured where the time is spent) and the CPU each process burnt per
order (from /proc; on PostgreSQL, the server's processes too). `--profile DIR` runs every service under cProfile and writes
DIR/{service}-{db}.prof at shutdown.

The last output line is one JSON object, best of the repeats (highest rate, lowest latency)
with the medians under `..._median`, SQLite's plain and PostgreSQL's prefixed `pg_`:
`place_per_sec_32` is the saturation throughput of 32 closed-loop clients; `place_p50_ms_32`,
`place_p99_ms_32` are the latencies at the offered rate (open loop), beside
`place_offered_per_sec_32`, `place_achieved_per_sec_32` and `place_kept_up_32` (false when
any repeat fell short of the rate offered: its latency is then not the latency at that
rate); `saturated_place_p50_ms_32`, `saturated_place_p99_ms_32` are the closed loop's;
`place_per_sec_1`, `place_p50_ms_1`, `place_p99_ms_1` the single client's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "protos" / "gen" / "python"))

import grpc
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as pb
from clearmesh.order.v1 import order_service_pb2_grpc as pb_grpc
from clearmesh.type.v1 import trading_pb2

from bench.cpu import cpu_seconds, cpu_seconds_of
from bench.processes import PYTHONPATH, SECRET, free_port, stop_all
from services.load.accounts import Metadata, prepare_traders
from services.load.pacing import Schedule, kept_up
from services.load.report import percentile
from services.runtime.auth import TokenIssuer
from services.runtime.database import create_scratch_database, drop_scratch_database
from services.runtime.health import wait_serving
from services.runtime.loop import run as run_loop

SERVICES = ("kyc", "wallet", "matching", "order")
CLIENTS = 32


POSTGRES_ADMIN_URL = os.environ.get("CLEARMESH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
STEPS = ("kyc", "wallet", "matching", "store")
RATE = 500.0  # the target: PlaceOrder calls a second at 32 clients
PACED_SECS = {False: 10.0, True: 3.0}  # the open-loop phase's window, by --quick
GIVE_UP_WINDOWS = 3  # an open-loop phase far behind its schedule stops sending after this many windows
SPY_SECS = 4


class Mesh:
    """The four service processes, their ports and Order's metrics port."""

    def __init__(self, data_dir: Path, database_url: str | None, profile: Path | None, label: str,
                 spy_binary: str | None) -> None:
        self.profile, self.label, self.spy_binary = profile, label, spy_binary
        self.on_postgres = database_url is not None
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
        return cpu_seconds_of(self.processes)

    def postgres_cpu_seconds(self) -> dict[int, float]:
        """On PostgreSQL, the CPU each of the server's processes on this machine has used so far
        (every backend, whatever its database, and the WAL writer and checkpointer): the database's
        share of a placement, which the services' own figures leave out."""
        if not self.on_postgres:
            return {}
        used = {}
        for comm in Path("/proc").glob("[0-9]*/comm"):
            with contextlib.suppress(OSError):
                if comm.read_text().strip() == "postgres" and (seconds := cpu_seconds(int(comm.parent.name))) is not None:
                    used[int(comm.parent.name)] = seconds
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


def place_request(prefix: str, index: int) -> pb.PlaceOrderRequest:
    return pb.PlaceOrderRequest(order=order_pb2.Order(
        market="markets/BTC-USDC", side=trading_pb2.SIDE_BUY, type=trading_pb2.ORDER_TYPE_LIMIT,
        price="1.00", quantity="0.001"), request_id=f"{prefix}-{index}")


async def place_many(stub: pb_grpc.OrderServiceStub, trader: Metadata, prefix: str, count: int,
                     latencies: list[float]) -> None:
    """Closed loop: each call sent as soon as the previous one answered, timed from its send."""
    for index in range(count):
        began = time.perf_counter()
        await stub.PlaceOrder(place_request(prefix, index), metadata=trader)
        latencies.append((time.perf_counter() - began) * 1000)


async def place_paced(stub: pb_grpc.OrderServiceStub, trader: Metadata, prefix: str, schedule: Schedule,
                      give_up: float, latencies: list[float]) -> None:
    """Open loop: one of the clients sharing `schedule`; it takes the next call due, sends it
    at its due time (at once when late) and times it from that due time. Past `give_up` it
    takes no more: what is still due then is left unsent (and counted as behind)."""
    while time.perf_counter() < give_up:
        index = schedule.taken
        due = schedule.take()
        if due is None:
            return
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        await stub.PlaceOrder(place_request(prefix, index), metadata=trader)
        latencies.append((time.perf_counter() - due) * 1000)


class Window:
    """What the mesh spent over one phase: each process's CPU, this process's (the bench
    client) and Order's PlaceOrder step times; py-spy sampling it with --spy."""

    def __init__(self, mesh: Mesh, tag: str, spy: bool) -> None:
        self.mesh = mesh
        self.spies = mesh.spy(tag) if spy else []
        self.cpu, self.steps = mesh.cpu_seconds(), mesh.step_sums()
        self.postgres = mesh.postgres_cpu_seconds()
        self.client = time.process_time()

    def close(self, count: int) -> None:
        """Prints the phase's step shares and CPU per order."""
        cpu_after, steps_after = self.mesh.cpu_seconds(), self.mesh.step_sums()
        client_cpu = time.process_time() - self.client
        for spy in self.spies:
            spy.wait()
        total = steps_after["total"][0] - self.steps["total"][0]
        shares = {step: (steps_after[step][0] - self.steps[step][0]) / total for step in STEPS}
        cpu = {name: (cpu_after[name] - self.cpu[name]) * 1000 / count for name in SERVICES}
        cpu["bench client"] = client_cpu * 1000 / count
        if self.mesh.on_postgres:  # a server process that began within the phase counts whole
            cpu["postgres"] = sum(seconds - self.postgres.get(pid, 0.0)
                                  for pid, seconds in self.mesh.postgres_cpu_seconds().items()) * 1000 / count
        print("      Order's PlaceOrder time: " + ", ".join(f"{step} {share:.0%}" for step, share in shares.items())
              + f", the rest {1 - sum(shares.values()):.0%} (mean {total * 1000 / count:.1f} ms)", flush=True)
        print("      CPU ms per order: " + ", ".join(f"{name} {ms:.2f}" for name, ms in cpu.items())
              + f"; sum {sum(cpu.values()):.2f}", flush=True)


async def phase(mesh: Mesh, order: pb_grpc.OrderServiceStub, traders: list[Metadata], clients: int,
                per_client: int, tag: str) -> dict[str, float]:
    """Closed loop: `clients` callers, each `per_client` calls back to back."""
    latencies: list[float] = []
    window = Window(mesh, tag, spy=clients == CLIENTS)
    began = time.perf_counter()
    await asyncio.gather(*(place_many(order, traders[i], f"{tag}-{i}", per_client, latencies)
                           for i in range(clients)))
    elapsed = time.perf_counter() - began
    count = len(latencies)
    figures = {"per_sec": round(count / elapsed, 1), "p50_ms": round(statistics.median(latencies), 2),
               "p99_ms": round(percentile(latencies, 0.99), 2)}
    queue = " (saturation: latency mostly the clients' own queue)" if clients > 1 else ""
    print(f"  {clients:>2} client(s), closed loop{queue}: {count} orders in {elapsed:.2f} s, {figures['per_sec']} /s, "
          f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms", flush=True)
    window.close(count)
    return figures


async def paced_phase(mesh: Mesh, order: pb_grpc.OrderServiceStub, traders: list[Metadata], rate: float,
                      seconds: float, tag: str) -> dict[str, float]:
    """Open loop: CLIENTS callers sharing one schedule of `rate` calls a second for `seconds`
    (services/load/pacing.py), each call timed from when it was due. Every call due in the
    window is sent, however late, unless the phase has lasted GIVE_UP_WINDOWS windows (then
    the rest count as behind, with what they had waited); the rate achieved is the calls answered over the time to the
    last answer (at least the window)."""
    latencies: list[float] = []
    window = Window(mesh, tag, spy=False)
    began = time.perf_counter()
    schedule = Schedule(rate, began, began + seconds)
    give_up = began + GIVE_UP_WINDOWS * seconds
    await asyncio.gather(*(place_paced(order, traders[i], f"{tag}-{i}", schedule, give_up, latencies)
                           for i in range(CLIENTS)))
    elapsed = max(time.perf_counter() - began, seconds)
    count = len(latencies)
    waits = schedule.waits_ms(time.perf_counter())
    latencies += waits  # lower bounds of the calls never sent (see Schedule.waits_ms)
    behind = len(waits)
    achieved = round(count / elapsed, 1)
    figures = {"offered_per_sec": rate, "achieved_per_sec": achieved, "behind": behind,
               "kept_up": kept_up(rate, achieved),
               "p50_ms": round(statistics.median(latencies), 2), "p99_ms": round(percentile(latencies, 0.99), 2)}
    verdict = "kept up" if figures["kept_up"] else "DID NOT KEEP UP" + (f" ({behind} due and never sent)" if behind else "")
    print(f"  {CLIENTS} clients, open loop at {rate:g}/s offered: {count} orders in {elapsed:.2f} s, achieved {achieved} /s, "
          f"{verdict}; from each call's due time p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms", flush=True)
    window.close(count)
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


Results = dict[str, list[dict[str, Any]]]  # phase ("1", "32", "paced") → each repeat's figures


async def run_mesh(label: str, database_url: str | None, quick: bool, repeats: int, rate: float,
                   profile: Path | None, spy: str | None) -> Results:
    """Every repeat's figures per phase, on one mesh."""
    results: Results = {"1": [], str(CLIENTS): [], "paced": []}
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
                results["paced"].append(await paced_phase(mesh, order, traders, rate, PACED_SECS[quick],
                                                          f"r{repeat}-paced"))
            for channel in channels.values():
                await channel.close()
        finally:
            mesh.stop()
    return results


def best_and_median(figures: dict[str, Any], name: str, values: list[float], higher_is_better: bool) -> None:
    figures[name] = max(values) if higher_is_better else min(values)
    figures[f"{name}_median"] = round(statistics.median(values), 2)


def summary(prefix: str, results: Results) -> dict[str, Any]:
    """Best and median of the repeats (best: the highest rate, the lowest latencies). At 32
    clients the rate is the closed loop's (saturation) and the latencies the open loop's at
    the offered rate; the closed loop's latencies are `saturated_...`."""
    figures: dict[str, Any] = {}
    one, saturated, paced = results["1"], results[str(CLIENTS)], results["paced"]
    best_and_median(figures, f"{prefix}place_per_sec_1", [run["per_sec"] for run in one], True)
    for key in ("p50_ms", "p99_ms"):
        best_and_median(figures, f"{prefix}place_{key}_1", [run[key] for run in one], False)
    best_and_median(figures, f"{prefix}place_per_sec_{CLIENTS}", [run["per_sec"] for run in saturated], True)
    for key in ("p50_ms", "p99_ms"):
        best_and_median(figures, f"{prefix}place_{key}_{CLIENTS}", [run[key] for run in paced], False)
        best_and_median(figures, f"{prefix}saturated_place_{key}_{CLIENTS}", [run[key] for run in saturated], False)
    figures[f"{prefix}place_offered_per_sec_{CLIENTS}"] = paced[0]["offered_per_sec"]
    best_and_median(figures, f"{prefix}place_achieved_per_sec_{CLIENTS}", [run["achieved_per_sec"] for run in paced],
                    True)
    # Only when every repeat delivered the rate offered is its latency the latency at that rate.
    figures[f"{prefix}place_kept_up_{CLIENTS}"] = all(run["kept_up"] for run in paced)
    return figures


async def run(quick: bool, databases: list[str], repeats: int, rate: float, profile: Path | None,
              spy: str | None) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for database in databases:
        if database == "sqlite":
            figures |= summary("", await run_mesh("SQLite", None, quick, repeats, rate, profile, spy))
            continue
        url = await create_scratch_database(POSTGRES_ADMIN_URL, "clearmesh_bench_order")
        try:
            figures |= summary("pg_", await run_mesh("PostgreSQL", url, quick, repeats, rate, profile, spy))
        finally:
            await drop_scratch_database(POSTGRES_ADMIN_URL, url)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer orders per phase")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every phase per database")
    parser.add_argument("--rate", type=float, default=RATE, help="PlaceOrder calls a second the 32 clients offer "
                        "together in the open-loop phase (default %(default)s)")
    parser.add_argument("--profile", type=Path, help="run the services under cProfile, writing here")
    parser.add_argument("--spy", metavar="PY_SPY", help="with --profile: sample the 32-client phase with this "
                        "py-spy binary instead of cProfile (`pip install py-spy`)")
    args = parser.parse_args()
    if args.rate <= 0:
        parser.error("--rate must be above 0")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    figures = run_loop(run(args.quick, databases, args.repeats, args.rate, args.profile, args.spy))
    for prefix in ("", "pg_"):
        if f"{prefix}place_kept_up_32" in figures:
            kept = "every run kept up with" if figures[f"{prefix}place_kept_up_32"] else "a run DID NOT keep up with"
            print(f"{prefix}place_per_sec_32 is the saturation rate of 32 closed-loop clients; {prefix}place_p99_ms_32 "
                  f"the p99 at {args.rate:g}/s offered by 32 open-loop clients, which {kept}", flush=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
