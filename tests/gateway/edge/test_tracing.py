"""The edge's server span: unrecorded while the provider has no processor, with the very
context the SDK would have given it; the SDK's own span once somebody listens."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState

from gateway.edge.tracing import ServerSpans

CALLER_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CALLER_SPAN = 0x00F067AA0BA902B7


class FixedIds(IdGenerator):
    """The same ids every time, so the SDK's span and the unrecorded one can be compared whole."""

    def __init__(self, random: bool) -> None:
        self._random = random

    def generate_span_id(self) -> int:
        return 0x1111111111111111

    def generate_trace_id(self) -> int:
        return 0x22222222222222222222222222222222

    def is_trace_id_random(self) -> bool:
        return self._random


def _caller(flags: int, state: TraceState | None = None) -> Context:
    caller = SpanContext(CALLER_TRACE, CALLER_SPAN, is_remote=True, trace_flags=TraceFlags(flags), trace_state=state)
    return trace.set_span_in_context(NonRecordingSpan(caller))


PARENTS = {
    "none": None,
    "sampled caller": _caller(0x01),
    "unsampled caller": _caller(0x00),
    "random-id caller": _caller(0x03),
    "caller with tracestate": _caller(0x01, TraceState([("vendor", "x1")])),
}
SAMPLERS = {
    "default": sampling.DEFAULT_ON,
    "always off": sampling.ALWAYS_OFF,
    "ratio": sampling.ParentBased(sampling.TraceIdRatioBased(0.5)),
}


@pytest.mark.parametrize("random_ids", [True, False])
@pytest.mark.parametrize("sampler", SAMPLERS.values(), ids=SAMPLERS.keys())
@pytest.mark.parametrize("parent", PARENTS.values(), ids=PARENTS.keys())
def test_without_a_processor_the_span_has_the_sdks_context_but_is_not_recorded(
        parent: Context | None, sampler: sampling.Sampler, random_ids: bool) -> None:
    provider = TracerProvider(sampler=sampler, id_generator=FixedIds(random_ids), shutdown_on_exit=False)
    span = ServerSpans(provider).start("GET", parent)
    expected = provider.get_tracer("reference").start_span("GET", context=parent, kind=SpanKind.SERVER)
    assert not span.is_recording()
    assert span.get_span_context() == expected.get_span_context()
    assert (span.get_span_context().trace_state, span.get_span_context().trace_flags) == (
        expected.get_span_context().trace_state, expected.get_span_context().trace_flags)


def test_a_processor_brings_the_sdks_recorded_span_back() -> None:
    provider = TracerProvider(shutdown_on_exit=False)
    spans = ServerSpans(provider)
    assert not spans.start("GET", None).is_recording()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = spans.start("GET", PARENTS["sampled caller"])
    assert span.is_recording() and span.get_span_context().trace_id == CALLER_TRACE
    span.end()
    assert [s.kind for s in exporter.get_finished_spans()] == [SpanKind.SERVER]


def test_without_the_sdk_the_api_decides() -> None:
    # The API's no-op provider: the caller's context passes through, as OpenTelemetry does it.
    span = ServerSpans(trace.NoOpTracerProvider()).start("GET", PARENTS["sampled caller"])
    assert span.get_span_context().span_id == CALLER_SPAN
