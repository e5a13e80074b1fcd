"""The spans this test process records: the process's tracer provider (configure_tracing, as
every service installs it) with an in-memory exporter added, cleared for each test."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime.deferred_spans import MeshTracerProvider
from services.runtime.settings import Settings
from services.runtime.telemetry import configure_tracing

_exporter: InMemorySpanExporter | None = None


def span_recorder(settings: Settings) -> InMemorySpanExporter:
    """The process's in-memory exporter, emptied (the `recorded_spans` fixture)."""
    global _exporter
    if _exporter is None:  # one per process: a provider's processors cannot be taken back
        _exporter = InMemorySpanExporter()
        configure_tracing("test", settings).add_span_processor(SimpleSpanProcessor(_exporter))
    _exporter.clear()
    return _exporter


def span_provider(heard: bool, spans: str = "sdk") -> tuple[TracerProvider, InMemorySpanExporter]:
    """A provider of the test's own, with an in-memory exporter if `heard`. `spans` says how the
    gRPC calls' spans are then made: "sdk", the SDK's live spans (the exporter's processor is
    not telemetry's own); "deferred", made at their end (it is: services/runtime/deferred_spans.py)."""
    exporter = InMemorySpanExporter()
    if spans == "deferred":
        mesh = MeshTracerProvider()
        mesh.add_own_span_processor(SimpleSpanProcessor(exporter))
        return mesh, exporter
    provider = TracerProvider()
    if heard:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter
