"""The gRPC spans of every service, built as cheaply as they can be, and not at all when
nobody would read them.

A SERVER span per call served (`ServerSpans`, made by interceptors.CallInterceptor) and a
CLIENT span per call made (`ClientTracing`). OpenTelemetry's gRPC instrumentation cost, measured
on this machine (one unary call, 32 at once, process CPU per call), 100–170 µs per call served
and 100–200 µs per call made, as much again as grpc.aio's own work for the call.

Server side, the SDK's span is built directly: the name (`package.Service/Method`) and the RPC
conventions' attributes OpenTelemetry's interceptor sets (rpc.system, rpc.service, rpc.method,
rpc.grpc.status_code, net.peer.*, rpc.user_agent) made once per method where they can be, and
no wrapped servicer context per call: the status is known where the interceptor maps errors.
With no span processor on the provider (no exporter configured: a laptop, CI, the bench
scripts) a span would go nowhere, and only its context matters: the `traceparent` sent on, the
trace ids in log lines, the traceparent Matching keeps with a trade. So in that case only that
context is made (services/runtime/unheard.py), and SQL statements then get no span either
(sql_spans.py starts one only under a recording span). A caller that sampled its trace out
(ParentBased) gets the SDK's non-recording span, no attribute built. Health checks and
reflection are not traced (interceptors.OPEN_PREFIXES).

Client side, OpenTelemetry's unary interceptor is used when a span would be heard; otherwise
only the traceparent of an unrecorded CLIENT span is added.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import grpc
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.runtime.unheard import unheard, unrecorded_span

# What OpenTelemetry's interceptors are told to leave alone (telemetry._UNTRACED): probes and
# grpcurl's reflection carry no trace.
UNTRACED_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_TRACER_NAME = "opentelemetry.instrumentation.grpc"
RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code"
# The codes that say a server failed to answer rather than refused the request: a SERVER
# span's error (the RPC conventions', and OpenTelemetry's interceptor's, choice).
SERVER_FAILURES = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED,
                             grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL,
                             grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS})


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


class ServerSpans:
    """The SERVER span of every call a service serves, for CallInterceptor (interceptors.py):
    `of(method)` once per method, then `start` and `end` per call."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self._tracer = _Tracer(provider)

    def of(self, method: str) -> MethodSpans:
        return MethodSpans(self._tracer, method)


class MethodSpans:
    """One method's SERVER spans, named and labelled once: `package.Service/Method` (what
    telemetry.RpcSpanNames makes of OpenTelemetry's names) with the RPC conventions'
    rpc.system, rpc.service, rpc.method and rpc.grpc.status_code, plus the caller's address
    (net.peer.*) and user agent, as OpenTelemetry's server interceptor records them."""

    def __init__(self, tracer: Callable[[], trace.Tracer], method: str) -> None:
        self._tracer = tracer
        self.name = method.lstrip("/")
        service, _, name = self.name.partition("/")
        self._attributes: dict[str, str | int] = {"rpc.system": "grpc", "rpc.service": service,
                                                  "rpc.method": name, RPC_GRPC_STATUS_CODE: 0}

    def start(self, metadata: Mapping[str, str], context: grpc.aio.ServicerContext) -> tuple[trace.Span, object]:
        """The call's span, current from here until `end`: a child of the caller's context
        (W3C traceparent in `metadata`), recorded only when a processor would hear it and the
        sampler keeps it (a caller's unsampled flag makes no span: ParentBased)."""
        tracer = self._tracer()
        parent = extract(metadata)
        span: trace.Span
        if unheard(tracer):
            span = unrecorded_span(tracer, self.name, parent, SpanKind.SERVER)
        else:
            span = tracer.start_span(self.name, parent, SpanKind.SERVER)
            if span.is_recording():
                span.set_attributes(self._of_call(metadata, context.peer()))
        return span, context_api.attach(trace.set_span_in_context(span, parent))

    def _of_call(self, metadata: Mapping[str, str], peer: str) -> dict[str, str | int]:
        attributes = dict(self._attributes)
        if agent := metadata.get("user-agent"):
            attributes["rpc.user_agent"] = agent
        # "ipv4:127.0.0.1:57284", "ipv6:[::1]:57284", "ipv4:10.2.1.1:57284,127.0.0.1:57284"
        _, _, address = peer.partition(",")[0].partition(":")
        ip, _, port = address.rpartition(":")
        if ip and not peer.startswith("unix:"):
            ip = unquote(ip)
            attributes.update({"net.peer.ip": ip, "net.peer.port": port})
            if ip in ("[::1]", "127.0.0.1"):
                attributes["net.peer.name"] = "localhost"
        return attributes

    @staticmethod
    def end(span: trace.Span, token: object, code: grpc.StatusCode, details: str = "",
            error: BaseException | None = None) -> None:
        """The call's outcome on its span, which ends; the caller's context current again.
        Only the codes that say the server failed (not that it refused the request) make the
        span an error, as in OpenTelemetry's interceptor; `error` is an unexpected exception."""
        if span.is_recording():
            if code is not grpc.StatusCode.OK:
                span.set_attribute(RPC_GRPC_STATUS_CODE, code.value[0])
                if code in SERVER_FAILURES:
                    span.set_status(Status(StatusCode.ERROR, f"{code}:{details}"))
            if error is not None:
                span.record_exception(error)
            span.end()
        context_api.detach(token)  # type: ignore[arg-type]


class ClientTracing(grpc.aio.UnaryUnaryClientInterceptor):
    """OpenTelemetry's unary client interceptor (`traced`) when a span would be heard;
    otherwise the traceparent of an unrecorded CLIENT span (a child of the current context)
    added to the call's metadata."""

    def __init__(self, traced: grpc.aio.UnaryUnaryClientInterceptor,
                 provider: trace.TracerProvider | None = None) -> None:
        self._traced = traced
        self._tracer = _Tracer(provider)

    async def intercept_unary_unary(self, continuation: Any, details: grpc.aio.ClientCallDetails,
                                    request: Any) -> Any:
        tracer = self._tracer()
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        if not unheard(tracer) or method.startswith(UNTRACED_PREFIXES):
            return await self._traced.intercept_unary_unary(continuation, details, request)
        parent = context_api.get_current()
        span = unrecorded_span(tracer, method, parent, SpanKind.CLIENT)
        carrier: dict[str, str] = {}
        inject(carrier, context=trace.set_span_in_context(span, parent))
        metadata = grpc.aio.Metadata(*(details.metadata or ()), *carrier.items())
        return await continuation(grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready), request)
