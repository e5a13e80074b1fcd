"""Spans nobody would read: their context without the span.

With no span processor on the SDK provider (no OTLP endpoint configured: the default on a
laptop, in CI and in the bench scripts) a recorded span goes nowhere, yet the SDK still builds
it: attributes under a lock, events, an end time. Its only effects anyone sees are its context:
the `traceparent` sent on, the trace ids in log lines, the traceparent a record keeps
(`telemetry.current_traceparent`). `unrecorded_span` gives exactly the context the SDK would
give the span (the tracer's own sampler and id generator, step for step) as a NonRecordingSpan.
As soon as a processor is added (an exporter at start, a test's in-memory one later), callers
go back to the SDK's spans (or, for the services' gRPC spans, to spans made at their end:
deferred_spans.py, which decides their context with `decide` too). Used by the edge's SERVER
span (gateway/edge/tracing.py) and the services' gRPC spans (services/runtime/rpc_tracing.py).
"""

from __future__ import annotations

from typing import TypeGuard

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.sampling import SamplingResult
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags

_RANDOM_TRACE_ID = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)  # W3C level 2, newer SDKs set it


def unheard(tracer: object) -> TypeGuard[SdkTracer]:
    """Whether `tracer` is the SDK's and has no span processor: a span it records reaches
    nobody. Anything else (the API's no-op tracer, another SDK) is left to its own ways."""
    if not isinstance(tracer, SdkTracer):
        return False
    processors = getattr(tracer.span_processor, "_span_processors", None)
    # A tracer a configurator disabled answers with the parent's context: the SDK's own way.
    enabled = getattr(tracer, "_is_enabled", None)
    return processors == () and (enabled is None or bool(enabled()))


def unrecorded_span(tracer: SdkTracer, name: str, parent: Context | None, kind: SpanKind) -> Span:
    """The context SdkTracer.start_span gives a new span, step for step, without the span."""
    return NonRecordingSpan(decide(tracer, name, parent, kind)[0])


def decide(tracer: SdkTracer, name: str, parent: Context | None,
           kind: SpanKind) -> tuple[SpanContext, SpanContext | None, SamplingResult]:
    """What SdkTracer.start_span decides for a new span, step for step: its context, its
    parent's (None for a root) and the sampler's result (recorded or not, attributes)."""
    parent_span = trace.get_current_span(parent).get_span_context()
    if parent_span.is_valid:
        trace_id, random_id = parent_span.trace_id, bool(parent_span.trace_flags & _RANDOM_TRACE_ID)
    else:
        trace_id, random_id = tracer.id_generator.generate_trace_id(), _is_random(tracer)
    sampled = tracer.sampler.should_sample(parent, trace_id, name, kind, None, ())
    flags = TraceFlags.SAMPLED if sampled.decision.is_sampled() else TraceFlags.DEFAULT
    if random_id:
        flags |= _RANDOM_TRACE_ID
    context = SpanContext(trace_id, tracer.id_generator.generate_span_id(), is_remote=False,
                          trace_flags=TraceFlags(flags), trace_state=sampled.trace_state)
    return context, (parent_span if parent_span.is_valid else None), sampled


def _is_random(tracer: SdkTracer) -> bool:
    is_random = getattr(tracer.id_generator, "is_trace_id_random", None)
    return bool(is_random()) if is_random is not None and _RANDOM_TRACE_ID else False
