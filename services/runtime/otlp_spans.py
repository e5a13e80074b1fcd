"""The OTLP export request for a batch of spans, written straight in protobuf's wire format.

What exporting spans costs a service is mostly the exporter's encoding, not the spans: the
SDK's encoder (opentelemetry-exporter-otlp-proto-common) builds a protobuf object per span, per
attribute and per attribute value, and hashes each span's resource (a JSON dump of its
attributes) to group them, on the exporting thread, beside the event loop and holding the
GIL it waits for. A Wallet Deposit makes nine spans (its server span and eight SQL
statements), and export on cost the edge bench's Deposit about 10 % of its throughput
(bench/tracing_cost.py; docs/observability.md, "What tracing costs").

Here the request is written as bytes, at a fraction of that cost: the same fields in the
same order as the SDK's encoder, reusing each attribute's encoding (most recur on every call: `db.system.name`,
a statement's text, `rpc.method`) and each resource's and scope's, then parsed once into the
ExportTraceServiceRequest the exporter sends. tests/runtime/test_otlp_spans.py holds the two
encoders' requests equal, so an upgrade of the SDK or of the OTLP protos that changes what is
sent fails there. A value this encoder does not write (another type, an integer beyond int64)
sends that batch through the SDK's encoder, which logs and skips such a value.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as reference_encoding
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, StatusCode

# Span.SpanKind in OTLP counts from SPAN_KIND_UNSPECIFIED = 0; the API's from INTERNAL = 0.
_KIND = {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3, SpanKind.PRODUCER: 4, SpanKind.CONSUMER: 5}
# SpanFlags: the parent's is_remote is known (always), and whether it is remote.
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200
_INT64 = 1 << 63
# Encoded attributes kept for reuse; emptied when full (an attribute unique to each call,
# a peer's port, would otherwise grow it without end).
CACHED_ATTRIBUTES = 4096


class Unencodable(ValueError):
    """A value this encoder does not write; the batch goes to the SDK's encoder instead."""


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag, the payload's length, the payload."""
    return tag + _varint(len(payload)) + payload


