"""The bootstrap every service starts with, exercised over real sockets."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from clearmesh.matching.v1 import matching_service_pb2 as pb, matching_service_pb2_grpc as pb_grpc
from clearmesh.matching.v1 import matching_pb2
from services.registry import SERVICE_NAMES, load_spec
from services.runtime.auth import access_rules, current_principal
from services.runtime.errors import FailedPrecondition, InvalidArgument
from services.runtime.logs import JsonFormatter
from services.runtime.server import ServiceRuntime, contract_spec
from services.runtime.settings import Settings
from services.runtime.telemetry import configure_tracing
from tests.testkit.rpc import error_info, field_violations, reason

Bearer = Callable[..., tuple[tuple[str, str], ...]]


class ProbeServicer(pb_grpc.MatchingServiceServicer):
    """A matching servicer whose methods each show one behaviour of the runtime."""

    def __init__(self) -> None:
        self.finished_slow_calls = 0

    async def GetMarket(self, request: pb.GetMarketRequest, context: Any) -> matching_pb2.Market:
        if request.name == "markets/invalid":
            raise InvalidArgument("INVALID_ARGUMENT", "bad name", violations=[("name", "is odd")])
        if request.name == "markets/halted":
            raise FailedPrecondition("MARKET_HALTED", "the market is halted", metadata={"market": "x"})
        if request.name == "markets/boom":
            raise RuntimeError("secret internals")
        return matching_pb2.Market(name=request.name, base_asset=current_principal().account or "")

    async def ListMarkets(self, request: pb.ListMarketsRequest, context: Any) -> pb.ListMarketsResponse:
        await asyncio.sleep(0.5)
        self.finished_slow_calls += 1
        return pb.ListMarketsResponse()

    async def StreamTrades(self, request: pb.StreamTradesRequest, context: Any) -> AsyncIterator[pb.StreamTradesResponse]:
        if request.market == "markets/endless":  # as fast as the client reads, until it leaves
            sequence = 0
            while True:
                sequence += 1
                yield pb.StreamTradesResponse(trade=matching_pb2.Trade(sequence=sequence, name="x" * 4096))
        yield pb.StreamTradesResponse(trade=matching_pb2.Trade(sequence=1))
        raise FailedPrecondition("STREAM_BROKEN", "the stream broke")


def probe_spec(servicer: ProbeServicer) -> Any:
    async def build(_runtime: ServiceRuntime) -> ProbeServicer:
        return servicer

    return contract_spec("matching", pb, pb_grpc, "MatchingService", build=build)


def _stub(running: Any) -> pb_grpc.MatchingServiceStub:
    return pb_grpc.MatchingServiceStub(grpc.aio.insecure_channel(f"127.0.0.1:{running.port}"))


def _all_methods(service: str) -> list[MethodDescriptor]:
    return list(load_spec(service).descriptor.methods)


async def _invoke(port: int, method: MethodDescriptor, metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode:
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    path = f"/{method.containing_service.full_name}/{method.name}"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        if method.server_streaming:
            streaming = channel.unary_stream(path, request_serializer=request_class.SerializeToString,
                                             response_deserializer=response_class.FromString)
            stream = streaming(request_class(), metadata=metadata)
            try:
                async for _ in stream:
                    pass
            except grpc.aio.AioRpcError as error:
                return error.code()
            return grpc.StatusCode.OK
        call = channel.unary_unary(path, request_serializer=request_class.SerializeToString,
                                   response_deserializer=response_class.FromString)
        try:
            await call(request_class(), metadata=metadata)
        except grpc.aio.AioRpcError as error:
            return error.code()
        return grpc.StatusCode.OK


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_every_rpc_without_a_token_is_unauthenticated(service: str, serve: Any) -> None:
    async with serve(load_spec(service)) as running:
        codes = {m.name: await _invoke(running.port, m, ()) for m in _all_methods(service)}
    assert set(codes.values()) == {grpc.StatusCode.UNAUTHENTICATED}, codes


def _methods_not_open_to(role: str) -> list[tuple[str, str]]:
    found = []
    for service in SERVICE_NAMES:
        descriptor = load_spec(service).descriptor
        rules = access_rules([descriptor])
        found += [(service, m.name) for m in descriptor.methods
                  if role not in rules[f"/{descriptor.full_name}/{m.name}"].roles]
    return found


@pytest.mark.parametrize(("service", "method"), _methods_not_open_to("trader"))
async def test_a_trader_on_an_operator_or_internal_rpc_is_denied(service: str, method: str, serve: Any,
                                                                 bearer: Bearer) -> None:
    spec = load_spec(service)
    async with serve(spec) as running:
        code = await _invoke(running.port, spec.descriptor.methods_by_name[method],
                             bearer(account="t", roles=("trader",)))
    assert code == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(("service", "method"),
                         [m for m in _methods_not_open_to("trader") if m in _methods_not_open_to("operator")])
async def test_a_user_token_on_an_internal_rpc_is_denied(service: str, method: str, serve: Any,
                                                         bearer: Bearer) -> None:
    spec = load_spec(service)
    async with serve(spec) as running:
        code = await _invoke(running.port, spec.descriptor.methods_by_name[method],
                             bearer(account="op", roles=("trader", "operator")))
    assert code == grpc.StatusCode.PERMISSION_DENIED


async def test_the_named_internal_caller_gets_past_auth(serve: Any, bearer: Bearer) -> None:
    submit = load_spec("matching").descriptor.methods_by_name["SubmitOrder"]
    async with serve(load_spec("matching")) as running:
        # Past auth, the (empty) request reaches the servicer, which judges it on its merits.
        assert await _invoke(running.port, submit, bearer(service="order")) not in (
            grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
        assert await _invoke(running.port, submit, bearer(service="wallet")) == grpc.StatusCode.PERMISSION_DENIED


async def test_an_unbuilt_rpc_answers_unimplemented_with_error_info(serve: Any, bearer: Bearer) -> None:
    from clearmesh.order.v1 import order_service_pb2 as opb, order_service_pb2_grpc as ogrpc

    # A contract without a build: the runtime serves the generated base servicer.
    async with serve(contract_spec("order", opb, ogrpc, "OrderService")) as running:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")

        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await ogrpc.OrderServiceStub(channel).GetOrder(opb.GetOrderRequest(name="orders/1"),
                                                           metadata=bearer(account="a"))
        await channel.close()
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert reason(raised.value) == "NOT_IMPLEMENTED"


async def test_health_and_reflection_need_no_token(serve: Any) -> None:
    async with serve(load_spec("kyc")) as running:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="clearmesh.kyc.v1.KycService"))
            replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
            listed = [s.name async for r in replies for s in r.list_services_response.service]
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert "clearmesh.kyc.v1.KycService" in listed


async def test_the_servicer_sees_the_authenticated_caller(serve: Any, bearer: Bearer) -> None:
    async with serve(probe_spec(ProbeServicer())) as running:
        market = await _stub(running).GetMarket(pb.GetMarketRequest(name="markets/A"),
                                                metadata=bearer(account="alice"))
    assert market.base_asset == "alice"


async def test_an_invalid_argument_carries_field_violations_and_error_info(serve: Any, bearer: Bearer) -> None:
    async with serve(probe_spec(ProbeServicer())) as running:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await _stub(running).GetMarket(pb.GetMarketRequest(name="markets/invalid"), metadata=bearer(account="a"))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [(v.field, v.description) for v in field_violations(raised.value)] == [("name", "is odd")]
    assert error_info(raised.value).domain == "clearmesh.io"


async def test_a_domain_failure_maps_to_its_code_with_a_stable_reason(serve: Any, bearer: Bearer) -> None:
    async with serve(probe_spec(ProbeServicer())) as running:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await _stub(running).GetMarket(pb.GetMarketRequest(name="markets/halted"), metadata=bearer(account="a"))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(raised.value)
    assert (info.reason, dict(info.metadata)) == ("MARKET_HALTED", {"market": "x"})


async def test_an_unexpected_exception_is_internal_and_leaks_nothing(serve: Any, bearer: Bearer) -> None:
    async with serve(probe_spec(ProbeServicer())) as running:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await _stub(running).GetMarket(pb.GetMarketRequest(name="markets/boom"), metadata=bearer(account="a"))
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (raised.value.details() or "")


async def test_an_error_mid_stream_ends_the_stream_with_its_status(serve: Any, bearer: Bearer) -> None:
    received = []
    async with serve(probe_spec(ProbeServicer())) as running:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            async for item in _stub(running).StreamTrades(pb.StreamTradesRequest(market="markets/A"),
                                                          metadata=bearer(account="a")):
                received.append(item.trade.sequence)
    assert received == [1]
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_stream_the_client_leaves_ends_in_its_own_call_without_a_context_error(
        serve: Any, bearer: Bearer, caplog: pytest.LogCaptureFixture) -> None:
    """A client that stops reading a stream and cancels it: the servicer's response generator
    is closed by the call itself, not later by the garbage collector in another context, where
    the call's span context cannot be detached ("Failed to detach context", logged as an error
    on every cancelled stream)."""
    async with serve(probe_spec(ProbeServicer())) as running:
        call = _stub(running).StreamTrades(pb.StreamTradesRequest(market="markets/endless"), metadata=bearer(account="a"))
        for _ in range(3):
            await call.read()
        call.cancel()
        await asyncio.sleep(0.3)
        gc.collect()
        await asyncio.sleep(0.1)
    assert [r.getMessage() for r in caplog.records if r.name == "opentelemetry.context"] == []


async def test_stopping_drains_calls_in_flight_and_refuses_new_ones(serve: Any, bearer: Bearer) -> None:
    servicer = ProbeServicer()
    async with serve(probe_spec(servicer)) as running:
        stub = _stub(running)
        in_flight = asyncio.ensure_future(stub.ListMarkets(pb.ListMarketsRequest(), metadata=bearer(account="a")))
        await asyncio.sleep(0.1)
        await running.stop(grace=5)
        await in_flight
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ListMarkets(pb.ListMarketsRequest(), metadata=bearer(account="a"), timeout=1)
    assert servicer.finished_slow_calls == 1
    assert raised.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


async def test_health_turns_not_serving_when_draining_starts(serve: Any) -> None:
    async with serve(load_spec("wallet")) as running:
        await running.health.enter_graceful_shutdown()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


class _FormattedLines(logging.Handler):
    """Formats each record as it is emitted, inside the call, as the service's handler does."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_each_call_is_logged_once_with_its_correlation_id(serve: Any, bearer: Bearer) -> None:
    handler = _FormattedLines()
    rpc_log = logging.getLogger("clearmesh.rpc")
    rpc_log.addHandler(handler)
    rpc_log.setLevel(logging.INFO)
    try:
        async with serve(probe_spec(ProbeServicer())) as running:
            await _stub(running).GetMarket(pb.GetMarketRequest(name="markets/A"),
                                           metadata=(*bearer(account="a"), ("x-request-id", "req-123")))
    finally:
        rpc_log.removeHandler(handler)
    assert len(handler.lines) == 1
    line = handler.lines[0]
    assert (line["correlation_id"], line["grpc.code"]) == ("req-123", "OK")
    assert line["rpc.method"].endswith("/GetMarket")


