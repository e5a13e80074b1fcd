"""The gRPC spans of every service, built as cheaply as they can be, and not at all when
nobody would read them.

A SERVER span per call served (`ServerSpans`, made by interceptors.CallInterceptor) and a
CLIENT span per call made (`ClientSpans`). OpenTelemetry's gRPC instrumentation cost, measured
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
(sql_spans.py starts one only under a recorded span). A caller that sampled its trace out
(ParentBased) gets the SDK's non-recording span, no attribute built. Health checks and
reflection are not traced (interceptors.OPEN_PREFIXES).

With only telemetry.py's own exporter on the provider (production, the benches with export on),
a sampled call's span, SERVER or CLIENT, is no SDK span either: its context while the call
runs and one finished ReadableSpan handed to the processors at its end (deferred_spans.py),
~14 µs of CPU a span less. With anyone else's processor added (a test's in-memory one), the
SDK's live spans, as before.

Calls made have no interceptor at all (services/runtime/channels.py): `ClientSpans` below
gives each its context, and, when it records, the same CLIENT span OpenTelemetry's client
interceptor made, for ~75 µs less of the caller's CPU per call (bench/client_calls.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

import grpc
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode

from services.runtime.deferred_spans import DeferredSpan, MeshTracerProvider, recorded
from services.runtime.unheard import decide, unheard, unrecorded_span

# The RPC semantic conventions' attributes, as OpenTelemetry's gRPC instrumentation sets them.
RPC_SYSTEM, RPC_SERVICE, RPC_METHOD = "rpc.system", "rpc.service", "rpc.method"
RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code"

# Calls made that carry no trace (the server side's twin: interceptors.OPEN_PREFIXES): probes
# and grpcurl's reflection.
UNTRACED_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
_TRACER_NAME = "opentelemetry.instrumentation.grpc"
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

    def deferred(self) -> tuple[SpanProcessor, ...] | None:
        """The processors a DeferredSpan goes to (deferred_spans.py), None when spans must be
        the SDK's; asked after `()`, each call (a processor may have been added since)."""
        return self._seen.own_processors if isinstance(self._seen, MeshTracerProvider) else None


# The scope get_tracer(_TRACER_NAME) gives the SDK's spans, for the deferred ones.
_SCOPE = InstrumentationScope(_TRACER_NAME, "")


def _deferred(tracer: SdkTracer, processors: tuple[SpanProcessor, ...], name: str, parent: Context | None,
              kind: SpanKind, attributes: Callable[[], dict[str, Any]]) -> trace.Span:
    """The span SdkTracer.start_span would start, as a DeferredSpan when it records (with
    `attributes()`, made only then), else its context alone."""
    context, parent_context, sampled = decide(tracer, name, parent, kind)
    if not sampled.decision.is_recording():
        return NonRecordingSpan(context)
    given = attributes()
    if sampled.attributes:
        given = {**sampled.attributes, **given}
    return DeferredSpan(context, name, kind, parent_context, given, processors, tracer.resource, _SCOPE)


class ServerSpans:
    """The SERVER span of every call a service serves, for CallInterceptor (interceptors.py):
    `of(method)` once per method, then `start` and `end` per call."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self._tracer = _Tracer(provider)

    def of(self, method: str) -> MethodSpans:
        return MethodSpans(self._tracer, method)


class MethodSpans:
    """One method's SERVER spans, named and labelled once: `package.Service/Method` (the RPC
    conventions' name, not the path OpenTelemetry's aio interceptor used) with the RPC conventions'
    rpc.system, rpc.service, rpc.method and rpc.grpc.status_code, plus the caller's address
    (net.peer.*) and user agent, as OpenTelemetry's server interceptor records them."""

    def __init__(self, tracer: _Tracer, method: str) -> None:
        self._tracer = tracer
        self.name = method.lstrip("/")
        service, _, name = self.name.partition("/")
        self._attributes: dict[str, str | int] = {RPC_SYSTEM: "grpc", RPC_SERVICE: service,
                                                  RPC_METHOD: name, RPC_GRPC_STATUS_CODE: 0}

    def start(self, metadata: Mapping[str, str], context: grpc.aio.ServicerContext) -> tuple[trace.Span, object]:
        """The call's span, current from here until `end`: a child of the caller's context
        (W3C traceparent in `metadata`), recorded only when a processor would hear it and the
        sampler keeps it (a caller's unsampled flag makes no span: ParentBased)."""
        tracer = self._tracer()
        parent = extract(metadata)
        span: trace.Span
        if unheard(tracer):
            span = unrecorded_span(tracer, self.name, parent, SpanKind.SERVER)
        elif isinstance(tracer, SdkTracer) and (processors := self._tracer.deferred()) is not None:
            span = _deferred(tracer, processors, self.name, parent, SpanKind.SERVER,
                             lambda: self._of_call(metadata, context.peer()))
        else:
            span = tracer.start_span(self.name, parent, SpanKind.SERVER)
            # Set once the sampler has decided, not given to start_span: recorded, both ways cost
            # the same (~40 µs with the span's start and end, 5 × 5000 in one process, 2026-12-07:
            # the SDK checks each attribute either way), and under a ratio sampler most spans
            # are not recorded and would have built them for nothing.
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
        if recorded(span):  # the SDK's span, or a DeferredSpan (made at its end)
            if code is not grpc.StatusCode.OK:
                span.set_attribute(RPC_GRPC_STATUS_CODE, code.value[0])
                if code in SERVER_FAILURES:
                    span.set_status(Status(StatusCode.ERROR, f"{code}:{details}"))
            if error is not None:
                span.record_exception(error)
            span.end()
        context_api.detach(token)  # type: ignore[arg-type]


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
        span: trace.Span
        if unheard(tracer):
            span = unrecorded_span(tracer, name, None, SpanKind.CLIENT)
        elif isinstance(tracer, SdkTracer) and (processors := self._tracer.deferred()) is not None:
            span = _deferred(tracer, processors, name, None, SpanKind.CLIENT, lambda: dict(attributes))
        else:
            span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes,
                                     record_exception=False, set_status_on_exception=False)
        carrier: dict[str, str] = {}
        inject(carrier, context=trace.set_span_in_context(span))
        return (span if recorded(span) else None), tuple(carrier.items())


def end_client_span(span: trace.Span, code: grpc.StatusCode, details: str) -> None:
    """Ends a call's CLIENT span with its status, as OpenTelemetry's interceptor does."""
    if code is not grpc.StatusCode.OK:
        span.set_attribute(RPC_GRPC_STATUS_CODE, code.value[0])
        span.set_status(Status(StatusCode.ERROR, description=details))
    span.end()
