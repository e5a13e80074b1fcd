"""What tracing with export on costs: bench/edge.py and bench/order.py with spans exported and
without, alternating, repeated; best and median of each figure, and the throughput lost.

    python bench/tracing_cost.py [--rounds 3] [--only edge|order] [--full] [--ratio 0.1]

"off" is the default configuration with no OTLP endpoint (OTEL_TRACES_EXPORTER=none): with no
span processor the services build no gRPC, edge or SQL span and only pass the trace context on
(services/runtime/unheard.py); other instrumentation (Redis, Solana) still makes its spans. "on" exports every
span (OTEL_TRACES_SAMPLER=parentbased_always_on, the heaviest setting; with --ratio R, the share R
of traces, parentbased_traceidratio as deployed) over OTLP/gRPC to an
in-process sink (bench/otlp_sink.py) that counts the export requests and does not decode them,
so the figures are the services' cost, not a collector's. Both benches run with --quick unless
--full, the order bench on SQLite only. Rounds alternate off, on, off, on, ... so both see the same machine.

Throughput figures: the order bench's place_per_sec_1 and place_per_sec_32 (orders per second,
one client and 32 at once); the edge bench calls one at a time, so its throughput is
1000 / p50 latency, per operation and transport. On a machine others share, these swing by a
quarter from run to run; so each run's CPU (user + system seconds of the bench and all the
processes it started, which do the same work every run) is reported too, as runs_per_cpu_s:
the cost tracing adds where the CPU is the limit. That figure includes every process's start-up,
the traders' set-up and the phases not reported, which tracing barely touches, so it understates
the cost per order: the order bench's own "CPU ms per order" of each process in its 32-client
phase (every repeat of every round) is reported too, as `order_cpu_ms_32_<process>` (less is
better there; its `cost_pct` is the CPU added, in percent of off's). Order's is the figure that
matters most: its one event loop is the placement's limit. The sink runs in this process, beside
the benches, on the same two cores; its CPU over the "on" runs is reported as `sink_cpu_s` (a
few hundred export requests a run: small beside a bench's). Each round also says how many cores
the rest of the machine kept busy meanwhile (`others_cores_max`, the most of any round): on a
shared machine a round beside other work is not comparable with a quiet one. `cost_pct` is
1 - median(on) / median(off), in percent. The last output line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.otlp_sink import serve

BENCHES = {"edge": ROOT / "bench" / "edge.py", "order": ROOT / "bench" / "order.py"}
# The order bench on SQLite only: its figures here are SQLite's (place_per_sec_*), and its
# PostgreSQL half, run but not reported, was about half of every order round's time.
BENCH_ARGS = {"edge": [], "order": ["--db", "sqlite"]}
# bench/order.py's per-process CPU of a phase, printed after the phase's line.
PHASE_32 = re.compile(r"^\s+32 client\(s\), closed loop.*\n.*\n\s+CPU ms per order: (.*);", re.MULTILINE)


def cpu_of_children() -> float:
    """User + system CPU seconds of every finished descendant: a bench and the services it ran
    and waited for. Unlike throughput, barely moved by what else the machine is running."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every core, every process: /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def run_bench(script: Path, env: dict[str, str], full: bool) -> dict[str, Any]:
    cpu_before, busy_before, began = cpu_of_children(), machine_busy(), time.monotonic()
    own = resource.getrusage(resource.RUSAGE_SELF)
    done = subprocess.run([sys.executable, str(script), *BENCH_ARGS[script.stem], *([] if full else ["--quick"])],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["cpu_s"] = round(cpu_of_children() - cpu_before, 2)
    # This process's own CPU meanwhile: the sink's, which answers the exports.
    after = resource.getrusage(resource.RUSAGE_SELF)
    figures["own_cpu_s"] = after.ru_utime - own.ru_utime + after.ru_stime - own.ru_stime
    # What the rest of the machine ran meanwhile, in cores: a round beside other work is not
    # comparable with one on a quiet machine (the throughput of either mode falls by a third).
    ours = figures["cpu_s"] + figures["own_cpu_s"]
    figures["others_cores"] = round((machine_busy() - busy_before - ours) / (time.monotonic() - began), 2)
    figures["cpu_ms_32"] = cpu_per_order(done.stdout)
    return figures


def cpu_per_order(output: str) -> dict[str, list[float]]:
    """Each process's CPU ms per order in every 32-client phase of an order bench's output."""
    per: dict[str, list[float]] = {}
    for line in PHASE_32.findall(output):
        for item in line.split(", "):
            name, _, value = item.rpartition(" ")
            per.setdefault(name.replace(" ", "_"), []).append(float(value))
    return per


def throughputs(name: str, figures: dict[str, Any]) -> dict[str, float]:
    """Calls per second: the order bench's own; the edge bench's from its one-at-a-time p50s."""
    if name == "order":
        chosen = {key: value for key, value in figures.items() if key.startswith("place_per_sec_")}
    else:
        chosen = {key.replace("_p50_ms", "_per_sec"): round(1000 / value, 1) for key, value in figures.items()
                  if key.endswith(("_rest_p50_ms", "_grpc_p50_ms")) and "minus" not in key
                  and isinstance(value, (int, float)) and value > 0}
    # The same work every run, so its CPU per run compares directly; kept as runs per CPU
    # second so that, like every figure here, more is better and cost_pct reads the same way.
    chosen["runs_per_cpu_s"] = round(1 / figures["cpu_s"], 5)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=sorted(BENCHES))
    parser.add_argument("--full", action="store_true", help="the benches' full runs, not --quick")
    parser.add_argument("--ratio", type=float, help="\"on\" samples this share of traces "
                        "(parentbased_traceidratio, as k8s/base/settings.yaml deploys with 0.1) "
                        "instead of every one")
    arguments = parser.parse_args()
    sampler = ({"OTEL_TRACES_SAMPLER": "parentbased_always_on"} if arguments.ratio is None else
               {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": str(arguments.ratio)})
    server, sink, port = serve(0)
    base = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    modes = {"off": {**base, "OTEL_TRACES_EXPORTER": "none"},
             "on": {**base, "OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                    **sampler}}
    report: dict[str, float] = {"rounds": arguments.rounds, "quick": not arguments.full}
    try:
        for name, script in BENCHES.items():
            if arguments.only and name != arguments.only:
                continue
            seen: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}
            cpu: dict[str, dict[str, list[float]]] = {"off": {}, "on": {}}
            exports_before = sink.exports
            for round_ in range(arguments.rounds):
                for mode, env in modes.items():
                    figures = run_bench(script, env, arguments.full)
                    if mode == "on":
                        report["sink_cpu_s"] = round(report.get("sink_cpu_s", 0.0) + figures["own_cpu_s"], 2)
                    for key, value in throughputs(name, figures).items():
                        seen[mode].setdefault(key, []).append(value)
                    for process, values in figures.get("cpu_ms_32", {}).items():
                        cpu[mode].setdefault(process, []).extend(values)
                    print(f"{name} round {round_ + 1} {mode}: "
                          + ", ".join(f"{k} {v[-1]}" for k, v in sorted(seen[mode].items()))
                          + f"; others ran {figures['others_cores']} cores beside it", flush=True)
                    report["others_cores_max"] = max(report.get("others_cores_max", 0.0), figures["others_cores"])
            for key in sorted(seen["off"]):
                off, on = seen["off"][key], seen["on"].get(key, [])
                if not on:
                    continue
                report[f"{name}_{key}_off_best"], report[f"{name}_{key}_off_median"] = max(off), statistics.median(off)
                report[f"{name}_{key}_on_best"], report[f"{name}_{key}_on_median"] = max(on), statistics.median(on)
                report[f"{name}_{key}_cost_pct"] = round(100 * (1 - statistics.median(on) / statistics.median(off)), 1)
            for process in sorted(cpu["off"]):
                off, on = cpu["off"][process], cpu["on"].get(process, [])
                if not on:
                    continue
                stem = f"{name}_cpu_ms_32_{process}"
                report[f"{stem}_off_best"], report[f"{stem}_off_median"] = min(off), round(statistics.median(off), 3)
                report[f"{stem}_on_best"], report[f"{stem}_on_median"] = min(on), round(statistics.median(on), 3)
                report[f"{stem}_cost_pct"] = round(100 * (statistics.median(on) / statistics.median(off) - 1), 1)
            report[f"{name}_exports_received"] = sink.exports - exports_before
    finally:
        server.stop(grace=None)
    for key, value in report.items():
        if key.endswith("_cost_pct"):
            stem = key.removesuffix("_cost_pct")
            print(f"{stem}: off median {report[stem + '_off_median']} best {report[stem + '_off_best']} | "
                  f"on median {report[stem + '_on_median']} best {report[stem + '_on_best']} | cost {value} %")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
