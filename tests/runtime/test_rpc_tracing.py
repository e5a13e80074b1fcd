"""The services' gRPC server spans: recorded when a processor would hear them; with none, the
same trace context carried on and made current, and no span built. (The client side:
test_channels_tracing.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime.auth import AccessRule, TokenIssuer
from services.runtime.deferred_spans import recorded
from services.runtime.errors import InvalidArgument
from services.runtime.interceptors import CallInterceptor
from services.runtime.rpc_tracing import ServerSpans
from tests.testkit.spans import span_provider

CALLER_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CALLER_SPAN = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{CALLER_TRACE:032x}-{CALLER_SPAN:016x}-01"
METHOD = "/test.Echo/Call"
STREAM = "/test.Echo/Stream"


@dataclass
class Seen:
    """What the handler saw of each call: its current span (and whether it was recorded, its
    children with it: deferred_spans.recorded) and the traceparent it got."""

    spans: list[trace.Span] = field(default_factory=list)
    recording: list[bool] = field(default_factory=list)
    traceparents: list[str] = field(default_factory=list)


@dataclass
class Echo:
    port: int
    seen: Seen
    token: tuple[tuple[str, str], ...]  # the metadata that gets a call past authentication


async def _serve(provider: TracerProvider, issuer: TokenIssuer) -> tuple[grpc.aio.Server, Echo]:
    seen = Seen()

    async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        seen.spans.append(trace.get_current_span())
        seen.recording.append(recorded(seen.spans[-1]))
        seen.traceparents.append(str(dict(context.invocation_metadata() or ()).get("traceparent", "")))
        if request == b"boom":
            raise RuntimeError("secret internals")
        if request == b"refused":
            raise InvalidArgument("BAD_PING", "not a ping")
        return request

    async def stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        seen.recording.append(recorded(trace.get_current_span()))
        yield request
        yield request

    rules = {METHOD: AccessRule(roles=frozenset({"trader"})), STREAM: AccessRule(roles=frozenset({"trader"}))}
    server = grpc.aio.server(interceptors=[
        CallInterceptor(issuer, rules, trust_mesh=False, spans=ServerSpans(provider))])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "test.Echo", {"Call": grpc.unary_unary_rpc_method_handler(call),
                      "Stream": grpc.unary_stream_rpc_method_handler(stream)})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    token = issuer.mint(account="a", roles=["trader"])
    return server, Echo(port, seen, (("authorization", f"Bearer {token}"),))


@pytest.fixture(params=["sdk", "deferred"])
async def heard(issuer: TokenIssuer, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Echo, InMemorySpanExporter]]:
    provider, exporter = span_provider(heard=True, spans=request.param)
    server, echo = await _serve(provider, issuer)
    yield echo, exporter
    await server.stop(None)


@pytest.fixture
async def unheard(issuer: TokenIssuer) -> AsyncIterator[tuple[Echo, TracerProvider]]:
    provider, _ = span_provider(heard=False)
    server, echo = await _serve(provider, issuer)
    yield echo, provider
    await server.stop(None)


async def _call(echo: Echo, *, metadata: tuple[tuple[str, str], ...] = (), request: bytes = b"ping") -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{echo.port}") as channel:
        call: Any = channel.unary_unary(METHOD)
        await call(request, metadata=(*echo.token, *metadata))


async def test_without_a_processor_the_served_call_continues_the_callers_trace_unrecorded(
        unheard: tuple[Echo, TracerProvider]) -> None:
    echo, _ = unheard

    await _call(echo, metadata=(("traceparent", TRACEPARENT),))

    [span] = echo.seen.spans
    context = span.get_span_context()
    assert echo.seen.recording == [False]
    assert context.trace_id == CALLER_TRACE and context.span_id != CALLER_SPAN
    assert context.trace_flags.sampled


@pytest.mark.parametrize("spans", ["sdk", "deferred"])
async def test_with_a_processor_the_served_call_gets_a_recorded_server_span(issuer: TokenIssuer, spans: str) -> None:
    provider, exporter = span_provider(heard=True, spans=spans)
    server, echo = await _serve(provider, issuer)
    try:
        await _call(echo, metadata=(("traceparent", TRACEPARENT),))
    finally:
        await server.stop(None)

    assert echo.seen.recording == [True]
    [finished] = exporter.get_finished_spans()
    assert finished.kind is trace.SpanKind.SERVER and finished.context is not None
    assert finished.context.trace_id == CALLER_TRACE


async def test_a_recorded_server_span_is_named_and_labelled_by_the_rpc_conventions(
        heard: tuple[Echo, InMemorySpanExporter]) -> None:
    echo, exporter = heard

    await _call(echo)

    [finished] = exporter.get_finished_spans()
    assert finished.name == "test.Echo/Call"
    assert {key: value for key, value in (finished.attributes or {}).items() if key.startswith("rpc.")} == {
        "rpc.system": "grpc", "rpc.service": "test.Echo", "rpc.method": "Call", "rpc.grpc.status_code": 0,
        "rpc.user_agent": dict(finished.attributes or {})["rpc.user_agent"]}
    assert (finished.attributes or {})["net.peer.name"] == "localhost"
    assert finished.status.status_code is trace.StatusCode.UNSET


async def test_a_sampled_out_caller_gets_no_recorded_span_only_its_context_carried_on(
        heard: tuple[Echo, InMemorySpanExporter]) -> None:
    echo, exporter = heard

    await _call(echo, metadata=(("traceparent", f"00-{CALLER_TRACE:032x}-{CALLER_SPAN:016x}-00"),))

    [span] = echo.seen.spans
    assert echo.seen.recording == [False]
    assert span.get_span_context().trace_id == CALLER_TRACE and not span.get_span_context().trace_flags.sampled
    assert exporter.get_finished_spans() == ()


async def _one_finished(exporter: InMemorySpanExporter) -> ReadableSpan:
    """The one span the server finished. A refused or failed call's status reaches the caller
    when the handler aborts, before the server's interceptor has ended the span (its `finally`)."""
    for _ in range(500):
        if exporter.get_finished_spans():
            break
        await asyncio.sleep(0.01)
    [finished] = exporter.get_finished_spans()
    return finished


