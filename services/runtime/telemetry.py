"""OpenTelemetry from the first line: a tracer provider configured by the standard OTEL_*
variables, exported over OTLP (which Jaeger ingests natively), W3C trace context on every hop.

Whether and where spans go (OTEL_SERVICE_NAME, OTEL_TRACES_EXPORTER and the OTLP endpoint) is
read through Settings like every other knob. The rest of the OTEL_* family (the sampler,
exporter headers, TLS, timeouts, resource attributes) is read by the OpenTelemetry SDK itself
when the provider and exporter are built: it is the SDK's documented configuration interface,
and copying each variable into Settings only to hand it back would repeat the SDK's parsing.

The Jaeger exporter package (opentelemetry-exporter-jaeger 1.21) was removed upstream: its
thrift variant fails at import with the current SDK (the OTEL_EXPORTER_JAEGER_* names are gone)
and its meta-package pins protobuf below 5, which breaks grpcio-tools; OTLP is its successor.
"""

from __future__ import annotations

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.instrumentation.grpc import filters
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from services.runtime.settings import Settings

_configured = False


def configure_tracing(service: str, settings: Settings) -> TracerProvider:
    """Installs the process's tracer provider once. Spans are exported when an OTLP endpoint
    is configured (OTEL_EXPORTER_OTLP_ENDPOINT / _TRACES_ENDPOINT) and OTEL_TRACES_EXPORTER is
    not "none"; sampling follows OTEL_TRACES_SAMPLER (the SDK reads it)."""
    global _configured
    provider = trace.get_tracer_provider()
    if _configured and isinstance(provider, TracerProvider):
        return provider
    name = settings.otel_service_name or service
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    endpoint = settings.otel_exporter_otlp_traces_endpoint or settings.otel_exporter_otlp_endpoint
    if settings.otel_traces_exporter == "otlp" and endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _configured = True
    return trace.get_tracer_provider()  # type: ignore[return-value]


def shutdown_tracing() -> None:
    """Flushes the spans still batched and stops the exporter; the last step of a shutdown."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def server_interceptor() -> grpc.aio.ServerInterceptor:
    """Server spans for every RPC but health checks, continuing the caller's W3C trace."""
    return aio_server_interceptor(filter_=filters.negate(filters.health_check()))


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """Client spans that inject `traceparent` into outgoing calls."""
    return list(aio_client_interceptors())