async def test_the_server_span_continues_the_callers_trace(serve: Any, bearer: Bearer,
                                                          settings: Settings) -> None:
    provider = configure_tracing("test", settings)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    from services.runtime.channels import dial

    async with serve(probe_spec(ProbeServicer())) as running:
        token = bearer(account="a")[0][1].removeprefix("Bearer ")
        channel = dial(f"127.0.0.1:{running.port}", lambda: token, 1 << 20)
        with trace.get_tracer("test").start_as_current_span("caller") as caller:
            await pb_grpc.MatchingServiceStub(channel).GetMarket(pb.GetMarketRequest(name="markets/A"))
        await channel.close()
    trace_id = caller.get_span_context().trace_id
    server_spans = [s for s in exporter.get_finished_spans()
                    if s.kind == trace.SpanKind.SERVER and s.name.endswith("GetMarket")]
    assert server_spans and all(s.context.trace_id == trace_id for s in server_spans)


async def test_each_call_is_counted_by_method_and_code(serve: Any, bearer: Bearer) -> None:
    from prometheus_client import REGISTRY

    labels = {"grpc_service": "clearmesh.matching.v1.MatchingService", "grpc_method": "GetMarket",
              "grpc_code": "FAILED_PRECONDITION"}
    before = REGISTRY.get_sample_value("grpc_server_handled_total", labels) or 0.0
    async with serve(probe_spec(ProbeServicer())) as running:
        with pytest.raises(grpc.aio.AioRpcError):
            await _stub(running).GetMarket(pb.GetMarketRequest(name="markets/halted"), metadata=bearer(account="a"))
    assert REGISTRY.get_sample_value("grpc_server_handled_total", labels) == before + 1


