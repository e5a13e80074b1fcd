"""Which spans an order makes: bench/order.py run once with every trace sampled and exported
to a sink here that decodes what it receives, counted per service and span name over the
32-client closed-loop phase, per order placed.

    python bench/span_census.py [--repeats 1] [--ratio R]

The phase is told by the bench's own output: spans that started between the end of the
1-client phase's report and the 32-client phase's line (time.time_ns, the clock the SDK stamps
spans with). Those are divided by the orders the phase placed (32 clients × 10 calls each,
--quick). Prints a table, then one JSON object {service: {span name: spans per order}}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent import futures
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

EXPORT_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
ORDERS_32 = 32 * 10  # bench/order.py --quick: 32 clients, 10 calls each


class DecodingSink:
    """Every span received: (service.name, span name, start time in ns)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    def export(self, request: bytes, _context: Any) -> bytes:
        decoded = ExportTraceServiceRequest.FromString(request)
        seen = []
        for resource_spans in decoded.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "?")
            for scope_spans in resource_spans.scope_spans:
                seen += [(service, span.name, span.start_time_unix_nano) for span in scope_spans.spans]
        with self._lock:
            self.spans += seen
        return b""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--ratio", type=float, help="sample this share of traces instead of every one")
    arguments = parser.parse_args()
    sink = DecodingSink()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(sink.export)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(EXPORT_SERVICE, {"Export": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sampler = ({"OTEL_TRACES_SAMPLER": "parentbased_always_on"} if arguments.ratio is None else
               {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": str(arguments.ratio)})
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
           "OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", **sampler}
    windows: list[tuple[int, int]] = []
    began = 0
    with subprocess.Popen([sys.executable, str(ROOT / "bench" / "order.py"), "--quick", "--db", "sqlite",
                           "--repeats", str(arguments.repeats)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          text=True) as bench:
        assert bench.stdout is not None
        after_one = False
        for line in bench.stdout:
            now = time.time_ns()
            print(line, end="", flush=True)
            if "1 client(s), closed loop" in line:
                after_one = True
            elif after_one and "CPU ms per order" in line:
                began, after_one = now, False
            elif "32 client(s), closed loop" in line:
                windows.append((began, now))
    time.sleep(1)
    server.stop(grace=1)
    counts: Counter[tuple[str, str]] = Counter(
        (service, name) for service, name, start in sink.spans if any(a <= start <= b for a, b in windows))
    orders = ORDERS_32 * len(windows)
    table: dict[str, dict[str, float]] = {}
    for (service, name), count in sorted(counts.items()):
        table.setdefault(service, {})[name] = round(count / orders, 3)
    for service, names in table.items():
        print(f"{service}: {sum(names.values()):.2f} spans per order")
        for name, per in sorted(names.items(), key=lambda item: -item[1]):
            print(f"  {per:6.3f}  {name}")
    print(f"all: {sum(counts.values()) / orders:.2f} spans per order over {orders} orders")
    print(json.dumps(table))


if __name__ == "__main__":
    main()
