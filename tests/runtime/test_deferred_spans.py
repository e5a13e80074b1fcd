"""A gRPC call's span made once at its end (services/runtime/deferred_spans.py): with only
telemetry's own processors, a sampled call's span reaches them whole (name, kind, parent,
attributes, status, times, scope and resource as the SDK's span would have them), an
unsampled one reaches nothing, a child started under it is recorded with it as parent; once
anyone else adds a processor, the SDK's live spans again."""

from __future__ import annotations

from time import time_ns

import grpc
import pytest
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from services.runtime.deferred_spans import DeferredSpan, MeshTracerProvider, recorded
from services.runtime.rpc_tracing import ClientSpans, MethodSpans, ServerSpans, end_client_span

CALLER_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CALLER_SPAN = 0x00F067AA0BA902B7
METHOD = "/test.Echo/Call"
RESOURCE = Resource.create({"service.name": "order"})


class _Call:
    """What MethodSpans reads of a servicer context: the caller's address."""

    def peer(self) -> str:
        return "ipv4:127.0.0.1:57284"


def _metadata(sampled: bool = True) -> dict[str, str]:
    return {"traceparent": f"00-{CALLER_TRACE:032x}-{CALLER_SPAN:016x}-{'01' if sampled else '00'}",
            "user-agent": "grpc-python/1.76"}


def _own() -> tuple[MeshTracerProvider, InMemorySpanExporter]:
    provider, exporter = MeshTracerProvider(resource=RESOURCE, sampler=ParentBased(ALWAYS_ON)), InMemorySpanExporter()
    provider.add_own_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _serve(provider: TracerProvider, code: grpc.StatusCode = grpc.StatusCode.OK, details: str = "",
           error: BaseException | None = None, sampled: bool = True) -> trace.Span:
    """One call served through `provider`'s spans, ended with `code`: the span current meanwhile."""
    spans = ServerSpans(provider).of(METHOD)
    span, token = spans.start(_metadata(sampled), _Call())  # type: ignore[arg-type]  # only peer() is read
    current = trace.get_current_span()
    MethodSpans.end(span, token, code, details, error)
    return current


def test_a_sampled_calls_span_reaches_the_processor_whole_at_its_end() -> None:
    provider, exporter = _own()
    before = time_ns()

    current = _serve(provider)

    [span] = exporter.get_finished_spans()
    assert isinstance(current, DeferredSpan) and span.context == current.get_span_context()
    assert (span.name, span.kind) == ("test.Echo/Call", SpanKind.SERVER)
    assert span.parent is not None and (span.parent.trace_id, span.parent.span_id) == (CALLER_TRACE, CALLER_SPAN)
    assert span.parent.is_remote and span.context is not None and span.context.trace_id == CALLER_TRACE
    assert dict(span.attributes or {}) == {
        "rpc.system": "grpc", "rpc.service": "test.Echo", "rpc.method": "Call", "rpc.grpc.status_code": 0,
        "rpc.user_agent": "grpc-python/1.76", "net.peer.ip": "127.0.0.1", "net.peer.port": "57284",
        "net.peer.name": "localhost"}
    assert span.status.status_code is StatusCode.UNSET and span.events == ()
    assert span.start_time is not None and span.end_time is not None
    assert before <= span.start_time <= span.end_time <= time_ns()
    assert span.resource is RESOURCE


@pytest.mark.parametrize("code", list(grpc.StatusCode), ids=lambda code: code.name)
def test_a_deferred_span_ends_as_the_sdks_would_for_every_code(code: grpc.StatusCode) -> None:
    own, deferred = _own()
    sdk, live = TracerProvider(resource=RESOURCE, sampler=ParentBased(ALWAYS_ON)), InMemorySpanExporter()
    sdk.add_span_processor(SimpleSpanProcessor(live))
    error = RuntimeError("secret internals") if code is grpc.StatusCode.INTERNAL else None

    _serve(own, code, "details", error)
    _serve(sdk, code, "details", error)

    def shape(span: ReadableSpan) -> tuple[object, ...]:
        assert span.parent is not None
        events = [(event.name, {key: value for key, value in (event.attributes or {}).items()
                                if key != "exception.stacktrace"}) for event in span.events]
        return (span.name, span.kind, span.parent.span_id, dict(span.attributes or {}), span.status.status_code,
                span.status.description, span.instrumentation_scope, span.resource, span.links, events)

    [made], [sdks] = deferred.get_finished_spans(), live.get_finished_spans()
    assert shape(made) == shape(sdks)


