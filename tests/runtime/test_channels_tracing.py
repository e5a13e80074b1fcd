"""The trace of each call a peer channel (`services.runtime.channels.dial`) makes: a CLIENT
span with the RPC conventions' name and attributes, a child of the current span, whose
traceparent the callee gets; an error status on a failed call; nothing recorded under a
sampled-out parent or with no span processor, only the context sent on; health checks bare."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, StatusCode, TraceFlags

from services.runtime.channels import dial
from tests.testkit.spans import span_provider

CALLER_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CALLER_SPAN = 0x00F067AA0BA902B7
SPANS = pytest.mark.parametrize("spans", ["sdk", "deferred"])


async def _traceparent(request: bytes, context: Any) -> bytes:
    return str(dict(context.invocation_metadata()).get("traceparent", "")).encode()


async def _refuse(request: bytes, context: Any) -> bytes:
    await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the market is halted")
    return b""


async def _traceparent_stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
    yield await _traceparent(request, context)


@pytest.fixture
async def port() -> AsyncIterator[int]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([
        grpc.method_handlers_generic_handler("test.Echo", {
            "Traceparent": grpc.unary_unary_rpc_method_handler(_traceparent),
            "Refuse": grpc.unary_unary_rpc_method_handler(_refuse),
            "Stream": grpc.unary_stream_rpc_method_handler(_traceparent_stream)}),
        grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(_traceparent)})])
    bound = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield bound
    await server.stop(None)


def _caller(sampled: bool = True) -> trace.Span:
    flags = TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT
    return NonRecordingSpan(SpanContext(CALLER_TRACE, CALLER_SPAN, is_remote=False, trace_flags=TraceFlags(flags)))


async def _unary(port: int, provider: TracerProvider, method: str, caller: trace.Span) -> str:
    channel = dial(f"127.0.0.1:{port}", lambda: "service-token", 1 << 20, provider)
    try:
        with trace.use_span(caller):
            sent: bytes = await channel.unary_unary(method)(b"")  # type: ignore[arg-type]  # raw bytes, no serializer
    finally:
        await channel.close()
    return sent.decode()


def _ids(traceparent: str) -> tuple[int, int, str]:
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00"
    return int(trace_id, 16), int(span_id, 16), flags


@SPANS
async def test_a_call_is_a_client_span_with_the_rpc_conventions_under_the_current_span(port: int, spans: str) -> None:
    provider, exporter = span_provider(heard=True, spans=spans)

    await _unary(port, provider, "/test.Echo/Traceparent", _caller())

    [span] = exporter.get_finished_spans()
    assert (span.name, span.kind) == ("test.Echo/Traceparent", trace.SpanKind.CLIENT)
    assert dict(span.attributes or {}) == {"rpc.system": "grpc", "rpc.service": "test.Echo",
                                           "rpc.method": "Traceparent", "rpc.grpc.status_code": 0}
    assert span.parent is not None and (span.parent.trace_id, span.parent.span_id) == (CALLER_TRACE, CALLER_SPAN)
    assert span.status.status_code is StatusCode.UNSET
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "opentelemetry.instrumentation.grpc"


@SPANS
async def test_the_callee_gets_the_traceparent_of_the_client_span(port: int, spans: str) -> None:
    provider, exporter = span_provider(heard=True, spans=spans)

    sent = await _unary(port, provider, "/test.Echo/Traceparent", _caller())

    [span] = exporter.get_finished_spans()
    assert span.context is not None
    assert _ids(sent) == (CALLER_TRACE, span.context.span_id, "01")


@SPANS
async def test_a_failed_call_ends_its_span_with_the_code_and_an_error_status(port: int, spans: str) -> None:
    provider, exporter = span_provider(heard=True, spans=spans)

    with pytest.raises(grpc.aio.AioRpcError):
        await _unary(port, provider, "/test.Echo/Refuse", _caller())

    [span] = exporter.get_finished_spans()
    assert (span.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert (span.status.status_code, span.status.description) == (StatusCode.ERROR, "the market is halted")


@SPANS
async def test_a_server_stream_is_one_client_span_ended_with_the_stream(port: int, spans: str) -> None:
    provider, exporter = span_provider(heard=True, spans=spans)
    channel = dial(f"127.0.0.1:{port}", lambda: "service-token", 1 << 20, provider)
    try:
        with trace.use_span(_caller()):
            call: Any = channel.unary_stream("/test.Echo/Stream")(b"")  # type: ignore[arg-type]  # raw bytes
            [sent] = [message.decode() async for message in call]
    finally:
        await channel.close()

    [span] = exporter.get_finished_spans()
    assert (span.name, span.kind) == ("test.Echo/Stream", trace.SpanKind.CLIENT)
    assert span.context is not None and _ids(sent) == (CALLER_TRACE, span.context.span_id, "01")


@SPANS
async def test_under_a_sampled_out_parent_nothing_is_recorded_and_the_flag_is_sent_on(port: int, spans: str) -> None:
    provider, exporter = span_provider(heard=True, spans=spans)

    sent = await _unary(port, provider, "/test.Echo/Traceparent", _caller(sampled=False))

    trace_id, _, flags = _ids(sent)
    assert exporter.get_finished_spans() == ()
    assert (trace_id, flags) == (CALLER_TRACE, "00")


async def test_without_a_processor_the_call_carries_a_child_of_the_current_span(port: int) -> None:
    provider, _ = span_provider(heard=False)

    sent = await _unary(port, provider, "/test.Echo/Traceparent", _caller())

    trace_id, span_id, flags = _ids(sent)
    assert (trace_id, flags) == (CALLER_TRACE, "01") and span_id != CALLER_SPAN


@SPANS
async def test_a_health_check_carries_no_trace_and_makes_no_span(port: int, spans: str) -> None:
    provider, exporter = span_provider(heard=True, spans=spans)

    sent = await _unary(port, provider, "/grpc.health.v1.Health/Check", _caller())

    assert sent == ""
    assert [span.name for span in exporter.get_finished_spans()] == []

