"""Order's CPU per order in two meshes run at the same time: a comparison the noisy host
cannot skew, since whatever slows the machine slows both alike.

    python bench/tracing_side_by_side.py [--a ROOT:MODE] [--b ROOT:MODE] [--rate 200 | --closed]
                                         [--seconds 10] [--windows 5]

Run one after the other (bench/tracing_cost.py, bench/order.py), two configurations see a
machine whose speed swings up to 2x from minute to minute, and a CPU figure per order moves
by a third between rounds: too much to see tracing's tenth. Here both meshes (KYC, Wallet,
Matching and Order as processes, on SQLite, as bench/order.py starts them) are up together and
one client loop drives both during the same windows; each window's figure is each process's
CPU (every thread, from /proc) per order answered, and Order's B / A.

By default each mesh is offered `--rate` PlaceOrder calls a second from 32 clients (open loop,
services/load/pacing.py): the same work in both, so the difference is what B's configuration
costs per order. With `--closed` each mesh has 32 closed-loop clients instead, both saturated
side by side, and each window's orders a second are reported too. There a mesh's CPU per order
is no fixed cost: it falls as its throughput rises (a group commit joins more placements, a
turn of the event loop serves more), so what slows a mesh also raises its CPU per order, and
the two meshes share the machine's cores.

A mesh is `ROOT:MODE`: the services run from the source tree ROOT (a worktree; "." is this one)
with MODE `off` (no exporter: OTEL_TRACES_EXPORTER=none), `on` (every trace sampled,
parentbased_always_on, exported over OTLP/gRPC to bench/otlp_sink.py in this process) or
`on=R` (the share R of traces sampled, parentbased_traceidratio, as deployed with R 0.1). Default:
this tree off against this tree on, tracing's cost; `--a BASE:on --b .:on` compares two trees
with tracing on. Swap A and B as well: B's processes start second.
The last line is one JSON object: per mesh the median of each process's CPU ms per order (and
of its orders a second), and the medians of Order's B / A and B - A.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "protos" / "gen" / "python"))

import grpc
from clearmesh.order.v1 import order_service_pb2_grpc as pb_grpc

from bench.cpu import cpu_seconds_of
from bench.order import SERVICES, place_paced, place_request, wait_started, warm_up
from bench.otlp_sink import serve
from bench.processes import SECRET, free_port, stop_all
from services.load.accounts import Metadata, prepare_traders
from services.load.pacing import Schedule
from services.runtime.auth import TokenIssuer

CLIENTS = 32


def mode_env(mode: str, sink_port: int) -> dict[str, str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    if mode == "off":
        return {**base, "OTEL_TRACES_EXPORTER": "none"}
    exporting = {**base, "OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}"}
    if mode == "on":
        return {**exporting, "OTEL_TRACES_SAMPLER": "parentbased_always_on"}
    if mode.startswith("on="):  # the share of traces sampled, as deployed (k8s/base/settings.yaml: 0.1)
        return {**exporting, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": mode[3:]}
    raise ValueError(f"unknown mode {mode!r} (off, on or on=RATIO)")


class Mesh:
    """KYC, Wallet, Matching and Order from one source tree, on SQLite in `data_dir`."""

    def __init__(self, label: str, root: Path, env: dict[str, str], data_dir: Path) -> None:
        self.label = label
        self.ports = {name: free_port() for name in SERVICES}
        common = {**env, "JWT_SECRET": SECRET, "CLEARMESH_DATA_DIR": str(data_dir), "CLEARMESH_LOG_LEVEL": "WARNING",
                  "PYTHONPATH": f"{root}{os.pathsep}{root / 'protos' / 'gen' / 'python'}",
                  **{f"CLEARMESH_{name.upper()}_ADDR": f"127.0.0.1:{port}" for name, port in self.ports.items()}}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        for name in SERVICES:
            log = open(data_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "serve", name], cwd=root, stdout=log, stderr=subprocess.STDOUT,
                env={**common, "CLEARMESH_GRPC_PORT": str(self.ports[name]), "METRICS_PORT": str(free_port())})

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU each process has used so far (every thread)."""
        return cpu_seconds_of(self.processes)


async def paced(order: pb_grpc.OrderServiceStub, traders: list[Metadata], rate: float, seconds: float,
                tag: str) -> int:
    """`rate` calls a second for `seconds` from CLIENTS clients; the calls answered."""
    latencies: list[float] = []
    began = time.perf_counter()
    schedule = Schedule(rate, began, began + seconds)
    await asyncio.gather(*(place_paced(order, traders[i], f"{tag}-{i}", schedule, began + 3 * seconds, latencies)
                           for i in range(CLIENTS)))
    return len(latencies)


async def closed(order: pb_grpc.OrderServiceStub, traders: list[Metadata], seconds: float, tag: str) -> int:
    """CLIENTS clients, each call sent when its last was answered, for `seconds`; the calls answered."""
    done = 0
    end = time.perf_counter() + seconds

    async def client(i: int) -> None:
        nonlocal done
        index = 0
        while time.perf_counter() < end:
            await order.PlaceOrder(place_request(f"{tag}-{i}", index), metadata=traders[i])
            index += 1
            done += 1

    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return done


