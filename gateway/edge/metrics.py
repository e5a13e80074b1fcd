"""The edge's own Prometheus metrics, served at /metrics on the edge's port.

A registry per app (not the process default) so several edges can live in one process.
``route`` is the binding's template, never the raw path, to keep label cardinality bounded.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class EdgeMetrics:
    content_type = CONTENT_TYPE_LATEST.encode("latin-1")

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter("edge_http_requests_total", "HTTP requests answered, by route and status.",
                                 ["method", "route", "status"], registry=self.registry)
        self._latency = Histogram("edge_http_request_duration_seconds", "Time to answer, by route.",
                                  ["method", "route"], buckets=BUCKETS, registry=self.registry)
        # (method, route, status) → its counter and histogram children: labels() builds and
        # checks a label tuple under a lock on every call. As bounded as the label sets are.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        children = self._children.get((method, route, status))
        if children is None:
            children = (self._requests.labels(method, route, str(status)), self._latency.labels(method, route))
            self._children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
