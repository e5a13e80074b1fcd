"""The edge's SERVER span per request, without recording it when nobody would read it.

With no span processor on the SDK provider (no OTLP endpoint configured: the default on a
laptop, in CI and in bench/edge.py) a recorded span goes nowhere, yet the SDK still builds
it: attributes under a lock, events, links, an end time; ~30 µs per request at the edge.
Its only effects that anyone sees are its context (the ``traceparent`` sent to the service,
the trace ids in the edge's log lines). So in that case the edge asks the tracer's own
sampler and id generator for exactly the context the SDK would give the span and returns
it as a NonRecordingSpan. As soon as a processor is added (an exporter at start, a test's
in-memory one later), every span is the SDK's again. tests/gateway/edge/test_tracing.py
holds the two paths to the same contexts.
"""

from __future__ import annotations

from typing import TypeGuard

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags

_RANDOM_TRACE_ID = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)  # W3C level 2, newer SDKs set it


def _unheard(tracer: object) -> TypeGuard[SdkTracer]:
    """Whether ``tracer`` is the SDK's and has no span processor: a span it records reaches
    nobody. Anything else (the API's no-op tracer, another SDK) is left to its own ways."""
    if not isinstance(tracer, SdkTracer):
        return False
    processors = getattr(tracer.span_processor, "_span_processors", None)
    # A tracer a configurator disabled answers with the parent's context: the SDK's own way.
    enabled = getattr(tracer, "_is_enabled", None)
    return processors == () and (enabled is None or bool(enabled()))


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
        if _unheard(tracer):
            return self._unrecorded(tracer, name, parent)
        return tracer.start_span(name, context=parent, kind=SpanKind.SERVER, record_exception=False,
                                 set_status_on_exception=False)

    @staticmethod
    def _unrecorded(tracer: SdkTracer, name: str, parent: Context | None) -> Span:
        """The context SdkTracer.start_span gives a new span, step for step, without the span."""
        parent_span = trace.get_current_span(parent).get_span_context()
        if parent_span.is_valid:
            trace_id, random_id = parent_span.trace_id, bool(parent_span.trace_flags & _RANDOM_TRACE_ID)
        else:
            trace_id, random_id = tracer.id_generator.generate_trace_id(), _is_random(tracer)
        sampled = tracer.sampler.should_sample(parent, trace_id, name, SpanKind.SERVER, None, ())
        flags = TraceFlags.SAMPLED if sampled.decision.is_sampled() else TraceFlags.DEFAULT
        if random_id:
            flags |= _RANDOM_TRACE_ID
        return NonRecordingSpan(SpanContext(trace_id, tracer.id_generator.generate_span_id(), is_remote=False,
                                            trace_flags=TraceFlags(flags), trace_state=sampled.trace_state))


def _is_random(tracer: SdkTracer) -> bool:
    is_random = getattr(tracer.id_generator, "is_trace_id_random", None)
    return bool(is_random()) if is_random is not None and _RANDOM_TRACE_ID else False