def _any_value(value: Any) -> bytes:
    """common.v1.AnyValue, as the SDK's encoder chooses its case (bool before int)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise Unencodable(value)
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, float):
        return b"\x21" + struct.pack("<d", value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _any_value(item)) for item in value))
    if isinstance(value, Mapping):
        return _field(b"\x32", b"".join(_field(b"\x0a", _key_value(str(key), item)) for key, item in value.items()))
    raise Unencodable(type(value).__name__)


def _key_value(key: str, value: Any) -> bytes:
    return _field(b"\x0a", key.encode()) + _field(b"\x12", _any_value(value))


def _span_flags(parent: SpanContext | None) -> bytes:
    flags = _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0)
    return struct.pack("<I", flags)


# A span's flags field (number 16), whether its parent is remote or not (or it has none).
_REMOTE_PARENT, _LOCAL_PARENT = b"\x85\x01" + _span_flags(SpanContext(0, 0, is_remote=True)), b"\x85\x01" + _span_flags(None)
# Start and end time, two fixed64 fields with their tags, in one call.
_TIMES = struct.Struct("<BQBQ").pack


def _attributes(span: ReadableSpan) -> Mapping[str, Any] | None:
    """The span's attributes: the SDK's own dict behind them when there is one. The public
    `attributes` wraps them in a read-only proxy whose items() walks them key by key through
    two more layers, a third of this encoder's time per span; the events and links above are
    likewise copied into a tuple only when there are any."""
    return getattr(getattr(span, "_attributes", None), "_dict", None) or span.attributes


class SpanEncoder:
    """Writes ExportTraceServiceRequests; keeps what recurs from one batch to the next."""

    def __init__(self) -> None:
        self._attributes: dict[tuple[str, type, Any], bytes] = {}
        # By identity: a Resource hashes by a JSON dump of its attributes, on every lookup.
        self._resources: dict[int, tuple[Resource, bytes]] = {}
        self._scopes: dict[InstrumentationScope | None, bytes] = {}
        self._heads: dict[tuple[str, SpanKind], bytes] = {}  # a span's name and kind fields

    def request(self, spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        try:
            return ExportTraceServiceRequest.FromString(self.encode(spans))
        except Unencodable:
            return reference_encoding(spans)

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        """The serialized request: spans grouped by resource, then by scope, in order seen."""
        grouped: dict[int, tuple[Resource, dict[InstrumentationScope | None, list[bytes]]]] = {}
        for span in spans:
            resource = span.resource
            scopes = grouped.setdefault(id(resource), (resource, {}))[1]
            scopes.setdefault(span.instrumentation_scope or None, []).append(self._span(span))
        out = []
        for resource, scopes in grouped.values():
            body = [_field(b"\x0a", self._resource(resource))]
            for scope, encoded in scopes.items():
                scope_spans = [_field(b"\x0a", self._scope(scope))]
                scope_spans += [_field(b"\x12", span) for span in encoded]
                if scope is not None and scope.schema_url:
                    scope_spans.append(_field(b"\x1a", scope.schema_url.encode()))
                body.append(_field(b"\x12", b"".join(scope_spans)))
            if resource.schema_url:
                body.append(_field(b"\x1a", resource.schema_url.encode()))
            out.append(_field(b"\x0a", b"".join(body)))
        return b"".join(out)

    def _attributes_of(self, attributes: Mapping[str, Any] | None, tag: bytes) -> list[bytes]:
        """Each attribute as a KeyValue field numbered by `tag`; the encoding (length first)
        is kept for the next span that has the same key and value."""
        if not attributes:
            return []
        cache = self._attributes
        out = []
        for key, value in attributes.items():
            # The type is part of the key: True == 1 and hashes alike, but encodes otherwise.
            cache_key = (key, type(value), value) if isinstance(value, (str, int, float, bytes)) else None
            encoded = cache.get(cache_key) if cache_key is not None else None
            if encoded is None:
                key_value = _key_value(key, value)
                encoded = _varint(len(key_value)) + key_value
                if cache_key is not None:
                    if len(cache) >= CACHED_ATTRIBUTES:
                        cache.clear()
                    cache[cache_key] = encoded
            out.append(tag + encoded)
        return out

    def _resource(self, resource: Resource) -> bytes:
        known = self._resources.get(id(resource))
        if known is None or known[0] is not resource:
            known = (resource, b"".join(_field(b"\x0a", _key_value(key, value))
                                        for key, value in resource.attributes.items()))
            self._resources[id(resource)] = known
        return known[1]

    def _scope(self, scope: InstrumentationScope | None) -> bytes:
        encoded = self._scopes.get(scope)
        if encoded is None:
            encoded = b"" if scope is None else b"".join((
                _field(b"\x0a", scope.name.encode()) if scope.name else b"",
                _field(b"\x12", scope.version.encode()) if scope.version else b"",
                *(_field(b"\x1a", _key_value(key, value)) for key, value in (scope.attributes or {}).items())))
            self._scopes[scope] = encoded
        return encoded

    def _span(self, span: ReadableSpan) -> bytes:
        """trace.v1.Span, field by field in number order, zero values left out as proto3 does.
        Per span this is the exporting thread's main work, beside the loop and holding the GIL
        it waits for: what recurs (the name and kind, the flags, an unset status) is written once."""
        context = span.get_span_context()
        if context is None:
            raise Unencodable("a span without a context")
        parent = span.parent
        parts = [b"\x0a\x10", context.trace_id.to_bytes(16, "big"), b"\x12\x08", context.span_id.to_bytes(8, "big")]
        if context.trace_state:
            parts.append(_field(b"\x1a", ",".join(f"{k}={v}" for k, v in context.trace_state.items()).encode()))
        if parent:
            parts += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))
        named = (span.name, span.kind)
        head = self._heads.get(named)
        if head is None:
            if len(self._heads) >= CACHED_ATTRIBUTES:
                self._heads.clear()
            head = self._heads[named] = (_field(b"\x2a", span.name.encode()) if span.name else b"") \
                + b"\x30" + _varint(_KIND[span.kind])
        parts.append(head)
        start, end = span.start_time, span.end_time
        if start and end:
            parts.append(_TIMES(0x39, start, 0x41, end))
        else:
            if start:
                parts += (b"\x39", struct.pack("<Q", start))
            if end:
                parts += (b"\x41", struct.pack("<Q", end))
        parts += self._attributes_of(_attributes(span), b"\x4a")
        if span.dropped_attributes:
            parts += (b"\x50", _varint(span.dropped_attributes))
        for event in (span.events if getattr(span, "_events", True) else ()):
            parts.append(_field(b"\x5a", self._event(event)))
        if span.dropped_events:
            parts += (b"\x60", _varint(span.dropped_events))
        for link in (span.links if getattr(span, "_links", True) else ()):
            parts.append(_field(b"\x6a", b"".join((
                b"\x0a\x10", link.context.trace_id.to_bytes(16, "big"),
                b"\x12\x08", link.context.span_id.to_bytes(8, "big"),
                *self._attributes_of(link.attributes, b"\x22"),
                b"\x28" + _varint(link.dropped_attributes) if link.dropped_attributes else b"",
                b"\x35", _span_flags(link.context)))))
        if span.dropped_links:
            parts += (b"\x70", _varint(span.dropped_links))
        if (status := span.status) is not None:
            if status.status_code is StatusCode.UNSET and not status.description:
                parts.append(b"\x7a\x00")
            else:
                parts.append(_field(b"\x7a", b"".join((
                    _field(b"\x12", status.description.encode()) if status.description else b"",
                    b"\x18" + _varint(status.status_code.value) if status.status_code.value else b""))))
        parts.append(_REMOTE_PARENT if parent is not None and parent.is_remote else _LOCAL_PARENT)
        return b"".join(parts)

    def _event(self, event: Event) -> bytes:
        return b"".join((
            b"\x09" + struct.pack("<Q", event.timestamp) if event.timestamp else b"",
            _field(b"\x12", event.name.encode()) if event.name else b"",
            *self._attributes_of(event.attributes, b"\x1a"),
            b"\x20" + _varint(event.dropped_attributes) if event.dropped_attributes else b""))


class OtlpSpanExporter(OTLPSpanExporter):
    """OpenTelemetry's OTLP/gRPC span exporter (its endpoint, headers, TLS, retries, timeouts
    and compression, all from the same OTEL_* settings), with the encoder above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._encoder = SpanEncoder()

    def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        return self._encoder.request(data)