async def test_an_unexpected_failure_makes_an_error_span_with_its_exception(
        heard: tuple[Echo, InMemorySpanExporter]) -> None:
    echo, exporter = heard

    with pytest.raises(grpc.aio.AioRpcError):
        await _call(echo, request=b"boom")

    finished = await _one_finished(exporter)
    assert (finished.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.INTERNAL.value[0]
    assert finished.status.status_code is trace.StatusCode.ERROR
    assert [(event.name, (event.attributes or {})["exception.type"]) for event in finished.events] == [
        ("exception", "RuntimeError")]


async def test_a_refused_request_is_not_a_span_error(heard: tuple[Echo, InMemorySpanExporter]) -> None:
    echo, exporter = heard

    with pytest.raises(grpc.aio.AioRpcError):
        await _call(echo, request=b"refused")

    finished = await _one_finished(exporter)
    assert (finished.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert finished.status.status_code is trace.StatusCode.UNSET
    assert finished.events == ()


async def test_a_response_stream_is_one_recorded_span_for_its_whole_life(
        heard: tuple[Echo, InMemorySpanExporter]) -> None:
    echo, exporter = heard

    async with grpc.aio.insecure_channel(f"127.0.0.1:{echo.port}") as channel:
        streaming: Any = channel.unary_stream(STREAM)
        received = [item async for item in streaming(b"ping", metadata=(*echo.token, ("traceparent", TRACEPARENT)))]

    assert received == [b"ping", b"ping"] and echo.seen.recording == [True]
    [finished] = exporter.get_finished_spans()
    assert (finished.name, finished.kind) == ("test.Echo/Stream", trace.SpanKind.SERVER)
    assert finished.context is not None and finished.context.trace_id == CALLER_TRACE
