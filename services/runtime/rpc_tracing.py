"""The gRPC spans of every service, without building them when nobody would read them.

OpenTelemetry's gRPC instrumentation makes a SERVER span per call served and a CLIENT span
per call made. Measured on this machine (one unary call, 32 at once, process CPU per call):
its server interceptor cost 100–170 µs per call and its client interceptor 100–200 µs, as
much again as grpc.aio's own work for the call; Order pays both on every placement. With no
span processor on the provider (no exporter configured: a laptop, CI, the bench scripts)
those spans go nowhere, and only their context matters: the `traceparent` sent on, the trace
ids in log lines, the traceparent Matching keeps with a trade. So in that case these
interceptors set and send exactly the context OpenTelemetry's would
(services/runtime/unheard.py) and build no span; SQL statements then get no span either
(sql_spans.py starts one only under a recording span). As soon as a processor is there (an
exporter at start, a test's in-memory one later), every call served goes through
OpenTelemetry's interceptor as before. Response streams always do: they are few and long-lived.

Calls made have no interceptor at all (services/runtime/channels.py): `ClientSpans` below
gives each its context, and, when it records, the same CLIENT span OpenTelemetry's client
interceptor made, for ~75 µs less of the caller's CPU per call (bench/client_calls.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.runtime.unheard import unheard, unrecorded_span

# The RPC semantic conventions' attributes, as OpenTelemetry's gRPC instrumentation sets them.
RPC_SYSTEM, RPC_SERVICE, RPC_METHOD = "rpc.system", "rpc.service", "rpc.method"
RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code"

# What OpenTelemetry's interceptors are told to leave alone (telemetry._UNTRACED): probes and
# grpcurl's reflection carry no trace.
UNTRACED_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_TRACER_NAME = "opentelemetry.instrumentation.grpc"


class _Tracer:
    """The provider's tracer (None: the global provider's, looked up again only when it changes)."""

    def __init__(self, provider: trace.TracerProvider | None) -> None:
        self._provider = provider
        self._seen: trace.TracerProvider | None = None
        self._tracer: trace.Tracer = trace.NoOpTracer()

    def __call__(self) -> trace.Tracer:
        provider = self._provider or trace.get_tracer_provider()
        if provider is not self._seen:
            self._seen, self._tracer = provider, provider.get_tracer(_TRACER_NAME)
        return self._tracer


class ServerTracing(grpc.aio.ServerInterceptor):
    """OpenTelemetry's server interceptor (`traced`) when a span would be heard; otherwise
    the caller's context (W3C traceparent from the metadata) continued by an unrecorded
    SERVER span, current while the handler runs."""

    def __init__(self, traced: grpc.aio.ServerInterceptor, provider: trace.TracerProvider | None = None) -> None:
        self._traced = traced
        self._tracer = _Tracer(provider)

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        tracer = self._tracer()
        if not unheard(tracer) or details.method.startswith(UNTRACED_PREFIXES):
            return await self._traced.intercept_service(continuation, details)
        handler = await continuation(details)
        if handler is None:
            return None
        if handler.response_streaming:
            async def found(_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any]:
                return handler

            return await self._traced.intercept_service(found, details)
        kind = ("stream" if handler.request_streaming else "unary") + "_unary"
        inner = getattr(handler, kind)
        method = details.method
        metadata = details.invocation_metadata

        async def continued(request: Any, context: grpc.aio.ServicerContext) -> Any:
            parent = extract({key: value for key, value in (metadata or ()) if isinstance(value, str)})
            span = unrecorded_span(tracer, method, parent, SpanKind.SERVER)
            token = context_api.attach(trace.set_span_in_context(span, parent))
            try:
                return await inner(request, context)
            finally:
                context_api.detach(token)

        factory = getattr(grpc, f"{kind}_rpc_method_handler")
        return factory(continued, request_deserializer=handler.request_deserializer,
                       response_serializer=handler.response_serializer)


class ClientSpans:
    """The CLIENT span of each call a service makes (services/runtime/channels.py), and the
    trace context it sends: `start(method)` → (the span when it records, else None; the
    metadata to add, the W3C traceparent of a child of the current span).

    Recorded, the span is the one OpenTelemetry's client interceptor makes (same scope, the
    RPC conventions' name and attributes, ERROR with the details on a failed call), built
    here with the SDK tracer directly: no interceptor task, no context attached around the
    call. Unheard (no span processor), only the context (unheard.py); sampled out, the SDK
    makes no recording span either. Health checks and reflection carry no trace."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self._tracer = _Tracer(provider)
        self._named: dict[str, tuple[str, dict[str, Any]]] = {}  # method path → span name, attributes

    def _name(self, method: str) -> tuple[str, dict[str, Any]]:
        named = self._named.get(method)
        if named is None:
            name = method.lstrip("/")
            service, _, rpc = name.partition("/")
            named = self._named[method] = (name, {
                RPC_SYSTEM: "grpc", RPC_GRPC_STATUS_CODE: grpc.StatusCode.OK.value[0],
                RPC_METHOD: rpc, RPC_SERVICE: service})
        return named

    def start(self, method: str) -> tuple[trace.Span | None, tuple[tuple[str, str], ...]]:
        if method.startswith(UNTRACED_PREFIXES):
            return None, ()
        tracer = self._tracer()
        name, attributes = self._name(method)
        if unheard(tracer):
            span = unrecorded_span(tracer, name, None, SpanKind.CLIENT)
        else:
            span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes,
                                     record_exception=False, set_status_on_exception=False)
        carrier: dict[str, str] = {}
        inject(carrier, context=trace.set_span_in_context(span))
        return (span if span.is_recording() else None), tuple(carrier.items())


def end_client_span(span: trace.Span, code: grpc.StatusCode, details: str) -> None:
    """Ends a call's CLIENT span with its status, as OpenTelemetry's interceptor does."""
    if code is not grpc.StatusCode.OK:
        span.set_attribute(RPC_GRPC_STATUS_CODE, code.value[0])
        span.set_status(Status(StatusCode.ERROR, description=details))
    span.end()
