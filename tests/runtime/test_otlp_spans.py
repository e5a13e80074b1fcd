"""The OTLP export request written in wire format: the same request as OpenTelemetry's own
encoder for every kind of span the mesh makes, and for the ones it might."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from services.runtime import otlp_spans
from services.runtime.otlp_spans import OtlpSpanExporter, SpanEncoder
from services.runtime.settings import Settings
from services.runtime.telemetry import _processor
from tests.testkit.otlp import OtlpReceiver

REMOTE = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=True,
                     trace_flags=TraceFlags(TraceFlags.SAMPLED), trace_state=TraceState([("vendor", "a"), ("b", "2")]))
STATEMENT = "INSERT INTO postings (transfer_id, account, asset, amount) VALUES (?, ?, ?, ?)"


def _spans(make: Callable[[TracerProvider], None],
           resource: Resource | None = None) -> tuple[ReadableSpan, ...]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=resource or Resource.create({"service.name": "wallet"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    make(provider)
    return exporter.get_finished_spans()


def _a_deposit(provider: TracerProvider) -> None:
    """A Wallet Deposit's spans, as the gRPC instrumentation and sql_spans make them."""
    grpc, sql = provider.get_tracer("opentelemetry.instrumentation.grpc", "0.66b2"), provider.get_tracer("clearmesh.sql")
    with grpc.start_as_current_span("clearmesh.wallet.v1.WalletService/Deposit", kind=SpanKind.SERVER,
                                    context=trace.set_span_in_context(trace.NonRecordingSpan(REMOTE)),
                                    attributes={"rpc.system": "grpc", "rpc.method": "Deposit",
                                                "rpc.grpc.status_code": 0, "net.peer.port": "41906"}):
        for _ in range(3):
            sql.start_span("INSERT wallet.db", kind=SpanKind.CLIENT, attributes={
                "db.system.name": "sqlite", "db.namespace": "wallet.db", "db.operation.name": "INSERT",
                "db.query.text": STATEMENT, "server.port": 5432}).end()


def _every_field(provider: TracerProvider) -> None:
    """A span with what the mesh's spans rarely have: events, links, an error, every value type."""
    tracer = provider.get_tracer("clearmesh.test", "1.0", schema_url="https://opentelemetry.io/schemas/1.26.0")
    with tracer.start_as_current_span("settle", kind=SpanKind.CONSUMER, links=[
            Link(REMOTE, {"link.kind": "trade"}), Link(SpanContext(1, 2, is_remote=False))], attributes={
            "negative": -5, "zero": 0, "large": 2**62, "empty": "", "false": False, "ratio": 0.25,
            "raw": b"\x00\x01", "ints": (1, 2, 3), "flags": (True, False), "text": "ünïcode €"}) as span:
        span.add_event("retry", {"attempt": 2})
        span.add_event("")
        span.record_exception(ValueError("chain answered late"))
        span.set_status(Status(StatusCode.ERROR, "chain answered late"))
    with tracer.start_as_current_span("fine", kind=SpanKind.PRODUCER) as span:
        span.set_status(Status(StatusCode.OK))
    tracer.start_span("internal").end()


def _two_scopes_interleaved(provider: TracerProvider) -> None:
    for index in range(2):
        provider.get_tracer("first").start_span(f"a{index}").end()
        provider.get_tracer("second").start_span(f"b{index}").end()


@pytest.mark.parametrize("make", [_a_deposit, _every_field, _two_scopes_interleaved])
def test_the_request_is_the_one_opentelemetrys_encoder_writes(make: Callable[[TracerProvider], None]) -> None:
    spans = _spans(make, Resource.create({"service.name": "wallet", "build": 7, "tags": ("a", "b")},
                                         schema_url="https://opentelemetry.io/schemas/1.26.0"))

    assert SpanEncoder().request(spans) == encode_spans(spans)


def test_a_batch_encoded_again_from_what_was_kept_is_the_same_request() -> None:
    spans = _spans(_a_deposit)
    encoder = SpanEncoder()
    encoder.request(spans)

    assert encoder.request(spans) == encode_spans(spans)


def test_a_value_beyond_int64_leaves_the_batch_to_opentelemetrys_encoder() -> None:
    spans = _spans(lambda provider: provider.get_tracer("t").start_span("s", attributes={"n": 2**64}).end())

    assert SpanEncoder().request(spans) == encode_spans(spans)


def test_the_kept_attribute_encodings_never_pass_their_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otlp_spans, "CACHED_ATTRIBUTES", 8)

    def twenty_peers(provider: TracerProvider) -> None:
        for port in range(20):
            provider.get_tracer("t").start_span("s", attributes={"net.peer.port": port}).end()

    spans = _spans(twenty_peers)
    encoder = SpanEncoder()

    request = encoder.request(spans)

    assert len(encoder._attributes) <= 8 and request == encode_spans(spans)


def test_the_exporter_sends_what_this_encoder_wrote(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[ExportTraceServiceRequest] = []
    encode = SpanEncoder.request

    def recorded(self: SpanEncoder, spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        written.append(encode(self, spans))
        return written[-1]

    monkeypatch.setattr(SpanEncoder, "request", recorded)
    spans = _spans(_a_deposit)
    with OtlpReceiver() as receiver:
        exporter = OtlpSpanExporter(endpoint=receiver.endpoint, insecure=True)
        try:
            assert exporter.export(spans) is SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()

        assert len(written) == 1
        assert sorted(span.name for span in receiver.spans()) == sorted(span.name for span in spans)


def test_the_otlp_exporter_writes_its_requests_with_this_encoder() -> None:
    processor = _processor(Settings(OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4317"))
    assert processor is not None
    try:
        exporter = processor.span_exporter  # type: ignore[attr-defined]
        spans = _spans(_a_deposit)
        assert isinstance(exporter, OtlpSpanExporter)
        assert isinstance(exporter._translate_data(spans), ExportTraceServiceRequest)
        assert exporter._translate_data(spans) == encode_spans(spans)
    finally:
        processor.shutdown()
