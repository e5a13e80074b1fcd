"""An OTLP/gRPC trace endpoint that accepts every export and keeps only counts, for measuring
what tracing costs the services rather than what a collector costs.

    python bench/otlp_sink.py [--port 4317]

It answers TraceService/Export with an empty ExportTraceServiceResponse without decoding the
request (raw bytes in, empty bytes out), prints one JSON line {"exports", "bytes"} on SIGTERM
or Ctrl-C, and is what bench/tracing_cost.py points OTEL_EXPORTER_OTLP_ENDPOINT at.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from concurrent import futures
from typing import Any

import grpc

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


class Sink:
    def __init__(self) -> None:
        self.exports = 0
        self.bytes = 0
        self._lock = threading.Lock()

    def export(self, request: bytes, _context: Any) -> bytes:
        with self._lock:
            self.exports += 1
            self.bytes += len(request)
        return b""  # an empty ExportTraceServiceResponse: everything accepted


def serve(port: int) -> tuple[grpc.Server, Sink, int]:
    sink = Sink()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(sink.export)  # raw bytes
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "opentelemetry.proto.collector.trace.v1.TraceService", {"Export": handler}),))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, sink, bound


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=4317)
    server, sink, port = serve(parser.parse_args().port)
    print(json.dumps({"listening": f"http://127.0.0.1:{port}"}), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1)
    print(json.dumps({"exports": sink.exports, "bytes": sink.bytes}), flush=True)


if __name__ == "__main__":
    main()