async def test_a_client_streaming_rpc_is_authenticated_like_any_other(issuer: Any) -> None:
    from services.runtime.auth import AccessRule
    from services.runtime.interceptors import CallInterceptor

    async def upload(requests: Any, context: Any) -> bytes:
        return b"".join([chunk async for chunk in requests])

    method = "/clearmesh.test.v1.UploadService/Upload"
    server = grpc.aio.server(interceptors=[CallInterceptor(
        issuer, {method: AccessRule(roles=frozenset({"operator"}))}, trust_mesh=False)])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "clearmesh.test.v1.UploadService", {"Upload": grpc.stream_unary_rpc_method_handler(upload)})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call: grpc.aio.StreamUnaryMultiCallable[bytes, bytes] = channel.stream_unary(method)
            with pytest.raises(grpc.aio.AioRpcError) as anonymous:
                await call(iter([b"a", b"b"]))
            token = issuer.mint(account="op", roles=["operator"])
            uploaded = await call(iter([b"a", b"b"]), metadata=(("authorization", f"Bearer {token}"),))
    finally:
        await server.stop(0)
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert uploaded == b"ab"


@dataclass
class _Details:
    """What grpc.aio tells an interceptor of a call."""

    method: str
    invocation_metadata: tuple[tuple[str, str | bytes], ...] = ()


