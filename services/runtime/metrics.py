"""Prometheus metrics every service exports on METRICS_PORT: calls handled by method and code,
and their latency. Istio adds per-hop metrics on top; these are the service's own view."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

HANDLED = Counter("grpc_server_handled_total", "RPCs completed, by method and status code.",
                  ["grpc_service", "grpc_method", "grpc_code"])
LATENCY = Histogram("grpc_server_handling_seconds", "RPC handling time, by method.",
                    ["grpc_service", "grpc_method"],
                    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))


def observe(method: str, code: str, seconds: float) -> None:
    service, _, name = method.lstrip("/").partition("/")
    HANDLED.labels(service, name, code).inc()
    LATENCY.labels(service, name).observe(seconds)


def serve_metrics(port: int | None) -> None:
    """Exposes /metrics on its own port (none when METRICS_PORT is unset)."""
    if port is not None:
        start_http_server(port)
