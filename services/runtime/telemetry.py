"""OpenTelemetry from the first line: one tracer provider per process, W3C trace context on
every hop, spans exported over OTLP (which Jaeger ingests natively on 4317).

What is read through Settings (like every other knob): the service name, the exporter
(OTEL_TRACES_EXPORTER: `otlp`, `console` or `none`), the OTLP endpoint, the sampler
(OTEL_TRACES_SAMPLER, only the `parentbased_*` ones, so a caller's decision holds on every
hop: a trace is kept or dropped whole) and the environment named in the resource. The rest of
the OTEL_* family (exporter headers, TLS, timeouts, extra resource attributes) is read by the
OpenTelemetry SDK itself when the exporter and resource are built: it is the SDK's documented
interface, and copying each variable into Settings only to hand it back would repeat its parsing.

Spans, and who makes them: the edge its HTTP SERVER span (gateway/edge/tracing.py); every
service a SERVER span per RPC (services/runtime/interceptors.py with rpc_tracing.py) and a
CLIENT span per call it makes (services/runtime/channels.py), health checks and reflection left
out on both sides; SQL statements of 1 ms or more (CLEARMESH_SQL_SPAN_MIN_MS) or that failed
(services/runtime/sql_spans.py) and Redis commands (OpenTelemetry's Redis instrumentation)
inside a traced call; the Solana calls (services/settlement/chain/traced.py).

The Jaeger exporter package (opentelemetry-exporter-jaeger 1.21) was removed upstream: its
thrift variant fails at import with the current SDK (the OTEL_EXPORTER_JAEGER_* names are gone)
and its meta-package pins protobuf below 5, which breaks grpcio-tools; OTLP is its successor.
"""

from __future__ import annotations

from importlib import metadata

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

from services.runtime import random_ids
from services.runtime.deferred_spans import MeshTracerProvider
from services.runtime.settings import Settings

# The resource attribute naming where a process runs (semantic conventions' deployment.*).
DEPLOYMENT_ENVIRONMENT = "deployment.environment"

_configured = False


def service_version() -> str:
    """The installed package's version: the one release every process of the mesh runs."""
    try:
        return metadata.version("clearmesh")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def sampler_of(settings: Settings) -> Sampler:
    """OTEL_TRACES_SAMPLER as a sampler; Settings admits only the parent-based ones, so a
    root (the edge, or a background job) decides and every hop below follows its flag."""
    root: Sampler
    if settings.otel_traces_sampler == "parentbased_always_off":
        root = ALWAYS_OFF
    elif settings.otel_traces_sampler == "parentbased_traceidratio":
        root = TraceIdRatioBased(settings.otel_traces_sampler_arg)
    else:
        root = ALWAYS_ON
    return ParentBased(root)


def _processor(settings: Settings) -> SpanProcessor | None:
    """Where finished spans go: batched over OTLP/gRPC (OpenTelemetry's exporter, writing its
    requests with services/runtime/otlp_spans.py's encoder, a quarter of the SDK's cost),
    printed, or nowhere."""
    if settings.otel_traces_exporter == "console":
        return SimpleSpanProcessor(ConsoleSpanExporter(service_name=settings.otel_service_name or None))
    endpoint = settings.otel_exporter_otlp_traces_endpoint or settings.otel_exporter_otlp_endpoint
    if settings.otel_traces_exporter == "otlp" and endpoint:
        from services.runtime.otlp_spans import OtlpSpanExporter

        return BatchSpanProcessor(OtlpSpanExporter(endpoint=endpoint))
    return None


class OsRandomIdGenerator(IdGenerator):
    """Trace and span ids from the OS's randomness (random_ids.py), as random as the SDK's own
    but not drawn from Python's global `random`, which the SDK's RandomIdGenerator advances
    with every id: a program that seeds it (a simulation replaying a run) would give two
    processes the same trace ids, and hypothesis, which watches that state while it draws an
    example, saw it move under a test whenever a service in a background thread started a
    span ("Do not use the random module inside strategies", intermittently in CI)."""

    def generate_span_id(self) -> int:
        return random_ids.random_int(64)

    def generate_trace_id(self) -> int:
        return random_ids.random_int(128)

    def is_trace_id_random(self) -> bool:
        return True


def configure_tracing(service: str, settings: Settings) -> TracerProvider:
    """Installs the process's tracer provider once, with the resource every span carries
    (service.name, service.version, deployment.environment), and instruments Redis.

    Spans are exported when OTEL_TRACES_EXPORTER is `console`, or `otlp` (the default) with an
    OTLP endpoint set (OTEL_EXPORTER_OTLP_ENDPOINT / _TRACES_ENDPOINT): with none, on a laptop
    or in CI, nothing is built to be thrown away (see gateway/edge/tracing.py)."""
    global _configured
    provider = trace.get_tracer_provider()
    if _configured and isinstance(provider, TracerProvider):
        return provider
    resource = Resource.create({SERVICE_NAME: settings.otel_service_name or service,
                                SERVICE_VERSION: service_version(),
                                DEPLOYMENT_ENVIRONMENT: settings.deployment_environment})
    provider = MeshTracerProvider(resource=resource, sampler=sampler_of(settings), id_generator=OsRandomIdGenerator())
    if (processor := _processor(settings)) is not None:
        # Only with an exporter: with no processor at all, the edge and the services skip
        # building spans (unheard.py). Ours, a batch or simple one: the services' gRPC spans
        # go to it made once, at their end (deferred_spans.py).
        provider.add_own_span_processor(processor)
    trace.set_tracer_provider(provider)
    _instrument_redis()
    _configured = True
    return trace.get_tracer_provider()  # type: ignore[return-value]


def _instrument_redis() -> None:
    """A CLIENT span per Redis command (KYC's cache, the edge's rate limits), with the database
    conventions' attributes; the command's arguments are not recorded (they hold account ids)."""
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    instrumentor = RedisInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def shutdown_tracing() -> None:
    """Flushes the spans still batched and stops the exporter; the last step of a shutdown."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def current_traceparent() -> str:
    """The W3C traceparent of the current span when it is sampled, else "": what a record
    keeps (a trade, through Matching's journal) so later work can link back to this trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return ""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def link_to(traceparent: str) -> trace.Link | None:
    """A span link to the span a kept traceparent names; None for "" or a malformed one."""
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return trace.Link(trace.SpanContext(trace_id, span_id, is_remote=True, trace_flags=trace.TraceFlags(flags & 0xFF)))