async def test_a_methods_handler_is_looked_up_and_wrapped_once_not_per_call(issuer: Any) -> None:
    from services.runtime.interceptors import CallInterceptor

    looked_up: list[str] = []

    async def lookup(details: Any) -> Any:
        looked_up.append(details.method)
        return grpc.unary_unary_rpc_method_handler(lambda request, context: request)

    interceptor = CallInterceptor(issuer, {}, trust_mesh=False)
    first = await interceptor.intercept_service(lookup, _Details("/test.Echo/Call"))
    second = await interceptor.intercept_service(lookup, _Details("/test.Echo/Call"))

    assert first is second and looked_up == ["/test.Echo/Call"]


async def test_a_method_the_server_does_not_have_is_looked_up_every_time(issuer: Any) -> None:
    """Nothing is kept for a name a caller made up: the names kept are the server's methods."""
    from services.runtime.interceptors import CallInterceptor

    looked_up: list[str] = []

    async def lookup(details: Any) -> None:
        looked_up.append(details.method)

    interceptor = CallInterceptor(issuer, {}, trust_mesh=False)
    for _ in range(2):
        assert await interceptor.intercept_service(lookup, _Details("/made.Up/Name")) is None

    assert looked_up == ["/made.Up/Name"] * 2


async def test_a_second_server_on_a_port_already_served_fails_to_start_instead_of_sharing_it(serve: Any) -> None:
    # Shared (gRPC's default SO_REUSEPORT), the kernel would split the connections between the
    # two, and some calls would be answered "Method not found!" by the other service.
    async with serve(probe_spec(ProbeServicer())) as first:
        with pytest.raises(RuntimeError, match="bind"):
            async with serve(load_spec("wallet"), port=first.port):
                pass