def test_a_server_failure_is_an_error_with_its_code_and_exception() -> None:
    provider, exporter = _own()

    _serve(provider, grpc.StatusCode.INTERNAL, "boom", RuntimeError("secret internals"))

    [span] = exporter.get_finished_spans()
    assert (span.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.INTERNAL.value[0]
    assert (span.status.status_code, span.status.description) == (StatusCode.ERROR, "StatusCode.INTERNAL:boom")
    [event] = span.events
    assert event.name == "exception" and (event.attributes or {})["exception.type"] == "RuntimeError"
    assert (event.attributes or {})["exception.message"] == "secret internals"


def test_a_refused_request_keeps_its_code_without_an_error() -> None:
    provider, exporter = _own()

    _serve(provider, grpc.StatusCode.INVALID_ARGUMENT, "not a ping")

    [span] = exporter.get_finished_spans()
    assert (span.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert span.status.status_code is StatusCode.UNSET


def test_an_unsampled_call_reaches_no_processor_and_records_no_child() -> None:
    provider, exporter = _own()

    current = _serve(provider, sampled=False)

    assert exporter.get_finished_spans() == ()
    assert not recorded(current) and not current.get_span_context().trace_flags.sampled
    assert current.get_span_context().trace_id == CALLER_TRACE


def test_a_child_started_under_it_is_recorded_with_it_as_parent() -> None:
    provider, exporter = _own()
    spans = ServerSpans(provider).of(METHOD)
    span, token = spans.start(_metadata(), _Call())  # type: ignore[arg-type]  # only peer() is read
    assert recorded(trace.get_current_span())
    provider.get_tracer("clearmesh.sql").start_span("SELECT order").end()
    MethodSpans.end(span, token, grpc.StatusCode.OK)

    child, server = exporter.get_finished_spans()
    assert child.name == "SELECT order" and child.parent == server.context


def test_a_call_made_under_it_is_a_deferred_client_span_with_it_as_parent() -> None:
    provider, exporter = _own()
    caller = NonRecordingSpan(SpanContext(CALLER_TRACE, CALLER_SPAN, is_remote=False, trace_flags=TraceFlags(1)))
    token = context_api.attach(trace.set_span_in_context(caller))
    try:
        span, carrier = ClientSpans(provider).start("/test.Echo/Refuse")
    finally:
        context_api.detach(token)
    assert span is not None
    end_client_span(span, grpc.StatusCode.FAILED_PRECONDITION, "the market is halted")

    [made] = exporter.get_finished_spans()
    assert made.context is not None and made.parent is not None
    assert (made.name, made.kind, made.parent.span_id) == ("test.Echo/Refuse", SpanKind.CLIENT, CALLER_SPAN)
    assert dict(carrier)["traceparent"] == f"00-{CALLER_TRACE:032x}-{made.context.span_id:016x}-01"
    assert (made.status.status_code, made.status.description) == (StatusCode.ERROR, "the market is halted")
    assert (made.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0]


@pytest.mark.parametrize("when", ["before", "after the first call"])
def test_once_another_processor_is_added_the_spans_are_the_sdks_heard_by_both(when: str) -> None:
    provider, own = _own()
    if when != "before":
        _serve(provider)
        own.clear()
    added = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(added))

    current = _serve(provider)

    assert isinstance(current, SdkSpan)  # the live one, on_start and all
    assert [span.name for span in own.get_finished_spans()] == [span.name for span in added.get_finished_spans()] \
        == ["test.Echo/Call"]