async def run(meshes: list[Mesh], rate: float | None, seconds: float,
              windows: int) -> dict[str, list[dict[str, float]]]:
    """Each window's figures per mesh: each process's CPU ms per order, and orders a second.
    `rate` None: closed loop."""
    issuer = TokenIssuer(SECRET, issuer="clearmesh", audience="clearmesh", ttl_seconds=3600)
    for mesh in meshes:
        for port in mesh.ports.values():
            await wait_started(port)
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports['order']}") for mesh in meshes]
    stubs = [pb_grpc.OrderServiceStub(channel) for channel in channels]
    traders = [[trader.metadata for trader in await prepare_traders(
        issuer, f"127.0.0.1:{mesh.ports['kyc']}", f"127.0.0.1:{mesh.ports['wallet']}", "trader", CLIENTS)]
        for mesh in meshes]
    for stub, own in zip(stubs, traders):
        await warm_up(stub, own[0])
    # Two seconds unreported at a rate: they warm what the warm-up's few calls did not.
    await asyncio.gather(*(paced(stub, own, rate or 200.0, 2.0, f"warm-{i}")
                           for i, (stub, own) in enumerate(zip(stubs, traders, strict=True))))
    per: dict[str, list[dict[str, float]]] = {mesh.label: [] for mesh in meshes}
    for window in range(windows):
        before = [mesh.cpu_seconds() for mesh in meshes]
        counts = await asyncio.gather(*((paced(stub, own, rate, seconds, f"w{window}-{i}") if rate else
                                         closed(stub, own, seconds, f"w{window}-{i}"))
                                        for i, (stub, own) in enumerate(zip(stubs, traders))))
        after = [mesh.cpu_seconds() for mesh in meshes]
        for mesh, start, end, count in zip(meshes, before, after, counts):
            per[mesh.label].append({name: round((end[name] - start[name]) * 1000 / count, 3) for name in SERVICES}
                                   | {"per_sec": round(count / seconds, 1)})
        a, b = (per[mesh.label][-1]["order"] for mesh in meshes)
        print(f"window {window + 1}: Order CPU ms per order A {a:.3f}, B {b:.3f}, B/A {b / a:.3f}; "
              + "; ".join(f"{mesh.label} " + ", ".join(f"{k} {v:.2f}" for k, v in per[mesh.label][-1].items())
                          for mesh in meshes), flush=True)
    for channel in channels:
        await channel.close()
    return per


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--a", default=".:off", help="ROOT:MODE of mesh A (default .:off)")
    parser.add_argument("--b", default=".:on", help="ROOT:MODE of mesh B (default .:on)")
    parser.add_argument("--rate", type=float, default=200.0, help="PlaceOrder calls a second offered to each mesh")
    parser.add_argument("--closed", action="store_true", help="instead of a rate, 32 closed-loop clients per mesh "
                        "(each call sent when its last was answered): both meshes saturated, side by side")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of a window")
    parser.add_argument("--windows", type=int, default=5)
    arguments = parser.parse_args()
    server, sink, sink_port = serve(0)
    meshes: list[Mesh] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for label, spec in (("A", arguments.a), ("B", arguments.b)):
                root, _, mode = spec.rpartition(":")
                data = Path(tmp) / label
                data.mkdir()
                meshes.append(Mesh(label, (ROOT / root).resolve(), mode_env(mode, sink_port), data))
                print(f"mesh {label}: {(ROOT / root).resolve()}, tracing {mode}", flush=True)
            try:
                per = asyncio.run(run(meshes, None if arguments.closed else arguments.rate, arguments.seconds,
                                      arguments.windows))
            finally:
                for mesh in meshes:
                    stop_all(mesh.processes.values(), wait_secs=60)
    finally:
        server.stop(grace=None)
    report: dict[str, float | bool] = {"closed": arguments.closed, "rate": arguments.rate,
                                       "seconds": arguments.seconds, "windows": arguments.windows,
                                       "exports_received": sink.exports}
    for label, figures in per.items():
        report[f"{label}_per_sec_median"] = statistics.median(w["per_sec"] for w in figures)
        for name in SERVICES:
            report[f"{label}_cpu_ms_{name}_median"] = round(statistics.median(w[name] for w in figures), 3)
    pairs = list(zip(per["A"], per["B"], strict=True))
    report["order_b_over_a_median"] = round(statistics.median(b["order"] / a["order"] for a, b in pairs), 3)
    report["order_b_minus_a_ms_median"] = round(statistics.median(b["order"] - a["order"] for a, b in pairs), 3)
    report["per_sec_b_over_a_median"] = round(statistics.median(b["per_sec"] / a["per_sec"] for a, b in pairs), 3)
    print(f"Order CPU ms per order: A median {report['A_cpu_ms_order_median']}, B median "
          f"{report['B_cpu_ms_order_median']}; B / A median {report['order_b_over_a_median']}, "
          f"B - A median {report['order_b_minus_a_ms_median']} ms; orders a second B / A median "
          f"{report['per_sec_b_over_a_median']}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
