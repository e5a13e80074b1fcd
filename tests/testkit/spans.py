"""The spans this test process records: the process's tracer provider (configure_tracing, as
every service installs it) with an in-memory exporter added, cleared for each test."""

from __future__ import annotations

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

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
