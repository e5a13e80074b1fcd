"""Prometheus metrics every service exports on METRICS_PORT: calls served and made by method
and code with their latency, the server streams open now, and a loop for gauges a service
samples from its store (Settlement's backlog, the Wallet's holds). Istio adds per-hop metrics on top; these are the service's own view.

Hot paths pay one dict look-up per call: the labelled children are built once per label set
(`Children`), never per call (`labels()` checks and joins the label tuple under a lock).
Every name here is documented in docs/metrics.md and read by k8s/monitoring/.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

import grpc
from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger("clearmesh.metrics")

# From half a millisecond (a cached read) to a few seconds (a call that waited out a peer).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
# How often the gauges a service reads from its store are refreshed (SQL, off the hot path).
SAMPLE_EVERY_SECS = 15.0  # Prometheus's usual scrape interval

HANDLED = Counter("grpc_server_handled_total", "RPCs completed, by method and status code.",
                  ["grpc_service", "grpc_method", "grpc_code"])
LATENCY = Histogram("grpc_server_handling_seconds", "RPC handling time, by method and status code.",
                    ["grpc_service", "grpc_method", "grpc_code"], buckets=LATENCY_BUCKETS)
OPEN_STREAMS = Gauge("grpc_server_open_streams", "Server-streaming RPCs in progress, by method.",
                     ["grpc_service", "grpc_method"])
CLIENT_HANDLED = Counter("grpc_client_handled_total", "Unary RPCs made to peers, by method and status code.",
                         ["grpc_service", "grpc_method", "grpc_code"])
CLIENT_LATENCY = Histogram("grpc_client_handling_seconds", "Unary RPC time as the caller sees it, by method and code.",
                           ["grpc_service", "grpc_method", "grpc_code"], buckets=LATENCY_BUCKETS)

K = TypeVar("K", bound=Hashable)


class Children(Generic[K]):
    """A metric's labelled children, built once per key by `labels_of(key)` and kept.

    For label sets bounded by the code (methods, codes, markets): nothing here evicts."""

    def __init__(self, metric: Any, labels_of: Callable[[K], tuple[str, ...]]) -> None:
        self._metric = metric
        self._labels_of = labels_of
        self._children: dict[K, Any] = {}

    def __call__(self, key: K) -> Any:
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._metric.labels(*self._labels_of(key))
        return child


def method_labels(method: str | bytes) -> tuple[str, str]:
    """'/pkg.Service/Method' → ('pkg.Service', 'Method'); grpc.aio clients name it in bytes."""
    text = method.decode() if isinstance(method, bytes) else method
    service, _, name = text.lstrip("/").partition("/")
    return service, name


def _method_and_code(key: tuple[str | bytes, grpc.StatusCode]) -> tuple[str, str, str]:
    return (*method_labels(key[0]), key[1].name)


_handled: Children[tuple[str | bytes, grpc.StatusCode]] = Children(HANDLED, _method_and_code)
_latency: Children[tuple[str | bytes, grpc.StatusCode]] = Children(LATENCY, _method_and_code)
_client_handled: Children[tuple[str | bytes, grpc.StatusCode]] = Children(CLIENT_HANDLED, _method_and_code)
_client_latency: Children[tuple[str | bytes, grpc.StatusCode]] = Children(CLIENT_LATENCY, _method_and_code)
_open_streams: Children[str] = Children(OPEN_STREAMS, method_labels)


def observe(method: str, code: grpc.StatusCode, seconds: float) -> None:
    """One RPC this server completed."""
    key = (method, code)
    _handled(key).inc()
    _latency(key).observe(seconds)


def observe_client(method: str | bytes, code: grpc.StatusCode, seconds: float) -> None:
    """One unary RPC this process made to a peer."""
    key = (method, code)
    _client_handled(key).inc()
    _client_latency(key).observe(seconds)


def open_streams(method: str) -> Any:
    """The gauge of `method`'s open server streams (inc when one starts, dec when it ends)."""
    return _open_streams(method)


async def sample_forever(sample: Callable[[], Awaitable[None]], what: str,
                         every_secs: float = SAMPLE_EVERY_SECS) -> None:
    """Refresh gauges read from the store now and every `every_secs`; a failed read keeps the
    last values (and is logged) rather than ending the loop."""
    while True:
        try:
            await sample()
        except Exception:  # a database hiccup must not stop the metrics for the process's life
            log.warning("sampling metrics failed", exc_info=True, extra={"fields": {"metrics": what}})
        await asyncio.sleep(every_secs)


def serve_metrics(port: int | None) -> None:
    """Exposes /metrics on its own port (none when METRICS_PORT is unset)."""
    if port is not None:
        start_http_server(port)
