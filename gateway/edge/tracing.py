"""The edge's SERVER span per request, without recording it when nobody would read it.

With no span processor on the SDK provider (no OTLP endpoint configured: the default on a
laptop, in CI and in bench/edge.py) a recorded span goes nowhere, yet the SDK still builds
it: attributes under a lock, events, links, an end time; ~30 µs per request at the edge.
Its only effects that anyone sees are its context (the ``traceparent`` sent to the service,
the trace ids in the edge's log lines). So in that case the edge returns exactly the context
the SDK would give the span as a NonRecordingSpan (services/runtime/unheard.py, which the
services' gRPC spans use too). As soon as a processor is added (an exporter at start, a test's
in-memory one later), every span is the SDK's again. tests/gateway/edge/test_tracing.py
holds the two paths to the same contexts.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from services.runtime.unheard import unheard, unrecorded_span


class ServerSpans:
    """``start(name, parent)`` → the request's SERVER span (not yet current, not ended)."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self._provider = provider  # None: the global one, looked up per request (it may change)
        self._seen: trace.TracerProvider | None = None
        self._tracer: trace.Tracer = trace.NoOpTracer()

    def tracer(self) -> trace.Tracer:
        provider = self._provider or trace.get_tracer_provider()
        if provider is not self._seen:
            self._seen, self._tracer = provider, provider.get_tracer("clearmesh.edge")
        return self._tracer

    def start(self, name: str, parent: Context | None) -> Span:
        tracer = self.tracer()
        if unheard(tracer):
            return unrecorded_span(tracer, name, parent, SpanKind.SERVER)
        return tracer.start_span(name, context=parent, kind=SpanKind.SERVER, record_exception=False,
                                 set_status_on_exception=False)
